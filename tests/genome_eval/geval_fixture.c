/* Fixture of the genomic-metrics tests. */
#include "geval_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthmpi/rng.h"

void gmat_alloc(gmat *m, int64_t n, int64_t v, int coded) {
  m->n = n, m->v = v, m->coded = coded;
  m->g = calloc((size_t)(n > 0 ? n : 1) * (size_t)v, 1);
}

void gmat_free(gmat *m) {
  free(m->g);
  memset(m, 0, sizeof(*m));
}

void gmat_rows(const gmat *m, const int64_t *rows, int64_t n, gmat *out) {
  gmat_alloc(out, n, m->v, m->coded);
  for (int64_t i = 0; i < n; i++)
    memcpy(out->g + i * m->v, m->g + rows[i] * m->v, (size_t)m->v);
}

int64_t *fixture_permutation(int64_t n, uint64_t seed) {
  int64_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
  sm_rng r;
  sm_rng_init(&r, seed, SM_STREAM_TEST, 0);
  for (int64_t i = 0; i < n; i++)
    p[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t k = (int64_t)(sm_rng_uniform(&r) * (double)(i + 1));
    int64_t t = p[i];
    p[i] = p[k], p[k] = t;
  }
  return p;
}

void fixture_range(int64_t n, int rank, int size, int empty_first, int64_t *lo, int64_t *hi) {
  int64_t shift = empty_first && size > 1 ? 0 : 1, total = 0, before = 0;
  for (int r = 0; r < size; r++) {
    total += r + shift;
    before += r < rank ? r + shift : 0;
  }
  *lo = n * before / total;
  *hi = n * (before + rank + shift) / total;
}

/* This rank's rows of m as a set (owning copies; person = global row / 2). */
static void slice(const gmat *m, int rank, int size, int empty_first, sm_hapmat *out) {
  int64_t lo, hi;
  fixture_range(m->n, rank, size, empty_first, &lo, &hi);
  memset(out, 0, sizeof(*out));
  out->n_rows = hi - lo;
  out->n_vars = m->v;
  out->ploidy_coded = m->coded;
  out->g = malloc((size_t)(out->n_rows > 0 ? out->n_rows : 1) * (size_t)m->v);
  out->person = malloc((size_t)(out->n_rows > 0 ? out->n_rows : 1) * sizeof(int64_t));
  if (out->n_rows > 0)
    memcpy(out->g, m->g + lo * m->v, (size_t)out->n_rows * (size_t)m->v);
  for (int64_t i = 0; i < out->n_rows; i++)
    out->person[i] = (lo + i) / 2;
}

int fixture_evaluate(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_variants *vars,
                     const geval_case *c, sm_genome_metrics *out) {
  sm_hapmat t, h, s;
  slice(c->train, ctx->rank, ctx->size, c->empty_first, &t);
  slice(c->hold, ctx->rank, ctx->size, c->empty_first, &h);
  slice(c->synth, ctx->rank, ctx->size, c->empty_first, &s);
  int rc = sm_genome_evaluate(ctx, spec, vars, &t, c->hold->n ? &h : NULL, &s, out);
  sm_hapmat_free(&t);
  sm_hapmat_free(&h);
  sm_hapmat_free(&s);
  return rc;
}

int fixture_evaluate_alone(const sm_genome_eval_spec *spec, const sm_variants *vars,
                           const geval_case *c, sm_genome_metrics *out) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  memset(out, 0, sizeof(*out));
  if (rank != 0)
    return SM_OK;
  sm_ctx one;
  int rc = sm_ctx_init(&one, MPI_COMM_SELF);
  if (rc == SM_OK)
    rc = fixture_evaluate(&one, spec, vars, c, out);
  sm_ctx_free(&one);
  return rc;
}

