/* Privacy metrics: distance to closest record (DCR), rows identical to training rows, and
 * a distance-based membership inference attack.
 *
 * Distance of two rows: the mean over columns of one term per column, each in [0, 1]:
 * numeric columns |a - b| / (training max - training min), capped at 1; categorical and
 * boolean columns 1 when the codes differ; a missing value against a present one 1, two
 * missing values 0. A numeric column whose training values have no spread counts like a
 * categorical one.
 *
 * Nearest-row searches gather the query rows (a seeded sample) to every rank; each rank
 * scans its own rows of the searched set (a seeded sample of at most reference_rows) and
 * one MPI_MIN reduction gives every rank every distance. Minima do not depend on the
 * order in which they are taken, so the figures do not depend on the number of ranks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "synthmpi/rng.h"

#define QUERY_ROWS 2000
#define REFERENCE_ROWS 100000
#define ATTACK_ROWS 1000
#define MAX_HASHES ((int64_t)1 << 27) /* 1 GiB of row hashes on every rank */

void sm_eval_scale_free(sm_eval_scale *s) {
  if (!s)
    return;
  free(s->mismatch);
  free(s->lo);
  free(s->range);
  memset(s, 0, sizeof(*s));
}

/* Local [min, max] of the present values of a column (+inf, -inf when none). */
static void local_range(const double *x, int64_t n, double *lo, double *hi) {
  *lo = INFINITY;
  *hi = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(x[i]))
      continue;
    *lo = fmin(*lo, x[i]);
    *hi = fmax(*hi, x[i]);
  }
}

int sm_eval_scale_init(sm_ctx *ctx, const sm_table *train, sm_eval_scale *out) {
  memset(out, 0, sizeof(*out));
  int n = train->schema.n_cols;
  size_t m = (size_t)(n > 0 ? n : 1);
  out->n_cols = n;
  out->mismatch = sm_calloc(ctx, m, 1);
  out->lo = sm_calloc(ctx, m, sizeof(double));
  out->range = sm_calloc(ctx, m, sizeof(double));
  double *neg_hi = sm_calloc(ctx, m, sizeof(double));
  int rc = sm_agree(ctx, out->mismatch && out->lo && out->range && neg_hi ? SM_OK : SM_ERR);

  /* global min and max in one reduction: min of lo and of -hi */
  for (int j = 0; j < n && rc == SM_OK; j++) {
    double hi;
    local_range(train->values[j], train->n_rows, &out->lo[j], &hi);
    neg_hi[j] = -hi;
  }
  if (rc == SM_OK && n > 0) {
    SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, out->lo, n, MPI_DOUBLE, MPI_MIN, ctx->comm));
    SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, neg_hi, n, MPI_DOUBLE, MPI_MIN, ctx->comm));
  }

  /* discrete columns and columns without spread compare by equality */
  for (int j = 0; j < n && rc == SM_OK; j++) {
    out->range[j] = -neg_hi[j] - out->lo[j];
    out->mismatch[j] = sm_coltype_is_discrete(train->schema.cols[j].type) ||
                       !(out->range[j] > 0 && isfinite(out->range[j]));
  }
  free(neg_hi);
  if (rc != SM_OK)
    sm_eval_scale_free(out);
  return rc;
}

/* The value that distances see: numeric scaled by the training range, others as they are. */
static double scaled(const sm_eval_scale *sc, int j, double x) {
  return sc->mismatch[j] ? x : (x - sc->lo[j]) / sc->range[j];
}

/* One column's term, in [0, 1]. */
static double column_term(const sm_eval_scale *sc, int j, double a, double b) {
  int ma = isnan(a), mb = isnan(b);
  if (ma || mb)
    return ma && mb ? 0.0 : 1.0;
  if (sc->mismatch[j])
    return a != b;
  return fmin(fabs(a - b), 1.0);
}

double sm_eval_row_distance(const sm_eval_scale *sc, const double *a, const double *b) {
  double sum = 0.0;
  for (int j = 0; j < sc->n_cols; j++)
    sum += column_term(sc, j, a[j], b[j]);
  return sum;
}

