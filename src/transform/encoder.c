/* Mode-specific normalisation: fitting the per-column encoders, encoding table rows for
 * the models and decoding model output back into table rows.
 *
 * A missing numeric value is encoded as the mixture mean sum_k w_k mean_k (weights of the
 * kept modes, renormalised) with the missing slot set, as the reference transformer fills
 * missing values with the mean before encoding them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthmpi/nn.h"
#include "synthmpi/rng.h"
#include "transform/bgm.h"
#include "transform/encoder_internal.h"

#define STD_MULTIPLIER 4.0
#define ALPHA_CLIP 0.99

void sm_encoder_default_options(sm_encoder_options *o) {
  o->max_modes = SM_MAX_MODES;
  o->weight_threshold = 0.005;
  o->max_iter = 100;
  o->tol = 1e-3;
  o->concentration = 1e-3;
}

void sm_encoder_free(sm_encoder *enc) {
  if (!enc)
    return;
  free(enc->spans);
  free(enc->cols);
  memset(enc, 0, sizeof *enc);
}

static void add_span(sm_encoder *enc, int *s, sm_span_kind kind, int width, int column) {
  sm_span *sp = &enc->spans[(*s)++];
  sp->kind = kind;
  sp->start = enc->width;
  sp->width = width;
  sp->column = column;
  enc->width += width;
}

int sm_encoder_layout(sm_ctx *ctx, sm_encoder *enc) {
  int n_spans = 0, s = 0;

  /* count, then place the spans in column order */
  for (int j = 0; j < enc->n_cols; j++)
    n_spans += enc->cols[j].numeric ? 2 + (enc->cols[j].has_missing != 0) : 1;
  free(enc->spans);
  enc->spans = sm_calloc(ctx, (size_t)(n_spans > 0 ? n_spans : 1), sizeof(sm_span));
  if (!enc->spans)
    return SM_ERR;
  enc->n_spans = n_spans;
  enc->width = 0;
  for (int j = 0; j < enc->n_cols; j++) {
    sm_encoder_column *col = &enc->cols[j];
    col->first_span = s;
    col->value_span = col->numeric ? s : -1;
    if (col->numeric) {
      add_span(enc, &s, SM_SPAN_SCALAR, 1, j);
      add_span(enc, &s, SM_SPAN_ONEHOT, col->bgm.n_modes, j);
      if (col->has_missing)
        add_span(enc, &s, SM_SPAN_ONEHOT, 2, j);
    } else {
      add_span(enc, &s, SM_SPAN_ONEHOT, col->n_categories + (col->has_missing != 0), j);
    }
    col->n_spans = s - col->first_span;
  }
  return SM_OK;
}

static int check_options(sm_ctx *ctx, const sm_encoder_options *o) {
  if (o->max_modes < 1 || o->max_modes > SM_MAX_MODES)
    return sm_fail(ctx, SM_EINPUT, "encoder: max_modes %d is outside [1, %d]", o->max_modes,
                   SM_MAX_MODES);
  if (o->max_iter < 1 || !(o->tol > 0) || !(o->concentration > 0))
    return sm_fail(ctx, SM_EINPUT, "encoder: max_iter, tol and concentration must be positive");
  if (!(o->weight_threshold >= 0 && o->weight_threshold < 1))
    return sm_fail(ctx, SM_EINPUT, "encoder: weight_threshold must lie in [0, 1)");
  return SM_OK;
}

/* Collective. Missing values of every column over all ranks, into miss (n_cols). */
static int count_missing(sm_ctx *ctx, const sm_table *t, int64_t *miss) {
  for (int j = 0; j < t->schema.n_cols; j++) {
    miss[j] = 0;
    for (int64_t r = 0; r < t->n_rows; r++)
      miss[j] += isnan(t->values[j][r]);
  }
  SM_MPI_CHECK(
      ctx, MPI_Allreduce(MPI_IN_PLACE, miss, t->schema.n_cols, MPI_INT64_T, MPI_SUM, ctx->comm));
  return SM_OK;
}

/* Collective. Fit column j: a mixture for a numeric column, the dictionary otherwise. */
static int fit_column(sm_ctx *ctx, sm_encoder_column *col, const sm_table *t, int j,
                      const sm_encoder_options *o) {
  const sm_column *sc = &t->schema.cols[j];
  col->type = sc->type;
  col->numeric = !sm_coltype_is_discrete(sc->type);
  if (!col->numeric) {
    col->n_categories = sc->n_categories;
    return SM_OK;
  }

  /* the mixture; the clamp range is the declared domain or the observed one */
  sm_bgm_summary sum;
  SM_TRY(sm_bgm_fit(ctx, t->values[j], t->n_rows, o, &col->bgm, &sum));
  col->lo = sc->has_domain ? sc->lo : sum.lo;
  col->hi = sc->has_domain ? sc->hi : sum.hi;
  return SM_OK;
}

/* Collective. Every column in order (the same calls on every rank). */
static int fit_columns(sm_ctx *ctx, sm_encoder *enc, const sm_table *t, const sm_encoder_options *o,
                       int64_t *miss) {
  SM_TRY(count_missing(ctx, t, miss));
  for (int j = 0; j < enc->n_cols; j++) {
    enc->cols[j].has_missing = miss[j] > 0;
    SM_TRY(fit_column(ctx, &enc->cols[j], t, j, o));
  }
  return sm_encoder_layout(ctx, enc);
}

