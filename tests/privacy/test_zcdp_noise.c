/* zCDP conversions and the noise search against the reference figures. */
#include <math.h>
#include <string.h>

#include "reference.h"
#include "synthmpi/privacy.h"
#include "test_util.h"

/* zcdp.tsv: function arg1 arg2 value; cdp_rho(eps, delta), cdp_eps(rho, delta) and
 * cdp_delta(rho, eps), each to 1e-8 relative (cdp_delta's figure has 7 digits: 1e-6). */
static void check_zcdp_reference(sm_ctx *ctx) {
  ref_table t;
  CHECK(ref_read("zcdp.tsv", &t) == 0);
  double worst = 0.0;
  int seen = 0;
  for (int r = 0; r < t.n_rows; r++) {
    const char *fn = t.text[r][0];
    double a = ref_keyed(t.text[r][1]), b = ref_keyed(t.text[r][2]), want = t.num[r][3];
    double got = NAN, tol = 1e-8;
    if (strcmp(fn, "cdp_rho") == 0) {
      CHECK(sm_zcdp_rho(ctx, a, b, &got) == SM_OK);
    } else if (strcmp(fn, "cdp_eps") == 0) {
      CHECK(sm_zcdp_epsilon(ctx, a, b, &got) == SM_OK);
    } else if (strcmp(fn, "cdp_delta") == 0) {
      CHECK(sm_zcdp_delta(ctx, a, b, &got) == SM_OK);
      tol = 1e-6;
    } else {
      fprintf(stderr, "zcdp.tsv: unknown function %s\n", fn);
      CHECK(0);
      continue;
    }
    CHECK_CLOSE(got / want, 1.0, tol);
    worst = fmax(worst, fabs(got / want - 1.0));
    seen++;
  }
  CHECK(seen == t.n_rows && seen >= 8);
  printf("zcdp: %d rows, max relative error %.3g (tol 1e-8, cdp_delta 1e-6)\n", seen, worst);
}

/* Mechanism rho, and conversions that agree with each other and with the standard
 * looser bound eps <= rho + 2 sqrt(rho log(1/delta)). */
static void check_zcdp_consistency(sm_ctx *ctx) {
  CHECK_CLOSE(sm_zcdp_gaussian(2.0, 4.0), 0.125, 1e-15);
  CHECK_CLOSE(sm_zcdp_exponential(0.5), 0.03125, 1e-15);
  for (double rho = 0.01; rho < 5.0; rho *= 3.0) {
    double eps = NAN, back = NAN, delta = NAN;
    CHECK(sm_zcdp_epsilon(ctx, rho, 1e-6, &eps) == SM_OK);
    CHECK(eps <= rho + 2.0 * sqrt(rho * log(1e6)));
    CHECK(sm_zcdp_delta(ctx, rho, eps, &delta) == SM_OK);
    CHECK(delta <= 1e-6 && delta > 0.999e-6);
    CHECK(sm_zcdp_rho(ctx, eps, 1e-6, &back) == SM_OK);
    CHECK_CLOSE(back / rho, 1.0, 1e-9);
  }
  double out = NAN;
  CHECK(sm_zcdp_epsilon(ctx, -1.0, 1e-6, &out) == SM_EINPUT);
  CHECK(sm_zcdp_rho(ctx, 1.0, 1.5, &out) == SM_EINPUT);
}

/* noise_for_target_eps.tsv: target_eps delta q epochs sigma_rdp sigma_prv. The search
 * brackets sigma in [0, 20] and halves the bracket, so the figures are multiples of
 * 20 / 2^k printed to six decimals: match to 1e-6. */
static void check_noise_reference(sm_ctx *ctx) {
  ref_table t;
  CHECK(ref_read("noise_for_target_eps.tsv", &t) == 0);
  double worst = 0.0;
  for (int r = 0; r < t.n_rows; r++) {
    double target = t.num[r][0], delta = t.num[r][1], q = t.num[r][2], epochs = t.num[r][3];
    for (int acc = 0; acc < 2; acc++) {
      double sigma = NAN, want = t.num[r][4 + acc];
      sm_accountant a = acc ? SM_ACCOUNTANT_PRV : SM_ACCOUNTANT_RDP;
      CHECK(sm_noise_for_epsilon(ctx, a, target, delta, q, epochs, &sigma) == SM_OK);
      CHECK_CLOSE(sigma, want, 1e-6);
      worst = fmax(worst, fabs(sigma - want));

      /* the returned sigma meets the target, within the tolerance below it */
      sm_dp_sgd m = {q, sigma, (int64_t)(epochs / q)};
      sm_dp_epsilon e;
      CHECK(sm_dp_sgd_epsilon(ctx, a, &m, delta, &e) == SM_OK);
      CHECK(e.bound <= target && e.bound >= target - SM_NOISE_EPS_TOLERANCE);
    }
  }
  printf("noise search: %d rows x 2 accountants, max abs error %.3g (tol 1e-6)\n", t.n_rows, worst);
}

/* A target no noise can reach is refused as bad input. */
static void check_noise_errors(sm_ctx *ctx) {
  double sigma = NAN;
  CHECK(sm_noise_for_epsilon(ctx, SM_ACCOUNTANT_RDP, 0.01, 1e-5, 0.01, 10, &sigma) == SM_EINPUT);
  CHECK(sm_noise_for_epsilon(ctx, SM_ACCOUNTANT_RDP, 1.0, 1e-5, 0.0, 10, &sigma) == SM_EINPUT);
  CHECK(sm_noise_for_epsilon(ctx, SM_ACCOUNTANT_RDP, 1.0, 1e-5, 0.01, 0, &sigma) == SM_EINPUT);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  CHECK(sm_ctx_init(&ctx, MPI_COMM_WORLD) == SM_OK);
  check_zcdp_reference(&ctx);
  check_zcdp_consistency(&ctx);
  check_noise_reference(&ctx);
  check_noise_errors(&ctx);
  sm_ctx_free(&ctx);
  return test_finish();
}
