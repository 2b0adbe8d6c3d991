/* The layer engine: float32 layers with forward and backward side by side.
 *
 * Conventions (every function):
 * - activations are row-major (rows, features) float arrays; rows are this rank's rows of
 *   the global batch;
 * - forward(out, in..., sizes), backward(d_in, param grads, d_out, saved inputs..., sizes):
 *   gradients first, then what the forward saw;
 * - parameter gradients ACCUMULATE (+=) into the model's gradient buffer, so a step zeroes
 *   the buffer once, runs every backward, then allreduces the buffer once;
 * - d_in may be NULL when the input's gradient is not needed (the first layer).
 * Randomness (initialisation, dropout, Gumbel noise) comes from Philox streams keyed by
 * (seed, purpose, global row or parameter index), so the number of ranks never changes it.
 */
#ifndef SYNTHMPI_NN_H
#define SYNTHMPI_NN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "synthmpi/core.h"

/* ---- elementwise math -------------------------------------------------------------- */

/* e^x in float as 2^k e^r, k = round(x / ln 2), |r| <= ln 2 / 2, with e^r from its Taylor
 * series to r^7 (relative error below 2e-7, tested). Arithmetic only, so a loop of calls
 * vectorises where the C library's expf would be a call per value. Returns 0 below -86,
 * saturates at e^88 above 88, and passes NaN through. */
static inline float sm_expf(float x) {
  const float shifter = 0x1.8p23f; /* adding it rounds to an integer held in the low bits */
  float xc = x < -86.0f ? -86.0f : x > 88.0f ? 88.0f : x;
  float t = xc * 0x1.715476p0f + shifter;
  float k = t - shifter;
  float r = xc - k * 0x1.62e4p-1f - k * 0x1.7f7d1cp-20f; /* ln 2 in two parts */

  /* e^r by Horner's rule */
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;

  /* times 2^k: k added to the exponent bits */
  uint32_t tb, pb;
  memcpy(&tb, &t, sizeof tb);
  memcpy(&pb, &p, sizeof pb);
  pb += (tb - 0x4B400000u) << 23;
  float y;
  memcpy(&y, &pb, sizeof y);
  return x != x ? x : x < -86.0f ? 0.0f : y;
}

/* tanh x = 1 - 2 / (e^(2x) + 1) through sm_expf: absolute error below 2e-7, exactly +-1
 * beyond +-44, and arithmetic only like sm_expf. */
static inline float sm_tanhf(float x) {
  return 1.0f - 2.0f / (sm_expf(2.0f * x) + 1.0f);
}

/* ---- parameters: one contiguous block of values and one of gradients ---------------- */

typedef struct sm_nn_params {
  float *value; /* (n) */
  float *grad;  /* (n) */
  size_t n;     /* floats reserved so far (final once allocated) */
} sm_nn_params;

/* Reserve n floats; returns their offset. Call before sm_nn_params_alloc. */
size_t sm_nn_reserve(sm_nn_params *p, size_t n);
/* Allocate value and grad (zeroed) for everything reserved. */
int sm_nn_params_alloc(sm_ctx *ctx, sm_nn_params *p);
void sm_nn_params_free(sm_nn_params *p);
void sm_nn_zero_grad(sm_nn_params *p);

/* Collective: grad <- sum over ranks of grad, then scaled by `scale` (1 / global batch).
 * One MPI_Allreduce over the whole buffer. */
int sm_nn_allreduce_grad(sm_ctx *ctx, sm_nn_params *p, float scale);

/* Order-independent checksum of the values (for "all ranks hold the same parameters"). */
uint64_t sm_nn_checksum(const sm_nn_params *p);

/* ---- initialisation ----------------------------------------------------------------- */

/* Fill value[off .. off+n) with U(-bound, bound) from the stream (seed, purpose, off + k). */
void sm_nn_init_uniform(sm_nn_params *p, size_t off, size_t n, float bound, uint64_t seed);
/* Xavier/Glorot uniform: bound = gain * sqrt(6 / (fan_in + fan_out)). */
float sm_nn_xavier_bound(int fan_in, int fan_out, float gain);
/* Kaiming/He uniform: bound = gain * sqrt(3 / fan_in); PyTorch's Linear default is
 * gain = sqrt(2 / (1 + 5)) (a = sqrt 5), i.e. bound = 1 / sqrt(fan_in). */
float sm_nn_kaiming_bound(int fan_in, float gain);

/* ---- linear ------------------------------------------------------------------------- */

typedef struct sm_linear {
  int in, out;
  size_t w; /* offset of W (in, out), row-major */
  size_t b; /* offset of b (out) */
} sm_linear;

