/* Genomic metrics on small made-up sets against the slow references: haplotypes with
 * missing calls (PCA over variants), genotypes (PCA over rows, rank 0 without rows), a
 * sampled case with unequal sets, and bad input. Every case is also evaluated on rank 0
 * alone and must give the same bits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geval_fixture.h"
#include "genome/geval_internal.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define TOL 1e-9 /* float64 sums in another order, and r^2 sums in 2^-32 fixed point */

/* Variants on three interleaved chromosomes at unsorted positions. */
static void make_variants(int64_t v, sm_variants *vars) {
  static const char *names[3] = {"1", "2", "10"};
  sm_rng r;
  sm_rng_init(&r, 5, SM_STREAM_TEST, 1000);
  memset(vars, 0, sizeof(*vars));
  vars->n = v;
  vars->chrom = malloc((size_t)v * sizeof(char *));
  vars->pos = malloc((size_t)v * sizeof(int64_t));
  for (int64_t j = 0; j < v; j++) {
    vars->chrom[j] = sm_strdup(names[j % 3]);
    vars->pos[j] = 1 + (int64_t)(sm_rng_uniform(&r) * 20000);
  }

  /* pairs exactly at the LD distances of the cases (6000, 8000 bp): they count */
  vars->pos[3] = vars->pos[0] + 6000;
  vars->pos[6] = vars->pos[0] + 8000;
}

/* Rows from a chain along the variants (linkage), flipping at variant j with probability
 * flip * (1 + j % 4) / 4, set to the alternate allele with probability 0.12 * (j % 5) so
 * frequencies vary; genotypes add two chains; a share of calls missing. */
static void make_rows(gmat *m, int64_t n, int64_t v, int coded, double flip, double missing,
                      uint64_t seed) {
  gmat_alloc(m, n, v, coded);
  for (int64_t i = 0; i < n; i++) {
    sm_rng r;
    sm_rng_init(&r, seed, SM_STREAM_TEST, (uint64_t)i);
    int x[2] = {sm_rng_uniform(&r) < 0.4, sm_rng_uniform(&r) < 0.6};
    for (int64_t j = 0; j < v; j++) {
      for (int c = 0; c < 2; c++)
        x[c] = sm_rng_uniform(&r) < flip * (1 + j % 4) / 4 ? !x[c] : x[c];
      uint8_t g = (uint8_t)(coded ? x[0] + x[1] : x[0]);
      g = sm_rng_uniform(&r) < 0.12 * (double)(j % 5) ? (uint8_t)(coded ? 2 : 1) : g;
      m->g[i * v + j] = sm_rng_uniform(&r) < missing ? SM_ALLELE_MISSING : g;
    }
  }
}

/* Training means (the PCA centre) and major alleles from the whole training set. */
static void train_fill(const gmat *t, double *mean, uint8_t *major) {
  for (int64_t j = 0; j < t->v; j++) {
    double f = ref_freq(t, j);
    mean[j] = isnan(f) ? 0 : f * (t->coded ? 2 : 1);
  }
  ref_major(t, major);
}

/* Reference figures of a case whose AATS sets are whole sets. */
static void reference(const sm_genome_eval_spec *spec, const sm_variants *vars, const gmat *t,
                      const gmat *h, const gmat *s, const gmat *all_t, sm_genome_metrics *ref) {
  double *mean = malloc((size_t)t->v * sizeof(double));
  uint8_t *major = malloc((size_t)t->v);
  train_fill(all_t, mean, major);
  memset(ref, 0, sizeof(*ref));
  ref->af_corr_train = NAN, ref->af_corr_holdout = NAN;
  ref_ld(vars, t, s, spec->ld_max_dist, spec->ld_bins, ref);
  ref_pairdist(t, s, major, ref);
  ref->aats_train = t->n == s->n ? ref_aats(t, s, major) : NAN;
  ref->aats_holdout = h->n == s->n ? ref_aats(h, s, major) : NAN;
  ref->pca_components = spec->pca_components;
  ref->pca_explained = malloc((size_t)spec->pca_components * sizeof(double));
  ref_pca(t, s, mean, spec->pca_components, ref->pca_explained);
  free(mean);
  free(major);
}

