/* PRV accountant: estimates against the reference figures, the exact Gaussian trade-off
 * for unsubsampled runs, ordering of the bounds, and monotonicity in steps and noise. */
#include <math.h>

#include "reference.h"
#include "synthmpi/privacy.h"
#include "test_util.h"

static double normal_cdf(double x) {
  return 0.5 * erfc(-x / sqrt(2.0));
}

/* Exact epsilon of T unsubsampled Gaussian steps with noise sigma (a Gaussian mechanism
 * with mu = sqrt(T) / sigma): delta(eps) = Phi(mu/2 - eps/mu) - e^eps Phi(-mu/2 - eps/mu)
 * decreases in eps; solved by bisection. */
static double gaussian_epsilon(double sigma, double steps, double delta) {
  double mu = sqrt(steps) / sigma, lo = 0.0, hi = 100.0;
  for (int it = 0; it < 200; it++) {
    double eps = 0.5 * (lo + hi);
    double d = normal_cdf(mu / 2 - eps / mu) - exp(eps) * normal_cdf(-mu / 2 - eps / mu);
    if (d > delta)
      lo = eps;
    else
      hi = eps;
  }
  return 0.5 * (lo + hi);
}

/* dp_sgd_epsilon.tsv: q sigma steps delta eps_rdp alpha_opt eps_prv_estimate; the
 * estimate within 0.01 of the reference, lower <= estimate <= bound. */
static void check_reference(sm_ctx *ctx) {
  ref_table t;
  CHECK(ref_read("dp_sgd_epsilon.tsv", &t) == 0);
  double worst = 0.0;
  for (int r = 0; r < t.n_rows; r++) {
    sm_dp_sgd m = {t.num[r][0], t.num[r][1], (int64_t)t.num[r][2]};
    sm_dp_epsilon e;
    CHECK(sm_prv_epsilon(ctx, &m, t.num[r][3], 0.0, &e) == SM_OK);
    CHECK_CLOSE(e.estimate, t.num[r][6], 0.01);
    CHECK(e.lower <= e.estimate && e.estimate <= e.bound);
    CHECK(e.bound - e.estimate >= SM_PRV_EPS_ERROR);
    worst = fmax(worst, fabs(e.estimate - t.num[r][6]));
    printf("q %-8.4g sigma %-4g steps %-7lld: estimate %.6f (want %.6f) bound %.6f\n",
           m.sample_rate, m.noise_multiplier, (long long)m.steps, e.estimate, t.num[r][6], e.bound);
  }
  printf("eps_prv_estimate: %d rows, max abs error %.3g (tol 0.01)\n", t.n_rows, worst);
}

/* Without subsampling the loss is Gaussian and epsilon is known exactly; the bound
 * must hold and the estimate sit within the epsilon error. */
static void check_gaussian(sm_ctx *ctx) {
  const double cases[][3] = {{1.0, 1, 1e-5}, {2.0, 10, 1e-6}, {5.0, 100, 1e-5}, {0.8, 3, 1e-3}};
  double worst = 0.0;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sm_dp_sgd m = {1.0, cases[k][0], (int64_t)cases[k][1]};
    sm_dp_epsilon e;
    CHECK(sm_prv_epsilon(ctx, &m, cases[k][2], 0.0, &e) == SM_OK);
    double exact = gaussian_epsilon(cases[k][0], cases[k][1], cases[k][2]);
    CHECK_CLOSE(e.estimate, exact, SM_PRV_EPS_ERROR);
    CHECK(e.bound >= exact && e.lower <= exact);
    worst = fmax(worst, fabs(e.estimate - exact));
  }
  printf("gaussian: max abs error of the estimate %.3g (tol %g)\n", worst, SM_PRV_EPS_ERROR);
}

/* Estimates grow with steps and fall as noise grows; PRV is below RDP for DP-SGD. */
static void check_monotone(sm_ctx *ctx) {
  double prev = 0.0;
  for (int64_t steps = 1; steps <= 10000; steps *= 10) {
    sm_dp_sgd m = {0.01, 1.0, steps};
    sm_dp_epsilon e, r;
    CHECK(sm_prv_epsilon(ctx, &m, 1e-5, 0.0, &e) == SM_OK);
    CHECK(sm_rdp_epsilon(ctx, &m, 1e-5, &r) == SM_OK);
    CHECK(e.estimate > prev);
    CHECK(e.estimate < r.bound);
    prev = e.estimate;
  }
  prev = INFINITY;
  for (double sigma = 0.6; sigma <= 4.0; sigma *= 1.5) {
    sm_dp_sgd m = {0.01, sigma, 1000};
    sm_dp_epsilon e;
    CHECK(sm_prv_epsilon(ctx, &m, 1e-5, 0.0, &e) == SM_OK);
    CHECK(e.estimate < prev);
    prev = e.estimate;
  }
}

/* The budget is enforced on the bound, not on the estimate. */
static void check_budget(sm_ctx *ctx) {
  sm_dp_sgd m = {0.01, 1.0, 1000};
  sm_dp_epsilon e;
  CHECK(sm_prv_epsilon(ctx, &m, 1e-5, 0.0, &e) == SM_OK);
  double between = 0.5 * (e.estimate + e.bound);
  CHECK(sm_dp_budget_check(ctx, &e, 1e-5, between) == SM_EBUDGET);
  CHECK(sm_dp_budget_check(ctx, &e, 1e-5, e.bound) == SM_OK);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  CHECK(sm_ctx_init(&ctx, MPI_COMM_WORLD) == SM_OK);
  check_reference(&ctx);
  check_gaussian(&ctx);
  check_monotone(&ctx);
  check_budget(&ctx);
  sm_ctx_free(&ctx);
  return test_finish();
}
