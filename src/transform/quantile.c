/* The quantile transform of one numeric column to a standard normal and back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthmpi/rng.h"
#include "transform/flat.h"

/* Levels are clipped to [LEVEL_CLIP, 1 - LEVEL_CLIP] before Phi^-1 (scikit-learn's bound). */
#define LEVEL_CLIP 1e-7

int sm_quantile_fit(sm_ctx *ctx, sm_quantile *qt, const double *value, const double *count,
                    int64_t n, int n_quantiles) {
  memset(qt, 0, sizeof *qt);
  double total = 0;
  for (int64_t k = 0; k < n; k++)
    total += count[k];
  if (n < 1 || total < 1)
    return SM_OK;
  if (n_quantiles < 2)
    n_quantiles = 2;
  qt->q = sm_malloc(ctx, (size_t)n_quantiles * sizeof(double));
  if (!qt->q)
    return SM_ERR;
  qt->n = n_quantiles;

  /* walk the sorted values once: point j covers positions [below, below + count[j]) */
  int64_t j = 0;
  double below = 0;
  for (int k = 0; k < n_quantiles; k++) {
    double pos = (double)k / (n_quantiles - 1) * (total - 1), lo_pos = floor(pos);
    while (j + 1 < n && below + count[j] <= lo_pos) {
      below += count[j];
      j++;
    }
    /* the value at floor(pos) is value[j]; the next position may be the next point */
    double a = value[j], b = a;
    if (lo_pos + 1 >= below + count[j] && j + 1 < n)
      b = value[j + 1];
    qt->q[k] = a + (pos - lo_pos) * (b - a);
  }
  return SM_OK;
}

void sm_quantile_free(sm_quantile *qt) {
  if (!qt)
    return;
  free(qt->q);
  memset(qt, 0, sizeof *qt);
}

double sm_quantile_level(const sm_quantile *qt, double x) {
  int n = qt->n;
  if (n < 2)
    return 0.5;
  if (x < qt->q[0])
    return 0.0;
  if (x > qt->q[n - 1])
    return 1.0;

  /* a: the first quantile >= x; b: the last quantile <= x */
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (qt->q[mid] >= x)
      hi = mid;
    else
      lo = mid + 1;
  }
  int a = lo;
  if (qt->q[a] == x) {
    lo = a;
    hi = n - 1;
    while (lo < hi) {
      int mid = lo + (hi - lo + 1) / 2;
      if (qt->q[mid] <= x)
        lo = mid;
      else
        hi = mid - 1;
    }
    return 0.5 * (a + lo) / (n - 1);
  }

  /* strictly between q[a - 1] and q[a] */
  double t = (x - qt->q[a - 1]) / (qt->q[a] - qt->q[a - 1]);
  return (a - 1 + t) / (n - 1);
}

double sm_quantile_forward(const sm_quantile *qt, double x) {
  double u = sm_quantile_level(qt, x);
  u = u < LEVEL_CLIP ? LEVEL_CLIP : u > 1 - LEVEL_CLIP ? 1 - LEVEL_CLIP : u;
  return sm_norm_quantile(u);
}

double sm_quantile_inverse(const sm_quantile *qt, double z) {
  int n = qt->n;
  if (n < 2)
    return n == 1 ? qt->q[0] : 0.0;
  double pos = sm_norm_cdf(z) * (n - 1);
  if (!(pos > 0))
    return qt->q[0];
  if (pos >= n - 1)
    return qt->q[n - 1];
  int k = (int)pos;
  return qt->q[k] + (pos - k) * (qt->q[k + 1] - qt->q[k]);
}
