/* Choosing the noise multiplier for a target epsilon, and budget checks. */
#include <math.h>

#include "privacy/privacy_internal.h"

int sm_dp_sgd_epsilon(sm_ctx *ctx, sm_accountant accountant, const sm_dp_sgd *mech, double delta,
                      sm_dp_epsilon *out) {
  if (accountant == SM_ACCOUNTANT_PRV)
    return sm_prv_epsilon(ctx, mech, delta, SM_PRV_EPS_ERROR, out);
  return sm_rdp_epsilon(ctx, mech, delta, out);
}

/* Guaranteed epsilon of the mechanism with noise sigma. */
static int bound_at(sm_ctx *ctx, sm_accountant accountant, sm_dp_sgd mech, double sigma,
                    double delta, double *eps) {
  sm_dp_epsilon spent;
  mech.noise_multiplier = sigma;
  SM_TRY(sm_dp_sgd_epsilon(ctx, accountant, &mech, delta, &spent));
  *eps = spent.bound;
  return SM_OK;
}

/* Double the upper end from 10 until its epsilon meets the target, then bisect
 * [0, upper] until the epsilon at the upper end is within SM_NOISE_EPS_TOLERANCE below
 * the target. The upper end always meets the target, so it is what is returned. */
int sm_noise_for_epsilon(sm_ctx *ctx, sm_accountant accountant, double target_epsilon, double delta,
                         double sample_rate, double epochs, double *sigma) {
  if (!(target_epsilon > 0.0 && isfinite(target_epsilon)))
    return sm_fail(ctx, SM_EINPUT, "target epsilon %g: must be positive", target_epsilon);
  if (!(epochs > 0.0 && isfinite(epochs)))
    return sm_fail(ctx, SM_EINPUT, "epochs %g: must be positive", epochs);
  sm_dp_sgd mech = {sample_rate, 1.0, 0};
  if (sample_rate > 0.0 && sample_rate <= 1.0)
    mech.steps = (int64_t)(epochs / sample_rate);
  SM_TRY(sm_dp_sgd_validate(ctx, &mech));
  SM_TRY(sm_delta_validate(ctx, delta));

  /* an upper end that meets the target */
  double low = 0.0, high = 10.0, eps_high = INFINITY;
  while (eps_high > target_epsilon) {
    high *= 2.0;
    if (high > SM_NOISE_MAX_SIGMA)
      return sm_fail(ctx, SM_EINPUT,
                     "target epsilon %g at delta %g cannot be met with noise multiplier "
                     "up to %g",
                     target_epsilon, delta, SM_NOISE_MAX_SIGMA);
    SM_TRY(bound_at(ctx, accountant, mech, high, delta, &eps_high));
  }

  /* bisect until the upper end is close enough below the target */
  while (target_epsilon - eps_high > SM_NOISE_EPS_TOLERANCE) {
    double mid = 0.5 * (low + high), eps = 0.0;
    SM_TRY(bound_at(ctx, accountant, mech, mid, delta, &eps));
    if (eps < target_epsilon) {
      high = mid;
      eps_high = eps;
    } else {
      low = mid;
    }
  }
  *sigma = high;
  return SM_OK;
}

int sm_dp_budget_check(sm_ctx *ctx, const sm_dp_epsilon *spent, double delta, double budget) {
  if (spent->bound > budget)
    return sm_fail(ctx, SM_EBUDGET,
                   "privacy budget exceeded: epsilon %.4g (guaranteed bound) at delta %g is "
                   "over the budget %.4g",
                   spent->bound, delta, budget);
  return SM_OK;
}
