/* CTGAN sampling: release rows in blocks of batch_size rows aligned to global row indices.
 *
 * Row i draws, from the one stream (seed, SM_STREAM_SAMPLE, i): a conditional choice (a
 * discrete column uniformly, one of its categories by its frequency in the training rows),
 * the generator's noise, then the Gumbel noise of its one-hot spans. The generator
 * normalises each block by the block's own statistics (as in training), so row i depends on
 * (seed, i) and the rows of its block, which is the same block whatever range is asked for.
 *
 * Sampling given a category (sm_ctgan_sample_given, the conditioned release's candidates)
 * fixes every row's conditional vector to that category instead; row i still draws its
 * choice (and ignores it), so its noise and Gumbel noise are those of unconditioned row i.
 * Each block is normalised with the statistics of its unconditioned rows (a block whose rows
 * all share one vector would lose it in the first normalisation), so a row whose own draw
 * was the fixed category comes out as unconditioned row i.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/ctgan.h"
#include "models/models.h"
#include "synthmpi/rng.h"

/* A conditional choice fixed for every row: position in the conditional vector, or -1 for
 * a choice drawn per row. */
typedef struct fixed_cond {
  int col, cat;
} fixed_cond;

/* The generator's input of row i and the rest of its stream (for the Gumbel noise). */
static void row_input(const ctgan_state *st, uint64_t seed, int64_t i, float *x, sm_rng *rng) {
  int emb = st->set.embedding_dim, col = -1, cat = -1;
  sm_rng_init(rng, seed, SM_STREAM_SAMPLE, (uint64_t)i);
  double u1 = sm_rng_uniform(rng), u2 = sm_rng_uniform(rng);
  sm_ctgan_cond_draw(&st->cond, st->cond.freq_cdf, u1, u2, &col, &cat);
  for (int k = 0; k < emb; k++)
    x[k] = (float)sm_normal_from_u32(sm_rng_u32(rng));
  memset(x + emb, 0, (size_t)st->net.cond * sizeof(float));
  if (col >= 0)
    x[emb + st->cond.offset[col] + cat] = 1.0f;
}

/* The same input with the conditional vector fixed: a copy of drawn (rows, in) into x. */
static void fix_input(const ctgan_state *st, const fixed_cond *fix, const float *drawn, float *x,
                      int rows, int in) {
  int emb = st->set.embedding_dim;
  memcpy(x, drawn, (size_t)rows * in * sizeof(float));
  for (int r = 0; r < rows; r++) {
    float *cond = x + (size_t)r * in + emb;
    memset(cond, 0, (size_t)st->net.cond * sizeof(float));
    cond[st->cond.offset[fix->col] + fix->cat] = 1.0f;
  }
}

/* tanh on scalar spans; Gumbel-softmax on one-hot spans from the row's stream. */
static void activate_row(const sm_encoder *enc, const float *x, float *y, sm_rng *rng) {
  for (int k = 0; k < enc->n_spans; k++) {
    const sm_span *sp = &enc->spans[k];
    for (int c = sp->start; c < sp->start + sp->width; c++)
      y[c] = sp->kind == SM_SPAN_SCALAR ? tanhf(x[c]) : (x[c] + sm_ctgan_gumbel(rng)) / CTGAN_TAU;
    if (sp->kind == SM_SPAN_ONEHOT)
      sm_softmax_forward(y, y, 1, enc->width, sp->start, sp->width);
  }
}

/* The workspace of one block: the drawn rows' activations, the fixed rows' (when a choice
 * is fixed), the encoded rows and a stream per row. */
typedef struct block_work {
  ctgan_gen gen;
  ctgan_gen_acts drawn, fixed;
  float *all, *act; /* act: (rows, width) */
  sm_rng *rng;      /* (rows) */
} block_work;

