/* RealNVP arithmetic: affine couplings forward and inverse, the exact log-likelihood, its
 * gradient, dequantisation and the training step.
 *
 * Coupling l with mask m (m_j = 1 when j + l is even: kept), input h, output y:
 *   [a, t] = MLP(m * h),  s = tanh(a),
 *   y_j = h_j                     (m_j = 1)
 *   y_j = h_j exp(s_j) + t_j      (m_j = 0),   log |det| = sum over m_j = 0 of s_j.
 * The NLL of a row is 0.5 |z|^2 + (D / 2) log 2 pi - sum of the couplings' log |det|.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/realnvp.h"
#include "synthmpi/rng.h"

static int kept(int j, int l) {
  return (j + l) % 2 == 0;
}

void sm_realnvp_layout(realnvp_net *net, const realnvp_settings *s, int width) {
  memset(net, 0, sizeof *net);
  net->width = width;
  net->couplings = s->couplings;
  for (int l = 0; l < s->couplings; l++)
    sm_mlp_reserve(&net->mlp[l], &net->params, width, s->hidden, s->n_hidden, 2 * width);
  net->n_model = net->params.n;
}

void sm_realnvp_init(realnvp_net *net, uint64_t seed) {
  for (int l = 0; l < net->couplings; l++) {
    sm_mlp_init(&net->mlp[l], &net->params, seed);
    const sm_linear *last = &net->mlp[l].layer[net->mlp[l].n_layers - 1];
    memset(net->params.value + last->w, 0, (size_t)last->in * last->out * sizeof(float));
    memset(net->params.value + last->b, 0, (size_t)last->out * sizeof(float));
  }
}

void sm_realnvp_work_free(realnvp_work *w) {
  if (!w)
    return;
  free(w->block);
  free(w->logdet);
  memset(w, 0, sizeof *w);
}

/* Lay the views over block (NULL: only count); returns the floats needed. */
static size_t carve(realnvp_work *w, const realnvp_net *net, float *block) {
  size_t cap = (size_t)w->cap, width = (size_t)net->width, used = 0;
#define VIEW(ptr, n)                                                                               \
  do {                                                                                             \
    if (block)                                                                                     \
      (ptr) = block + used;                                                                        \
    used += (n);                                                                                   \
  } while (0)
  for (int l = 0; l <= net->couplings; l++)
    VIEW(w->h[l], cap * width);
  for (int l = 0; l < net->couplings; l++) {
    VIEW(w->xm[l], cap * width);
    VIEW(w->cache[l], sm_mlp_cache_floats(&net->mlp[l], w->cap));
    VIEW(w->st[l], 2 * cap * width);
  }
  VIEW(w->g, cap * width);
  VIEW(w->dst, 2 * cap * width);
  VIEW(w->dxm, cap * width);
  VIEW(w->mlp_work, 2 * cap * (size_t)(net->couplings > 0 ? net->mlp[0].widest : 1));
#undef VIEW
  return used;
}

int sm_realnvp_work_alloc(sm_ctx *ctx, realnvp_work *w, const realnvp_net *net, int cap) {
  memset(w, 0, sizeof *w);
  w->cap = cap > 0 ? cap : 1;
  w->block = sm_malloc(ctx, carve(w, net, NULL) * sizeof(float));
  w->logdet = sm_malloc(ctx, (size_t)w->cap * sizeof(double));
  if (!w->block || !w->logdet) {
    sm_realnvp_work_free(w);
    return SM_ERR;
  }
  carve(w, net, w->block);
  return SM_OK;
}

/* The kept part of h, and the MLP's s (through tanh) and t for it. */
static void coupling_nets(const realnvp_net *net, realnvp_work *w, int l, const float *h,
                          int rows) {
  int width = net->width;
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < width; j++)
      w->xm[l][(size_t)r * width + j] = kept(j, l) ? h[(size_t)r * width + j] : 0.0f;
  sm_mlp_forward(w->st[l], w->cache[l], w->xm[l], &net->mlp[l], &net->params, rows);
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < width; j++) {
      float *s = w->st[l] + (size_t)r * 2 * width + j;
      *s = tanhf(*s);
    }
}

void sm_realnvp_forward(const realnvp_net *net, realnvp_work *w, const float *x, int rows) {
  int width = net->width;
  memcpy(w->h[0], x, (size_t)rows * width * sizeof(float));
  for (int r = 0; r < rows; r++)
    w->logdet[r] = 0.0;
  for (int l = 0; l < net->couplings; l++) {
    coupling_nets(net, w, l, w->h[l], rows);
    for (int r = 0; r < rows; r++) {
      const float *h = w->h[l] + (size_t)r * width, *st = w->st[l] + (size_t)r * 2 * width;
      float *y = w->h[l + 1] + (size_t)r * width;
      double ld = 0.0;
      for (int j = 0; j < width; j++) {
        if (kept(j, l)) {
          y[j] = h[j];
          continue;
        }
        y[j] = h[j] * expf(st[j]) + st[width + j];
        ld += st[j];
      }
      w->logdet[r] += ld;
    }
  }
}

