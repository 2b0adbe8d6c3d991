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

/* log sum exp of v[0 .. width), stable. */
static double log_sum_exp(const float *v, int width) {
  double top = v[0], sum = 0;
  for (int j = 1; j < width; j++)
    top = v[j] > top ? v[j] : top;
  for (int j = 0; j < width; j++)
    sum += exp(v[j] - top);
  return top + log(sum);
}

/* Per row: log sum exp(x) - x[target]; dx = (softmax(x) - onehot(target)) scale. Rows whose
 * target lies outside [0, width) (negative: unlabelled) add nothing and get a zero gradient. */
double sm_cross_entropy_loss(float *dx, const float *x, const int32_t *target, int rows, int stride,
                             int start, int width, float scale) {
  double loss = 0;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * stride + start;
    float *dr = dx ? dx + (size_t)r * stride + start : NULL;
    int skip = target[r] < 0 || target[r] >= width;
    double lse = skip ? 0 : log_sum_exp(xr, width);
    if (!skip)
      loss += lse - xr[target[r]];

    /* softmax minus the one-hot target */
    for (int j = 0; dr && j < width; j++) {
      double g = skip ? 0 : exp(xr[j] - lse) - (j == target[r]);
      dr[j] = (float)(g * scale);
    }
  }
  return loss;
}

/* 0.5 sum (logvar + (t - mu)^2 exp(-logvar));
 * d/dmu = -(t - mu) exp(-logvar), d/dlogvar = 0.5 (1 - (t - mu)^2 exp(-logvar)). */
double sm_gaussian_nll_loss(float *dmu, float *dlogvar, const float *mu, const float *logvar,
                            const float *t, size_t n, float scale) {
  double loss = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)t[i] - mu[i], inv_var = exp(-(double)logvar[i]);
    loss += 0.5 * (logvar[i] + d * d * inv_var);
    if (dmu)
      dmu[i] = (float)(-d * inv_var * scale);
    if (dlogvar)
      dlogvar[i] = (float)(0.5 * (1.0 - d * d * inv_var) * scale);
  }
  return loss;
}

/* -0.5 sum (1 + logvar - mu^2 - exp(logvar)); d/dmu = mu, d/dlogvar = 0.5 (exp(logvar) - 1). */
double sm_kl_normal_loss(float *dmu, float *dlogvar, const float *mu, const float *logvar, size_t n,
                         float scale) {
  double loss = 0;
  for (size_t i = 0; i < n; i++) {
    double m = mu[i], var = exp((double)logvar[i]);
    loss += -0.5 * (1.0 + logvar[i] - m * m - var);
    if (dmu)
      dmu[i] = (float)(m * scale);
    if (dlogvar)
      dlogvar[i] = (float)(0.5 * (var - 1.0) * scale);
  }
  return loss;
}