/* The sum of terms, abandoned (returning a larger value) once it reaches bound. */
static double bounded_distance(const sm_eval_scale *sc, const double *a, const double *b,
                               double bound) {
  double sum = 0.0;
  for (int j = 0; j < sc->n_cols && sum <= bound; j++)
    sum += column_term(sc, j, a[j], b[j]);
  return sum;
}

/* Scaled query rows, row-major (n_rows, n_cols). */
static double *query_rows(sm_ctx *ctx, const sm_eval_scale *sc, const sm_eval_sample *q) {
  int nc = sc->n_cols;
  double *rows = sm_malloc(ctx, (size_t)(q->n_rows * nc + 1) * sizeof(double));
  if (!rows)
    return NULL;
  for (int64_t i = 0; i < q->n_rows; i++)
    for (int j = 0; j < nc; j++)
      rows[i * nc + j] = scaled(sc, j, q->values[j][i]);
  return rows;
}

/* Lower best[q] (sums of terms) with every kept local row of ref. */
static void scan_local(const sm_eval_scale *sc, const sm_table *ref, const unsigned char *keep,
                       const double *qrows, int64_t nq, double *row, double *best) {
  int nc = sc->n_cols;
  for (int64_t i = 0; i < ref->n_rows; i++) {
    if (!keep[i])
      continue;
    for (int j = 0; j < nc; j++)
      row[j] = scaled(sc, j, ref->values[j][i]);
    for (int64_t q = 0; q < nq; q++) {
      double d = bounded_distance(sc, qrows + q * nc, row, best[q]);
      if (d < best[q])
        best[q] = d;
    }
  }
}

int sm_eval_nearest(sm_ctx *ctx, const sm_eval_scale *sc, const sm_table *ref, int64_t max_ref,
                    uint64_t seed, const sm_eval_sample *query, double *dist) {
  int64_t nq = query->n_rows, n_keep = 0;
  unsigned char *keep = sm_malloc(ctx, (size_t)(ref->n_rows + 1));
  double *row = sm_malloc(ctx, (size_t)(sc->n_cols + 1) * sizeof(double));
  double *qrows = query_rows(ctx, sc, query);
  int rc = sm_agree(ctx, keep && row && qrows ? SM_OK : SM_ERR);

  /* the seeded reference rows, then this rank's part of every minimum */
  if (rc == SM_OK)
    rc = sm_eval_select(ctx, ref, max_ref, seed, keep, &n_keep);
  for (int64_t q = 0; q < nq; q++)
    dist[q] = INFINITY;
  if (rc == SM_OK)
    scan_local(sc, ref, keep, qrows, nq, row, dist);
  free(keep);
  free(row);
  free(qrows);
  SM_TRY(rc);

  /* minima over ranks, as a mean over columns */
  if (nq > 0)
    SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, dist, (int)nq, MPI_DOUBLE, MPI_MIN, ctx->comm));
  for (int64_t q = 0; q < nq && sc->n_cols > 0; q++)
    dist[q] /= sc->n_cols;
  return SM_OK;
}