/* Occurrences of needle in the file at path. */
static int count_in_file(const char *path, const char *needle) {
  FILE *fp = fopen(path, "r");
  if (!fp)
    return -1;
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, fp);
  fclose(fp);
  text[n] = '\0';
  int count = 0;
  for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
    count++;
  return count;
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

/* Haplotypes with missing calls: every figure against the reference, and the plot. */
static void case_haplotypes(sm_ctx *ctx) {
  gmat t, h, s;
  sm_variants vars;
  make_variants(37, &vars);
  make_rows(&t, 40, 37, 0, 0.2, 0.05, 11);
  make_rows(&h, 40, 37, 0, 0.2, 0.05, 12);
  make_rows(&s, 40, 37, 0, 0.35, 0.0, 13);
  for (int64_t i = 0; i < s.n; i++)
    s.g[i * s.v + 5] = 0; /* monomorphic in synthetic only: its LD pairs drop out */
  char plot[64], plot_alone[64];
  snprintf(plot, sizeof plot, "geval_small_np%d.svg", ctx->size);
  snprintf(plot_alone, sizeof plot_alone, "geval_small_np%d_alone.svg", ctx->size);
  sm_genome_eval_spec spec = {7, 0, 6000, 4, 3, plot};
  geval_case c = {&t, &h, &s, 0};

  /* distributed, then against the references */
  sm_genome_metrics got, ref;
  CHECK(fixture_evaluate(ctx, &spec, &vars, &c, &got) == SM_OK);
  fixture_print("haplotypes", &got);
  reference(&spec, &vars, &t, &h, &s, &t, &ref);
  ref.af_corr_train = ref_freq_corr(&t, &s);
  ref.af_corr_holdout = ref_freq_corr(&h, &s);
  double worst = 0;
  CHECK(fixture_mismatches(&got, &ref, CMP_ALL, TOL, &worst) == 0);
  if (ctx->rank == 0)
    printf("haplotypes: largest difference from the reference %.3g (tol %.0e)\n", worst, TOL);
  CHECK(got.ld_pairs > 20 && got.ld_pairs < 37 * 36 / 2);
  CHECK(got.aats_rows == 40);

  /* the plot: every row a point, two legend marks, labelled axes; same bytes alone */
  spec.plot_path = plot_alone;
  check_alone(ctx, &spec, &vars, &c, &got);
  if (ctx->rank == 0) {
    CHECK(count_in_file(plot, "<circle") == 80 + 2);
    CHECK(count_in_file(plot, "PC1 (") == 1 && count_in_file(plot, "PC2 (") == 1);
    CHECK(count_in_file(plot, "#1f77b4") == 2 && count_in_file(plot, "#d62728") == 2);
    CHECK(fixture_same_file(plot, plot_alone));
  }
  sm_genome_metrics_free(&got);
  sm_genome_metrics_free(&ref);
  gmat_free(&t), gmat_free(&h), gmat_free(&s);
  sm_variants_free(&vars);
}

/* Genotypes, more variants than rows, rank 0 without rows, LD at any distance. */
static void case_genotypes(sm_ctx *ctx) {
  gmat t, h, s;
  sm_variants vars;
  make_variants(50, &vars);
  make_rows(&t, 12, 50, 1, 0.15, 0.1, 21);
  make_rows(&h, 12, 50, 1, 0.15, 0.1, 22);
  make_rows(&s, 12, 50, 1, 0.3, 0.02, 23);
  sm_genome_eval_spec spec = {9, 0, 0, 3, 4, NULL};
  geval_case c = {&t, &h, &s, 1};

  sm_genome_metrics got, ref;
  CHECK(fixture_evaluate(ctx, &spec, &vars, &c, &got) == SM_OK);
  fixture_print("genotypes", &got);
  reference(&spec, &vars, &t, &h, &s, &t, &ref);
  ref.af_corr_train = ref_freq_corr(&t, &s);
  ref.af_corr_holdout = ref_freq_corr(&h, &s);
  double worst = 0;
  CHECK(fixture_mismatches(&got, &ref, CMP_ALL, TOL, &worst) == 0);
  if (ctx->rank == 0)
    printf("genotypes: largest difference from the reference %.3g (tol %.0e)\n", worst, TOL);
  check_alone(ctx, &spec, &vars, &c, &got);
  sm_genome_metrics_free(&got);
  sm_genome_metrics_free(&ref);
  gmat_free(&t), gmat_free(&h), gmat_free(&s);
  sm_variants_free(&vars);
}

