/* Elementwise activations: ReLU, leaky ReLU, tanh and exact GELU. dx may alias dy. */
#include <math.h>

#include "synthmpi/nn.h"

/* Every loop here reads and writes element i only, so an output may alias an input (the
 * header allows dx == dy): tell the compiler it may vectorise regardless. */
#if defined(__clang__)
/* clang has no ivdep; it vectorises these loops behind a runtime overlap check */
#define SM_ELEMENTWISE
#else
#define SM_ELEMENTWISE _Pragma("GCC ivdep")
#endif

SM_VECTOR_CLONES
void sm_relu_forward(float *y, const float *x, size_t n) {
  SM_ELEMENTWISE
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

SM_VECTOR_CLONES
void sm_relu_backward(float *dx, const float *dy, const float *x, size_t n) {
  SM_ELEMENTWISE
  for (size_t i = 0; i < n; i++) {
    float g = dy[i]; /* loaded unconditionally, so the select vectorises */
    dx[i] = x[i] > 0.0f ? g : 0.0f;
  }
}

void sm_leaky_relu_forward(float *y, const float *x, size_t n, float slope) {
  SM_ELEMENTWISE
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

void sm_leaky_relu_backward(float *dx, const float *dy, const float *x, size_t n, float slope) {
  SM_ELEMENTWISE
  for (size_t i = 0; i < n; i++) {
    float g = dy[i];
    dx[i] = x[i] > 0.0f ? g : slope * g;
  }
}

void sm_tanh_forward(float *y, const float *x, size_t n) {
  SM_ELEMENTWISE
  for (size_t i = 0; i < n; i++)
    y[i] = tanhf(x[i]);
}

void sm_tanh_backward(float *dx, const float *dy, const float *y, size_t n) {
  SM_ELEMENTWISE
  for (size_t i = 0; i < n; i++)
    dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

/* GELU(x) = x Phi(x) with Phi the standard normal CDF. */
void sm_gelu_forward(float *y, const float *x, size_t n) {
  SM_ELEMENTWISE
  for (size_t i = 0; i < n; i++)
    y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

/* GELU'(x) = Phi(x) + x phi(x). */
void sm_gelu_backward(float *dx, const float *dy, const float *x, size_t n) {
  const float inv_sqrt_2pi = 0.3989422804014327f;
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    float cdf = 0.5f * (1.0f + erff(v * (float)M_SQRT1_2));
    float pdf = inv_sqrt_2pi * expf(-0.5f * v * v);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}
