/* PRV accountant (Gopi, Lee, Wutschitz 2021) for the Poisson-subsampled Gaussian.
 *
 * The privacy loss of N(0, sigma^2) against (1 - q) N(0, sigma^2) + q N(1, sigma^2) is a
 * random variable Y with a closed-form CDF. It is truncated to [-L, L] (L from the RDP
 * bound, so the cut mass is below the delta error), discretised on a uniform mesh whose
 * width comes from the epsilon error, shifted so the discrete mean equals the continuous
 * one, and composed T times by raising its real FFT (FFTW) to the power T. Epsilon for a
 * delta is read off the composed distribution; the upper bound adds eps_error and uses
 * delta - delta_error, which accounts for the truncation and discretisation. */
#include <complex.h>
#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "privacy/privacy_internal.h"

/* The discretised loss: pmf[i] sits at t0 + i dt. */
typedef struct prv_grid {
  int64_t n;    /* number of mesh points (even) */
  double t0;    /* first mesh point, after the mean shift */
  double dt;    /* mesh width */
  double shift; /* how far the mesh was moved to match the continuous mean */
  double *pmf;  /* (n) fftw_malloc'd */
} prv_grid;

/* CDF of the (untruncated) privacy loss at t. */
static double loss_cdf(double q, double sigma, double t) {
  if (!(t > log(1.0 - q)))
    return 0.0;
  double z = log((exp(t) + q - 1.0) / q);
  double s2 = sigma * sigma, den = 2.0 * sqrt(2.0) * sigma;
  return 1.0 - 0.5 * q * erfc((2.0 * z * s2 - 1.0) / den) -
         0.5 * (1.0 - q) * erfc((2.0 * z * s2 + 1.0) / den);
}

/* The loss truncated to [lo, hi) and renormalised. */
typedef struct truncated_loss {
  double q, sigma, lo, hi;
  double cdf_lo, mass;
} truncated_loss;

static double truncated_cdf(const truncated_loss *y, double t) {
  if (t < y->lo)
    return 0.0;
  if (t >= y->hi)
    return 1.0;
  return (loss_cdf(y->q, y->sigma, t) - y->cdf_lo) / y->mass;
}

/* Adaptive Simpson integral of the truncated CDF over [a, b]; fa, fm, fb are the values
 * at a, the midpoint and b, whole is the Simpson estimate on [a, b]. */
static double simpson(const truncated_loss *y, double a, double b, double fa, double fm, double fb,
                      double whole, double tol, int depth) {
  double m = 0.5 * (a + b), lm = 0.5 * (a + m), rm = 0.5 * (m + b);
  double flm = truncated_cdf(y, lm), frm = truncated_cdf(y, rm);
  double left = (m - a) / 6.0 * (fa + 4.0 * flm + fm);
  double right = (b - m) / 6.0 * (fm + 4.0 * frm + fb);
  double diff = left + right - whole;
  if (depth <= 0 || fabs(diff) <= 15.0 * tol)
    return left + right + diff / 15.0;
  return simpson(y, a, m, fa, flm, fm, left, 0.5 * tol, depth - 1) +
         simpson(y, m, b, fm, frm, fb, right, 0.5 * tol, depth - 1);
}

static double integrate_cdf(const truncated_loss *y, double a, double b) {
  double fa = truncated_cdf(y, a), fb = truncated_cdf(y, b);
  double fm = truncated_cdf(y, 0.5 * (a + b));
  double whole = (b - a) / 6.0 * (fa + 4.0 * fm + fb);
  return simpson(y, a, b, fa, fm, fb, whole, 1e-13, 40);
}

/* Mean of the truncated loss: hi - integral of its CDF over [lo, hi], integrated in
 * pieces that resolve the narrow peak near zero of a weakly subsampled loss. */
static double truncated_mean(const truncated_loss *y) {
  double points[12];
  int n = 0;
  points[n++] = y->lo;
  for (int k = -1; k >= -5; k--)
    points[n++] = -pow(10.0, k);
  for (int k = -5; k <= -1; k++)
    points[n++] = pow(10.0, k);
  points[n++] = y->hi;

  double integral = 0.0;
  for (int k = 0; k + 1 < n; k++)
    if (points[k + 1] > points[k])
      integral += integrate_cdf(y, points[k], points[k + 1]);
  return y->hi - integral;
}

/* Half-width L of the truncation: the RDP epsilon of T steps at delta_error / 4 or of
 * one step at delta_error / (8 T), whichever is larger, plus a margin of 3. */
