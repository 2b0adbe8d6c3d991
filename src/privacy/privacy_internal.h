/* Private: shared pieces of the accountants (argument checks, RDP without a context). */
#ifndef SYNTHMPI_PRIVACY_INTERNAL_H
#define SYNTHMPI_PRIVACY_INTERNAL_H

#include "synthmpi/privacy.h"

/* SM_EINPUT with a message unless q in (0, 1], sigma > 0 and finite, steps >= 1. */
int sm_dp_sgd_validate(sm_ctx *ctx, const sm_dp_sgd *mech);

/* SM_EINPUT with a message unless delta in (0, 1). */
int sm_delta_validate(sm_ctx *ctx, double delta);

/* Per-step RDP at order alpha for valid arguments (may be +inf). */
double sm_rdp_step_value(double q, double sigma, double alpha);

/* Improved-conversion epsilon of a valid mechanism at delta; *order gets the best order
 * (may be NULL). */
double sm_rdp_epsilon_value(const sm_dp_sgd *mech, double delta, double *order);

#endif
