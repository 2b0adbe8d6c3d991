/* Linear layer y = x W + b through OpenBLAS SGEMM, with its backward and per-example norms. */
#include <math.h>

#include <cblas.h>

#include "synthmpi/nn.h"

void sm_linear_reserve(sm_linear *l, sm_nn_params *p, int in, int out) {
  l->in = in;
  l->out = out;
  l->w = sm_nn_reserve(p, (size_t)in * out);
  l->b = sm_nn_reserve(p, (size_t)out);
}

void sm_linear_init_default(const sm_linear *l, sm_nn_params *p, uint64_t seed) {
  float bound = sm_nn_kaiming_bound(l->in, (float)sqrt(1.0 / 3.0));
  sm_nn_init_uniform(p, l->w, (size_t)l->in * l->out, bound, seed);
  sm_nn_init_uniform(p, l->b, (size_t)l->out, bound, seed);
}

/* y starts as b in every row, then SGEMM adds x W (beta 1). rows may be 0. */
SM_VECTOR_CLONES
void sm_linear_forward(float *y, const float *x, const sm_linear *l, const sm_nn_params *p,
                       int rows) {
  int in = l->in, out = l->out;
  const float *w = p->value + l->w, *b = p->value + l->b;
  if (rows <= 0 || out <= 0)
    return;

  /* broadcast the bias */
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < out; j++)
      y[(size_t)r * out + j] = b[j];

  /* y += x W */
  if (in > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, out, in, 1.0f, x, in, w, out, 1.0f,
                y, out);
}

/* dW += x^T dy and db += column sums of dy (local rows only; the allreduce sums ranks);
 * dx = dy W^T when dx is not NULL. */
SM_VECTOR_CLONES
void sm_linear_backward(float *dx, sm_nn_params *p, const float *dy, const float *x,
                        const sm_linear *l, int rows) {
  int in = l->in, out = l->out;
  const float *w = p->value + l->w;
  float *dw = p->grad + l->w, *db = p->grad + l->b;
  if (rows <= 0 || out <= 0)
    return;

  /* parameter gradients accumulate */
  if (in > 0)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, rows, 1.0f, x, in, dy, out, 1.0f,
                dw, out);
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < out; j++)
      db[j] += dy[(size_t)r * out + j];

  /* input gradient overwrites */
  if (dx && in > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, in, out, 1.0f, dy, out, w, out, 0.0f,
                dx, in);
}

/* The gradient of row r's loss with respect to W is the outer product x_r dy_r^T, whose
 * squared Frobenius norm is |x_r|^2 |dy_r|^2; its bias part adds |dy_r|^2. */
void sm_linear_example_norms(double *norm2, const float *dy, const float *x, const sm_linear *l,
                             int rows) {
  for (int r = 0; r < rows; r++) {
    double xx = 0, gg = 0;
    for (int i = 0; i < l->in; i++) {
      double v = x[(size_t)r * l->in + i];
      xx += v * v;
    }
    for (int j = 0; j < l->out; j++) {
      double v = dy[(size_t)r * l->out + j];
      gg += v * v;
    }
    norm2[r] += xx * gg + gg;
  }
}