/* Both NaN, or the same bits. */
static int same_bits(double a, double b) {
  return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static int differ(const char *name, int k, double a, double b) {
  if (same_bits(a, b))
    return 0;
  fprintf(stderr, "figure %s[%d] differs: %.17g vs %.17g\n", name, k, a, b);
  return 1;
}

int fixture_differences(const sm_genome_metrics *a, const sm_genome_metrics *b) {
  int bad = 0;
  bad += differ("af_corr_train", 0, a->af_corr_train, b->af_corr_train);
  bad += differ("af_corr_holdout", 0, a->af_corr_holdout, b->af_corr_holdout);
  bad += differ("ld_r2_mean_abs_diff", 0, a->ld_r2_mean_abs_diff, b->ld_r2_mean_abs_diff);
  bad += differ("ld_pairs", 0, (double)a->ld_pairs, (double)b->ld_pairs);
  bad += differ("pairdist_real_mean", 0, a->pairdist_real_mean, b->pairdist_real_mean);
  bad += differ("pairdist_synth_mean", 0, a->pairdist_synth_mean, b->pairdist_synth_mean);
  bad += differ("pairdist_cross_mean", 0, a->pairdist_cross_mean, b->pairdist_cross_mean);
  bad += differ("pairdist_wasserstein", 0, a->pairdist_wasserstein, b->pairdist_wasserstein);
  bad += differ("aats_train", 0, a->aats_train, b->aats_train);
  bad += differ("aats_holdout", 0, a->aats_holdout, b->aats_holdout);
  bad += differ("aats_privacy_loss", 0, a->aats_privacy_loss, b->aats_privacy_loss);
  bad += differ("aats_rows", 0, (double)a->aats_rows, (double)b->aats_rows);
  bad += differ("ld_bins", 0, a->ld_bins, b->ld_bins);
  bad += differ("pca_components", 0, a->pca_components, b->pca_components);
  for (int k = 0; k < a->ld_bins && k < b->ld_bins; k++) {
    bad += differ("ld_bin_edges", k, a->ld_bin_edges[k], b->ld_bin_edges[k]);
    bad += differ("ld_decay_real", k, a->ld_decay_real[k], b->ld_decay_real[k]);
    bad += differ("ld_decay_synth", k, a->ld_decay_synth[k], b->ld_decay_synth[k]);
  }
  for (int k = 0; k < a->pca_components && k < b->pca_components; k++)
    bad += differ("pca_explained", k, a->pca_explained[k], b->pca_explained[k]);
  if (strcmp(a->reason, b->reason) != 0)
    fprintf(stderr, "reasons differ: '%s' vs '%s'\n", a->reason, b->reason), bad++;
  return bad;
}

/* One figure against its reference. */
static int far(const char *name, int k, double got, double want, double tol, double *max_diff) {
  if (isnan(want) || isnan(got)) {
    if (isnan(want) && isnan(got))
      return 0;
    fprintf(stderr, "figure %s[%d] = %.12g, reference %.12g\n", name, k, got, want);
    return 1;
  }
  double d = fabs(got - want);
  *max_diff = d > *max_diff ? d : *max_diff;
  if (d <= tol)
    return 0;
  fprintf(stderr, "figure %s[%d] = %.12g, reference %.12g (diff %.3g > tol %.3g)\n", name, k, got,
          want, d, tol);
  return 1;
}

static int ld_mismatches(const sm_genome_metrics *got, const sm_genome_metrics *want, double tol,
                         double *max_diff) {
  int bad = far("ld_r2_mean_abs_diff", 0, got->ld_r2_mean_abs_diff, want->ld_r2_mean_abs_diff, tol,
                max_diff);
  bad += far("ld_pairs", 0, (double)got->ld_pairs, (double)want->ld_pairs, 0, max_diff);
  bad += far("ld_bins", 0, got->ld_bins, want->ld_bins, 0, max_diff);
  for (int k = 0; k < got->ld_bins && k < want->ld_bins; k++) {
    bad += far("ld_bin_edges", k, got->ld_bin_edges[k], want->ld_bin_edges[k], tol, max_diff);
    bad += far("ld_decay_real", k, got->ld_decay_real[k], want->ld_decay_real[k], tol, max_diff);
    bad += far("ld_decay_synth", k, got->ld_decay_synth[k], want->ld_decay_synth[k], tol, max_diff);
  }
  return bad;
}

int fixture_mismatches(const sm_genome_metrics *got, const sm_genome_metrics *want, int what,
                       double tol, double *max_diff) {
  int bad = 0;
  if (what & CMP_AF) {
    bad += far("af_corr_train", 0, got->af_corr_train, want->af_corr_train, tol, max_diff);
    bad += far("af_corr_holdout", 0, got->af_corr_holdout, want->af_corr_holdout, tol, max_diff);
  }
  if (what & CMP_LD)
    bad += ld_mismatches(got, want, tol, max_diff);
  if (what & CMP_DIST) {
    bad += far("pairdist_real_mean", 0, got->pairdist_real_mean, want->pairdist_real_mean, tol,
               max_diff);
    bad += far("pairdist_synth_mean", 0, got->pairdist_synth_mean, want->pairdist_synth_mean, tol,
               max_diff);
    bad += far("pairdist_cross_mean", 0, got->pairdist_cross_mean, want->pairdist_cross_mean, tol,
               max_diff);
    bad += far("pairdist_wasserstein", 0, got->pairdist_wasserstein, want->pairdist_wasserstein,
               tol, max_diff);
  }
  if (what & CMP_AATS) {
    bad += far("aats_train", 0, got->aats_train, want->aats_train, tol, max_diff);
    bad += far("aats_holdout", 0, got->aats_holdout, want->aats_holdout, tol, max_diff);
  }
  for (int k = 0; (what & CMP_PCA) && k < want->pca_components; k++)
    bad += far("pca_explained", k, got->pca_explained[k], want->pca_explained[k], tol, max_diff);
  return bad;
}

void fixture_print(const char *name, const sm_genome_metrics *m) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0)
    return;
  printf("%s: af_corr train %.6f holdout %.6f; LD |diff| %.6f over %lld pairs\n", name,
         m->af_corr_train, m->af_corr_holdout, m->ld_r2_mean_abs_diff, (long long)m->ld_pairs);
  printf("%s: pair distances real %.3f synth %.3f cross %.3f W1 %.4f\n", name,
         m->pairdist_real_mean, m->pairdist_synth_mean, m->pairdist_cross_mean,
         m->pairdist_wasserstein);
  printf("%s: AATS train %.4f holdout %.4f loss %.4f on %lld rows\n", name, m->aats_train,
         m->aats_holdout, m->aats_privacy_loss, (long long)m->aats_rows);
  for (int k = 0; k < m->pca_components; k++)
    printf("%s: PC%d explains %.4f\n", name, k + 1, m->pca_explained[k]);
  for (int b = 0; b < m->ld_bins; b++)
    printf("%s: LD bin [%.0f, %.0f) real %.4f synth %.4f\n", name, m->ld_bin_edges[b],
           m->ld_bin_edges[b + 1], m->ld_decay_real[b], m->ld_decay_synth[b]);
  if (m->reason[0])
    printf("%s: reason: %s\n", name, m->reason);
}

int fixture_same_file(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  int same = fa && fb;
  while (same) {
    int x = fgetc(fa), y = fgetc(fb);
    same = x == y;
    if (x == EOF || y == EOF)
      break;
  }
  if (fa)
    fclose(fa);
  if (fb)
    fclose(fb);
  return same;
}
