/* Genomic metrics on the 805-SNP 1000 Genomes haplotypes (genomes/yelmen805), split by
 * person at random: every figure against the slow references on 100-person sets; the
 * invariants of a copy of the training rows (frequencies and LD exact, AATS 0, privacy
 * loss large) and of two halves of the real data (AATS near 0.5); and the same bits
 * whatever the number of ranks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geval_fixture.h"
#include "test_util.h"

#define TOL 1e-9 /* float64 sums in another order, and r^2 sums in 2^-32 fixed point */
#define N_SNP 805

/* The legend: "id position a0 a1" after a header; the chromosome is the id up to ':'. */
static int read_legend(const char *path, sm_variants *vars) {
  FILE *fp = fopen(path, "r");
  char line[512], id[256], a0[64], a1[64];
  long long pos;
  memset(vars, 0, sizeof(*vars));
  vars->chrom = calloc(N_SNP, sizeof(char *));
  vars->id = calloc(N_SNP, sizeof(char *));
  vars->pos = calloc(N_SNP, sizeof(int64_t));
  if (!fp || !fgets(line, sizeof line, fp))
    return 0;
  while (vars->n < N_SNP && fgets(line, sizeof line, fp) &&
         sscanf(line, "%255s %lld %63s %63s", id, &pos, a0, a1) == 4) {
    vars->id[vars->n] = sm_strdup(id);
    *strchr(id, ':') = '\0';
    vars->chrom[vars->n] = sm_strdup(id);
    vars->pos[vars->n++] = pos;
  }
  fclose(fp);
  return vars->n == N_SNP;
}

/* The haplotypes: per line a tag, an id, then 805 alleles 0/1. */
static int read_hapt(const char *path, gmat *m) {
  FILE *fp = fopen(path, "r");
  static char line[8192];
  gmat_alloc(m, 5008, N_SNP, 0);
  int64_t n = 0;
  while (fp && n < m->n && fgets(line, sizeof line, fp)) {
    char *p = strchr(line, ' ');
    p = p ? strchr(p + 1, ' ') : NULL;
    int64_t j = 0;
    for (; p && j < N_SNP; j++, p += 2) {
      if ((p[1] != '0' && p[1] != '1') || (p[2] != ' ' && p[2] != '\n'))
        break;
      m->g[n * N_SNP + j] = (uint8_t)(p[1] - '0');
    }
    if (j != N_SNP)
      break;
    n++;
  }
  if (fp)
    fclose(fp);
  return n == m->n;
}

/* Both haplotypes of persons perm[from..to) as a set. */
static void persons(const gmat *all, const int64_t *perm, int64_t from, int64_t to, gmat *out) {
  int64_t n = 2 * (to - from), *rows = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
  for (int64_t p = from; p < to; p++) {
    rows[2 * (p - from)] = 2 * perm[p];
    rows[2 * (p - from) + 1] = 2 * perm[p] + 1;
  }
  gmat_rows(all, rows, n, out);
  free(rows);
}

/* Distributed figures equal those of rank 0 alone, bit for bit. */
static void check_alone(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_variants *vars,
                        const geval_case *c, const sm_genome_metrics *got) {
  sm_genome_metrics one;
  CHECK(fixture_evaluate_alone(spec, vars, c, &one) == SM_OK);
  if (ctx->rank == 0)
    CHECK(fixture_differences(got, &one) == 0);
  sm_genome_metrics_free(&one);
}

/* 100 persons in each set, the synthetic set real too: every figure against the
 * references (PCA over 400 stacked rows, fewer than the variants). */
static void case_reference(sm_ctx *ctx, const sm_variants *vars, const gmat *all,
                           const int64_t *perm) {
  gmat t, h, s;
  persons(all, perm, 0, 100, &t);
  persons(all, perm, 100, 200, &h);
  persons(all, perm, 200, 300, &s);
  sm_genome_eval_spec spec = {3, 0, 0, 8, 4, NULL};
  geval_case c = {&t, &h, &s, 1};
  sm_genome_metrics got, ref;
  CHECK(fixture_evaluate(ctx, &spec, vars, &c, &got) == SM_OK);
  fixture_print("reference", &got);
  if (ctx->rank == 0) {
    double *mean = malloc(N_SNP * sizeof(double));
    uint8_t major[N_SNP];
    for (int64_t j = 0; j < N_SNP; j++)
      mean[j] = ref_freq(&t, j);
    ref_major(&t, major);
    memset(&ref, 0, sizeof(ref));
    ref.af_corr_train = ref_freq_corr(&t, &s);
    ref.af_corr_holdout = ref_freq_corr(&h, &s);
    ref_ld(vars, &t, &s, 0, 8, &ref);
    ref_pairdist(&t, &s, major, &ref);
    ref.aats_train = ref_aats(&t, &s, major);
    ref.aats_holdout = ref_aats(&h, &s, major);
    ref.pca_components = 4;
    ref.pca_explained = malloc(4 * sizeof(double));
    ref_pca(&t, &s, mean, 4, ref.pca_explained);
    double worst = 0;
    CHECK(fixture_mismatches(&got, &ref, CMP_ALL, TOL, &worst) == 0);
    printf("reference: largest difference %.3g (tol %.0e)\n", worst, TOL);
    sm_genome_metrics_free(&ref);
    free(mean);
  }
  check_alone(ctx, &spec, vars, &c, &got);
  sm_genome_metrics_free(&got);
  gmat_free(&t), gmat_free(&h), gmat_free(&s);
}