/* The seeded sample of one set, gathered on rank 0 alone, as a set of its own. */
static void sample_alone(const gmat *m, int64_t max_rows, uint64_t seed, int set, gmat *out,
                         gmat *first, int64_t n_first) {
  sm_ctx one;
  sm_ctx_init(&one, MPI_COMM_SELF);
  sm_hapmat whole = {m->n, m->v, m->g, m->coded, NULL, NULL};
  sm_geval_sample smp;
  CHECK(sm_geval_sample_gather(&one, &whole, m->v, max_rows, seed, set, &smp) == SM_OK);
  gmat as_set = {smp.n_rows, smp.n_vars, m->coded, smp.g};
  int64_t all[1024];
  for (int64_t i = 0; i < smp.n_rows; i++)
    all[i] = i;
  gmat_rows(&as_set, all, smp.n_rows, out);
  int64_t *idx = sm_geval_sample_first(&one, &smp, n_first);
  gmat_rows(&as_set, idx, n_first, first);
  free(idx);
  sm_geval_sample_free(&smp);
  sm_ctx_free(&one);
}

/* Unequal sets and max_rows: reference on the gathered samples and AATS subsets. */
static void case_sampled(sm_ctx *ctx) {
  gmat t, h, s;
  sm_variants vars;
  make_variants(37, &vars);
  make_rows(&t, 70, 37, 0, 0.2, 0.03, 31);
  make_rows(&h, 30, 37, 0, 0.2, 0.03, 32);
  make_rows(&s, 40, 37, 0, 0.3, 0.0, 33);
  sm_genome_eval_spec spec = {17, 45, 8000, 5, 2, NULL};
  geval_case c = {&t, &h, &s, 0};
  sm_genome_metrics got, ref;
  CHECK(fixture_evaluate(ctx, &spec, &vars, &c, &got) == SM_OK);
  fixture_print("sampled", &got);
  CHECK(got.aats_rows == 40);

  /* rank 0: the samples (45 training rows, all synthetic) and the AATS sets */
  if (ctx->rank == 0) {
    gmat ts, t40, ss, s30, hs, h30;
    sample_alone(&t, 45, spec.seed, SM_GEVAL_TRAIN, &ts, &t40, 40);
    sample_alone(&s, 45, spec.seed, SM_GEVAL_SYNTH, &ss, &s30, 30);
    sample_alone(&h, 45, spec.seed, SM_GEVAL_HOLDOUT, &hs, &h30, 30);
    CHECK(ts.n == 45 && ss.n == 40 && hs.n == 30);
    reference(&spec, &vars, &ts, &hs, &ss, &t, &ref);
    uint8_t major[37];
    ref_major(&t, major);
    ref.aats_train = ref_aats(&t40, &ss, major);
    ref.aats_holdout = ref_aats(&h30, &s30, major);
    ref.af_corr_train = ref_freq_corr(&t, &s);
    ref.af_corr_holdout = ref_freq_corr(&h, &s);
    double worst = 0;
    CHECK(fixture_mismatches(&got, &ref, CMP_ALL, TOL, &worst) == 0);
    printf("sampled: largest difference from the reference %.3g (tol %.0e)\n", worst, TOL);
    sm_genome_metrics_free(&ref);
    gmat_free(&ts), gmat_free(&t40), gmat_free(&ss), gmat_free(&s30);
    gmat_free(&hs), gmat_free(&h30);
  }
  check_alone(ctx, &spec, &vars, &c, &got);
  sm_genome_metrics_free(&got);
  gmat_free(&t), gmat_free(&h), gmat_free(&s);
  sm_variants_free(&vars);
}

