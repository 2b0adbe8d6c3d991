/* Private: what the Gaussian copula exposes beyond its operation table (tests use it). */
#ifndef SYNTHMPI_MODELS_COPULA_H
#define SYNTHMPI_MODELS_COPULA_H

#include <stdint.h>

/* Seed of the fit's draws inside CDF steps: stream (seed, SM_STREAM_FIT, global row),
 * one uniform per column in column order. */
#define SM_COPULA_FIT_SEED UINT64_C(0x73796e74686d7069)

/* The fitted correlation of normal scores and its lower Cholesky factor, (n, n)
 * row-major each; n is the number of columns. */
const double *sm_copula_correlation(const void *state, int *n);
const double *sm_copula_cholesky(const void *state, int *n);

#endif
