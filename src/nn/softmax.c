/* Softmax and Gumbel-softmax over a span of columns of each row. */
#include <math.h>

#include "synthmpi/nn.h"
#include "synthmpi/rng.h"

/* In place: v[0 .. width) <- softmax(v), stable (the maximum subtracted first). */
static void softmax_inplace(float *v, int width) {
  float top = v[0];
  for (int j = 1; j < width; j++)
    top = v[j] > top ? v[j] : top;

  /* exponentials summed in double */
  double sum = 0;
  for (int j = 0; j < width; j++) {
    v[j] = expf(v[j] - top);
    sum += v[j];
  }

  /* normalise */
  float inv = (float)(1.0 / sum);
  for (int j = 0; j < width; j++)
    v[j] *= inv;
}

void sm_softmax_forward(float *y, const float *x, int rows, int stride, int start, int width) {
  if (width <= 0)
    return;
  for (int r = 0; r < rows; r++) {
    float *yr = y + (size_t)r * stride + start;
    const float *xr = x + (size_t)r * stride + start;
    for (int j = 0; j < width; j++)
      yr[j] = xr[j];
    softmax_inplace(yr, width);
  }
}

/* dx_j = y_j (dy_j - sum_k dy_k y_k); the dot product is taken before dx is written, so dx
 * may alias dy. */
void sm_softmax_backward(float *dx, const float *dy, const float *y, int rows, int stride,
                         int start, int width) {
  for (int r = 0; r < rows; r++) {
    size_t base = (size_t)r * stride + start;
    double dot = 0;
    for (int j = 0; j < width; j++)
      dot += (double)dy[base + j] * y[base + j];
    for (int j = 0; j < width; j++)
      dx[base + j] = y[base + j] * (float)(dy[base + j] - dot);
  }
}

/* Row r's noise for column c is draw number c of the stream (seed, purpose, row0 + r): the
 * draws before `start` are skipped, so spans of one row get independent noise and a row's
 * noise does not depend on the rank that draws it. */
void sm_gumbel_softmax_forward(float *y, const float *x, int rows, int stride, int start, int width,
                               float tau, uint64_t seed, uint32_t purpose, int64_t row0) {
  if (width <= 0)
    return;
  for (int r = 0; r < rows; r++) {
    float *yr = y + (size_t)r * stride + start;
    const float *xr = x + (size_t)r * stride + start;
    sm_rng rng;
    sm_rng_init(&rng, seed, purpose, (uint64_t)(row0 + r));
    for (int c = 0; c < start; c++)
      (void)sm_rng_uniform(&rng);

    /* perturbed, tempered logits, then softmax in place */
    for (int j = 0; j < width; j++) {
      double g = -log(-log(sm_rng_uniform(&rng)));
      yr[j] = (float)((xr[j] + g) / tau);
    }
    softmax_inplace(yr, width);
  }
}

/* d/dx of softmax((x + g) / tau) is the softmax backward divided by tau. */
void sm_gumbel_softmax_backward(float *dx, const float *dy, const float *y, int rows, int stride,
                                int start, int width, float tau) {
  sm_softmax_backward(dx, dy, y, rows, stride, start, width);
  float inv_tau = 1.0f / tau;
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < width; j++)
      dx[(size_t)r * stride + start + j] *= inv_tau;
}

int sm_argmax(const float *v, int n) {
  int best = n > 0 ? 0 : -1;
  for (int k = 1; k < n; k++)
    if (v[k] > v[best])
      best = k;
  return best;
}