/* Reserve W and b in p. */
void sm_linear_reserve(sm_linear *l, sm_nn_params *p, int in, int out);
/* PyTorch's default initialisation (U(-1/sqrt(in), 1/sqrt(in)) for W and b). */
void sm_linear_init_default(const sm_linear *l, sm_nn_params *p, uint64_t seed);
/* y (rows, out) = x (rows, in) W + b, through SGEMM. */
void sm_linear_forward(float *y, const float *x, const sm_linear *l, const sm_nn_params *p,
                       int rows);
/* dW += x^T dy, db += sum_rows dy, dx = dy W^T (dx may be NULL). */
void sm_linear_backward(float *dx, sm_nn_params *p, const float *dy, const float *x,
                        const sm_linear *l, int rows);
/* Per-example squared gradient norms of W and b (for DP-SGD clipping, later):
 * norm2[r] += |x_r|^2 |dy_r|^2 + |dy_r|^2. */
void sm_linear_example_norms(double *norm2, const float *dy, const float *x, const sm_linear *l,
                             int rows);

/* Rows given by their nonzeros: row r's entries are (col[r * nnz + k], val[r * nnz + k]) for
 * k < nnz, distinct columns; a row with fewer nonzeros pads with value 0. */
typedef struct sm_sparse_rows {
  const int32_t *col;
  const float *val;
  int nnz;
} sm_sparse_rows;

/* sm_linear_forward for sparse x; the same y up to the order of the sums. */
void sm_linear_forward_sparse(float *y, const sm_sparse_rows *x, const sm_linear *l,
                              const sm_nn_params *p, int rows);
/* dW += x^T dy and db += sum_rows dy for sparse x (no input gradient). */
void sm_linear_backward_sparse(sm_nn_params *p, const float *dy, const sm_sparse_rows *x,
                               const sm_linear *l, int rows);

/* ---- causal dilated 1-D convolution over one sequence -------------------------------- */

/* y[t, o] = b[o] + sum_{k, c} W[k * in + c, o] x[t - (kernel - 1 - k) dilation, c], with x
 * zero before t = 0, so output t never sees input after t. x is (len, in) and y (len, out),
 * row-major. The forward builds col (len, kernel * in) (im2col) and multiplies it by W
 * through sm_linear's SGEMM; col is kept for the backward. */
typedef struct sm_conv1d {
  int in, out, kernel, dilation;
  size_t w; /* offset of W (kernel * in, out): tap k, channel c at row k * in + c */
  size_t b; /* offset of b (out) */
} sm_conv1d;

void sm_conv1d_reserve(sm_conv1d *l, sm_nn_params *p, int in, int out, int kernel, int dilation);
/* PyTorch's Conv1d default: U(-1/sqrt(in kernel), 1/sqrt(in kernel)) for W and b. */
void sm_conv1d_init_default(const sm_conv1d *l, sm_nn_params *p, uint64_t seed);
/* Bases of history an output sees besides its own step: (kernel - 1) dilation. */
int sm_conv1d_reach(const sm_conv1d *l);
/* col (len, kernel * in) from x; y = col W + b. */
void sm_conv1d_forward(float *y, float *col, const float *x, const sm_conv1d *l,
                       const sm_nn_params *p, int len);
/* dW += col^T dy, db += sum_t dy; dx = the input gradient (NULL: not needed), through
 * dcol (len, kernel * in) as workspace. */
void sm_conv1d_backward(float *dx, float *dcol, sm_nn_params *p, const float *dy, const float *col,
                        const sm_conv1d *l, int len);
/* The same forward by direct loops (the reference the tests hold the fast one to). */
void sm_conv1d_forward_ref(float *y, const float *x, const sm_conv1d *l, const sm_nn_params *p,
                           int len);

/* ---- gradients of gradients (gradient penalties) ------------------------------------ */

/* Local. The input gradient alone: dx (rows, in) = dy (rows, out) W^T; no parameter
 * gradient is touched. */
void sm_linear_input_grad(float *dx, const float *dy, const sm_linear *l, const sm_nn_params *p,
                          int rows);
/* Local. Backward of u = dy W^T (the input gradient above) given du = dL/du (rows, in):
 * dW += du^T dy and d_dy (rows, out) = du W (d_dy may be NULL). The bias does not enter u.
 * Leaky ReLU and dropout backwards are linear in their incoming gradient with fixed slopes,
 * so they are their own double backward (call them again on the gradient's gradient). */
void sm_linear_double_backward(float *d_dy, sm_nn_params *p, const float *du, const float *dy,
                               const sm_linear *l, int rows);

