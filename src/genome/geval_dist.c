/* Pairwise Hamming distances of packed rows: their histograms, nearest neighbours, and
 * the nearest-neighbour adversarial accuracy (AATS).
 *
 * Rows i of the first set are dealt to ranks in turn; every rank computes whole rows of
 * distances and the integer histograms and minima are reduced, so the result does not
 * depend on the number of ranks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genome/geval_internal.h"

/* Sites where two packed rows differ: any plane bit differs. */
static inline int64_t hamming(const uint64_t *x, const uint64_t *y, int64_t w, int planes) {
  int64_t d = 0;
  if (planes == 1) {
    for (int64_t k = 0; k < w; k++)
      d += __builtin_popcountll(x[k] ^ y[k]);
    return d;
  }
  for (int64_t k = 0; k < w; k++)
    d += __builtin_popcountll((x[k] ^ y[k]) | (x[w + k] ^ y[w + k]));
  return d;
}

/* Distances from row i of a to rows j0.. of b: counted in hist, minimum kept in
 * near_a[i] and near_b[j] (each may be NULL). */
SM_GEVAL_POPCNT
static void pairs_row(const sm_geval_packed *a, int64_t i, const sm_geval_packed *b, int64_t j0,
                      int64_t *hist, int64_t *near_a, int64_t *near_b) {
  int64_t w = a->words, stride = w * a->planes;
  const uint64_t *x = a->bits + i * stride;
  int64_t best = near_a ? near_a[i] : 0;
  for (int64_t j = j0; j < b->n_rows; j++) {
    int64_t d = hamming(x, b->bits + j * stride, w, a->planes);
    if (hist)
      hist[d]++;
    if (d < best)
      best = d;
    if (near_b && d < near_b[j])
      near_b[j] = d;
  }
  if (near_a)
    near_a[i] = best;
}

/* Collective: in-place reduction of an int64 array (op MPI_SUM or MPI_MIN). */
static int reduce_i64(sm_ctx *ctx, int64_t *x, int64_t n, MPI_Op op) {
  if (!x)
    return SM_OK;
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_INT64_T, op, ctx->comm));
  return SM_OK;
}

int sm_geval_pairs(sm_ctx *ctx, const sm_geval_packed *a, const sm_geval_packed *b, int64_t n_vars,
                   int64_t *hist, int64_t *near_a, int64_t *near_b) {
  const sm_geval_packed *other = b ? b : a;
  if (!b)
    near_b = near_a;

  /* nothing seen yet */
  if (hist)
    memset(hist, 0, (size_t)(n_vars + 1) * sizeof(int64_t));
  for (int64_t i = 0; near_a && i < a->n_rows; i++)
    near_a[i] = INT64_MAX;
  for (int64_t j = 0; b && near_b && j < b->n_rows; j++)
    near_b[j] = INT64_MAX;

  /* this rank's rows of a, against all of b or the rows after them */
  for (int64_t i = ctx->rank; i < a->n_rows; i += ctx->size)
    pairs_row(a, i, other, b ? 0 : i + 1, hist, near_a, near_b);

  /* sums and minima over ranks */
  SM_TRY(reduce_i64(ctx, hist, hist ? n_vars + 1 : 0, MPI_SUM));
  SM_TRY(reduce_i64(ctx, near_a, a->n_rows, MPI_MIN));
  if (b)
    SM_TRY(reduce_i64(ctx, near_b, b->n_rows, MPI_MIN));
  return SM_OK;
}

double sm_geval_aats(const int64_t *real_real, const int64_t *real_synth,
                     const int64_t *synth_synth, const int64_t *synth_real, int64_t n) {
  int64_t real_far = 0, synth_far = 0;
  for (int64_t i = 0; i < n; i++) {
    real_far += real_synth[i] > real_real[i];
    synth_far += synth_real[i] > synth_synth[i];
  }
  return 0.5 * ((double)real_far / (double)n + (double)synth_far / (double)n);
}

/* Mean of a distance histogram, NaN when it is empty. */
static double hist_mean(const int64_t *h, int64_t n_vars) {
  double s = 0, c = 0;
  for (int64_t d = 0; d <= n_vars; d++) {
    s += (double)d * (double)h[d];
    c += (double)h[d];
  }
  return c > 0 ? s / c : NAN;
}

