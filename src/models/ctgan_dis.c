/* The CTGAN discriminator (a PacGAN critic): forward, backward and the WGAN gradient
 * penalty with its second backward pass.
 *
 * With h_k = x_k W_k + b_k, x_{k+1} = m_k * lrelu(h_k) and score y = x_L W_L + b_L, the
 * score's input gradient is the chain
 *   g_L = W_L^T,  q_k = s_k * m_k * (g_{k+1} W_k^T ... )   (s_k the leaky ReLU's slopes),
 *   gx = q_0 W_0^T,
 * which is linear in every W_k for fixed slopes and masks. The penalty
 * P = weight sum_packs (|gx| - 1)^2 is differentiated back through that chain with
 * sm_linear_double_backward; biases do not enter gx and get no penalty gradient.
 */
#include <math.h>
#include <string.h>

#include "models/ctgan.h"
#include "synthmpi/rng.h"

/* The widest of the input and hidden widths. */
static int widest(const ctgan_dis *d) {
  int w = d->in;
  for (int k = 0; k < d->n_hidden; k++)
    w = d->dims[k] > w ? d->dims[k] : w;
  return w;
}

size_t sm_ctgan_dis_carve(const ctgan_dis *d, int n, ctgan_dis_acts *a, float *block) {
  size_t used = 0, rows = (size_t)n;
  for (int k = 0; k < d->n_hidden; k++) {
    if (block) {
      a->pre[k] = block + used;
      a->post[k] = block + used + rows * d->dims[k];
      a->mask[k] = block + used + 2 * rows * d->dims[k];
    }
    used += 3 * rows * d->dims[k];
  }
  if (block)
    a->y = block + used;
  return used + rows;
}

size_t sm_ctgan_dis_work_carve(const ctgan_dis *d, int n, ctgan_dis_work *w, float *block) {
  size_t used = 0, rows = (size_t)n, wide = (size_t)widest(d);
  for (int k = 0; k < d->n_hidden; k++) {
    if (block)
      w->q[k] = block + used;
    used += rows * d->dims[k];
  }
  if (block) {
    w->gx = block + used;
    w->d[0] = block + used + rows * d->in;
    w->d[1] = w->d[0] + rows * wide;
    w->ones = w->d[1] + rows * wide;
    for (size_t r = 0; r < rows; r++)
      w->ones[r] = 1.0f;
  }
  return used + rows * d->in + 2 * rows * wide + rows;
}

void sm_ctgan_dis_forward(ctgan_dis_acts *a, const float *x, const ctgan_dis *d,
                          const sm_nn_params *p, int n, uint64_t seed, int64_t row0) {
  const float *in = x;
  for (int k = 0; k < d->n_hidden; k++) {
    size_t size = (size_t)n * d->dims[k];
    sm_linear_forward(a->pre[k], in, &d->fc[k], p, n);
    sm_leaky_relu_forward(a->post[k], a->pre[k], size, CTGAN_SLOPE);

    /* each layer's masks from its own stream: rows of a pack are the stream's index */
    uint64_t layer_seed = seed ^ sm_hash64((uint64_t)k + 1);
    sm_dropout_forward(a->post[k], a->mask[k], a->post[k], n, d->dims[k], CTGAN_DROPOUT, layer_seed,
                       SM_STREAM_NN_DROPOUT, row0);
    in = a->post[k];
  }
  sm_linear_forward(a->y, in, &d->fc[d->n_hidden], p, n);
}

void sm_ctgan_dis_backward(float *dx, sm_nn_params *p, const float *dy, const float *x,
                           const ctgan_dis_acts *a, const ctgan_dis *d, int n, int params,
                           ctgan_dis_work *w) {
  const float *g = dy;
  int next = 0;
  for (int k = d->n_hidden; k >= 0; k--) {
    const float *in = k > 0 ? a->post[k - 1] : x;
    float *out = k > 0 ? w->d[next] : dx;

    /* the layer: weights (when asked) and the input gradient (when needed) */
    if (params)
      sm_linear_backward(out, p, g, in, &d->fc[k], n);
    else if (out)
      sm_linear_input_grad(out, g, &d->fc[k], p, n);
    if (k == 0)
      break;

    /* dropout, then the leaky ReLU of the layer below */
    size_t size = (size_t)n * d->dims[k - 1];
    sm_dropout_backward(out, out, a->mask[k - 1], size);
    sm_leaky_relu_backward(out, out, a->pre[k - 1], size, CTGAN_SLOPE);
    g = out;
    next ^= 1;
  }
}

/* The score's gradient at every pre-activation (w->q) and at the input (w->gx). */
static void input_gradient(const ctgan_dis_acts *a, const ctgan_dis *d, const sm_nn_params *p,
                           int n, ctgan_dis_work *w) {
  const float *g = w->ones;
  for (int k = d->n_hidden; k >= 1; k--) {
    size_t size = (size_t)n * d->dims[k - 1];
    sm_linear_input_grad(w->q[k - 1], g, &d->fc[k], p, n);
    sm_dropout_backward(w->q[k - 1], w->q[k - 1], a->mask[k - 1], size);
    sm_leaky_relu_backward(w->q[k - 1], w->q[k - 1], a->pre[k - 1], size, CTGAN_SLOPE);
    g = w->q[k - 1];
  }
  sm_linear_input_grad(w->gx, g, &d->fc[0], p, n);
}

