/* CTGAN sampling: release rows in blocks of batch_size rows aligned to global row indices.
 *
 * Row i draws, from the one stream (seed, SM_STREAM_SAMPLE, i): a conditional choice (a
 * discrete column uniformly, one of its categories by its frequency in the training rows),
 * the generator's noise, then the Gumbel noise of its one-hot spans. The generator
 * normalises each block by the block's own statistics (as in training), so row i depends on
 * (seed, i) and the rows of its block, which is the same block whatever range is asked for.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/ctgan.h"
#include "synthmpi/rng.h"

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

/* The encoded rows of block [first, first + rows) into act (rows, width); rng holds a
 * stream per row. */
static void generate_block(const ctgan_state *st, ctgan_gen *gen, ctgan_gen_acts *a, float *act,
                           sm_rng *rng, uint64_t seed, int64_t first, int rows) {
  int width = st->encoder.width;
  for (int r = 0; r < rows; r++)
    row_input(st, seed, first + r, a->x[0] + (size_t)r * gen->in, &rng[r]);
  sm_ctgan_gen_forward(NULL, a, gen, &st->net.params, rows, rows);
  for (int r = 0; r < rows; r++)
    activate_row(&st->encoder, a->raw + (size_t)r * width, act + (size_t)r * width, &rng[r]);
}

int sm_ctgan_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, sm_table *out) {
  const ctgan_state *st = state;
  if (out->schema.n_cols != st->encoder.n_cols)
    return sm_fail(ctx, SM_EINPUT, "sample: table has %d columns, the model %d", out->schema.n_cols,
                   st->encoder.n_cols);

  /* the generator's activations and the encoded rows of one block */
  int block = (int)st->set.batch_size, width = st->encoder.width;
  ctgan_gen gen = st->net.gen;
  ctgan_gen_acts a;
  size_t n = sm_ctgan_gen_carve(&gen, block, &a, NULL) + (size_t)block * width;
  float *all = sm_malloc(ctx, n * sizeof(float));
  sm_rng *rng = sm_malloc(ctx, (size_t)block * sizeof(sm_rng));
  if (!all || !rng) {
    free(all);
    free(rng);
    return SM_ERR;
  }
  sm_ctgan_gen_carve(&gen, block, &a, all);
  float *act = all + (n - (size_t)block * width);

  /* whole aligned blocks; only the rows asked for are decoded into the table */
  int64_t end = row0 + out->n_rows;
  for (int64_t first = row0 - row0 % block; first < end; first += block) {
    generate_block(st, &gen, &a, act, rng, seed, first, block);
    int64_t lo = first > row0 ? first : row0;
    int64_t hi = first + block < end ? first + block : end;
    sm_encoder_decode(&st->encoder, act + (size_t)(lo - first) * width, NULL, hi - lo, seed,
                      SM_STREAM_DECODE, lo, out, lo - row0);
  }
  free(all);
  free(rng);
  return SM_OK;
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
  int block = (int)st->set.batch_size, width = st->encoder.width;
  uint64_t seed = sm_hash64(st->set.seed ^ 0x6672657175656e63ULL);
  ctgan_gen gen = st->net.gen;
  ctgan_gen_acts a;
  size_t n = sm_ctgan_gen_carve(&gen, block, &a, NULL) + (size_t)block * width;
  float *all = sm_malloc(ctx, n * sizeof(float));
  sm_rng *rng = sm_malloc(ctx, (size_t)block * sizeof(sm_rng));
  int rc = all && rng ? SM_OK : SM_ERR;
  if (rc == SM_OK) {
    sm_ctgan_gen_carve(&gen, block, &a, all);
    float *act = all + (n - (size_t)block * width);
    int blocks = (int)((CTGAN_FREQUENCY_ROWS + block - 1) / block);
    for (int b = 0; b < blocks; b++) {
      int64_t first = (int64_t)b * block;
      generate_block(st, &gen, &a, act, rng, seed, first, block);
      count_block(st, act, seed, first, block, count);
    }
  }
  free(all);
  free(rng);
  return rc;
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
