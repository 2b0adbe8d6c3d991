/* Fidelity: column shapes and column pair trends of a release against real rows.
 *
 * Both sets are subsampled and gathered to every rank; the columns, then the column
 * pairs, are dealt round-robin over the ranks, and one sum-reduction hands every rank
 * every score. A rank adds zeros for items it does not own, so the sums are exact and
 * the scores do not depend on the number of ranks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static int is_numeric(const sm_column *c) {
  return !sm_coltype_is_discrete(c->type);
}

/* Every discrete code must be an integer in [0, n_categories) (NaN = missing). */
static int check_codes(sm_ctx *ctx, const sm_column *c, const sm_eval_sample *s, int j,
                       const char *set) {
  for (int64_t i = 0; i < s->n_rows; i++) {
    double v = s->values[j][i];
    if (isnan(v))
      continue;
    if (v < 0 || v >= c->n_categories || v != floor(v))
      return sm_fail(ctx, SM_EINPUT,
                     "%s column '%s': value %g at row %lld is not a category "
                     "code of its %d-entry dictionary",
                     set, c->name, v, (long long)s->index[i], c->n_categories);
  }
  return SM_OK;
}

/* Same columns, same types, same dictionaries in both tables. */
static int check_schemas(sm_ctx *ctx, const sm_schema *a, const sm_schema *b) {
  if (a->n_cols != b->n_cols)
    return sm_fail(ctx, SM_EINPUT, "evaluation: real rows have %d columns, synthetic rows %d",
                   a->n_cols, b->n_cols);
  for (int j = 0; j < a->n_cols; j++) {
    const sm_column *x = &a->cols[j], *y = &b->cols[j];
    if (strcmp(x->name, y->name) != 0 || x->type != y->type ||
        (sm_coltype_is_discrete(x->type) && x->n_categories != y->n_categories))
      return sm_fail(ctx, SM_EINPUT,
                     "evaluation: column %d differs between the real ('%s', "
                     "%s) and synthetic ('%s', %s) schemas",
                     j, x->name, sm_coltype_name(x->type), y->name, sm_coltype_name(y->type));
  }
  return SM_OK;
}

/* Contingency codes of every column: discrete codes as they are, numeric columns in
 * equal-width bins over the real values. codes_r/codes_s get (n_cols) arrays. */
static int make_codes(sm_ctx *ctx, const sm_schema *sc, const sm_eval_sample *r,
                      const sm_eval_sample *s, double **codes_r, double **codes_s) {
  for (int j = 0; j < sc->n_cols; j++) {
    if (!is_numeric(&sc->cols[j])) {
      codes_r[j] = r->values[j];
      codes_s[j] = s->values[j];
      continue;
    }
    codes_r[j] = sm_malloc(ctx, (size_t)(r->n_rows + 1) * sizeof(double));
    codes_s[j] = sm_malloc(ctx, (size_t)(s->n_rows + 1) * sizeof(double));
    if (!codes_r[j] || !codes_s[j])
      return SM_ERR;
    sm_eval_bin(r->values[j], r->n_rows, r->values[j], r->n_rows, codes_r[j]);
    sm_eval_bin(r->values[j], r->n_rows, s->values[j], s->n_rows, codes_s[j]);
  }
  return SM_OK;
}

static void free_codes(const sm_schema *sc, double **codes_r, double **codes_s) {
  for (int j = 0; j < sc->n_cols && codes_r && codes_s; j++) {
    if (is_numeric(&sc->cols[j])) {
      free(codes_r[j]);
      free(codes_s[j]);
    }
  }
  free(codes_r);
  free(codes_s);
}

/* Score of one column. */
static double shape_score(const sm_column *c, const sm_eval_sample *r, const sm_eval_sample *s,
                          int j) {
  if (is_numeric(c))
    return sm_eval_ks_complement(r->values[j], r->n_rows, s->values[j], s->n_rows);
  return sm_eval_tv_complement(r->values[j], r->n_rows, s->values[j], s->n_rows, c->n_categories);
}

/* Score of one pair (a < b). */
static double pair_score(const sm_fidelity *f, int p, const sm_eval_sample *r,
                         const sm_eval_sample *s, double **codes_r, double **codes_s) {
  int a = f->pair_a[p], b = f->pair_b[p];
  if (f->pair_is_correlation[p])
    return sm_eval_correlation_similarity(r->values[a], r->values[b], r->n_rows, s->values[a],
                                          s->values[b], s->n_rows);
  return sm_eval_contingency_similarity(codes_r[a], codes_r[b], r->n_rows, codes_s[a], codes_s[b],
                                        s->n_rows);
}

/* Mean of the scores that are defined; NaN when none is. */
static double mean_defined(const double *x, int n) {
  double sum = 0.0;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (!isnan(x[i]))
      sum += x[i], m++;
  return m ? sum / m : NAN;
}

