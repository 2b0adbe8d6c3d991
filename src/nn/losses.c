/* Losses: each returns the sum over this rank's rows (in double) and writes its gradient with
 * respect to the inputs times `scale`. */
#include <math.h>

#include "synthmpi/nn.h"

/* 0.5 sum (x - t)^2; dx = (x - t) scale (dx may be NULL). */
double sm_mse_loss(float *dx, const float *x, const float *t, size_t n, float scale) {
  double loss = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)x[i] - t[i];
    loss += 0.5 * d * d;
    if (dx)
      dx[i] = (float)(d * scale);
  }
  return loss;
}

/* Per row: log sum exp(x) - x[target]; dx = (softmax(x) - onehot(target)) scale. Rows whose
 * target lies outside [0, width) (negative: unlabelled) add nothing and get a zero gradient.
 * The exponentials are float32 and made once (dx holds them between the two passes). */
SM_VECTOR_CLONES
double sm_cross_entropy_loss(float *dx, const float *x, const int32_t *target, int rows, int stride,
                             int start, int width, float scale) {
  double loss = 0;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * stride + start;
    float *dr = dx ? dx + (size_t)r * stride + start : NULL;
    int skip = target[r] < 0 || target[r] >= width;
    if (skip) {
      for (int j = 0; dr && j < width; j++)
        dr[j] = 0.0f;
      continue;
    }

    /* stable log-sum-exp, keeping exp(x - top) */
    float top = xr[0];
    for (int j = 1; j < width; j++)
      top = xr[j] > top ? xr[j] : top;
    double sum = 0;
    for (int j = 0; j < width; j++) {
      float e = expf(xr[j] - top);
      if (dr)
        dr[j] = e;
      sum += e;
    }
    loss += top + log(sum) - xr[target[r]];

    /* softmax minus the one-hot target */
    float inv = (float)(scale / sum);
    for (int j = 0; dr && j < width; j++)
      dr[j] = dr[j] * inv - (j == target[r] ? scale : 0.0f);
  }
  return loss;
}

/* A span whose largest logit lies in [SAFE_LOW, SAFE_HIGH] needs no shift by its maximum:
 * no exponential overflows (e^80 < 1e35), and the ones sm_expf flushes to zero (logits
 * below -86) are below e^-26 of the span's sum. */
#define SAFE_LOW -60.0f
#define SAFE_HIGH 80.0f

/* e[0 .. w) <- exp(x - max x) of one span; returns the maximum. */
SM_INLINE_CLONE float shifted_exps(float *e, const float *x, int w) {
  float top = x[0];
  for (int j = 1; j < w; j++)
    top = x[j] > top ? x[j] : top;
  for (int j = 0; j < w; j++)
    e[j] = sm_expf(x[j] - top);
  return top;
}

/* The sum of e[0 .. w) in double and the largest of x[0 .. w) into *top, each in four
 * interleaved chains so that no add waits on the one before. */
SM_INLINE_CLONE double sum_and_top(const float *e, const float *x, int w, float *top) {
  double s[4] = {0, 0, 0, 0};
  float t[4] = {x[0], x[0], x[0], x[0]};
  int j = 0;
  for (; j + 4 <= w; j += 4)
    for (int k = 0; k < 4; k++) {
      s[k] += e[j + k];
      t[k] = x[j + k] > t[k] ? x[j + k] : t[k];
    }
  for (; j < w; j++) {
    s[0] += e[j];
    t[0] = x[j] > t[0] ? x[j] : t[0];
  }
  *top = fmaxf(fmaxf(t[0], t[1]), fmaxf(t[2], t[3]));
  return (s[0] + s[1]) + (s[2] + s[3]);
}