/* ---- activations (elementwise over n values; dx may alias dy) ---------------------- */

void sm_relu_forward(float *y, const float *x, size_t n);
void sm_relu_backward(float *dx, const float *dy, const float *x, size_t n);
void sm_leaky_relu_forward(float *y, const float *x, size_t n, float slope);
void sm_leaky_relu_backward(float *dx, const float *dy, const float *x, size_t n, float slope);
void sm_tanh_forward(float *y, const float *x, size_t n);
void sm_tanh_backward(float *dx, const float *dy, const float *y, size_t n); /* uses y */
/* GELU, exact (erf) form as PyTorch's default. */
void sm_gelu_forward(float *y, const float *x, size_t n);
void sm_gelu_backward(float *dx, const float *dy, const float *x, size_t n);

/* ---- softmax over column spans ------------------------------------------------------ */

/* The index of the largest of v[0 .. n) (the first on ties): a one-hot span's category;
 * -1 when n is 0. */
int sm_argmax(const float *v, int n);

/* y[r, start .. start+width) = softmax(x[r, start .. start+width)); stride = row width. */
void sm_softmax_forward(float *y, const float *x, int rows, int stride, int start, int width);
void sm_softmax_backward(float *dx, const float *dy, const float *y, int rows, int stride,
                         int start, int width);
/* Gumbel-softmax with temperature tau: y = softmax((x + g) / tau), g Gumbel noise from the
 * stream (seed, purpose, global row row0 + r), one draw per element of the span. */
void sm_gumbel_softmax_forward(float *y, const float *x, int rows, int stride, int start, int width,
                               float tau, uint64_t seed, uint32_t purpose, int64_t row0);
/* Backward of the above given its output y (the noise enters only the forward). */
void sm_gumbel_softmax_backward(float *dx, const float *dy, const float *y, int rows, int stride,
                                int start, int width, float tau);

/* ---- dropout ------------------------------------------------------------------------ */

/* Inverted dropout: mask[r, j] = keep ? 1/(1-rate) : 0 from the stream
 * (seed, purpose, global row row0 + r), element j. y = x * mask. */
void sm_dropout_forward(float *y, float *mask, const float *x, int rows, int cols, float rate,
                        uint64_t seed, uint32_t purpose, int64_t row0);
void sm_dropout_backward(float *dx, const float *dy, const float *mask, size_t n);

/* ---- batch normalisation, synchronised over ranks ----------------------------------- */

typedef struct sm_batchnorm {
  int features;
  size_t gamma, beta;     /* offsets of scale and shift (features) */
  double *running_mean;   /* (features) */
  double *running_var;    /* (features), unbiased like PyTorch */
  double momentum, eps;   /* PyTorch defaults 0.1, 1e-5 */
  double *mean, *inv_std; /* (features) saved by the training forward for the backward */
} sm_batchnorm;

int sm_batchnorm_reserve(sm_ctx *ctx, sm_batchnorm *bn, sm_nn_params *p, int features);
void sm_batchnorm_init(const sm_batchnorm *bn, sm_nn_params *p); /* gamma 1, beta 0 */
void sm_batchnorm_free(sm_batchnorm *bn);
/* Collective when training: batch statistics are the GLOBAL batch's (local sums
 * allreduced), so the result is the same at any rank count. global_rows is the global batch
 * size. Not training: running statistics, no communication. */
int sm_batchnorm_forward(sm_ctx *ctx, float *y, const float *x, sm_batchnorm *bn,
                         const sm_nn_params *p, int rows, int64_t global_rows, int training);
/* Collective (allreduces the sums of dy and dy * x_hat over the global batch). */
int sm_batchnorm_backward(sm_ctx *ctx, float *dx, sm_nn_params *p, const float *dy, const float *x,
                          const sm_batchnorm *bn, int rows, int64_t global_rows);

/* ---- losses: return the SUM over this rank's rows, write d(loss)/d(input) * scale ---- */

/* 0.5 * sum (x - t)^2. */
double sm_mse_loss(float *dx, const float *x, const float *t, size_t n, float scale);
/* Cross-entropy of logits x[r, start..start+width) against class target[r]
 * (target < 0: row skipped). */
double sm_cross_entropy_loss(float *dx, const float *x, const int32_t *target, int rows, int stride,
                             int start, int width, float scale);
/* Spans of one-hot columns of the same rows, each with its cross-entropy as above. */
typedef struct sm_ce_spans {
  int n;                 /* spans */
  const int *start;      /* (n) first column of each */
  const int *width;      /* (n) its columns */
  const int32_t *target; /* span h, row r: target[h * target_stride + r] */
  size_t target_stride;
} sm_ce_spans;