static int block_work_init(sm_ctx *ctx, block_work *w, const ctgan_state *st, int fixed) {
  int block = (int)st->set.batch_size, width = st->encoder.width;
  w->gen = st->net.gen;
  size_t acts = sm_ctgan_gen_carve(&w->gen, block, &w->drawn, NULL);
  size_t n = (fixed ? 2 : 1) * acts + (size_t)block * width;
  w->all = sm_malloc(ctx, n * sizeof(float));
  w->rng = sm_malloc(ctx, (size_t)block * sizeof(sm_rng));
  if (!w->all || !w->rng) {
    free(w->all);
    free(w->rng);
    return SM_ERR;
  }
  sm_ctgan_gen_carve(&w->gen, block, &w->drawn, w->all);
  if (fixed)
    sm_ctgan_gen_carve(&w->gen, block, &w->fixed, w->all + acts);
  w->act = w->all + (n - (size_t)block * width);
  return SM_OK;
}

/* The encoded rows of block [first, first + rows) into w->act; w->rng holds a stream per
 * row, each past its Gumbel noise. */
static void generate_block(const ctgan_state *st, const fixed_cond *fix, block_work *w,
                           uint64_t seed, int64_t first, int rows) {
  int width = st->encoder.width, in = w->gen.in;
  for (int r = 0; r < rows; r++)
    row_input(st, seed, first + r, w->drawn.x[0] + (size_t)r * in, &w->rng[r]);
  const float *raw = w->drawn.raw;
  if (fix->col >= 0) {
    fix_input(st, fix, w->drawn.x[0], w->fixed.x[0], rows, in);
    sm_ctgan_gen_forward_ref(&w->fixed, rows, &w->drawn, rows, &w->gen, &st->net.params);
    raw = w->fixed.raw;
  } else {
    sm_ctgan_gen_forward(NULL, &w->drawn, &w->gen, &st->net.params, rows, rows);
  }
  for (int r = 0; r < rows; r++)
    activate_row(&st->encoder, raw + (size_t)r * width, w->act + (size_t)r * width, &w->rng[r]);
}

/* Rows [row0, row0 + out->n_rows) with the conditional choice of fix. */
static int sample_rows(sm_ctx *ctx, const ctgan_state *st, const fixed_cond *fix, uint64_t seed,
                       int64_t row0, sm_table *out) {
  if (out->schema.n_cols != st->encoder.n_cols)
    return sm_fail(ctx, SM_EINPUT, "sample: table has %d columns, the model %d", out->schema.n_cols,
                   st->encoder.n_cols);
  block_work w;
  SM_TRY(block_work_init(ctx, &w, st, fix->col >= 0));

  /* whole aligned blocks; only the rows asked for are decoded into the table */
  int block = (int)st->set.batch_size, width = st->encoder.width;
  int64_t end = row0 + out->n_rows;
  for (int64_t first = row0 - row0 % block; first < end; first += block) {
    generate_block(st, fix, &w, seed, first, block);
    int64_t lo = first > row0 ? first : row0;
    int64_t hi = first + block < end ? first + block : end;
    sm_encoder_decode(&st->encoder, w.act + (size_t)(lo - first) * width, NULL, hi - lo, seed,
                      SM_STREAM_DECODE, lo, out, lo - row0);
  }
  free(w.all);
  free(w.rng);
  return SM_OK;
}

int sm_ctgan_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, sm_table *out) {
  fixed_cond drawn = {-1, -1};
  return sample_rows(ctx, state, &drawn, seed, row0, out);
}

/* Local. The conditional column of schema column col, or -1 when it has none (a numeric
 * column) or code is not one of its categories. */
static int cond_column(const ctgan_state *st, int col, int code) {
  if (col < 0 || col >= st->encoder.n_cols || st->encoder.cols[col].numeric)
    return -1;
  if (code < 0 || code >= st->encoder.cols[col].n_categories)
    return -1;
  for (int i = 0; i < st->cond.n_cols; i++)
    if (st->encoder.spans[st->cond.span[i]].column == col)
      return i;
  return -1;
}

double sm_ctgan_given_count(const void *state, int col, int code) {
  const ctgan_state *st = state;
  int i = cond_column(st, col, code);
  return i < 0 ? -1.0 : st->cond.count[st->cond.offset[i] + code];
}

