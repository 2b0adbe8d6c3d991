/* zero-concentrated DP: rho of the Gaussian and exponential mechanisms, and the tight
 * conversion between rho and (epsilon, delta) of Canonne, Kamath, Steinke 2020:
 *   delta = inf_{alpha > 1} exp((alpha - 1)(alpha rho - eps)) / (alpha - 1)
 *                           x (1 - 1/alpha)^alpha.
 * Any alpha gives a valid delta, so an imprecise search errs on the safe side. */
#include <math.h>

#include "privacy/privacy_internal.h"

/* bisections run until the bracket stops shrinking (at most this many halvings) */
#define BISECT_MAX 1000

double sm_zcdp_gaussian(double sensitivity, double sigma) {
  return sensitivity * sensitivity / (2.0 * sigma * sigma);
}

double sm_zcdp_exponential(double epsilon) {
  return epsilon * epsilon / 8.0;
}

/* delta for rho and eps (both >= 0): the optimal alpha solves
 * (2 alpha - 1) rho - eps + log(1 - 1/alpha) = 0, found by bisection on
 * [1.01, (eps + 1) / (2 rho) + 2] (alpha near 1 is numerically unstable and never
 * optimal in a useful regime). */
static double zcdp_delta_value(double rho, double eps) {
  if (rho == 0.0)
    return 0.0;

  /* bisect on the sign of the derivative */
  double lo = 1.01, hi = (eps + 1.0) / (2.0 * rho) + 2.0, alpha = lo;
  for (int it = 0; it < BISECT_MAX; it++) {
    alpha = 0.5 * (lo + hi);
    if (alpha == lo || alpha == hi)
      break;
    double derivative = (2.0 * alpha - 1.0) * rho - eps + log1p(-1.0 / alpha);
    if (derivative < 0.0)
      lo = alpha;
    else
      hi = alpha;
  }

  /* delta at that alpha, capped at 1 */
  double delta =
      exp((alpha - 1.0) * (alpha * rho - eps) + alpha * log1p(-1.0 / alpha)) / (alpha - 1.0);
  return fmin(delta, 1.0);
}

/* Smallest eps with delta(rho, eps) <= delta, by bisection from the standard bound. */
static double zcdp_epsilon_value(double rho, double delta) {
  if (rho == 0.0)
    return 0.0;
  double lo = 0.0, hi = rho + 2.0 * sqrt(rho * log(1.0 / delta));
  for (int it = 0; it < BISECT_MAX; it++) {
    double eps = 0.5 * (lo + hi);
    if (eps == lo || eps == hi)
      break;
    if (zcdp_delta_value(rho, eps) <= delta)
      hi = eps;
    else
      lo = eps;
  }
  return hi;
}

/* Largest rho with delta(rho, eps) <= delta, by bisection on [0, eps + 1]. */
static double zcdp_rho_value(double eps, double delta) {
  double lo = 0.0, hi = eps + 1.0;
  for (int it = 0; it < BISECT_MAX; it++) {
    double rho = 0.5 * (lo + hi);
    if (rho == lo || rho == hi)
      break;
    if (zcdp_delta_value(rho, eps) <= delta)
      lo = rho;
    else
      hi = rho;
  }
  return lo;
}

static int check_nonnegative(sm_ctx *ctx, const char *name, double v) {
  if (!(v >= 0.0 && isfinite(v)))
    return sm_fail(ctx, SM_EINPUT, "%s %g: must be finite and non-negative", name, v);
  return SM_OK;
}

int sm_zcdp_delta(sm_ctx *ctx, double rho, double epsilon, double *delta) {
  SM_TRY(check_nonnegative(ctx, "rho", rho));
  SM_TRY(check_nonnegative(ctx, "epsilon", epsilon));
  *delta = zcdp_delta_value(rho, epsilon);
  return SM_OK;
}

int sm_zcdp_epsilon(sm_ctx *ctx, double rho, double delta, double *epsilon) {
  SM_TRY(check_nonnegative(ctx, "rho", rho));
  SM_TRY(sm_delta_validate(ctx, delta));
  *epsilon = zcdp_epsilon_value(rho, delta);
  return SM_OK;
}

int sm_zcdp_rho(sm_ctx *ctx, double epsilon, double delta, double *rho) {
  SM_TRY(check_nonnegative(ctx, "epsilon", epsilon));
  SM_TRY(sm_delta_validate(ctx, delta));
  *rho = zcdp_rho_value(epsilon, delta);
  return SM_OK;
}