/* The sum of sm_cross_entropy_loss over the spans, a row at a time so that the exponentials
 * run over whole rows (vectorised); a span is shifted by its maximum only when that lies
 * outside [-60, 80]. work holds stride floats. Writes dx only in the spans' columns. */
double sm_cross_entropy_spans(float *dx, float *work, const float *x, const sm_ce_spans *sp,
                              int rows, int stride, float scale);
/* Gaussian negative log-likelihood of t under N(mu, exp(logvar)):
 * 0.5 * sum (logvar + (t - mu)^2 / exp(logvar)) (the constant log 2 pi left out).
 * dmu and dlogvar may be NULL. */
double sm_gaussian_nll_loss(float *dmu, float *dlogvar, const float *mu, const float *logvar,
                            const float *t, size_t n, float scale);
/* KL(N(mu, exp(logvar)) || N(0, 1)) = -0.5 * sum (1 + logvar - mu^2 - exp(logvar)). */
double sm_kl_normal_loss(float *dmu, float *dlogvar, const float *mu, const float *logvar, size_t n,
                         float scale);

/* ---- optimiser ---------------------------------------------------------------------- */

typedef struct sm_adam {
  double lr, beta1, beta2, eps;
  double weight_decay; /* L2 added to the gradient (Adam) or decoupled (AdamW) */
  int decoupled;       /* 1: AdamW */
  int64_t step;        /* steps taken */
  float *m, *v;        /* (n) first and second moments */
  size_t n;
} sm_adam;

int sm_adam_init(sm_ctx *ctx, sm_adam *opt, size_t n, double lr, double beta1, double beta2,
                 double eps, double weight_decay, int decoupled);
void sm_adam_free(sm_adam *opt);
/* One update of p->value from p->grad (PyTorch's Adam/AdamW arithmetic). */
void sm_adam_step(sm_adam *opt, sm_nn_params *p);
/* One update of values [lo, hi) only, from grad[0 .. hi - lo) times scale (a shard of the
 * buffer, as each rank updates its own after a reduce-scatter). Counts as a step. */
void sm_adam_step_shard(sm_adam *opt, float *value, const float *grad, float scale, size_t lo,
                        size_t hi);

/* ---- SiLU, timestep embedding and plain MLPs (used by the flow and diffusion models) -- */

/* SiLU (swish): y = x * sigmoid(x). */
void sm_silu_forward(float *y, const float *x, size_t n);
void sm_silu_backward(float *dx, const float *dy, const float *x, size_t n);

/* Sinusoidal timestep embedding of Ho et al. / Nichol and Dhariwal: row r gets
 * [cos(t_r f_0), .., cos(t_r f_{h-1}), sin(t_r f_0), .., sin(t_r f_{h-1})] with
 * f_i = max_period^(-i / h), h = dim / 2 (an odd dim ends with a zero). No parameters. */
void sm_timestep_embedding(float *y, const int32_t *t, int rows, int dim, double max_period);

#define SM_MLP_MAX_LAYERS 9

/* Linear layers with ReLU between them (none after the last). */
typedef struct sm_mlp {
  int n_layers;                       /* hidden layers + 1 */
  sm_linear layer[SM_MLP_MAX_LAYERS]; /* layer i: (width i, width i+1) */
  int widest;                         /* the widest hidden layer */
} sm_mlp;

/* Reserve an MLP in -> hidden[0] -> .. -> hidden[n_hidden - 1] -> out;
 * n_hidden < SM_MLP_MAX_LAYERS. */
void sm_mlp_reserve(sm_mlp *m, sm_nn_params *p, int in, const int *hidden, int n_hidden, int out);
/* PyTorch's default initialisation of every layer. */
void sm_mlp_init(const sm_mlp *m, sm_nn_params *p, uint64_t seed);
/* Floats of the activation cache of a forward over `rows` rows. */
size_t sm_mlp_cache_floats(const sm_mlp *m, int rows);
/* out (rows, out) from in (rows, in); cache (sm_mlp_cache_floats) keeps what the backward
 * needs. */
void sm_mlp_forward(float *out, float *cache, const float *in, const sm_mlp *m,
                    const sm_nn_params *p, int rows);
/* Gradients of the parameters (accumulated) and of the input (d_in may be NULL) from
 * d_out; work holds 2 * rows * widest floats. */
void sm_mlp_backward(float *d_in, sm_nn_params *p, float *work, const float *d_out,
                     const float *cache, const float *in, const sm_mlp *m, int rows);

#endif