/* Synthetic rows that copy the training rows (80% of persons; 20% held out). */
static void case_copy(sm_ctx *ctx, const sm_variants *vars, const gmat *all, const int64_t *perm) {
  gmat t, h;
  persons(all, perm, 0, 2003, &t);
  persons(all, perm, 2003, 2504, &h);
  char plot[64];
  snprintf(plot, sizeof plot, "geval_hapt_np%d.svg", ctx->size);
  sm_genome_eval_spec spec = {5, 0, 0, 10, 4, plot};
  geval_case c = {&t, &h, &t, 0};
  sm_genome_metrics m;
  CHECK(fixture_evaluate(ctx, &spec, vars, &c, &m) == SM_OK);
  fixture_print("copy", &m);

  /* real against itself: frequencies and LD exact, distances the same */
  CHECK_CLOSE(m.af_corr_train, 1.0, 1e-12);
  CHECK(m.ld_r2_mean_abs_diff == 0.0 && m.ld_pairs > 10000);
  for (int b = 0; b < m.ld_bins; b++)
    CHECK(m.ld_decay_real[b] == m.ld_decay_synth[b]);
  CHECK(m.pairdist_real_mean == m.pairdist_synth_mean && m.pairdist_wasserstein == 0.0);

  /* every synthetic row has its original: AATS 0; held-out rows see real data: ~0.5 */
  CHECK(m.aats_rows == 4006);
  CHECK(m.aats_train <= 0.01);
  CHECK(m.aats_holdout > 0.4 && m.aats_holdout < 0.6);
  CHECK(m.aats_privacy_loss > 0.35);
  CHECK(m.af_corr_holdout > 0.99);

  /* explained shares positive and falling; the plot has every row */
  for (int k = 0; k < 4; k++)
    CHECK(m.pca_explained[k] > 0 && (k == 0 || m.pca_explained[k] <= m.pca_explained[k - 1]));
  CHECK(m.pca_explained[0] + m.pca_explained[1] < 1);
  if (ctx->rank == 0) {
    FILE *fp = fopen(plot, "r");
    CHECK(fp != NULL);
    if (fp)
      fclose(fp);
  }
  sm_genome_metrics_free(&m);
  gmat_free(&t), gmat_free(&h);
}

/* Two halves of the persons, one standing in for the synthetic set: AATS near 0.5, on all
 * rows and on a 1,000-row sample; the sampled figures the same on one rank. */
static void case_halves(sm_ctx *ctx, const sm_variants *vars, const gmat *all,
                        const int64_t *perm) {
  gmat t, s, none = {0, N_SNP, 0, NULL};
  persons(all, perm, 0, 1252, &t);
  persons(all, perm, 1252, 2504, &s);
  sm_genome_eval_spec spec = {8, 0, 1000000, 5, 2, NULL};
  geval_case c = {&t, &none, &s, 0};
  sm_genome_metrics m;
  CHECK(fixture_evaluate(ctx, &spec, vars, &c, &m) == SM_OK);
  fixture_print("halves", &m);
  CHECK(m.aats_rows == 2504);
  CHECK(m.aats_train > 0.44 && m.aats_train < 0.56);
  CHECK(m.af_corr_train > 0.99);
  CHECK(m.ld_r2_mean_abs_diff < 0.02);
  CHECK(fabs(m.pairdist_real_mean - m.pairdist_synth_mean) < 0.02 * m.pairdist_real_mean);
  CHECK(isnan(m.aats_holdout) && strstr(m.reason, "held-out") != NULL);
  sm_genome_metrics_free(&m);

  /* sampled */
  spec.max_rows = 1000;
  CHECK(fixture_evaluate(ctx, &spec, vars, &c, &m) == SM_OK);
  fixture_print("halves-sampled", &m);
  CHECK(m.aats_rows == 1000);
  CHECK(m.aats_train > 0.42 && m.aats_train < 0.58);
  check_alone(ctx, &spec, vars, &c, &m);
  sm_genome_metrics_free(&m);
  gmat_free(&t), gmat_free(&s);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  sm_variants vars;
  gmat all;
  int ok = read_legend(test_data("genomes/yelmen805/805_SNP.legend"), &vars);
  ok = ok && read_hapt(test_data("genomes/yelmen805/805_SNP_1000G_real.hapt"), &all);
  CHECK(ok);
  if (ok) {
    int64_t *perm = fixture_permutation(2504, 2021);
    case_reference(&ctx, &vars, &all, perm);
    case_copy(&ctx, &vars, &all, perm);
    case_halves(&ctx, &vars, &all, perm);
    free(perm);
  }
  gmat_free(&all);
  sm_variants_free(&vars);
  sm_ctx_free(&ctx);
  return test_finish();
}
