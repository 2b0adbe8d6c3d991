/* SiLU, the sinusoidal timestep embedding and plain ReLU MLPs built from Linear layers. */
#include <math.h>

#include "synthmpi/nn.h"

void sm_silu_forward(float *y, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] / (1.0f + expf(-x[i]));
}

/* d/dx x s(x) = s(x) (1 + x (1 - s(x))). dx may alias dy. */
void sm_silu_backward(float *dx, const float *dy, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float s = 1.0f / (1.0f + expf(-x[i]));
    dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
  }
}

void sm_timestep_embedding(float *y, const int32_t *t, int rows, int dim, double max_period) {
  int half = dim / 2;
  for (int r = 0; r < rows; r++) {
    float *row = y + (size_t)r * dim;
    for (int i = 0; i < half; i++) {
      double arg = (double)t[r] * exp(-log(max_period) * i / half);
      row[i] = (float)cos(arg);
      row[half + i] = (float)sin(arg);
    }
    if (dim % 2)
      row[dim - 1] = 0.0f;
  }
}

void sm_mlp_reserve(sm_mlp *m, sm_nn_params *p, int in, const int *hidden, int n_hidden, int out) {
  m->n_layers = n_hidden + 1;
  m->widest = 1;
  for (int i = 0; i <= n_hidden; i++) {
    int a = i == 0 ? in : hidden[i - 1], b = i == n_hidden ? out : hidden[i];
    sm_linear_reserve(&m->layer[i], p, a, b);
    if (i < n_hidden && b > m->widest)
      m->widest = b;
  }
}

void sm_mlp_init(const sm_mlp *m, sm_nn_params *p, uint64_t seed) {
  for (int i = 0; i < m->n_layers; i++)
    sm_linear_init_default(&m->layer[i], p, seed);
}

size_t sm_mlp_cache_floats(const sm_mlp *m, int rows) {
  size_t n = 0;
  for (int i = 0; i + 1 < m->n_layers; i++)
    n += 2 * (size_t)rows * (size_t)m->layer[i].out;
  return n;
}

/* Cache: for each hidden layer its pre-activation then its ReLU output, (rows, width). */
void sm_mlp_forward(float *out, float *cache, const float *in, const sm_mlp *m,
                    const sm_nn_params *p, int rows) {
  const float *x = in;
  for (int i = 0; i + 1 < m->n_layers; i++) {
    size_t n = (size_t)rows * (size_t)m->layer[i].out;
    float *pre = cache, *post = cache + n;
    sm_linear_forward(pre, x, &m->layer[i], p, rows);
    sm_relu_forward(post, pre, n);
    x = post;
    cache += 2 * n;
  }
  sm_linear_forward(out, x, &m->layer[m->n_layers - 1], p, rows);
}

void sm_mlp_backward(float *d_in, sm_nn_params *p, float *work, const float *d_out,
                     const float *cache, const float *in, const sm_mlp *m, int rows) {
  /* where each hidden layer's cache starts */
  const float *pre[SM_MLP_MAX_LAYERS], *post[SM_MLP_MAX_LAYERS];
  for (int i = 0; i + 1 < m->n_layers; i++) {
    size_t n = (size_t)rows * (size_t)m->layer[i].out;
    pre[i] = cache;
    post[i] = cache + n;
    cache += 2 * n;
  }

  /* last layer first; two work buffers alternate as the hidden gradients */
  const float *dy = d_out;
  int next = 0;
  for (int i = m->n_layers - 1; i >= 0; i--) {
    const float *x = i > 0 ? post[i - 1] : in;
    float *dx = i > 0 ? work + (size_t)next * rows * m->widest : d_in;
    sm_linear_backward(dx, p, dy, x, &m->layer[i], rows);
    if (i > 0)
      sm_relu_backward(dx, dx, pre[i - 1], (size_t)rows * m->layer[i - 1].out);
    dy = dx;
    next ^= 1;
  }
}