/* Allocate the score arrays and list the pairs in order. */
static int fidelity_alloc(sm_ctx *ctx, const sm_schema *sc, sm_fidelity *f) {
  int n = sc->n_cols;
  f->n_cols = n;
  f->n_pairs = n * (n - 1) / 2;
  size_t np = (size_t)(f->n_pairs > 0 ? f->n_pairs : 1);
  f->shape = sm_calloc(ctx, (size_t)(n > 0 ? n : 1), sizeof(double));
  f->pair = sm_calloc(ctx, np, sizeof(double));
  f->pair_a = sm_calloc(ctx, np, sizeof(int));
  f->pair_b = sm_calloc(ctx, np, sizeof(int));
  f->pair_is_correlation = sm_calloc(ctx, np, sizeof(int));
  if (!f->shape || !f->pair || !f->pair_a || !f->pair_b || !f->pair_is_correlation)
    return SM_ERR;
  int p = 0;
  for (int a = 0; a < n; a++) {
    for (int b = a + 1; b < n; b++, p++) {
      f->pair_a[p] = a;
      f->pair_b[p] = b;
      f->pair_is_correlation[p] = is_numeric(&sc->cols[a]) && is_numeric(&sc->cols[b]);
    }
  }
  return SM_OK;
}

/* This rank's share: item t (columns first, then pairs) belongs to rank t % size. */
static int score_share(sm_ctx *ctx, const sm_schema *sc, const sm_eval_sample *r,
                       const sm_eval_sample *s, sm_fidelity *f) {
  double **codes_r = sm_calloc(ctx, (size_t)sc->n_cols + 1, sizeof(double *));
  double **codes_s = sm_calloc(ctx, (size_t)sc->n_cols + 1, sizeof(double *));
  int rc = codes_r && codes_s ? make_codes(ctx, sc, r, s, codes_r, codes_s) : SM_ERR;
  for (int t = 0; t < f->n_cols + f->n_pairs && rc == SM_OK; t++) {
    if (t % ctx->size != ctx->rank)
      continue;
    if (t < f->n_cols)
      f->shape[t] = shape_score(&sc->cols[t], r, s, t);
    else
      f->pair[t - f->n_cols] = pair_score(f, t - f->n_cols, r, s, codes_r, codes_s);
  }
  free_codes(sc, codes_r, codes_s);
  return rc;
}

/* Collective: sum every rank's share into every rank's arrays. */
static int combine_scores(sm_ctx *ctx, sm_fidelity *f) {
  SM_MPI_CHECK(ctx,
               MPI_Allreduce(MPI_IN_PLACE, f->shape, f->n_cols, MPI_DOUBLE, MPI_SUM, ctx->comm));
  SM_MPI_CHECK(ctx,
               MPI_Allreduce(MPI_IN_PLACE, f->pair, f->n_pairs, MPI_DOUBLE, MPI_SUM, ctx->comm));
  f->column_shapes = mean_defined(f->shape, f->n_cols);
  f->column_pairs = mean_defined(f->pair, f->n_pairs);
  double parts[2] = {f->column_shapes, f->column_pairs};
  f->overall = mean_defined(parts, 2);
  return SM_OK;
}

/* Validate the codes of both samples. */
static int check_samples(sm_ctx *ctx, const sm_schema *sc, const sm_eval_sample *r,
                         const sm_eval_sample *s) {
  for (int j = 0; j < sc->n_cols; j++) {
    if (is_numeric(&sc->cols[j]))
      continue;
    SM_TRY(check_codes(ctx, &sc->cols[j], r, j, "real"));
    SM_TRY(check_codes(ctx, &sc->cols[j], s, j, "synthetic"));
  }
  return SM_OK;
}

int sm_fidelity_compute(sm_ctx *ctx, const sm_eval_spec *spec, const sm_table *real,
                        const sm_table *synth, sm_fidelity *out) {
  memset(out, 0, sizeof(*out));
  const sm_schema *sc = &real->schema;
  SM_TRY(sm_agree(ctx, check_schemas(ctx, sc, &synth->schema)));

  /* the same seeded sample of each set on every rank */
  sm_eval_sample r = {0}, s = {0};
  int rc = sm_eval_gather(ctx, real, spec->max_rows, spec->seed, -1, &r);
  if (rc == SM_OK)
    rc = sm_eval_gather(ctx, synth, spec->max_rows, spec->seed, -1, &s);
  if (rc == SM_OK)
    rc = sm_agree(ctx, check_samples(ctx, sc, &r, &s));

  /* score this rank's share, then combine */
  if (rc == SM_OK)
    rc = sm_agree(ctx, fidelity_alloc(ctx, sc, out));
  if (rc == SM_OK)
    rc = sm_agree(ctx, score_share(ctx, sc, &r, &s, out));
  if (rc == SM_OK)
    rc = combine_scores(ctx, out);
  out->n_real = r.n_rows;
  out->n_synth = s.n_rows;
  sm_eval_sample_free(&r);
  sm_eval_sample_free(&s);
  if (rc != SM_OK)
    sm_fidelity_free(out);
  return rc;
}

void sm_fidelity_free(sm_fidelity *f) {
  if (!f)
    return;
  free(f->shape);
  free(f->pair);
  free(f->pair_a);
  free(f->pair_b);
  free(f->pair_is_correlation);
  memset(f, 0, sizeof(*f));
}
