/* TabDDPM arithmetic (Kotelnikov et al. 2023): the denoiser, the noise schedules, the
 * multinomial posterior in log space, and the training step.
 *
 * Per row: t uniform on [0, T); the numeric part x_t = sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps;
 * each block's class x_t ~ Cat(ab_t x_0 + (1 - ab_t) / K). The denoiser sees x_t (classes as
 * one-hots) and t; the target block, when the model is conditioned on one, holds x_0's class
 * undiffused. Loss per row = mean over numeric values of (eps_hat - eps)^2 plus the mean
 * over the other blocks of KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t, x0_hat)). Categorical
 * arithmetic is in float64 log space, so many binary columns cannot produce NaN.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/tabddpm.h"
#include "synthmpi/rng.h"

/* ---- schedule ----------------------------------------------------------------------- */

static double cosine_f(double t, int T) {
  double c = cos((t / T + 0.008) / 1.008 * M_PI / 2);
  return c * c;
}

int sm_tabddpm_schedule(sm_ctx *ctx, tabddpm_schedule_table *s, int T, tabddpm_schedule kind) {
  s->T = T;
  s->beta = sm_malloc(ctx, (size_t)T * sizeof(double));
  s->alpha_bar = sm_malloc(ctx, (size_t)T * sizeof(double));
  if (!s->beta || !s->alpha_bar)
    return SM_ERR;
  double scale = 1000.0 / T, prod = 1.0;
  for (int t = 0; t < T; t++) {
    double b;
    if (kind == TABDDPM_LINEAR)
      b = scale * 1e-4 + (T > 1 ? (scale * 0.02 - scale * 1e-4) * t / (T - 1) : 0.0);
    else
      b = 1.0 - cosine_f(t + 1, T) / cosine_f(t, T);
    s->beta[t] = b < 0.999 ? b : 0.999;
    prod *= 1.0 - s->beta[t];
    s->alpha_bar[t] = prod;
  }
  return SM_OK;
}

void sm_tabddpm_schedule_free(tabddpm_schedule_table *s) {
  if (!s)
    return;
  free(s->beta);
  free(s->alpha_bar);
  s->beta = s->alpha_bar = NULL;
}

/* ---- the denoiser ------------------------------------------------------------------- */

void sm_tabddpm_layout(tabddpm_net *net, const tabddpm_settings *s, int width) {
  memset(net, 0, sizeof *net);
  net->width = width;
  net->dim_t = s->dim_t;
  sm_linear_reserve(&net->proj, &net->params, width, s->dim_t);
  sm_linear_reserve(&net->time1, &net->params, s->dim_t, s->dim_t);
  sm_linear_reserve(&net->time2, &net->params, s->dim_t, s->dim_t);
  sm_mlp_reserve(&net->mlp, &net->params, s->dim_t, s->hidden, s->n_hidden, width);
  net->n_model = net->params.n;
}

void sm_tabddpm_init(tabddpm_net *net, uint64_t seed, int target_start, int target_k) {
  sm_linear_init_default(&net->proj, &net->params, seed);

  /* the class embedding: rows target_start .. + K of W (in, out), one stream per value */
  size_t first = net->proj.w + (size_t)target_start * net->dim_t;
  for (size_t i = 0; i < (size_t)target_k * net->dim_t; i++) {
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_NN_INIT, first + i);
    net->params.value[first + i] = (float)sm_rng_normal(&rng);
  }
  sm_linear_init_default(&net->time1, &net->params, seed);
  sm_linear_init_default(&net->time2, &net->params, seed);
  sm_mlp_init(&net->mlp, &net->params, seed);
}

void sm_tabddpm_work_free(tabddpm_work *w) {
  if (!w)
    return;
  free(w->block);
  free(w->t);
  memset(w, 0, sizeof *w);
}

