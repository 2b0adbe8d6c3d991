/* Differential-privacy accounting: RDP and PRV accountants for DP-SGD (the
 * Poisson-subsampled Gaussian mechanism), zCDP for Gaussian and exponential mechanisms,
 * and the search for the noise multiplier that meets a target epsilon.
 *
 * Everything here is local arithmetic in float64: no MPI calls, the same result on every
 * rank for the same arguments. Functions that can fail take the context, return an
 * sm_status and leave a message (SM_EINPUT for arguments out of range).
 *
 * Budgets: a budget is always checked against a guaranteed epsilon. The RDP accountant's
 * epsilon is itself an upper bound; the PRV accountant's point estimate is not, so its
 * upper bound (estimate widened by the discretisation errors) is the one enforced
 * (sm_dp_budget_check uses sm_dp_epsilon.bound). */
#ifndef SYNTHMPI_PRIVACY_H
#define SYNTHMPI_PRIVACY_H

#include <stdint.h>

#include "synthmpi/core.h"

/* RDP orders: 1.1, 1.2, ..., 10.9, then 12, 13, ..., 63 (11 is not in the list). */
#define SM_RDP_N_ORDERS 151

/* PRV defaults: allowed error in epsilon, and delta error as a fraction of delta. */
#define SM_PRV_EPS_ERROR 0.01
#define SM_PRV_DELTA_ERROR_FRACTION 1e-3

/* Noise search: how far below the target epsilon may end (absolute), largest sigma. */
#define SM_NOISE_EPS_TOLERANCE 0.01
#define SM_NOISE_MAX_SIGMA 1e6

typedef enum sm_accountant { SM_ACCOUNTANT_RDP = 0, SM_ACCOUNTANT_PRV = 1 } sm_accountant;

/* DP-SGD: each of `steps` steps samples every row independently with probability
 * sample_rate and adds Gaussian noise of std noise_multiplier x clipping norm. */
typedef struct sm_dp_sgd {
  double sample_rate;      /* q in (0, 1] */
  double noise_multiplier; /* sigma > 0 */
  int64_t steps;           /* T >= 1 */
} sm_dp_sgd;

/* Epsilon spent at a given delta. */
typedef struct sm_dp_epsilon {
  double bound;    /* guaranteed epsilon (RDP: its value; PRV: the upper bound) */
  double estimate; /* RDP: same as bound; PRV: the point estimate */
  double lower;    /* RDP: same as bound; PRV: the lower bound */
  double order;    /* RDP: the order that gave the minimum; PRV: 0 */
} sm_dp_epsilon;

/* The default order list, written into orders[SM_RDP_N_ORDERS]. */
void sm_rdp_default_orders(double *orders);

/* RDP of one step of the subsampled Gaussian mechanism at order alpha > 1. */
int sm_rdp_step(sm_ctx *ctx, double sample_rate, double noise_multiplier, double alpha,
                double *rdp);

/* Epsilon for T composed steps at delta over the default orders, by the conversion of
 * Balle et al. 2020; out->order is the best order. */
int sm_rdp_epsilon(sm_ctx *ctx, const sm_dp_sgd *mech, double delta, sm_dp_epsilon *out);

/* The same with the classic conversion eps = T rdp - log(delta) / (alpha - 1). */
int sm_rdp_epsilon_classic(sm_ctx *ctx, const sm_dp_sgd *mech, double delta, sm_dp_epsilon *out);

/* Epsilon for T composed steps at delta by the PRV accountant (Gopi et al. 2021):
 * eps_error (<= 0: SM_PRV_EPS_ERROR) sets the mesh, delta_error is
 * delta x SM_PRV_DELTA_ERROR_FRACTION. Fills estimate, lower and upper bound. */
int sm_prv_epsilon(sm_ctx *ctx, const sm_dp_sgd *mech, double delta, double eps_error,
                   sm_dp_epsilon *out);

/* Epsilon by either accountant (PRV with its default errors). */
int sm_dp_sgd_epsilon(sm_ctx *ctx, sm_accountant accountant, const sm_dp_sgd *mech, double delta,
                      sm_dp_epsilon *out);

/* Smallest noise multiplier (to the bisection's precision) whose guaranteed epsilon
 * over steps = floor(epochs / sample_rate) steps is at most target_epsilon; the
 * returned sigma is the upper end of the final bracket. SM_EINPUT when the target
 * cannot be met with sigma <= SM_NOISE_MAX_SIGMA. */
int sm_noise_for_epsilon(sm_ctx *ctx, sm_accountant accountant, double target_epsilon, double delta,
                         double sample_rate, double epochs, double *sigma);

/* SM_EBUDGET with a message when spent->bound exceeds budget, else SM_OK. */
int sm_dp_budget_check(sm_ctx *ctx, const sm_dp_epsilon *spent, double delta, double budget);

/* zCDP of a Gaussian mechanism (L2 sensitivity, noise std) and of the exponential
 * mechanism with parameter epsilon. rho adds up under composition. */
double sm_zcdp_gaussian(double sensitivity, double sigma);
double sm_zcdp_exponential(double epsilon);

/* rho-zCDP -> (eps, delta) by the tight conversion of Canonne, Kamath, Steinke 2020. */
int sm_zcdp_delta(sm_ctx *ctx, double rho, double epsilon, double *delta);
int sm_zcdp_epsilon(sm_ctx *ctx, double rho, double delta, double *epsilon);

/* The largest rho whose conversion at delta gives at most epsilon. */
int sm_zcdp_rho(sm_ctx *ctx, double epsilon, double delta, double *rho);

#endif