/* The sample itself: exactly max_rows distinct rows, in global order, same over ranks. */
static void case_sample_rows(sm_ctx *ctx) {
  gmat t;
  make_rows(&t, 101, 8, 0, 0.2, 0.0, 41);
  for (int64_t i = 0; i < t.n; i++)
    t.g[i * t.v] = (uint8_t)(i & 1), t.g[i * t.v + 1] = (uint8_t)((i >> 1) & 1);
  int64_t lo, hi;
  fixture_range(t.n, ctx->rank, ctx->size, 1, &lo, &hi);
  sm_hapmat mine = {hi - lo, t.v, t.g + lo * t.v, 0, NULL, NULL};
  sm_geval_sample s;
  CHECK(sm_geval_sample_gather(ctx, &mine, t.v, 33, 99, SM_GEVAL_TRAIN, &s) == SM_OK);
  CHECK(s.n_rows == 33);
  for (int64_t i = 0; i < s.n_rows; i++) {
    CHECK(i == 0 || s.row[i] > s.row[i - 1]);
    CHECK(memcmp(s.g + i * t.v, t.g + s.row[i] * t.v, (size_t)t.v) == 0);
  }
  CHECK(s.row[s.n_rows - 1] > 50); /* not simply the first rows */

  /* the same rows on one rank */
  if (ctx->rank == 0) {
    sm_ctx one;
    sm_ctx_init(&one, MPI_COMM_SELF);
    sm_hapmat whole = {t.n, t.v, t.g, 0, NULL, NULL};
    sm_geval_sample s1;
    CHECK(sm_geval_sample_gather(&one, &whole, t.v, 33, 99, SM_GEVAL_TRAIN, &s1) == SM_OK);
    CHECK(s1.n_rows == 33 && memcmp(s1.row, s.row, 33 * sizeof(int64_t)) == 0);
    sm_geval_sample_free(&s1);
    sm_ctx_free(&one);
  }
  sm_geval_sample_free(&s);
  gmat_free(&t);
}

/* Bad input is refused on every rank with SM_EINPUT. */
static void case_bad_input(sm_ctx *ctx) {
  gmat t, s, none = {0, 9, 0, NULL};
  sm_variants vars;
  make_variants(9, &vars);
  make_rows(&t, 20, 9, 0, 0.2, 0.0, 51);
  make_rows(&s, 20, 9, 0, 0.2, 0.0, 52);
  sm_genome_eval_spec spec = {1, 0, 0, 2, 2, NULL};
  geval_case c = {&t, &none, &s, 0};
  sm_genome_metrics got;

  /* an allele 2 in haplotypes, on the last rows (last rank) */
  s.g[19 * 9 + 4] = 2;
  CHECK(fixture_evaluate(ctx, &spec, &vars, &c, &got) == SM_EINPUT);
  CHECK(strstr(ctx->msg, "allele 2") != NULL);
  s.g[19 * 9 + 4] = 1;

  /* synthetic genotypes against training haplotypes */
  s.coded = 1;
  CHECK(fixture_evaluate(ctx, &spec, &vars, &c, &got) == SM_EINPUT);
  CHECK(strstr(ctx->msg, "mix haplotypes and genotypes") != NULL);
  s.coded = 0;

  /* a plot that cannot be written fails on every rank, leaving nothing behind */
  spec.plot_path = "no-such-directory/pca.svg";
  CHECK(fixture_evaluate(ctx, &spec, &vars, &c, &got) == SM_ERR);
  CHECK(strstr(ctx->msg, "cannot write PCA plot") != NULL);

  /* a plot with one component; no synthetic rows */
  spec.plot_path = "never.svg", spec.pca_components = 1;
  CHECK(fixture_evaluate(ctx, &spec, &vars, &c, &got) == SM_EINPUT);
  spec.plot_path = NULL;
  c.synth = &none;
  CHECK(fixture_evaluate(ctx, &spec, &vars, &c, &got) == SM_EINPUT);
  CHECK(strstr(ctx->msg, "no synthetic rows") != NULL);

  /* no holdout: its figures are NaN with a reason */
  c.synth = &s;
  CHECK(fixture_evaluate(ctx, &spec, &vars, &c, &got) == SM_OK);
  CHECK(isnan(got.af_corr_holdout) && isnan(got.aats_holdout) && isnan(got.aats_privacy_loss));
  CHECK(strstr(got.reason, "held-out") != NULL);
  sm_genome_metrics_free(&got);
  gmat_free(&t), gmat_free(&s);
  sm_variants_free(&vars);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  case_haplotypes(&ctx);
  case_genotypes(&ctx);
  case_sampled(&ctx);
  case_sample_rows(&ctx);
  case_bad_input(&ctx);
  sm_ctx_free(&ctx);
  return test_finish();
}
