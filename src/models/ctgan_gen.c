/* The CTGAN generator: residual blocks with batch normalisation and ReLU whose outputs are
 * concatenated in front of their inputs, then a Linear to the encoded width.
 *
 * In training the batch statistics are the global batch's (synchronised over ranks); in
 * sampling each block of release rows is normalised by its own statistics, as a generator
 * left in training mode does.
 */
#include <math.h>
#include <string.h>

#include "models/ctgan.h"

size_t sm_ctgan_gen_carve(const ctgan_gen *g, int rows, ctgan_gen_acts *a, float *block) {
  size_t used = 0, n = (size_t)rows;
#define VIEW(ptr, count)                                                                           \
  do {                                                                                             \
    if (block)                                                                                     \
      (ptr) = block + used;                                                                        \
    used += (count);                                                                               \
  } while (0)
  for (int k = 0; k <= g->n_res; k++)
    VIEW(a->x[k], n * g->widths[k]);
  for (int k = 0; k < g->n_res; k++) {
    VIEW(a->pre[k], n * g->dims[k]);
    VIEW(a->norm[k], n * g->dims[k]);
  }
  VIEW(a->raw, n * g->out);
#undef VIEW
  return used;
}

/* The widest residual block. */
static int widest_block(const ctgan_gen *g) {
  int w = 1;
  for (int k = 0; k < g->n_res; k++)
    w = g->dims[k] > w ? g->dims[k] : w;
  return w;
}

size_t sm_ctgan_gen_work(const ctgan_gen *g, int rows) {
  return 2 * (size_t)rows * ((size_t)g->widths[g->n_res] + (size_t)widest_block(g));
}

/* Batch normalisation of x (rows, features) with the statistics of ref (ref_rows, features)
 * (biased variance, as PyTorch normalises in training mode); ref = x normalises rows by
 * their own statistics. */
static void reference_batchnorm(float *y, const float *x, int rows, const float *ref, int ref_rows,
                                const sm_batchnorm *bn, const sm_nn_params *p) {
  int f = bn->features;
  for (int j = 0; j < f; j++) {
    double sum = 0.0, sq = 0.0;
    for (int r = 0; r < ref_rows; r++)
      sum += ref[(size_t)r * f + j];
    double mean = ref_rows > 0 ? sum / ref_rows : 0.0;
    for (int r = 0; r < ref_rows; r++) {
      double e = ref[(size_t)r * f + j] - mean;
      sq += e * e;
    }
    double inv = 1.0 / sqrt((ref_rows > 0 ? sq / ref_rows : 0.0) + bn->eps);
    float gamma = p->value[bn->gamma + j], beta = p->value[bn->beta + j];
    for (int r = 0; r < rows; r++)
      y[(size_t)r * f + j] = (float)((x[(size_t)r * f + j] - mean) * inv) * gamma + beta;
  }
}

/* x_{k+1} = [relu(norm), x_k] of one residual block. */
static void residual_concat(const ctgan_gen_acts *a, const ctgan_gen *g, int k, int rows) {
  int o = g->dims[k], wi = g->widths[k], wo = g->widths[k + 1];
  for (int r = 0; r < rows; r++) {
    float *dst = a->x[k + 1] + (size_t)r * wo;
    sm_relu_forward(dst, a->norm[k] + (size_t)r * o, (size_t)o);
    memcpy(dst + o, a->x[k] + (size_t)r * wi, (size_t)wi * sizeof(float));
  }
}

void sm_ctgan_gen_forward_ref(ctgan_gen_acts *f, int rows, ctgan_gen_acts *d, int ref_rows,
                              const ctgan_gen *g, const sm_nn_params *p) {
  for (int k = 0; k < g->n_res; k++) {
    sm_linear_forward(d->pre[k], d->x[k], &g->fc[k], p, ref_rows);
    sm_linear_forward(f->pre[k], f->x[k], &g->fc[k], p, rows);
    reference_batchnorm(d->norm[k], d->pre[k], ref_rows, d->pre[k], ref_rows, &g->bn[k], p);
    reference_batchnorm(f->norm[k], f->pre[k], rows, d->pre[k], ref_rows, &g->bn[k], p);
    residual_concat(d, g, k, ref_rows);
    residual_concat(f, g, k, rows);
  }
  sm_linear_forward(f->raw, f->x[g->n_res], &g->last, p, rows);
}

int sm_ctgan_gen_forward(sm_ctx *ctx, ctgan_gen_acts *a, ctgan_gen *g, const sm_nn_params *p,
                         int rows, int64_t global_rows) {
  for (int k = 0; k < g->n_res; k++) {
    sm_linear_forward(a->pre[k], a->x[k], &g->fc[k], p, rows);

    /* batch normalisation: synchronised in training, local in sampling */
    if (ctx)
      SM_TRY(sm_batchnorm_forward(ctx, a->norm[k], a->pre[k], &g->bn[k], p, rows, global_rows, 1));
    else
      reference_batchnorm(a->norm[k], a->pre[k], rows, a->pre[k], rows, &g->bn[k], p);

    /* x_{k+1} = [relu(norm), x_k] */
    residual_concat(a, g, k, rows);
  }
  sm_linear_forward(a->raw, a->x[g->n_res], &g->last, p, rows);
  return SM_OK;
}

int sm_ctgan_gen_backward(sm_ctx *ctx, sm_nn_params *p, float *draw, const ctgan_gen_acts *a,
                          const ctgan_gen *g, int rows, int64_t global_rows, float *work) {
  size_t wide = (size_t)g->widths[g->n_res], n = (size_t)rows;
  float *dx[2] = {work, work + n * wide};
  float *dblock = work + 2 * n * wide, *dlin = dblock + n * (size_t)widest_block(g);

  /* the output layer; the top input gradient in dx[0] */
  int cur = 0;
  sm_linear_backward(dx[cur], p, draw, a->x[g->n_res], &g->last, rows);
  for (int k = g->n_res - 1; k >= 0; k--) {
    int o = g->dims[k], wi = g->widths[k], wo = g->widths[k + 1];
    const float *dtop = dx[cur];

    /* the block's own part: ReLU, batch normalisation (collective), Linear */
    for (int r = 0; r < rows; r++)
      sm_relu_backward(dblock + (size_t)r * o, dtop + (size_t)r * wo, a->norm[k] + (size_t)r * o,
                       (size_t)o);
    SM_TRY(sm_batchnorm_backward(ctx, dlin, p, dblock, a->pre[k], &g->bn[k], rows, global_rows));
    float *dnext = k > 0 ? dx[cur ^ 1] : NULL;
    sm_linear_backward(dnext, p, dlin, a->x[k], &g->fc[k], rows);

    /* the skip part adds to the input gradient (the generator's input needs none) */
    for (int r = 0; dnext && r < rows; r++)
      for (int i = 0; i < wi; i++)
        dnext[(size_t)r * wi + i] += dtop[(size_t)r * wo + o + i];
    cur ^= 1;
  }
  return SM_OK;
}
