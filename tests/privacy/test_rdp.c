/* RDP accountant: per-step RDP and epsilon against the reference figures, per-step RDP
 * against direct numerical integration, the TF Privacy tutorial figures, and
 * monotonicity in steps and noise. */
#include <math.h>
#include <string.h>

#include "reference.h"
#include "synthmpi/privacy.h"
#include "test_util.h"

/* Slow reference: A_alpha = E_{z ~ N(0, s^2)}[((1-q) + q exp((2z - 1) / (2 s^2)))^alpha]
 * by the trapezoid rule on a fine grid, summed in log space; returns log(A) / (alpha-1). */
static double rdp_by_quadrature(double q, double s, double alpha) {
  double lo = -40.0 * s, hi = (alpha + 40.0) * s, h = 1e-3 * s;
  long n = (long)((hi - lo) / h) + 1;

  /* log of the integrand at each grid point; first pass finds the maximum */
  double peak = -INFINITY;
  for (long i = 0; i < n; i++) {
    double z = lo + (double)i * h;
    double lf = -z * z / (2 * s * s) + alpha * log((1 - q) + q * exp((2 * z - 1) / (2 * s * s)));
    peak = fmax(peak, lf);
  }
  double sum = 0.0;
  for (long i = 0; i < n; i++) {
    double z = lo + (double)i * h;
    double lf = -z * z / (2 * s * s) + alpha * log((1 - q) + q * exp((2 * z - 1) / (2 * s * s)));
    sum += ((i == 0 || i == n - 1) ? 0.5 : 1.0) * exp(lf - peak);
  }
  double log_a = peak + log(sum * h) - 0.5 * log(2 * M_PI * s * s);
  return log_a / (alpha - 1);
}

/* rdp_per_step.tsv: q sigma alpha rdp_one_step, to 1e-8 relative. */
static void check_per_step(sm_ctx *ctx) {
  ref_table t;
  CHECK(ref_read("rdp_per_step.tsv", &t) == 0);
  double worst = 0.0;
  for (int r = 0; r < t.n_rows; r++) {
    double rdp = NAN;
    CHECK(sm_rdp_step(ctx, t.num[r][0], t.num[r][1], t.num[r][2], &rdp) == SM_OK);
    double want = t.num[r][3];
    CHECK_CLOSE(rdp / want, 1.0, 1e-8);
    worst = fmax(worst, fabs(rdp / want - 1.0));
  }
  printf("rdp_per_step: %d rows, max relative error %.3g (tol 1e-8)\n", t.n_rows, worst);
}

/* Per-step RDP against the quadrature reference at integer and fractional orders. */
static void check_against_quadrature(sm_ctx *ctx) {
  const double cases[][3] = {{0.01, 1.0, 2.0},  {0.01, 1.0, 2.5}, {0.01, 1.0, 10.5},
                             {0.01, 1.0, 32.0}, {0.1, 0.7, 3.7},  {0.001, 2.0, 17.0},
                             {0.2, 1.3, 6.3}};
  double worst = 0.0;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    double rdp = NAN, slow = rdp_by_quadrature(cases[k][0], cases[k][1], cases[k][2]);
    CHECK(sm_rdp_step(ctx, cases[k][0], cases[k][1], cases[k][2], &rdp) == SM_OK);
    CHECK_CLOSE(rdp / slow, 1.0, 1e-7);
    worst = fmax(worst, fabs(rdp / slow - 1.0));
  }
  printf("rdp vs quadrature: max relative error %.3g (tol 1e-7)\n", worst);

  /* no subsampling: alpha / (2 sigma^2) exactly */
  double rdp = NAN;
  CHECK(sm_rdp_step(ctx, 1.0, 2.0, 5.4, &rdp) == SM_OK);
  CHECK_CLOSE(rdp, 5.4 / 8.0, 1e-15);
}