static double domain_half_width(const sm_dp_sgd *mech, double eps_error, double delta_error) {
  sm_dp_sgd one = {mech->sample_rate, mech->noise_multiplier, 1};
  double l_all = sm_rdp_epsilon_value(mech, delta_error / 4.0, NULL);
  double l_one = sm_rdp_epsilon_value(&one, delta_error / (8.0 * (double)mech->steps), NULL);
  return fmax(fmax(l_all, l_one), eps_error) + 3.0;
}

/* Discretise the truncated loss on an aligned mesh of width about dt over [-L, L]:
 * pmf[i] is the truncated mass of [t_i - dt/2, t_i + dt/2), then the mesh is shifted
 * so the discrete mean equals the continuous mean. */
static int discretise(sm_ctx *ctx, const sm_dp_sgd *mech, double half_width, double mesh,
                      prv_grid *g) {
  /* the aligned domain, with an even number of points */
  double t_min = floor(-half_width / mesh) * mesh, t_max = ceil(half_width / mesh) * mesh;
  int64_t n = (int64_t)llround((t_max - t_min) / mesh) + 1;
  if (n % 2 == 1) {
    n++;
    t_max += mesh;
  }
  if (n > (int64_t)1 << 26)
    return sm_fail(ctx, SM_EINPUT, "PRV accountant: mesh of %lld points is too large",
                   (long long)n);
  double dt = (t_max - t_min) / (double)(n - 1);

  /* the truncated loss and its masses on the mesh */
  truncated_loss y = {mech->sample_rate, mech->noise_multiplier, t_min, t_max, 0.0, 0.0};
  y.cdf_lo = loss_cdf(y.q, y.sigma, t_min);
  y.mass = loss_cdf(y.q, y.sigma, t_max) - y.cdf_lo;
  g->pmf = fftw_malloc(sizeof(double) * (size_t)n);
  if (!g->pmf)
    return sm_fail(ctx, SM_ERR, "PRV accountant: out of memory for %lld points", (long long)n);
  double mean_discrete = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double t = i == n - 1 ? t_max : t_min + (double)i * dt;
    g->pmf[i] = truncated_cdf(&y, t + dt / 2.0) - truncated_cdf(&y, t - dt / 2.0);
    mean_discrete += t * g->pmf[i];
  }

  /* shift the mesh so the means agree */
  double shift = truncated_mean(&y) - mean_discrete;
  if (fabs(shift) >= dt / 2.0)
    return sm_fail(ctx, SM_ERR, "PRV accountant: discrete mean is off by %g (mesh %g)", shift, dt);
  g->n = n;
  g->t0 = t_min + shift;
  g->dt = dt;
  g->shift = shift;
  return SM_OK;
}

/* z^k by repeated squaring. */
static fftw_complex complex_power(fftw_complex z, int64_t k) {
  fftw_complex r = 1.0;
  while (k > 0) {
    if (k & 1)
      r *= z;
    z *= z;
    k >>= 1;
  }
  return r;
}

/* Replace g by the distribution of the sum of `steps` independent copies: circular
 * convolution by FFT, rolled so index i again means t0' + i dt with the mean shift
 * multiplied by steps. The mesh's centre index stays at loss zero. */
static int compose(sm_ctx *ctx, prv_grid *g, int64_t steps) {
  int64_t n = g->n, nc = n / 2 + 1;
  fftw_complex *spec = fftw_malloc(sizeof(fftw_complex) * (size_t)nc);
  double *out = fftw_malloc(sizeof(double) * (size_t)n);
  if (!spec || !out) {
    fftw_free(spec);
    fftw_free(out);
    return sm_fail(ctx, SM_ERR, "PRV accountant: out of memory for the FFT");
  }

  /* forward transform, power, inverse transform (unnormalised: divide by n) */
  fftw_plan fwd = fftw_plan_dft_r2c_1d((int)n, g->pmf, spec, FFTW_ESTIMATE);
  fftw_plan inv = fftw_plan_dft_c2r_1d((int)n, spec, out, FFTW_ESTIMATE);
  fftw_execute(fwd);
  for (int64_t k = 0; k < nc; k++)
    spec[k] = complex_power(spec[k], steps);
  fftw_execute(inv);
  fftw_destroy_plan(fwd);
  fftw_destroy_plan(inv);

  /* roll: the sum of steps indices lands (steps - 1) (n/2 - 1) places too far */
  int64_t roll = (steps - 1) % n;
  if (steps % 2 == 0)
    roll = (roll + n / 2) % n;
  for (int64_t i = 0; i < n; i++)
    g->pmf[(i + roll) % n] = out[i] / (double)n;
  fftw_free(spec);
  fftw_free(out);
  g->t0 += g->shift * (double)(steps - 1);
  return SM_OK;
}