double sm_ctgan_penalty(sm_nn_params *p, const ctgan_dis_acts *a, const ctgan_dis *d, int n,
                        float weight, ctgan_dis_work *w) {
  if (n <= 0)
    return 0.0;
  input_gradient(a, d, p, n, w);

  /* the penalty, and its gradient with respect to gx overwriting gx */
  double sum = 0.0;
  for (int r = 0; r < n; r++) {
    float *g = w->gx + (size_t)r * d->in;
    double norm2 = 0.0;
    for (int i = 0; i < d->in; i++)
      norm2 += (double)g[i] * g[i];
    double norm = sqrt(norm2), gap = norm - 1.0;
    sum += weight * gap * gap;
    float f = norm > 0 ? (float)(2.0 * weight * gap / norm) : 0.0f;
    for (int i = 0; i < d->in; i++)
      g[i] *= f;
  }

  /* back through the chain: each Linear's input gradient, then slopes and masks */
  const float *du = w->gx;
  int next = 0;
  for (int k = 0; k <= d->n_hidden; k++) {
    const float *dy = k < d->n_hidden ? w->q[k] : w->ones;
    float *d_dy = k < d->n_hidden ? w->d[next] : NULL;
    sm_linear_double_backward(d_dy, p, du, dy, &d->fc[k], n);
    if (k == d->n_hidden)
      break;
    size_t size = (size_t)n * d->dims[k];
    sm_leaky_relu_backward(d_dy, d_dy, a->pre[k], size, CTGAN_SLOPE);
    sm_dropout_backward(d_dy, d_dy, a->mask[k], size);
    du = d_dy;
    next ^= 1;
  }
  return sum;
}

/* ---- spectral normalisation ------------------------------------------------------------ */

/* x[0 .. n) /= max(|x|, 1e-12), as torch.nn.functional.normalize. */
static void normalise(float *x, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++)
    s += (double)x[i] * x[i];
  float inv = (float)(1.0 / fmax(sqrt(s), 1e-12));
  for (int i = 0; i < n; i++)
    x[i] *= inv;
}

void sm_ctgan_sn_power(ctgan_net *net) {
  float *value = net->params.value;
  for (int k = 0; k <= net->dis.n_hidden; k++) {
    const sm_linear *l = &net->dis.fc[k];
    const float *w = value + l->w;
    float *u = value + net->sn_u[k], *v = value + net->sn_v[k];

    /* v = normalise(W u), then u = normalise(W^T v) */
    for (int a = 0; a < l->in; a++) {
      double s = 0.0;
      for (int b = 0; b < l->out; b++)
        s += (double)w[(size_t)a * l->out + b] * u[b];
      v[a] = (float)s;
    }
    normalise(v, l->in);
    for (int b = 0; b < l->out; b++)
      u[b] = 0.0f;
    for (int a = 0; a < l->in; a++)
      for (int b = 0; b < l->out; b++)
        u[b] += w[(size_t)a * l->out + b] * v[a];
    normalise(u, l->out);
  }
}

void sm_ctgan_sn_weights(float *eff, ctgan_net *net) {
  const float *value = net->params.value;
  memcpy(eff, value, net->n_dis * sizeof(float));
  for (int k = 0; k <= net->dis.n_hidden; k++) {
    const sm_linear *l = &net->dis.fc[k];
    const float *w = value + l->w, *u = value + net->sn_u[k], *v = value + net->sn_v[k];
    double sigma = 0.0;
    for (int a = 0; a < l->in; a++)
      for (int b = 0; b < l->out; b++)
        sigma += (double)v[a] * w[(size_t)a * l->out + b] * u[b];
    net->sn_sigma[k] = (float)sigma;
    float inv = (float)(1.0 / sigma);
    for (size_t i = 0; i < (size_t)l->in * l->out; i++)
      eff[l->w + i] = w[i] * inv;
  }
}

void sm_ctgan_sn_backward(float *grad, const ctgan_net *net) {
  const float *value = net->params.value;
  for (int k = 0; k <= net->dis.n_hidden; k++) {
    const sm_linear *l = &net->dis.fc[k];
    const float *w = value + l->w, *u = value + net->sn_u[k], *v = value + net->sn_v[k];
    float *g = grad + l->w;
    size_t n = (size_t)l->in * l->out;
    double dot = 0.0, sigma = net->sn_sigma[k];
    for (size_t i = 0; i < n; i++)
      dot += (double)g[i] * w[i];
    float a1 = (float)(1.0 / sigma), a2 = (float)(dot / (sigma * sigma));
    for (int a = 0; a < l->in; a++)
      for (int b = 0; b < l->out; b++) {
        size_t i = (size_t)a * l->out + b;
        g[i] = g[i] * a1 - a2 * v[a] * u[b];
      }
  }
}