int sm_tabddpm_work_alloc(sm_ctx *ctx, tabddpm_work *w, const tabddpm_net *net, int cap) {
  memset(w, 0, sizeof *w);
  w->cap = cap > 0 ? cap : 1;
  size_t c = (size_t)w->cap, width = (size_t)net->width, d = (size_t)net->dim_t;
  size_t cache = sm_mlp_cache_floats(&net->mlp, w->cap);
  size_t widest = (size_t)(net->mlp.widest > net->dim_t ? net->mlp.widest : net->dim_t);
  size_t n = c * (3 * width + 7 * d + 2 * widest) + cache;
  w->block = sm_malloc(ctx, n * sizeof(float));
  w->t = sm_malloc(ctx, c * sizeof(int32_t));
  if (!w->block || !w->t) {
    sm_tabddpm_work_free(w);
    return SM_ERR;
  }
  float *p = w->block;
  float **views[] = {&w->x,    &w->out, &w->dout, &w->emb, &w->tpre,
                     &w->tact, &w->th,  &w->h,    &w->dh,  &w->dt};
  size_t sizes[] = {width, width, width, d, d, d, d, d, d, d};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    *views[i] = p;
    p += c * sizes[i];
  }
  w->mlp_work = p;
  w->cache = p + 2 * c * widest;
  return SM_OK;
}

void sm_tabddpm_forward(const tabddpm_net *net, tabddpm_work *w, int rows) {
  size_t n = (size_t)rows * net->dim_t;
  sm_timestep_embedding(w->emb, w->t, rows, net->dim_t, 10000.0);
  sm_linear_forward(w->tpre, w->emb, &net->time1, &net->params, rows);
  sm_silu_forward(w->tact, w->tpre, n);
  sm_linear_forward(w->th, w->tact, &net->time2, &net->params, rows);
  sm_linear_forward(w->h, w->x, &net->proj, &net->params, rows);
  for (size_t i = 0; i < n; i++)
    w->h[i] += w->th[i];
  sm_mlp_forward(w->out, w->cache, w->h, &net->mlp, &net->params, rows);
}

void sm_tabddpm_backward(tabddpm_net *net, tabddpm_work *w, int rows) {
  sm_mlp_backward(w->dh, &net->params, w->mlp_work, w->dout, w->cache, w->h, &net->mlp, rows);
  sm_linear_backward(NULL, &net->params, w->dh, w->x, &net->proj, rows);
  sm_linear_backward(w->dt, &net->params, w->dh, w->tact, &net->time2, rows);
  sm_silu_backward(w->dt, w->dt, w->tpre, (size_t)rows * net->dim_t);
  sm_linear_backward(NULL, &net->params, w->dt, w->emb, &net->time1, rows);
}

/* ---- multinomial diffusion ---------------------------------------------------------- */

/* log(exp(a) + exp(b)) for a, b possibly -INFINITY. */
static double log_add_exp(double a, double b) {
  double hi = a > b ? a : b, lo = a > b ? b : a;
  if (hi == -INFINITY)
    return -INFINITY;
  return hi + log1p(exp(lo - hi));
}

/* out_k = w_k - logsumexp(w). */
static void log_normalise(double *out, const double *w, int K) {
  double hi = -INFINITY, sum = 0.0;
  for (int k = 0; k < K; k++)
    hi = w[k] > hi ? w[k] : hi;
  for (int k = 0; k < K; k++)
    sum += exp(w[k] - hi);
  double lse = hi + log(sum);
  for (int k = 0; k < K; k++)
    out[k] = w[k] - lse;
}

/* log(ab_s x0_k + (1 - ab_s) / K) from log x0_k. */
static double log_mix(double lx0, double ab_s, int K) {
  if (ab_s >= 1.0)
    return lx0;
  return log_add_exp(log(ab_s) + lx0, log1p(-ab_s) - log((double)K));
}

void sm_tabddpm_posterior(double *out, int K, int xt, const double *lx0, double ab_t, double ab_s) {
  double a = ab_t / ab_s;
  for (int k = 0; k < K; k++) {
    double from_t = log((k == xt ? a : 0.0) + (1.0 - a) / K);
    out[k] = from_t + log_mix(lx0[k], ab_s, K);
  }
  log_normalise(out, out, K);
}

/* The true posterior q (K) for a one-hot x_0: its log weights take at most four values
 * (x_0 or not, x_t or not), so four exponentials give its normaliser. Returns log q in lq. */