/* Tail sums of the composed pmf: d1[i] = sum_{j>=i} p_j, d2[i] = sum_{j>=i} p_j e^{-t_j};
 * then delta(t_i) = d1[i] - e^{t_i} d2[i] decreases in i. */
typedef struct prv_tails {
  double *d1, *d2, *neg_delta; /* (n) each */
} prv_tails;

static void tails_free(prv_tails *tl) {
  free(tl->d1);
  free(tl->d2);
  free(tl->neg_delta);
}

static int tails_build(sm_ctx *ctx, const prv_grid *g, prv_tails *tl) {
  int64_t n = g->n;
  tl->d1 = malloc(sizeof(double) * (size_t)n);
  tl->d2 = malloc(sizeof(double) * (size_t)n);
  tl->neg_delta = malloc(sizeof(double) * (size_t)n);
  if (!tl->d1 || !tl->d2 || !tl->neg_delta)
    return sm_fail(ctx, SM_ERR, "PRV accountant: out of memory for the tail sums");

  double s1 = 0.0, s2 = 0.0;
  for (int64_t i = n - 1; i >= 0; i--) {
    double t = g->t0 + (double)i * g->dt;
    s1 += g->pmf[i];
    s2 += g->pmf[i] * exp(-t);
    tl->d1[i] = s1;
    tl->d2[i] = s2;
    tl->neg_delta[i] = exp(t) * s2 - s1;
  }
  return SM_OK;
}

/* Epsilon at delta_target: the first mesh index whose delta is at most the target
 * (binary search, as the sequence increases), then the exact epsilon between that point
 * and the one before it. */
static int epsilon_at(sm_ctx *ctx, const prv_grid *g, const prv_tails *tl, double delta_target,
                      double *eps) {
  int64_t lo = 0, hi = g->n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (tl->neg_delta[mid] < -delta_target)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo <= 0 || lo >= g->n)
    return sm_fail(ctx, SM_ERR, "PRV accountant: delta %g is outside the composed domain",
                   delta_target);
  *eps = log((tl->d1[lo] - delta_target) / tl->d2[lo]);
  return SM_OK;
}

/* Read estimate and bounds off the composed grid. */
static int read_epsilon(sm_ctx *ctx, const prv_grid *g, double delta, double eps_error,
                        double delta_error, sm_dp_epsilon *out) {
  if ((double)LDBL_EPSILON * (double)g->n > delta - delta_error)
    return sm_fail(ctx, SM_EINPUT,
                   "PRV accountant: delta %g is too small for a mesh of %lld points", delta,
                   (long long)g->n);
  prv_tails tl = {NULL, NULL, NULL};
  int rc = tails_build(ctx, g, &tl);
  double upper = NAN, lower = NAN, estimate = NAN;
  if (rc == SM_OK)
    rc = epsilon_at(ctx, g, &tl, delta - delta_error, &upper);
  if (rc == SM_OK)
    rc = epsilon_at(ctx, g, &tl, delta + delta_error, &lower);
  if (rc == SM_OK)
    rc = epsilon_at(ctx, g, &tl, delta, &estimate);
  tails_free(&tl);
  SM_TRY(rc);
  out->bound = upper + eps_error;
  out->lower = lower - eps_error;
  out->estimate = estimate;
  out->order = 0.0;
  return SM_OK;
}

int sm_prv_epsilon(sm_ctx *ctx, const sm_dp_sgd *mech, double delta, double eps_error,
                   sm_dp_epsilon *out) {
  SM_TRY(sm_dp_sgd_validate(ctx, mech));
  SM_TRY(sm_delta_validate(ctx, delta));
  if (eps_error <= 0.0)
    eps_error = SM_PRV_EPS_ERROR;
  double delta_error = delta * SM_PRV_DELTA_ERROR_FRACTION;

  /* domain and mesh width (Gopi et al., section 5) */
  double half_width = domain_half_width(mech, eps_error, delta_error);
  double mesh = eps_error / sqrt((double)mech->steps * log(12.0 / delta_error) / 2.0);

  /* discretise, compose, read off */
  prv_grid g = {0, 0.0, 0.0, 0.0, NULL};
  int rc = discretise(ctx, mech, half_width, mesh, &g);
  if (rc == SM_OK)
    rc = compose(ctx, &g, mech->steps);
  if (rc == SM_OK)
    rc = read_epsilon(ctx, &g, delta, eps_error, delta_error, out);
  fftw_free(g.pmf);
  return rc;
}
