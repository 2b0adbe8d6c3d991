/* Gradients of gradients: the parameter gradient of a function of a network's INPUT
 * gradient, as a gradient penalty needs (WGAN-GP).
 *
 * With piecewise-linear activations (ReLU, leaky ReLU) and dropout the input gradient
 * u = dL/dx of a network is a chain of products with fixed masks and transposed weights, so
 * its derivative needs no second derivatives: each Linear's input gradient u = dy W^T is
 * linear in W and in dy, and each activation's backward dx = dy * slope(x) is linear in dy
 * with a slope that does not move under small changes (sm_leaky_relu_backward and
 * sm_dropout_backward are therefore their own double backward).
 */
#include <cblas.h>

#include "synthmpi/nn.h"

/* u = dy W^T (rows, in); given du (rows, in): dW += du^T dy, d_dy = du W. */
void sm_linear_double_backward(float *d_dy, sm_nn_params *p, const float *du, const float *dy,
                               const sm_linear *l, int rows) {
  int in = l->in, out = l->out;
  const float *w = p->value + l->w;
  float *dw = p->grad + l->w;
  if (rows <= 0 || out <= 0 || in <= 0)
    return;

  /* the weight gradient accumulates: dW[a][b] += sum_r du[r][a] dy[r][b] */
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, rows, 1.0f, du, in, dy, out, 1.0f,
              dw, out);

  /* the gradient with respect to dy overwrites */
  if (d_dy)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, out, in, 1.0f, du, in, w, out,
                0.0f, d_dy, out);
}

/* The input gradient alone: dx = dy W^T (no parameter gradient). */
void sm_linear_input_grad(float *dx, const float *dy, const sm_linear *l, const sm_nn_params *p,
                          int rows) {
  int in = l->in, out = l->out;
  if (rows <= 0 || out <= 0 || in <= 0)
    return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, in, out, 1.0f, dy, out,
              p->value + l->w, out, 0.0f, dx, in);
}