static void true_posterior(double *lq, int K, int x0, int xt, double l_same, double l_other,
                           double ab_s) {
  double c = (1.0 - ab_s) / K;
  double l_hit = ab_s >= 1.0 ? 0.0 : log(ab_s + c), l_miss = ab_s >= 1.0 ? -INFINITY : log(c);
  double hi = -INFINITY, sum = 0.0;
  for (int k = 0; k < K; k++) {
    lq[k] = (k == xt ? l_same : l_other) + (k == x0 ? l_hit : l_miss);
    hi = lq[k] > hi ? lq[k] : hi;
  }
  double v[4] = {l_same + l_hit, l_other + l_hit, l_same + l_miss, l_other + l_miss}, e[4];
  for (int i = 0; i < 4; i++)
    e[i] = exp(v[i] - hi);
  for (int k = 0; k < K; k++)
    sum += e[(k == x0 ? 0 : 2) + (k == xt ? 0 : 1)];
  for (int k = 0; k < K; k++)
    lq[k] -= hi + log(sum);
}

/* Arithmetic per class: the softmax, log(ab_s x0_hat + (1 - ab_s) / K) and the model's
 * normaliser take one exponential or logarithm each; x_t's factor and the true posterior
 * take a few per block. Everything in float64. */
double sm_tabddpm_multinomial_loss(float *dlogits, double *scratch, const float *logits, int K,
                                   int x0, int xt, double ab_t, double ab_s, float scale) {
  double *x0h = scratch, *r = scratch + K, *lp = scratch + 2 * K, *lq = scratch + 3 * K;

  /* x0_hat = softmax(logits); log(mix) and r_k = d log(mix_k) / d log x0_hat_k into lp, r */
  double hi = -INFINITY, sum = 0.0, c = ab_s >= 1.0 ? 0.0 : (1.0 - ab_s) / K;
  for (int k = 0; k < K; k++)
    hi = logits[k] > hi ? logits[k] : hi;
  for (int k = 0; k < K; k++)
    sum += x0h[k] = exp(logits[k] - hi);
  double lsum = log(sum);
  for (int k = 0; k < K; k++) {
    x0h[k] /= sum;
    double mix = ab_s * x0h[k] + c;
    lp[k] = ab_s >= 1.0 ? logits[k] - hi - lsum : log(mix);
    r[k] = ab_s >= 1.0 ? 1.0 : ab_s * x0h[k] / mix;
  }

  /* x_t's factor a [k = x_t] + (1 - a) / K, then the model's posterior p */
  double a = ab_t / ab_s, l_same = log(a + (1.0 - a) / K);
  double l_other = a < 1.0 ? log((1.0 - a) / K) : -INFINITY, top = -INFINITY, z = 0.0;
  for (int k = 0; k < K; k++) {
    lp[k] += k == xt ? l_same : l_other;
    top = lp[k] > top ? lp[k] : top;
  }
  for (int k = 0; k < K; k++)
    z += exp(lp[k] - top);
  double lz = top + log(z);

  /* KL(q || p) and its gradient by the logits: g_k = (p_k - q_k) r_k, then the softmax */
  true_posterior(lq, K, x0, xt, l_same, l_other, ab_s);
  double kl = 0.0, dot = 0.0;
  for (int k = 0; k < K; k++) {
    lp[k] -= lz;
    double q = exp(lq[k]), p = exp(lp[k]);
    if (q > 0)
      kl += q * (lq[k] - lp[k]);
    r[k] *= p - q;
    dot += r[k];
  }
  for (int k = 0; k < K; k++)
    dlogits[k] = scale * (float)(r[k] - x0h[k] * dot);
  return kl;
}

/* ---- training step ------------------------------------------------------------------ */

