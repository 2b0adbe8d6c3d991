/* RDP accountant for the Poisson-subsampled Gaussian mechanism.
 *
 * Per-step RDP at order alpha is log(A_alpha) / (alpha - 1) with
 *   A_alpha = E_{z ~ N(0, sigma^2)} [((1 - q) + q exp((2z - 1) / (2 sigma^2)))^alpha]
 * (Mironov, Talwar, Zhang 2019, section 3.3). Integer orders use the finite binomial
 * expansion; fractional orders the two-sided series split at z0 with erfc tails. All
 * sums are kept in log space. */
#include <math.h>

#include "privacy/privacy_internal.h"

/* A signed number held as sign and log of its magnitude (sign 0 means zero). */
typedef struct log_signed {
  int sign;
  double log_abs;
} log_signed;

/* log(exp(a) + exp(b)) without overflow; -inf stands for zero. */
static double log_add(double a, double b) {
  double hi = a > b ? a : b, lo = a > b ? b : a;
  if (lo == -INFINITY)
    return hi;
  return hi + log1p(exp(lo - hi));
}

/* acc += sign * exp(log_term), keeping the sign of the running sum. */
static void log_signed_add(log_signed *acc, int sign, double log_term) {
  if (log_term == -INFINITY || sign == 0)
    return;
  if (acc->sign == 0) {
    acc->sign = sign;
    acc->log_abs = log_term;
    return;
  }
  if (acc->sign == sign) {
    acc->log_abs = log_add(acc->log_abs, log_term);
    return;
  }

  /* opposite signs: the larger magnitude keeps its sign */
  double hi = fmax(acc->log_abs, log_term), lo = fmin(acc->log_abs, log_term);
  int hi_sign = acc->log_abs >= log_term ? acc->sign : sign;
  if (hi == lo) {
    acc->sign = 0;
    acc->log_abs = -INFINITY;
    return;
  }
  acc->sign = hi_sign;
  acc->log_abs = hi + log(-expm1(lo - hi));
}

/* log(erfc(x)), accurate where erfc(x) underflows (asymptotic series for large x). */
static double log_erfc(double x) {
  if (x < 20.0)
    return log(erfc(x));

  /* erfc(x) = exp(-x^2) / (x sqrt(pi)) * (1 + sum_n (-1)^n (2n-1)!! / (2x^2)^n) */
  double inv = 1.0 / (2.0 * x * x), term = 1.0, series = 0.0;
  for (int n = 1; n <= 8; n++) {
    term *= -(2.0 * n - 1.0) * inv;
    series += term;
  }
  return -x * x - log(x) - 0.5 * log(M_PI) + log1p(series);
}

/* log |binom(alpha, i)| for real alpha > 0 and integer i >= 0. */
static double log_abs_binom(double alpha, double i) {
  return lgamma(alpha + 1.0) - lgamma(i + 1.0) - lgamma(alpha - i + 1.0);
}

/* Sign of binom(alpha, i) for non-integer alpha > 0: the factors alpha - k with
 * k >= ceil(alpha) are negative. */
static int binom_sign(double alpha, int i) {
  int negative = i - (int)ceil(alpha);
  return (negative > 0 && negative % 2 == 1) ? -1 : 1;
}

/* log(A_alpha) for integer alpha >= 2: sum_i binom(alpha, i) q^i (1-q)^(alpha-i)
 * exp((i^2 - i) / (2 sigma^2)). */
static double log_a_integer(double q, double sigma, int alpha) {
  double log_a = -INFINITY;
  for (int i = 0; i <= alpha; i++) {
    double log_coef = log_abs_binom(alpha, i) + i * log(q) + (alpha - i) * log(1.0 - q);
    log_a = log_add(log_a, log_coef + (double)(i * i - i) / (2.0 * sigma * sigma));
  }
  return log_a;
}

/* log(A_alpha) for fractional alpha: the two series over (-inf, z0] and [z0, inf),
 * summed with signs, stopped once both new terms fall below exp(-30). */
static double log_a_fractional(double q, double sigma, double alpha) {
  log_signed a0 = {0, -INFINITY}, a1 = {0, -INFINITY};
  double z0 = sigma * sigma * log(1.0 / q - 1.0) + 0.5;
  double s2 = 2.0 * sigma * sigma, root2_sigma = sqrt(2.0) * sigma;

  for (int i = 0;; i++) {
    /* the i-th term of each series */
    double j = alpha - i, log_coef = log_abs_binom(alpha, i);
    double log_t0 = log_coef + i * log(q) + j * log(1.0 - q);
    double log_t1 = log_coef + j * log(q) + i * log(1.0 - q);
    double log_e0 = log(0.5) + log_erfc((i - z0) / root2_sigma);
    double log_e1 = log(0.5) + log_erfc((z0 - j) / root2_sigma);
    double log_s0 = log_t0 + ((double)i * i - i) / s2 + log_e0;
    double log_s1 = log_t1 + (j * j - j) / s2 + log_e1;

    /* add with the coefficient's sign; stop when both are negligible */
    int sign = binom_sign(alpha, i);
    log_signed_add(&a0, sign, log_s0);
    log_signed_add(&a1, sign, log_s1);
    if (fmax(log_s0, log_s1) < -30.0)
      break;
  }

  log_signed sum = a0;
  log_signed_add(&sum, a1.sign, a1.log_abs);
  return sum.sign > 0 ? sum.log_abs : -INFINITY;
}