/* 1-D Wasserstein distance of two integer distributions: the area between their CDFs. */
static double hist_wasserstein(const int64_t *a, const int64_t *b, int64_t n_vars) {
  double na = 0, nb = 0;
  for (int64_t d = 0; d <= n_vars; d++) {
    na += (double)a[d];
    nb += (double)b[d];
  }
  if (na <= 0 || nb <= 0)
    return NAN;
  double ca = 0, cb = 0, w = 0;
  for (int64_t d = 0; d < n_vars; d++) {
    ca += (double)a[d];
    cb += (double)b[d];
    w += fabs(ca / na - cb / nb);
  }
  return w;
}

/* Buffers of the distance step, freed together. */
typedef struct dist_work {
  sm_geval_packed real, synth;     /* the whole samples */
  sm_geval_packed real_n, synth_n; /* AATS sets vs train, when smaller than the samples */
  sm_geval_packed hold_n, synth_h; /* AATS sets vs holdout */
  int64_t *hist;                   /* (3, n_vars + 1) within real, within synthetic, across */
  int64_t *near; /* (4, max set) nearest distances: real-real, real-synth, synth-synth,
                    synth-real (the real set is training or held-out rows) */
} dist_work;

static void dist_work_free(dist_work *w) {
  sm_geval_packed_free(&w->real);
  sm_geval_packed_free(&w->synth);
  sm_geval_packed_free(&w->real_n);
  sm_geval_packed_free(&w->synth_n);
  sm_geval_packed_free(&w->hold_n);
  sm_geval_packed_free(&w->synth_h);
  free(w->hist);
  free(w->near);
}

/* Collective: pack the first n rows (by key) of s, or all rows when n is s->n_rows. */
static int pack_first(sm_ctx *ctx, const sm_geval_sample *s, int64_t n, const uint8_t *major,
                      int planes, sm_geval_packed *out) {
  int64_t *idx = n < s->n_rows ? sm_geval_sample_first(ctx, s, n) : NULL;
  int rc = n < s->n_rows && !idx ? SM_ERR : SM_OK;
  if (rc == SM_OK)
    rc = sm_geval_pack_rows(ctx, s, idx, n, major, planes, out);
  free(idx);
  return sm_agree(ctx, rc);
}

/* Collective: AATS of the packed sets real and synth (n rows each) from their nearest
 * distances (nn: 4 n entries). */
static int aats_of(sm_ctx *ctx, const sm_geval_packed *real, const sm_geval_packed *synth,
                   int64_t n_vars, int64_t *nn, double *aats) {
  int64_t n = real->n_rows;
  SM_TRY(sm_geval_pairs(ctx, real, NULL, n_vars, NULL, nn, NULL));
  SM_TRY(sm_geval_pairs(ctx, synth, NULL, n_vars, NULL, nn + 2 * n, NULL));
  SM_TRY(sm_geval_pairs(ctx, real, synth, n_vars, NULL, nn + n, nn + 3 * n));
  *aats = sm_geval_aats(nn, nn + n, nn + 2 * n, nn + 3 * n, n);
  return SM_OK;
}

/* Collective: histograms of the whole samples, and AATS vs train from the same passes when
 * the AATS sets are the whole samples. */
static int histograms(sm_ctx *ctx, dist_work *w, int64_t n_vars, int same, sm_genome_metrics *out) {
  int64_t *h = w->hist, *nn = same ? w->near : NULL, n = w->real.n_rows;
  SM_TRY(sm_geval_pairs(ctx, &w->real, NULL, n_vars, h, nn, NULL));
  SM_TRY(
      sm_geval_pairs(ctx, &w->synth, NULL, n_vars, h + (n_vars + 1), nn ? nn + 2 * n : NULL, NULL));
  SM_TRY(sm_geval_pairs(ctx, &w->real, &w->synth, n_vars, h + 2 * (n_vars + 1), nn ? nn + n : NULL,
                        nn ? nn + 3 * n : NULL));
  if (same)
    out->aats_train = sm_geval_aats(nn, nn + n, nn + 2 * n, nn + 3 * n, n);
  return SM_OK;
}

