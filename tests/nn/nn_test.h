/* Helpers for the layer engine's tests: random inputs and a central finite-difference check
 * of an analytic gradient, with a zeroed gradient as the negative control. */
#ifndef SYNTHMPI_NN_TEST_H
#define SYNTHMPI_NN_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthmpi/nn.h"
#include "synthmpi/rng.h"
#include "test_util.h"

/* Finite differences: step and the largest error allowed, relative to max |gradient|. */
#define FD_STEP 5e-3
#define FD_TOL 1e-3
/* A zeroed gradient must miss by at least this much, or the check proves nothing. */
#define FD_CONTROL_MIN 0.5

/* v[0 .. n) uniform on (lo, hi) from the test stream (seed, index). */
static inline void rand_floats(float *v, size_t n, uint64_t seed, double lo, double hi) {
  sm_rng rng;
  sm_rng_init(&rng, seed, SM_STREAM_TEST, 0);
  for (size_t i = 0; i < n; i++)
    v[i] = (float)(lo + (hi - lo) * sm_rng_uniform(&rng));
}

/* sum w .* y in double: the scalar objective whose gradient with respect to y is w. */
static inline double weighted_sum(const float *w, const float *y, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += (double)w[i] * y[i];
  return s;
}

typedef double (*nn_objective)(void *state);

/* Largest |analytic - central difference| over in[0 .. n), relative to the largest
 * |central difference| (at least 1e-3). in is perturbed in place and restored. */
static inline double fd_error(float *in, size_t n, const float *analytic, nn_objective f,
                              void *state) {
  double worst = 0, scale = 1e-3;
  for (size_t i = 0; i < n; i++) {
    float saved = in[i];
    in[i] = (float)(saved + FD_STEP);
    double up = f(state), x_up = in[i];
    in[i] = (float)(saved - FD_STEP);
    double down = f(state), x_down = in[i];
    in[i] = saved;
    double fd = (up - down) / (x_up - x_down);
    worst = fmax(worst, fabs(analytic[i] - fd));
    scale = fmax(scale, fabs(fd));
  }
  return worst / scale;
}

/* Check one gradient against finite differences, and that a zeroed one would fail. */
static inline void check_grad(const char *name, float *in, size_t n, const float *analytic,
                              nn_objective f, void *state) {
  float *zero = calloc(n, sizeof(float));
  double err = fd_error(in, n, analytic, f, state);
  double control = fd_error(in, n, zero, f, state);
  printf("gradcheck %-26s rel err %.2e (tol %.0e), zeroed gradient %.2e\n", name, err, FD_TOL,
         control);
  CHECK(err <= FD_TOL);
  CHECK(control >= FD_CONTROL_MIN);
  free(zero);
}

#endif