int sm_encoder_fit(sm_ctx *ctx, sm_encoder *enc, const sm_table *train,
                   const sm_encoder_options *opt) {
  sm_encoder_options o;
  int n = train->schema.n_cols;
  int64_t *miss = NULL;

  /* options and allocations agreed before the first collective */
  memset(enc, 0, sizeof *enc);
  if (opt)
    o = *opt;
  else
    sm_encoder_default_options(&o);
  int rc = check_options(ctx, &o);
  if (rc == SM_OK) {
    enc->n_cols = n;
    enc->cols = sm_calloc(ctx, (size_t)(n > 0 ? n : 1), sizeof(sm_encoder_column));
    miss = sm_calloc(ctx, (size_t)(n > 0 ? n : 1), sizeof(int64_t));
    rc = enc->cols && miss ? SM_OK : SM_ERR;
  }
  rc = sm_agree(ctx, rc);

  /* the columns, then agreement on the outcome */
  if (rc == SM_OK)
    rc = sm_agree(ctx, fit_columns(ctx, enc, train, &o, miss));
  free(miss);
  if (rc != SM_OK)
    sm_encoder_free(enc);
  return rc;
}

/* The value a missing entry is encoded as: the mean of the kept modes. */
static double fill_value(const sm_bgm *b) {
  double s = 0, w = 0;
  for (int k = 0; k < b->n_modes; k++) {
    s += b->weight[k] * b->mean[k];
    w += b->weight[k];
  }
  return w > 0 ? s / w : b->mean[0];
}

/* One numeric value: [alpha][one-hot mode] and, with missing values, [present, missing].
 * Draws exactly one uniform from rng. */
static void encode_numeric(const sm_encoder_column *col, const sm_span *sp, double x, sm_rng *rng,
                           float *row) {
  const sm_bgm *b = &col->bgm;
  double p[SM_MAX_MODES], u = sm_rng_uniform(rng), acc = 0;
  int missing = isnan(x), k = b->n_modes - 1;

  /* the mode drawn from the smoothed responsibilities */
  if (missing)
    x = fill_value(b);
  sm_bgm_mode_probs(b, x, p);
  for (int m = 0; m < b->n_modes; m++) {
    acc += p[m];
    if (u < acc) {
      k = m;
      break;
    }
  }

  /* the normalised value within that mode */
  double alpha = (x - b->mean[k]) / (STD_MULTIPLIER * b->std[k]);
  alpha = fmin(ALPHA_CLIP, fmax(-ALPHA_CLIP, alpha));
  row[sp[0].start] = (float)alpha;
  row[sp[1].start + k] = 1;
  if (col->has_missing)
    row[sp[2].start + missing] = 1;
}

/* One code: its slot, or the missing slot (a block of zeros when there is none). */
static void encode_discrete(const sm_encoder_column *col, const sm_span *sp, double x, float *row) {
  if (isnan(x)) {
    if (col->has_missing)
      row[sp->start + col->n_categories] = 1;
    return;
  }
  if (x >= 0 && x < col->n_categories)
    row[sp->start + (int)x] = 1;
}

void sm_encoder_encode(const sm_encoder *enc, const sm_table *t, int64_t r, int64_t n,
                       uint64_t seed, uint32_t purpose, float *out) {
  memset(out, 0, (size_t)(n * enc->width) * sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    float *row = out + i * enc->width;
    sm_rng rng;

    /* one stream per global row: the encoding does not depend on the rank */
    sm_rng_init(&rng, seed, purpose, (uint64_t)(t->row_offset + r + i));
    for (int j = 0; j < enc->n_cols; j++) {
      const sm_encoder_column *col = &enc->cols[j];
      const sm_span *sp = &enc->spans[col->first_span];
      double x = t->values[j][r + i];
      if (col->numeric)
        encode_numeric(col, sp, x, &rng, row);
      else
        encode_discrete(col, sp, x, row);
    }
  }
}

/* One numeric value from its spans; draws one normal from rng when sigma is given. */
static double decode_numeric(const sm_encoder_column *col, const sm_span *sp, const float *row,
                             const float *sigma, sm_rng *rng) {
  const sm_bgm *b = &col->bgm;
  double alpha = row[sp[0].start];

  /* noisy alpha in [-1, 1] within the argmax mode */
  if (sigma)
    alpha += sigma[sp[0].start] * sm_rng_normal(rng);
  alpha = fmin(1.0, fmax(-1.0, alpha));
  int k = sm_argmax(row + sp[1].start, sp[1].width);
  double x = alpha * STD_MULTIPLIER * b->std[k] + b->mean[k];

  /* whole numbers for integers and datetimes, inside the range */
  if (col->type == SM_COL_INTEGER || col->type == SM_COL_DATETIME)
    x = fmin(floor(col->hi), fmax(ceil(col->lo), round(x)));
  else
    x = fmin(col->hi, fmax(col->lo, x));
  if (col->has_missing && sm_argmax(row + sp[2].start, 2) == 1)
    return NAN;
  return x;
}

static double decode_discrete(const sm_encoder_column *col, const sm_span *sp, const float *row) {
  int k = sm_argmax(row + sp->start, sp->width);
  return k < 0 || k >= col->n_categories ? NAN : (double)k;
}

void sm_encoder_decode(const sm_encoder *enc, const float *in, const float *sigma, int64_t n,
                       uint64_t seed, uint32_t purpose, int64_t global_row0, sm_table *out,
                       int64_t out_row) {
  for (int64_t i = 0; i < n; i++) {
    const float *row = in + i * enc->width;
    sm_rng rng;

    /* the noise of release row global_row0 + i, whichever rank decodes it */
    if (sigma)
      sm_rng_init(&rng, seed, purpose, (uint64_t)(global_row0 + i));
    for (int j = 0; j < enc->n_cols; j++) {
      const sm_encoder_column *col = &enc->cols[j];
      const sm_span *sp = &enc->spans[col->first_span];
      out->values[j][out_row + i] =
          col->numeric ? decode_numeric(col, sp, row, sigma, &rng) : decode_discrete(col, sp, row);
    }
  }
}
