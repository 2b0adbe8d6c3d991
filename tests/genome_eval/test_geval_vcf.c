/* Genomic metrics with missing calls: the 1000 Genomes pilot VCF (vcf/pyvcf_1kg.vcf.gz,
 * 629 samples, 381 phased sites within 31 kb of chromosome 2, ~44% of genotypes missing).
 * Read as haplotypes and as 0/1/2 genotypes, split by person; every figure against the
 * slow references, and a copy of the training rows keeps frequencies and LD exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "geval_fixture.h"
#include "test_util.h"

#define TOL 1e-9 /* float64 sums in another order, and r^2 sums in 2^-32 fixed point */
#define N_SITES 381
#define N_SAMPLES 629

/* One sample's GT field ("0|1", "./.") into two haplotype alleles. */
static void parse_gt(const char *f, uint8_t *a, uint8_t *b) {
  *a = f[0] == '0' || f[0] == '1' ? (uint8_t)(f[0] - '0') : SM_ALLELE_MISSING;
  *b = f[2] == '0' || f[2] == '1' ? (uint8_t)(f[2] - '0') : SM_ALLELE_MISSING;
}

/* One data line into column j of hap (2 rows per sample) and the site's place. */
static int parse_site(char *line, int64_t j, gmat *hap, sm_variants *vars) {
  char *save = NULL, *tok = strtok_r(line, "\t", &save);
  for (int col = 0; tok; col++, tok = strtok_r(NULL, "\t\n", &save)) {
    if (col == 0)
      vars->chrom[j] = sm_strdup(tok);
    else if (col == 1)
      vars->pos[j] = atoll(tok);
    else if (col >= 9 && col - 9 < N_SAMPLES)
      parse_gt(tok, &hap->g[(2 * (col - 9)) * N_SITES + j],
               &hap->g[(2 * (col - 9) + 1) * N_SITES + j]);
    if (col == 9 + N_SAMPLES - 1)
      return 1;
  }
  return 0;
}

static int read_vcf(const char *path, gmat *hap, sm_variants *vars) {
  gzFile fp = gzopen(path, "r");
  static char line[1 << 17];
  gmat_alloc(hap, 2 * N_SAMPLES, N_SITES, 0);
  memset(vars, 0, sizeof(*vars));
  vars->chrom = calloc(N_SITES, sizeof(char *));
  vars->pos = calloc(N_SITES, sizeof(int64_t));
  while (fp && vars->n < N_SITES && gzgets(fp, line, sizeof line)) {
    if (line[0] == '#')
      continue;
    if (!parse_site(line, vars->n, hap, vars))
      break;
    vars->n++;
  }
  if (fp)
    gzclose(fp);
  return vars->n == N_SITES;
}

/* Genotypes of the samples: the two alleles summed, missing if either is. */
static void to_genotypes(const gmat *hap, gmat *geno) {
  gmat_alloc(geno, hap->n / 2, hap->v, 1);
  for (int64_t i = 0; i < geno->n; i++)
    for (int64_t j = 0; j < hap->v; j++) {
      uint8_t a = hap->g[2 * i * hap->v + j], b = hap->g[(2 * i + 1) * hap->v + j];
      int gap = a == SM_ALLELE_MISSING || b == SM_ALLELE_MISSING;
      geno->g[i * hap->v + j] = gap ? SM_ALLELE_MISSING : (uint8_t)(a + b);
    }
}

/* The rows of persons perm[from..to) (per person: 1 row, or 2 for haplotypes). */
static void persons(const gmat *all, const int64_t *perm, int64_t from, int64_t to, gmat *out) {
  int per = all->coded ? 1 : 2;
  int64_t n = per * (to - from), *rows = malloc((size_t)n * sizeof(int64_t));
  for (int64_t p = from; p < to; p++)
    for (int k = 0; k < per; k++)
      rows[per * (p - from) + k] = per * perm[p] + k;
  gmat_rows(all, rows, n, out);
  free(rows);
}