/* Row r's noising: t, eps, the classes of x_t, and the model input (one-hots for classes). */
static void noise_row(tabddpm_train *tr, int r, int64_t g, uint64_t seed) {
  const tabddpm_state *st = tr->st;
  const sm_flat *f = &st->flat;
  tabddpm_work *w = &tr->work;
  int width = f->width, T = st->set.timesteps;
  const float *x0 = tr->data + (size_t)(g - tr->row_offset) * width;
  float *x = w->x + (size_t)r * width;
  sm_rng rng;
  sm_rng_init(&rng, seed, SM_STREAM_NN_NOISE, (uint64_t)g);
  int t = (int)(sm_rng_u32(&rng) % (uint32_t)T);
  double ab = st->sched.alpha_bar[t];
  w->t[r] = t;

  /* Gaussian part */
  for (int j = 0; j < f->n_num; j++) {
    float e = (float)sm_rng_normal(&rng);
    tr->eps[(size_t)r * f->n_num + j] = e;
    x[j] = (float)(sqrt(ab) * x0[j] + sqrt(1.0 - ab) * e);
  }

  /* each block: x_t drawn from ab x_0 + (1 - ab) / K by inverse CDF; the target stays x_0 */
  memset(x + f->n_num, 0, (size_t)(width - f->n_num) * sizeof(float));
  for (int b = 0; b < f->n_blocks; b++) {
    int start = f->block_start[b], K = f->block_width[b], c0 = 0;
    for (int k = 1; k < K; k++)
      c0 = x0[start + k] > x0[start + c0] ? k : c0;
    double u = sm_rng_uniform(&rng), cum = 0.0;
    int ct = b == st->set.target_block ? c0 : K - 1;
    for (int k = 0; k < K && b != st->set.target_block; k++) {
      cum += (k == c0 ? ab : 0.0) + (1.0 - ab) / K;
      if (u < cum) {
        ct = k;
        break;
      }
    }
    tr->x0[(size_t)r * f->n_blocks + b] = c0;
    tr->xt[(size_t)r * f->n_blocks + b] = ct;
    x[start + ct] = 1.0f;
  }
}

/* Losses of row r after the forward; gradients into w->dout. */
static void row_loss(tabddpm_train *tr, int r, double *loss) {
  const tabddpm_state *st = tr->st;
  const sm_flat *f = &st->flat;
  tabddpm_work *w = &tr->work;
  size_t width = (size_t)f->width;
  const float *out = w->out + r * width;
  float *d = w->dout + r * width;
  int t = w->t[r];
  double gauss = 0.0, multi = 0.0;
  for (int j = 0; j < f->n_num; j++) {
    float e = out[j] - tr->eps[(size_t)r * f->n_num + j];
    gauss += (double)e * e;
    d[j] = 2.0f * e / (float)f->n_num;
  }
  double ab_t = st->sched.alpha_bar[t], ab_s = t > 0 ? st->sched.alpha_bar[t - 1] : 1.0;
  int n_diffused = f->n_blocks - (st->set.target_block >= 0 ? 1 : 0);
  float scale = n_diffused > 0 ? 1.0f / (float)n_diffused : 0.0f;
  for (int b = 0; b < f->n_blocks; b++) {
    int start = f->block_start[b], K = f->block_width[b];
    if (b == st->set.target_block) {
      memset(d + start, 0, (size_t)K * sizeof(float));
      continue;
    }
    multi += sm_tabddpm_multinomial_loss(d + start, tr->scratch, out + start, K,
                                         tr->x0[(size_t)r * f->n_blocks + b],
                                         tr->xt[(size_t)r * f->n_blocks + b], ab_t, ab_s, scale);
  }
  loss[0] += f->n_num > 0 ? gauss / f->n_num : 0.0;
  loss[1] += n_diffused > 0 ? multi / n_diffused : 0.0;
}

int sm_tabddpm_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global_rows,
                     int64_t epoch, double *loss) {
  tabddpm_train *tr = model;
  tabddpm_state *st = tr->st;
  (void)global_rows;

  /* the learning rate of this step (every rank takes it, with or without rows) */
  if (tr->adam) {
    double left = tr->total_steps > 0 ? 1.0 - (double)tr->adam->step / (double)tr->total_steps : 1;
    tr->adam->lr = st->set.lr * (st->set.lr_linear ? left : 1.0);
  }
  if (m == 0)
    return SM_OK;
  if (m > tr->work.cap)
    return sm_fail(ctx, SM_ERR, "tabddpm: %lld batch rows on one rank, room for %d", (long long)m,
                   tr->work.cap);
  uint64_t seed = sm_hash64(st->set.seed) ^ sm_hash64((uint64_t)epoch + 1);
  for (int r = 0; r < (int)m; r++)
    noise_row(tr, r, tr->row_offset + rows[r], seed);
  sm_tabddpm_forward(&st->net, &tr->work, (int)m);
  for (int r = 0; r < (int)m; r++)
    row_loss(tr, r, loss);
  sm_tabddpm_backward(&st->net, &tr->work, (int)m);
  return SM_OK;
}
