/* Private: the 1-D variational Bayesian Gaussian mixture behind mode-specific
 * normalisation, fitted on values spread over ranks.
 *
 * The updates are scikit-learn's BayesianGaussianMixture with a Dirichlet-process
 * (stick-breaking) weight prior and full (here 1-D) covariances. Each E-step streams over
 * the rank's values and allreduces per component the responsibility sum, the first and
 * second moments about a component centre, and the entropy of the responsibilities, so
 * every rank runs the same M-step and holds the same mixture.
 *
 * Initialisation is deterministic and rank-invariant: an allreduced histogram of
 * SM_BGM_INIT_BINS equal bins over the global [min, max] gives the global CDF; every bin
 * goes whole to component floor(K * c / n), c being the number of values below the bin's
 * middle (values before the bin plus half of its own), and each value starts with
 * responsibility 1 for its bin's component.
 */
#ifndef SYNTHMPI_TRANSFORM_BGM_H
#define SYNTHMPI_TRANSFORM_BGM_H

#include <stdint.h>

#include "synthmpi/encoder.h"

#define SM_BGM_INIT_BINS 4096
#define SM_BGM_REG_COVAR 1e-6 /* added to every component variance, as scikit-learn */
#define SM_BGM_SMOOTH 1e-6    /* added to every mode probability before drawing the mode */

/* What the fit saw of the values (global, the same on every rank). */
typedef struct sm_bgm_summary {
  int64_t n;     /* present (non-NaN) values */
  double lo, hi; /* their range (0, 0 when n = 0) */
  double mean;   /* their mean (0 when n = 0) */
} sm_bgm_summary;

/* Collective. Fit the mixture to the n local values v (NaN values skipped) with the
 * option's max_modes, max_iter, tol (lower bound change per value), concentration and
 * weight_threshold (modes of weight above it are kept, at least the heaviest one). A column
 * with one distinct value is fitted with one component; with no present value at all the
 * mixture is one mode N(0, 1). */
int sm_bgm_fit(sm_ctx *ctx, const double *v, int64_t n, const sm_encoder_options *opt, sm_bgm *out,
               sm_bgm_summary *sum);

/* Local. Probabilities (n_modes) of the modes at x: the posterior responsibilities
 * renormalised over the kept modes, SM_BGM_SMOOTH added to each, renormalised again. */
void sm_bgm_mode_probs(const sm_bgm *b, double x, double *p);

/* The digamma function (x > 0), for the variational expectations. */
double sm_bgm_digamma(double x);

#endif