int sm_ctgan_sample_given(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, int col,
                          int code, sm_table *out) {
  const ctgan_state *st = state;
  int i = cond_column(st, col, code);
  if (i < 0)
    return sm_fail(ctx, SM_EINPUT,
                   "sample: column %d, category %d is not in the model's conditional vector", col,
                   code);
  fixed_cond fix = {i, code};
  return sample_rows(ctx, st, &fix, seed, row0, out);
}

/* Local. Add the categories of the block's rows to count (cond width): in each discrete
 * column, the argmax of its one-hot span, except in rows conditioned on that column. */
static void count_block(const ctgan_state *st, const float *act, uint64_t seed, int64_t first,
                        int rows, double *count) {
  const ctgan_cond *c = &st->cond;
  const sm_encoder *enc = &st->encoder;
  for (int r = 0; r < rows; r++) {
    sm_rng rng;
    int col = -1, cat = -1;
    sm_rng_init(&rng, seed, SM_STREAM_SAMPLE, (uint64_t)(first + r));
    double u1 = sm_rng_uniform(&rng), u2 = sm_rng_uniform(&rng);
    sm_ctgan_cond_draw(c, c->freq_cdf, u1, u2, &col, &cat);
    for (int j = 0; j < c->n_cols; j++) {
      if (j == col)
        continue;
      const sm_span *sp = &enc->spans[c->span[j]];
      const float *v = act + (size_t)r * enc->width + sp->start;
      int best = 0;
      for (int k = 1; k < sp->width; k++)
        best = v[k] > v[best] ? k : best;
      count[c->offset[j] + best] += 1.0;
    }
  }
}

/* Local. The category counts of rows the model makes: CTGAN_FREQUENCY_BLOCKS blocks of
 * batch_size rows from (seed, SAMPLE, i) with the current (uniform) conditional tables. */
static int model_counts(sm_ctx *ctx, const ctgan_state *st, double *count) {
  int block = (int)st->set.batch_size;
  uint64_t seed = sm_hash64(st->set.seed ^ 0x6672657175656e63ULL);
  fixed_cond drawn = {-1, -1};
  block_work w;
  SM_TRY(block_work_init(ctx, &w, st, 0));
  int blocks = (int)((CTGAN_FREQUENCY_ROWS + block - 1) / block);
  for (int b = 0; b < blocks; b++) {
    int64_t first = (int64_t)b * block;
    generate_block(st, &drawn, &w, seed, first, block);
    count_block(st, w.act, seed, first, block, count);
  }
  free(w.all);
  free(w.rng);
  return SM_OK;
}

int sm_ctgan_model_frequencies(sm_ctx *ctx, ctgan_state *st, int64_t n_global) {
  int cond = sm_ctgan_cond_width(&st->cond);
  if (cond == 0)
    return SM_OK;
  double *count = sm_calloc(ctx, (size_t)cond, sizeof(double));
  int rc = count ? SM_OK : SM_ERR;

  /* rank 0 counts, every rank gets its counts: the same tables everywhere */
  if (rc == SM_OK && ctx->rank == 0)
    rc = model_counts(ctx, st, count);
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    SM_MPI_CHECK(ctx, MPI_Bcast(count, cond, MPI_DOUBLE, 0, ctx->comm));

  /* shares per column scaled to the public row count; the tables from them */
  for (int j = 0; rc == SM_OK && j < st->cond.n_cols; j++) {
    double *c = count + st->cond.offset[j], total = 0.0;
    for (int k = 0; k < st->cond.size[j]; k++)
      total += c[k];
    for (int k = 0; k < st->cond.size[j]; k++)
      c[k] = total > 0 ? c[k] / total * (double)n_global : 0.0;
  }
  if (rc == SM_OK) {
    sm_ctgan_cond_free(&st->cond);
    rc = sm_ctgan_cond_init(ctx, &st->cond, &st->encoder, count);
  }
  free(count);
  return rc;
}