/* Every figure of one split against the references. */
static void case_reference(sm_ctx *ctx, const char *name, const sm_variants *vars, const gmat *all,
                           const int64_t *perm) {
  gmat t, h, s;
  persons(all, perm, 0, 209, &t);
  persons(all, perm, 209, 418, &h);
  persons(all, perm, 418, 627, &s);
  sm_genome_eval_spec spec = {4, 0, 0, 6, 3, NULL};
  geval_case c = {&t, &h, &s, 0};
  sm_genome_metrics got, ref, one;
  CHECK(fixture_evaluate(ctx, &spec, vars, &c, &got) == SM_OK);
  fixture_print(name, &got);
  CHECK(got.ld_pairs > 10000);
  if (ctx->rank == 0) {
    double mean[N_SITES];
    uint8_t major[N_SITES];
    for (int64_t j = 0; j < N_SITES; j++)
      mean[j] = isnan(ref_freq(&t, j)) ? 0 : ref_freq(&t, j) * (t.coded ? 2 : 1);
    ref_major(&t, major);
    memset(&ref, 0, sizeof(ref));
    ref.af_corr_train = ref_freq_corr(&t, &s);
    ref.af_corr_holdout = ref_freq_corr(&h, &s);
    ref_ld(vars, &t, &s, 0, 6, &ref);
    ref_pairdist(&t, &s, major, &ref);
    ref.aats_train = ref_aats(&t, &s, major);
    ref.aats_holdout = ref_aats(&h, &s, major);
    ref.pca_components = 3;
    ref.pca_explained = malloc(3 * sizeof(double));
    ref_pca(&t, &s, mean, 3, ref.pca_explained);
    double worst = 0;
    CHECK(fixture_mismatches(&got, &ref, CMP_ALL, TOL, &worst) == 0);
    printf("%s: largest difference from the reference %.3g (tol %.0e)\n", name, worst, TOL);
    sm_genome_metrics_free(&ref);
  }

  /* the same bits on rank 0 alone */
  CHECK(fixture_evaluate_alone(&spec, vars, &c, &one) == SM_OK);
  if (ctx->rank == 0)
    CHECK(fixture_differences(&got, &one) == 0);
  sm_genome_metrics_free(&one);
  sm_genome_metrics_free(&got);
  gmat_free(&t), gmat_free(&h), gmat_free(&s);
}

/* A copy of the training rows, missing calls and all. */
static void case_copy(sm_ctx *ctx, const sm_variants *vars, const gmat *all, const int64_t *perm) {
  gmat t, none = {0, N_SITES, all->coded, NULL};
  persons(all, perm, 0, 500, &t);
  sm_genome_eval_spec spec = {6, 0, 10000, 4, 2, NULL};
  geval_case c = {&t, &none, &t, 1};
  sm_genome_metrics m;
  CHECK(fixture_evaluate(ctx, &spec, vars, &c, &m) == SM_OK);
  fixture_print("copy", &m);
  CHECK_CLOSE(m.af_corr_train, 1.0, 1e-12);
  CHECK(m.ld_r2_mean_abs_diff == 0.0 && m.ld_pairs > 1000);
  CHECK(m.pairdist_wasserstein == 0.0 && m.aats_train == 0.0);
  sm_genome_metrics_free(&m);
  gmat_free(&t);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  gmat hap, geno;
  sm_variants vars;
  int ok = read_vcf(test_data("vcf/pyvcf_1kg.vcf.gz"), &hap, &vars);
  CHECK(ok);
  if (ok) {
    int64_t missing = 0;
    for (int64_t k = 0; k < hap.n * hap.v; k++)
      missing += hap.g[k] == SM_ALLELE_MISSING;
    CHECK(missing > hap.n * hap.v / 3); /* the point of this data set */
    to_genotypes(&hap, &geno);
    int64_t *perm = fixture_permutation(N_SAMPLES, 1000);
    case_reference(&ctx, "haplotypes", &vars, &hap, perm);
    case_reference(&ctx, "genotypes", &vars, &geno, perm);
    case_copy(&ctx, &vars, &hap, perm);
    free(perm);
    gmat_free(&geno);
  }
  gmat_free(&hap);
  sm_variants_free(&vars);
  sm_ctx_free(&ctx);
  return test_finish();
}