/* dp_sgd_epsilon.tsv: q sigma steps delta eps_rdp alpha_opt ..., eps to 1e-6 relative. */
static void check_epsilon(sm_ctx *ctx) {
  ref_table t;
  CHECK(ref_read("dp_sgd_epsilon.tsv", &t) == 0);
  double worst = 0.0;
  for (int r = 0; r < t.n_rows; r++) {
    sm_dp_sgd m = {t.num[r][0], t.num[r][1], (int64_t)t.num[r][2]};
    sm_dp_epsilon e;
    CHECK(sm_rdp_epsilon(ctx, &m, t.num[r][3], &e) == SM_OK);
    CHECK_CLOSE(e.bound / t.num[r][4], 1.0, 1e-6);
    CHECK_CLOSE(e.order, t.num[r][5], 1e-9);
    worst = fmax(worst, fabs(e.bound / t.num[r][4] - 1.0));
  }
  printf("eps_rdp: %d rows, max relative error %.3g (tol 1e-6)\n", t.n_rows, worst);
}

/* TF Privacy tutorial: N 60000, batch 256, sigma 1.1, 60 epochs, delta 1e-5 gives 3.01
 * with the classic conversion and 2.60 with the improved one (two decimals). */
static void check_tutorial(sm_ctx *ctx) {
  sm_dp_sgd m = {256.0 / 60000.0, 1.1, (int64_t)ceil(60.0 * 60000.0 / 256.0)};
  sm_dp_epsilon classic, improved;
  CHECK(sm_rdp_epsilon_classic(ctx, &m, 1e-5, &classic) == SM_OK);
  CHECK(sm_rdp_epsilon(ctx, &m, 1e-5, &improved) == SM_OK);
  CHECK_CLOSE(classic.bound, 3.01, 0.005);
  CHECK_CLOSE(improved.bound, 2.60, 0.005);
  printf("tutorial: classic %.4f (3.01), improved %.4f (2.60)\n", classic.bound, improved.bound);
}

/* Epsilon grows with the number of steps and falls as the noise grows. */
static void check_monotone(sm_ctx *ctx) {
  double prev = 0.0;
  for (int64_t steps = 1; steps <= 100000; steps *= 10) {
    sm_dp_sgd m = {0.01, 1.0, steps};
    sm_dp_epsilon e;
    CHECK(sm_rdp_epsilon(ctx, &m, 1e-5, &e) == SM_OK);
    CHECK(e.bound > prev);
    prev = e.bound;
  }
  prev = INFINITY;
  for (double sigma = 0.5; sigma <= 8.0; sigma *= 1.5) {
    sm_dp_sgd m = {0.01, sigma, 1000};
    sm_dp_epsilon e;
    CHECK(sm_rdp_epsilon(ctx, &m, 1e-5, &e) == SM_OK);
    CHECK(e.bound < prev);
    prev = e.bound;
  }
}

/* Bad arguments are refused with SM_EINPUT. */
static void check_errors(sm_ctx *ctx) {
  sm_dp_sgd bad_q = {1.5, 1.0, 10}, bad_sigma = {0.1, 0.0, 10}, bad_steps = {0.1, 1.0, 0};
  sm_dp_sgd ok = {0.1, 1.0, 10};
  sm_dp_epsilon e;
  double rdp;
  CHECK(sm_rdp_epsilon(ctx, &bad_q, 1e-5, &e) == SM_EINPUT);
  CHECK(sm_rdp_epsilon(ctx, &bad_sigma, 1e-5, &e) == SM_EINPUT);
  CHECK(sm_rdp_epsilon(ctx, &bad_steps, 1e-5, &e) == SM_EINPUT);
  CHECK(sm_rdp_epsilon(ctx, &ok, 0.0, &e) == SM_EINPUT);
  CHECK(sm_rdp_step(ctx, 0.1, 1.0, 1.0, &rdp) == SM_EINPUT);
  CHECK(strstr(ctx->msg, "order") != NULL);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  CHECK(sm_ctx_init(&ctx, MPI_COMM_WORLD) == SM_OK);
  check_per_step(&ctx);
  check_against_quadrature(&ctx);
  check_epsilon(&ctx);
  check_tutorial(&ctx);
  check_monotone(&ctx);
  check_errors(&ctx);
  sm_ctx_free(&ctx);
  return test_finish();
}