/* The figures of the three histograms. */
static void histogram_figures(const int64_t *h, int64_t n_vars, sm_genome_metrics *out) {
  out->pairdist_real_mean = hist_mean(h, n_vars);
  out->pairdist_synth_mean = hist_mean(h + (n_vars + 1), n_vars);
  out->pairdist_cross_mean = hist_mean(h + 2 * (n_vars + 1), n_vars);
  out->pairdist_wasserstein = hist_wasserstein(h, h + (n_vars + 1), n_vars);
  if (isnan(out->pairdist_real_mean) || isnan(out->pairdist_synth_mean))
    sm_geval_reason(out, "pairwise distances need at least 2 rows in each set");
}

/* Collective: AATS vs train on other rows than the whole samples, and vs holdout. */
static int aats_sets(sm_ctx *ctx, dist_work *w, const sm_geval_sample *train,
                     const sm_geval_sample *hold, const sm_geval_sample *synth,
                     const uint8_t *major, int same, int64_t n_hold, sm_genome_metrics *out) {
  int64_t v = train->n_vars, n = out->aats_rows;
  int planes = w->real.planes;
  if (!same && n >= 2) {
    SM_TRY(pack_first(ctx, train, n, major, planes, &w->real_n));
    SM_TRY(pack_first(ctx, synth, n, major, planes, &w->synth_n));
    SM_TRY(aats_of(ctx, &w->real_n, &w->synth_n, v, w->near, &out->aats_train));
  }
  if (n_hold < 2)
    return SM_OK;
  SM_TRY(pack_first(ctx, hold, n_hold, major, planes, &w->hold_n));
  SM_TRY(pack_first(ctx, synth, n_hold, major, planes, &w->synth_h));
  SM_TRY(aats_of(ctx, &w->hold_n, &w->synth_h, v, w->near, &out->aats_holdout));
  out->aats_privacy_loss = out->aats_holdout - out->aats_train;
  return SM_OK;
}

/* Reasons for AATS figures left NaN. */
static void aats_reasons(int64_t n, int64_t n_hold_rows, int64_t n_hold, sm_genome_metrics *out) {
  if (n < 2)
    sm_geval_reason(out, "AATS needs at least 2 training and 2 synthetic rows");
  if (n_hold_rows > 0 && n_hold < 2)
    sm_geval_reason(out, "AATS vs holdout needs at least 2 held-out rows");
}

int sm_geval_distances(sm_ctx *ctx, const sm_geval_sample *train, const sm_geval_sample *hold,
                       const sm_geval_sample *synth, const uint8_t *major, int planes,
                       sm_genome_metrics *out) {
  /* equal-size AATS sets: n vs training rows, n_hold vs held-out rows */
  int64_t v = train->n_vars, n_hold_rows = hold ? hold->n_rows : 0;
  int64_t n = train->n_rows < synth->n_rows ? train->n_rows : synth->n_rows;
  int64_t n_hold = n_hold_rows < synth->n_rows ? n_hold_rows : synth->n_rows;
  int64_t most = n > n_hold ? n : n_hold;
  int same = n == train->n_rows && n == synth->n_rows;
  out->aats_rows = n;

  /* the whole samples packed, and room for histograms and nearest distances */
  dist_work w;
  memset(&w, 0, sizeof(w));
  int rc = sm_geval_pack_rows(ctx, train, NULL, train->n_rows, major, planes, &w.real);
  if (rc == SM_OK)
    rc = sm_geval_pack_rows(ctx, synth, NULL, synth->n_rows, major, planes, &w.synth);
  w.hist = rc == SM_OK ? sm_calloc(ctx, 3 * (size_t)(v + 1), sizeof(int64_t)) : NULL;
  w.near = rc == SM_OK ? sm_calloc(ctx, 4 * (size_t)(most > 0 ? most : 1), sizeof(int64_t)) : NULL;
  rc = sm_agree(ctx, w.hist && w.near ? rc : SM_ERR);

  /* distance distributions, then AATS on equal-size sets */
  if (rc == SM_OK)
    rc = histograms(ctx, &w, v, same && n >= 2, out);
  if (rc == SM_OK)
    histogram_figures(w.hist, v, out);
  if (rc == SM_OK)
    rc = aats_sets(ctx, &w, train, hold, synth, major, same, n_hold, out);
  aats_reasons(n, n_hold_rows, n_hold, out);
  dist_work_free(&w);
  return rc;
}
