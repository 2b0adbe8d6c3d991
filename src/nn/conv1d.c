/* Causal dilated 1-D convolution: im2col, then the linear layer's SGEMM on the columns. */
#include <math.h>
#include <string.h>

#include "synthmpi/nn.h"

void sm_conv1d_reserve(sm_conv1d *l, sm_nn_params *p, int in, int out, int kernel, int dilation) {
  l->in = in;
  l->out = out;
  l->kernel = kernel;
  l->dilation = dilation;
  l->w = sm_nn_reserve(p, (size_t)kernel * in * out);
  l->b = sm_nn_reserve(p, (size_t)out);
}

void sm_conv1d_init_default(const sm_conv1d *l, sm_nn_params *p, uint64_t seed) {
  float bound = (float)(1.0 / sqrt((double)l->in * l->kernel));
  sm_nn_init_uniform(p, l->w, (size_t)l->kernel * l->in * l->out, bound, seed);
  sm_nn_init_uniform(p, l->b, (size_t)l->out, bound, seed);
}

int sm_conv1d_reach(const sm_conv1d *l) {
  return (l->kernel - 1) * l->dilation;
}

/* The columns seen as the input of a linear layer with W and b of the convolution. */
static sm_linear as_linear(const sm_conv1d *l) {
  sm_linear lin = {.in = l->kernel * l->in, .out = l->out, .w = l->w, .b = l->b};
  return lin;
}

/* col[t, k * in + c] = x[t - (kernel - 1 - k) dilation, c], zero before the start. */
static void im2col(float *col, const float *x, const sm_conv1d *l, int len) {
  size_t width = (size_t)l->kernel * l->in, bytes = (size_t)l->in * sizeof(float);
  for (int t = 0; t < len; t++)
    for (int k = 0; k < l->kernel; k++) {
      int src = t - (l->kernel - 1 - k) * l->dilation;
      float *dst = col + (size_t)t * width + (size_t)k * l->in;
      if (src >= 0)
        memcpy(dst, x + (size_t)src * l->in, bytes);
      else
        memset(dst, 0, bytes);
    }
}

void sm_conv1d_forward(float *y, float *col, const float *x, const sm_conv1d *l,
                       const sm_nn_params *p, int len) {
  sm_linear lin = as_linear(l);
  im2col(col, x, l, len);
  sm_linear_forward(y, col, &lin, p, len);
}

void sm_conv1d_backward(float *dx, float *dcol, sm_nn_params *p, const float *dy, const float *col,
                        const sm_conv1d *l, int len) {
  sm_linear lin = as_linear(l);
  size_t width = (size_t)l->kernel * l->in;
  sm_linear_backward(dx ? dcol : NULL, p, dy, col, &lin, len);
  if (!dx)
    return;

  /* col2im: every column entry adds back to the input step it was copied from */
  memset(dx, 0, (size_t)len * l->in * sizeof(float));
  for (int t = 0; t < len; t++)
    for (int k = 0; k < l->kernel; k++) {
      int src = t - (l->kernel - 1 - k) * l->dilation;
      if (src < 0)
        continue;
      const float *g = dcol + (size_t)t * width + (size_t)k * l->in;
      float *d = dx + (size_t)src * l->in;
      for (int c = 0; c < l->in; c++)
        d[c] += g[c];
    }
}

void sm_conv1d_forward_ref(float *y, const float *x, const sm_conv1d *l, const sm_nn_params *p,
                           int len) {
  const float *w = p->value + l->w, *b = p->value + l->b;
  for (int t = 0; t < len; t++)
    for (int o = 0; o < l->out; o++) {
      double acc = b[o];
      for (int k = 0; k < l->kernel; k++) {
        int src = t - (l->kernel - 1 - k) * l->dilation;
        for (int c = 0; src >= 0 && c < l->in; c++)
          acc += (double)w[((size_t)k * l->in + c) * l->out + o] * x[(size_t)src * l->in + c];
      }
      y[(size_t)t * l->out + o] = (float)acc;
    }
}