double sm_rdp_step_value(double q, double sigma, double alpha) {
  if (q == 1.0)
    return alpha / (2.0 * sigma * sigma);
  if (isinf(alpha))
    return INFINITY;
  double log_a = alpha == floor(alpha) ? log_a_integer(q, sigma, (int)alpha)
                                       : log_a_fractional(q, sigma, alpha);
  return log_a / (alpha - 1.0);
}

void sm_rdp_default_orders(double *orders) {
  int n = 0;
  for (int x = 1; x < 100; x++)
    orders[n++] = 1.0 + x / 10.0;
  for (int a = 12; a < 64; a++)
    orders[n++] = a;
}

/* Minimum over the default orders of the conversion to epsilon; classic selects
 * T rdp - log(delta) / (alpha - 1), otherwise Balle et al.'s bound. */
static double rdp_to_epsilon(const sm_dp_sgd *mech, double delta, int classic, double *order) {
  double orders[SM_RDP_N_ORDERS];
  sm_rdp_default_orders(orders);

  double best = INFINITY, best_order = NAN;
  for (int k = 0; k < SM_RDP_N_ORDERS; k++) {
    double a = orders[k];
    double rdp = sm_rdp_step_value(mech->sample_rate, mech->noise_multiplier, a);
    double eps = classic ? rdp * (double)mech->steps - log(delta) / (a - 1.0)
                         : rdp * (double)mech->steps - (log(delta) + log(a)) / (a - 1.0) +
                               log((a - 1.0) / a);
    if (eps < best) {
      best = eps;
      best_order = a;
    }
  }
  if (order)
    *order = best_order;
  return best;
}

double sm_rdp_epsilon_value(const sm_dp_sgd *mech, double delta, double *order) {
  return rdp_to_epsilon(mech, delta, 0, order);
}

int sm_dp_sgd_validate(sm_ctx *ctx, const sm_dp_sgd *mech) {
  if (!(mech->sample_rate > 0.0 && mech->sample_rate <= 1.0))
    return sm_fail(ctx, SM_EINPUT, "sample rate %g: must be in (0, 1]", mech->sample_rate);
  if (!(mech->noise_multiplier > 0.0 && isfinite(mech->noise_multiplier)))
    return sm_fail(ctx, SM_EINPUT, "noise multiplier %g: must be positive and finite",
                   mech->noise_multiplier);
  if (mech->steps < 1)
    return sm_fail(ctx, SM_EINPUT, "steps %lld: must be at least 1", (long long)mech->steps);
  return SM_OK;
}

int sm_delta_validate(sm_ctx *ctx, double delta) {
  if (!(delta > 0.0 && delta < 1.0))
    return sm_fail(ctx, SM_EINPUT, "delta %g: must be in (0, 1)", delta);
  return SM_OK;
}

int sm_rdp_step(sm_ctx *ctx, double sample_rate, double noise_multiplier, double alpha,
                double *rdp) {
  sm_dp_sgd mech = {sample_rate, noise_multiplier, 1};
  SM_TRY(sm_dp_sgd_validate(ctx, &mech));
  if (!(alpha > 1.0))
    return sm_fail(ctx, SM_EINPUT, "RDP order %g: must be greater than 1", alpha);
  *rdp = sm_rdp_step_value(sample_rate, noise_multiplier, alpha);
  return SM_OK;
}

/* Fill out from one conversion: for RDP the bound, estimate and lower bound agree. */
static int rdp_result(sm_ctx *ctx, const sm_dp_sgd *mech, double delta, int classic,
                      sm_dp_epsilon *out) {
  SM_TRY(sm_dp_sgd_validate(ctx, mech));
  SM_TRY(sm_delta_validate(ctx, delta));
  double order = NAN;
  double eps = rdp_to_epsilon(mech, delta, classic, &order);
  out->bound = out->estimate = out->lower = eps;
  out->order = order;
  return SM_OK;
}

int sm_rdp_epsilon(sm_ctx *ctx, const sm_dp_sgd *mech, double delta, sm_dp_epsilon *out) {
  return rdp_result(ctx, mech, delta, 0, out);
}

int sm_rdp_epsilon_classic(sm_ctx *ctx, const sm_dp_sgd *mech, double delta, sm_dp_epsilon *out) {
  return rdp_result(ctx, mech, delta, 1, out);
}