/* Row r of sm_cross_entropy_spans, with e[0 .. stride) as workspace; returns its loss. */
SM_INLINE_CLONE double spans_row(float *dr, float *restrict e, const float *xr,
                                 const sm_ce_spans *sp, int r, int stride, float scale) {
  /* the exponentials over the whole row, unshifted */
  for (int c = 0; c < stride; c++)
    e[c] = sm_expf(xr[c]);

  /* per span: its sum (made again shifted by the maximum when a logit is not safe), the loss
   * terms as the log of a product of sums plus the rest, softmax minus the one-hot target */
  double prod = 1.0, rest = 0.0;
  for (int h = 0; h < sp->n; h++) {
    int s = sp->start[h], w = sp->width[h], t = sp->target[h * sp->target_stride + r];
    if (t < 0 || t >= w) {
      for (int j = 0; dr && j < w; j++)
        dr[s + j] = 0.0f;
      continue;
    }
    float top, shift = 0.0f;
    double sum = sum_and_top(e + s, xr + s, w, &top);
    if (top > SAFE_HIGH || top < SAFE_LOW) {
      shift = shifted_exps(e + s, xr + s, w);
      sum = 0;
      for (int j = 0; j < w; j++)
        sum += e[s + j];
    }
    prod *= sum;
    rest += shift - xr[s + t];
    if (prod > 1e200 || prod < 1e-200) { /* its log so far, before it over- or underflows */
      rest += log(prod);
      prod = 1.0;
    }
    float inv = (float)(scale / sum);
    for (int j = 0; dr && j < w; j++)
      dr[s + j] = e[s + j] * inv;
    if (dr)
      dr[s + t] -= scale;
  }
  return log(prod) + rest;
}

SM_VECTOR_CLONES
double sm_cross_entropy_spans(float *dx, float *work, const float *x, const sm_ce_spans *sp,
                              int rows, int stride, float scale) {
  double loss = 0;
  for (int r = 0; r < rows; r++)
    loss += spans_row(dx ? dx + (size_t)r * stride : NULL, work, x + (size_t)r * stride, sp, r,
                      stride, scale);
  return loss;
}

/* 0.5 sum (logvar + (t - mu)^2 exp(-logvar));
 * d/dmu = -(t - mu) exp(-logvar), d/dlogvar = 0.5 (1 - (t - mu)^2 exp(-logvar)). */
double sm_gaussian_nll_loss(float *dmu, float *dlogvar, const float *mu, const float *logvar,
                            const float *t, size_t n, float scale) {
  double loss = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)t[i] - mu[i], inv_var = expf(-logvar[i]);
    loss += 0.5 * (logvar[i] + d * d * inv_var);
    if (dmu)
      dmu[i] = (float)(-d * inv_var * scale);
    if (dlogvar)
      dlogvar[i] = (float)(0.5 * (1.0 - d * d * inv_var) * scale);
  }
  return loss;
}

/* Values per pass of the KL loss: the exponentials of a pass (library calls) come first, so
 * the arithmetic after them vectorises. */
#define KL_CHUNK 256

/* The sum of v[0 .. n) in eight interleaved partial sums (vectorised). */
static double sum_doubles(const double *v, size_t n) {
  double part[8] = {0}, sum = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++)
      part[k] += v[i + k];
  for (; i < n; i++)
    sum += v[i];
  for (int k = 0; k < 8; k++)
    sum += part[k];
  return sum;
}

/* -0.5 sum (1 + logvar - mu^2 - exp(logvar)); d/dmu = mu, d/dlogvar = 0.5 (exp(logvar) - 1). */
SM_VECTOR_CLONES
double sm_kl_normal_loss(float *dmu, float *dlogvar, const float *mu, const float *logvar, size_t n,
                         float scale) {
  float var[KL_CHUNK];
  double term[KL_CHUNK], loss = 0;
  for (size_t at = 0; at < n; at += KL_CHUNK) {
    size_t len = n - at < KL_CHUNK ? n - at : KL_CHUNK;
    const float *m = mu + at, *lv = logvar + at;
    for (size_t i = 0; i < len; i++)
      var[i] = expf(lv[i]);

    /* the loss terms and gradients */
    for (size_t i = 0; i < len; i++)
      term[i] = -0.5 * (1.0 + lv[i] - (double)m[i] * m[i] - var[i]);
    for (size_t i = 0; dmu && i < len; i++)
      dmu[at + i] = (float)((double)m[i] * scale);
    for (size_t i = 0; dlogvar && i < len; i++)
      dlogvar[at + i] = (float)(0.5 * ((double)var[i] - 1.0) * scale);
    loss += sum_doubles(term, len);
  }
  return loss;
}