double sm_realnvp_nll(const realnvp_net *net, const realnvp_work *w, int rows) {
  int width = net->width;
  const float *z = w->h[net->couplings];
  double sum = 0.0, c = 0.5 * width * log(2.0 * M_PI);
  for (int r = 0; r < rows; r++) {
    double q = 0.0;
    for (int j = 0; j < width; j++)
      q += (double)z[(size_t)r * width + j] * z[(size_t)r * width + j];
    sum += 0.5 * q + c - w->logdet[r];
  }
  return sum;
}

/* Coupling l's backward: g holds dNLL/dy on entry and dNLL/dh on return. */
static void coupling_backward(realnvp_net *net, realnvp_work *w, int l, int rows) {
  int width = net->width;
  for (int r = 0; r < rows; r++) {
    const float *h = w->h[l] + (size_t)r * width, *st = w->st[l] + (size_t)r * 2 * width;
    float *g = w->g + (size_t)r * width, *d = w->dst + (size_t)r * 2 * width;
    for (int j = 0; j < width; j++) {
      if (kept(j, l)) {
        d[j] = d[width + j] = 0.0f;
        continue;
      }
      float e = expf(st[j]), ds = g[j] * h[j] * e - 1.0f; /* -1: the log-determinant */
      d[j] = ds * (1.0f - st[j] * st[j]);
      d[width + j] = g[j];
      g[j] *= e;
    }
  }

  /* through the MLP; its input is the kept part only */
  sm_mlp_backward(w->dxm, &net->params, w->mlp_work, w->dst, w->cache[l], w->xm[l], &net->mlp[l],
                  rows);
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < width; j++)
      if (kept(j, l))
        w->g[(size_t)r * width + j] += w->dxm[(size_t)r * width + j];
}

void sm_realnvp_backward(realnvp_net *net, realnvp_work *w, int rows) {
  /* dNLL/dz = z */
  memcpy(w->g, w->h[net->couplings], (size_t)rows * net->width * sizeof(float));
  for (int l = net->couplings - 1; l >= 0; l--)
    coupling_backward(net, w, l, rows);
}

void sm_realnvp_inverse(const realnvp_net *net, realnvp_work *w, const float *z, int rows,
                        float *x) {
  int width = net->width;
  float *y = w->g;
  memcpy(y, z, (size_t)rows * width * sizeof(float));
  for (int l = net->couplings - 1; l >= 0; l--) {
    /* the kept part of the input equals that of the output */
    coupling_nets(net, w, l, y, rows);
    for (int r = 0; r < rows; r++) {
      float *v = y + (size_t)r * width;
      const float *st = w->st[l] + (size_t)r * 2 * width;
      for (int j = 0; j < width; j++)
        if (!kept(j, l))
          v[j] = (v[j] - st[width + j]) * expf(-st[j]);
    }
  }
  memcpy(x, y, (size_t)rows * width * sizeof(float));
}

void sm_realnvp_dequantise(const sm_flat *f, float *x, int rows, uint64_t seed, uint32_t purpose,
                           int64_t row0) {
  int width = f->width;
  for (int r = 0; r < rows; r++) {
    sm_rng rng;
    sm_rng_init(&rng, seed, purpose, (uint64_t)(row0 + r));
    float *row = x + (size_t)r * width;
    for (int j = 0; j < f->n_cols; j++) {
      const sm_flat_column *c = &f->cols[j];
      if (c->numeric && c->type == SM_COL_INTEGER)
        row[c->value] += (float)((sm_rng_uniform(&rng) - 0.5) / c->std);
    }
    for (int j = f->n_num; j < width; j++)
      row[j] += (float)(sm_rng_uniform(&rng) - 0.5);
  }
}

int sm_realnvp_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global_rows,
                     int64_t epoch, double *loss) {
  realnvp_train *tr = model;
  realnvp_state *st = tr->st;
  int width = st->net.width;
  (void)global_rows;
  if (m == 0)
    return SM_OK;
  if (m > tr->work.cap)
    return sm_fail(ctx, SM_ERR, "realnvp: %lld batch rows on one rank, room for %d", (long long)m,
                   tr->work.cap);

  /* the batch, each row dequantised by its own stream for this epoch */
  uint64_t noise_seed = sm_hash64(st->set.seed) ^ sm_hash64((uint64_t)epoch + 1);
  for (int64_t r = 0; r < m; r++) {
    float *x = tr->x + (size_t)r * width;
    memcpy(x, tr->data + (size_t)rows[r] * width, (size_t)width * sizeof(float));
    sm_realnvp_dequantise(&st->flat, x, 1, noise_seed, SM_STREAM_NN_NOISE,
                          tr->row_offset + rows[r]);
  }

  /* exact NLL and its gradient */
  sm_realnvp_forward(&st->net, &tr->work, tr->x, (int)m);
  loss[0] += sm_realnvp_nll(&st->net, &tr->work, (int)m);
  sm_realnvp_backward(&st->net, &tr->work, (int)m);
  return SM_OK;
}