double sm_eval_quantile(const double *sorted, int64_t n, double q) {
  if (n <= 0)
    return NAN;
  double pos = q * (double)(n - 1);
  int64_t lo = (int64_t)floor(pos);
  if (lo >= n - 1)
    return sorted[n - 1];
  return sorted[lo] + (pos - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct scored_row {
  double score;
  int label;
} scored_row;

/* Descending score. */
static int compare_desc(const void *a, const void *b) {
  double x = ((const scored_row *)a)->score, y = ((const scored_row *)b)->score;
  return (x < y) - (x > y);
}

double sm_eval_max_advantage(const double *score, const int *label, int64_t n) {
  scored_row *s = malloc((size_t)(n > 0 ? n : 1) * sizeof(scored_row));
  if (!s)
    return NAN;
  int64_t n_pos = 0;
  for (int64_t i = 0; i < n; i++) {
    s[i] = (scored_row){score[i], label[i] != 0};
    n_pos += s[i].label;
  }
  qsort(s, (size_t)n, sizeof(scored_row), compare_desc);

  /* lower the threshold one tied run at a time */
  double best = 0.0;
  int64_t tp = 0, fp = 0, n_neg = n - n_pos;
  for (int64_t i = 0; i < n && n_pos > 0 && n_neg > 0;) {
    int64_t j = i;
    for (; j < n && s[j].score == s[i].score; j++)
      s[j].label ? tp++ : fp++;
    best = fmax(best, (double)tp / (double)n_pos - (double)fp / (double)n_neg);
    i = j;
  }
  free(s);
  return n_pos > 0 && n_neg > 0 ? best : NAN;
}

/* Append a reason to out->reason. */
static void add_reason(sm_privacy_metrics *out, const char *why) {
  size_t used = strlen(out->reason);
  snprintf(out->reason + used, sizeof out->reason - used, "%s%s", used ? "; " : "", why);
}

/* Collective. Sorted DCRs of a seeded sample of set against the training rows. */
static int dcr_of(sm_ctx *ctx, const sm_eval_scale *sc, const sm_privacy_limits *lim, uint64_t seed,
                  const sm_table *train, const sm_table *set, double **dist, int64_t *n) {
  sm_eval_sample q = {0};
  SM_TRY(sm_eval_gather(ctx, set, lim->query_rows, seed, -1, &q));
  *n = q.n_rows;
  *dist = sm_malloc(ctx, (size_t)(q.n_rows + 1) * sizeof(double));
  int rc = sm_agree(ctx, *dist ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = sm_eval_nearest(ctx, sc, train, lim->reference_rows, sm_hash64(seed + 1), &q, *dist);
  sm_eval_sample_free(&q);
  if (rc == SM_OK)
    qsort(*dist, (size_t)*n, sizeof(double), compare_double);
  return rc;
}

/* Collective. The DCR figures; the held-out ones only when there are held-out rows. */
static int dcr_figures(sm_ctx *ctx, const sm_eval_scale *sc, const sm_privacy_limits *lim,
                       uint64_t seed, const sm_table *train, const sm_table *holdout,
                       const sm_table *synth, sm_privacy_metrics *out) {
  double *ds = NULL, *dh = NULL;
  int64_t ns = 0, nh = 0;
  int rc = dcr_of(ctx, sc, lim, seed, train, synth, &ds, &ns);
  if (rc == SM_OK && holdout)
    rc = dcr_of(ctx, sc, lim, seed, train, holdout, &dh, &nh);

  /* medians, 5th percentiles, and synthetic rows closer than most held-out rows */
  if (rc == SM_OK && train->n_rows_total > 0) {
    out->dcr_synth_median = sm_eval_quantile(ds, ns, 0.5);
    out->dcr_synth_p05 = sm_eval_quantile(ds, ns, 0.05);
    out->dcr_hold_median = sm_eval_quantile(dh, nh, 0.5);
    out->dcr_hold_p05 = sm_eval_quantile(dh, nh, 0.05);
    int64_t closer = 0;
    for (int64_t i = 0; i < ns; i++)
      closer += ds[i] < out->dcr_hold_p05;
    if (nh > 0 && ns > 0)
      out->dcr_share_closer = (double)closer / (double)ns;
  }
  out->dcr_synth_rows = ns;
  out->dcr_hold_rows = nh;
  int64_t cap = lim->reference_rows;
  out->dcr_reference_rows = cap <= 0 || train->n_rows_total < cap ? train->n_rows_total : cap;
  free(ds);
  free(dh);
  return rc;
}

/* 64-bit hash of row i of t; NaN and -0.0 hash as one canonical value each. */
static uint64_t row_hash(const sm_table *t, int64_t i) {
  uint64_t h = sm_hash64((uint64_t)t->schema.n_cols);
  for (int j = 0; j < t->schema.n_cols; j++) {
    double v = t->values[j][i];
    uint64_t bits = 0x7ff8000000000000ULL;
    if (!isnan(v)) {
      v = v == 0.0 ? 0.0 : v;
      memcpy(&bits, &v, sizeof bits);
    }
    h = sm_hash64(h ^ bits);
  }
  return h;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Collective. The sorted hashes of every training row, on every rank (8 bytes a row). */
static int gather_hashes(sm_ctx *ctx, const sm_table *train, uint64_t **out) {
  int64_t n = train->n_rows_total;
  uint64_t *mine = sm_malloc(ctx, (size_t)(train->n_rows + 1) * sizeof(uint64_t));
  *out = sm_malloc(ctx, (size_t)(n + 1) * sizeof(uint64_t));
  int *counts = sm_malloc(ctx, (size_t)ctx->size * sizeof(int));
  int *displs = sm_malloc(ctx, (size_t)ctx->size * sizeof(int));
  int rc = sm_agree(ctx, mine && *out && counts && displs ? SM_OK : SM_ERR);

  /* every rank's part in rank order, then sorted for lookups */
  int local = (int)train->n_rows, mpi_rc = MPI_SUCCESS;
  for (int64_t i = 0; i < train->n_rows && rc == SM_OK; i++)
    mine[i] = row_hash(train, i);
  if (rc == SM_OK)
    mpi_rc = MPI_Allgather(&local, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm);
  for (int r = 0, at = 0; r < ctx->size && rc == SM_OK && mpi_rc == MPI_SUCCESS; r++)
    displs[r] = at, at += counts[r];
  if (rc == SM_OK && mpi_rc == MPI_SUCCESS)
    mpi_rc =
        MPI_Allgatherv(mine, local, MPI_UINT64_T, *out, counts, displs, MPI_UINT64_T, ctx->comm);
  if (rc == SM_OK && mpi_rc != MPI_SUCCESS)
    rc = sm_fail_mpi(ctx, mpi_rc, "MPI_Allgatherv(row hashes)", __FILE__, __LINE__);
  if (rc == SM_OK)
    qsort(*out, (size_t)n, sizeof(uint64_t), compare_u64);
  free(mine);
  free(counts);
  free(displs);
  return rc;
}

/* Collective. Share of all rows of set whose hash is among the training hashes. */
static int identical_share(sm_ctx *ctx, const uint64_t *hashes, int64_t n_hashes,
                           const sm_table *set, double *share) {
  int64_t hits = 0, total = 0;
  for (int64_t i = 0; i < set->n_rows; i++) {
    uint64_t h = row_hash(set, i);
    hits += bsearch(&h, hashes, (size_t)n_hashes, sizeof(uint64_t), compare_u64) != NULL;
  }
  SM_MPI_CHECK(ctx, MPI_Allreduce(&hits, &total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  *share = set->n_rows_total > 0 ? (double)total / (double)set->n_rows_total : NAN;
  return SM_OK;
}

/* Collective. Identical-row shares of the synthetic and held-out sets. */
static int identical_figures(sm_ctx *ctx, const sm_privacy_limits *lim, const sm_table *train,
                             const sm_table *holdout, const sm_table *synth,
                             sm_privacy_metrics *out) {
  if (train->n_rows_total > lim->max_hashes || train->n_rows_total > INT32_MAX) {
    char why[128];
    snprintf(why, sizeof why, "identical rows: more than %lld training rows",
             (long long)lim->max_hashes);
    add_reason(out, why);
    return SM_OK;
  }
  uint64_t *hashes = NULL;
  int rc = gather_hashes(ctx, train, &hashes);
  if (rc == SM_OK)
    rc = identical_share(ctx, hashes, train->n_rows_total, synth, &out->identical_synth);
  if (rc == SM_OK && holdout)
    rc = identical_share(ctx, hashes, train->n_rows_total, holdout, &out->identical_hold);
  free(hashes);
  return rc;
}

/* Collective. Attack scores -(DCR to synthetic rows) of n seeded rows of set. */
static int attack_scores(sm_ctx *ctx, const sm_eval_scale *sc, const sm_privacy_limits *lim,
                         uint64_t seed, const sm_table *set, int64_t n, const sm_table *synth,
                         double *score) {
  sm_eval_sample q = {0};
  SM_TRY(sm_eval_gather(ctx, set, n, seed, -1, &q));
  int rc = sm_eval_nearest(ctx, sc, synth, lim->reference_rows, sm_hash64(seed + 3), &q, score);
  for (int64_t i = 0; i < q.n_rows && rc == SM_OK; i++)
    score[i] = -score[i];
  sm_eval_sample_free(&q);
  return rc;
}

/* Collective. The membership inference attack: members are training rows, non-members
 * held-out rows, as many of each. */
static int attack_figures(sm_ctx *ctx, const sm_eval_scale *sc, const sm_privacy_limits *lim,
                          uint64_t seed, const sm_table *train, const sm_table *holdout,
                          const sm_table *synth, sm_privacy_metrics *out) {
  int64_t n = lim->attack_rows;
  n = train->n_rows_total < n ? train->n_rows_total : n;
  n = holdout && holdout->n_rows_total < n ? holdout->n_rows_total : n;
  if (!holdout || n == 0 || synth->n_rows_total == 0) {
    add_reason(out, "membership inference: needs training, held-out and synthetic rows");
    return SM_OK;
  }
  double *score = sm_malloc(ctx, (size_t)(2 * n) * sizeof(double));
  int *label = sm_malloc(ctx, (size_t)(2 * n) * sizeof(int));
  int rc = sm_agree(ctx, score && label ? SM_OK : SM_ERR);

  /* members first, then non-members; both samples hold exactly n rows */
  uint64_t s = sm_hash64(seed + 2);
  if (rc == SM_OK)
    rc = attack_scores(ctx, sc, lim, s, train, n, synth, score);
  if (rc == SM_OK)
    rc = attack_scores(ctx, sc, lim, s, holdout, n, synth, score + n);
  for (int64_t i = 0; i < 2 * n && rc == SM_OK; i++)
    label[i] = i < n;
  if (rc == SM_OK) {
    out->mia_auc = sm_eval_roc_auc(score, label, 2 * n);
    out->mia_advantage = sm_eval_max_advantage(score, label, 2 * n);
    out->mia_members = out->mia_non_members = n;
    out->mia_done = 1;
  }
  free(score);
  free(label);
  return rc;
}

static void metrics_reset(sm_privacy_metrics *out) {
  memset(out, 0, sizeof(*out));
  out->dcr_synth_median = out->dcr_synth_p05 = NAN;
  out->dcr_hold_median = out->dcr_hold_p05 = out->dcr_share_closer = NAN;
  out->identical_synth = out->identical_hold = NAN;
  out->mia_auc = out->mia_advantage = NAN;
}

int sm_privacy_metrics_limited(sm_ctx *ctx, const sm_eval_spec *spec, const sm_privacy_limits *lim,
                               const sm_table *train, const sm_table *holdout,
                               const sm_table *synth, sm_privacy_metrics *out) {
  metrics_reset(out);
  int nc = train->schema.n_cols;
  if (synth->schema.n_cols != nc || (holdout && holdout->schema.n_cols != nc))
    return sm_fail(ctx, SM_EINPUT, "privacy metrics: the sets have different column counts");
  if (holdout && holdout->n_rows_total == 0)
    holdout = NULL;
  if (!holdout)
    add_reason(out, "no held-out rows: no baseline");

  /* scaling from the training rows, then the three kinds of figure */
  sm_eval_scale sc;
  SM_TRY(sm_eval_scale_init(ctx, train, &sc));
  int rc = dcr_figures(ctx, &sc, lim, spec->seed, train, holdout, synth, out);
  if (rc == SM_OK)
    rc = identical_figures(ctx, lim, train, holdout, synth, out);
  if (rc == SM_OK)
    rc = attack_figures(ctx, &sc, lim, spec->seed, train, holdout, synth, out);
  sm_eval_scale_free(&sc);
  return rc;
}

int sm_privacy_metrics_compute(sm_ctx *ctx, const sm_eval_spec *spec, const sm_table *train,
                               const sm_table *holdout, const sm_table *synth,
                               sm_privacy_metrics *out) {
  sm_privacy_limits lim = {QUERY_ROWS, REFERENCE_ROWS, ATTACK_ROWS, MAX_HASHES};
  return sm_privacy_metrics_limited(ctx, spec, &lim, train, holdout, synth, out);
}
