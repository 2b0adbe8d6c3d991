/* DP-SGD pieces on one rank: per-example gradient norms from the batched fast path against
 * the backward run one example at a time (over every trained parameter: the decoder's
 * sigma is fixed in a private run), the clipped sum against the sum of individually
 * clipped per-example gradients, and the empirical rate of Poisson sampling against q. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/trainer.h"
#include "models/tvae.h"
#include "synthmpi/rng.h"
#include "test_util.h"
#include "tvae/tvae_fixture.h"

#define M 5
#define NORM_TOL 1e-4 /* relative, norms and clipped sums (float32 arithmetic) */

static const int64_t rows[M] = {4, 1, 3, 0, 5};

/* The slow reference: row r's gradient alone (plain backward) into g (n_model), without
 * sigma's part: a private run does not train sigma. */
static void single_gradient(sm_ctx *ctx, tvae_state *st, tvae_train *plain, int64_t row, float *g) {
  double loss[2] = {0, 0};
  sm_nn_zero_grad(&st->net.params);
  CHECK(sm_tvae_batch(ctx, plain, &row, 1, 1, 2, loss) == SM_OK);
  memcpy(g, st->net.params.grad, st->net.n_model * sizeof(float));
  memset(g + st->net.sigma, 0, (size_t)st->net.width * sizeof(float));
}

static double norm2_of(const float *g, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += (double)g[i] * g[i];
  return s;
}

/* Fast norms and the clipped sum against the per-example reference. */
static void check_clipping(sm_ctx *ctx) {
  tvae_state *st = NULL;
  CHECK(tvae_fixture_state(ctx, &st) == SM_OK);
  tvae_train *plain = sm_tvae_train_wrap(ctx, st, tvae_fixture_rows(), TVAE_FIXTURE_ROWS, 100);
  tvae_train *priv = sm_tvae_train_wrap(ctx, st, tvae_fixture_rows(), TVAE_FIXTURE_ROWS, 100);
  CHECK(plain && priv && sm_tvae_train_private(ctx, priv, 1e30) == SM_OK);
  size_t n = st->net.n_model;
  float *g = malloc(M * n * sizeof(float));
  double ref[M], fast[M], worst = 0;
  for (int r = 0; r < M; r++) {
    single_gradient(ctx, st, plain, rows[r], g + r * n);
    ref[r] = norm2_of(g + r * n, n);
  }
  CHECK(sm_tvae_example_norms(ctx, priv, rows, M, 2, fast) == SM_OK);
  for (int r = 0; r < M; r++)
    worst = fmax(worst, fabs(sqrt(fast[r]) - sqrt(ref[r])) / sqrt(ref[r]));
  printf("per-example norms: max relative difference %.3g (tolerance %.0e)\n", worst, NORM_TOL);
  CHECK(worst <= NORM_TOL);

  /* a bound between the smallest and largest norm clips some examples and not others */
  double lo = INFINITY, hi = 0;
  for (int r = 0; r < M; r++)
    lo = fmin(lo, sqrt(ref[r])), hi = fmax(hi, sqrt(ref[r]));
  double clip = 0.5 * (lo + hi);
  tvae_train *clipped = sm_tvae_train_wrap(ctx, st, tvae_fixture_rows(), TVAE_FIXTURE_ROWS, 100);
  CHECK(clipped && sm_tvae_train_private(ctx, clipped, clip) == SM_OK);
  double loss[2] = {0, 0};
  sm_nn_zero_grad(&st->net.params);
  CHECK(sm_tvae_batch(ctx, clipped, rows, M, M, 2, loss) == SM_OK);
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; i++) {
    double want = 0;
    for (int r = 0; r < M; r++)
      want += g[r * n + i] * fmin(1.0, clip / sqrt(ref[r]));
    diff = fmax(diff, fabs(want - st->net.params.grad[i]));
    scale = fmax(scale, fabs(want));
  }
  printf("clipped sum (C = %.4g, norms %.4g..%.4g): max difference %.3g of %.3g (tolerance "
         "%.0e relative)\n",
         clip, lo, hi, diff, scale, NORM_TOL);
  CHECK(lo < clip && clip < hi && diff <= NORM_TOL * scale);

  free(g);
  sm_tvae_train_free(plain);
  sm_tvae_train_free(priv);
  sm_tvae_train_free(clipped);
  tvae_fixture_free(st);
}

/* Poisson sampling from the secure generator: the included share is close to q (binomial,
 * 5 standard deviations) and the batch size varies from step to step. */
static void check_poisson(sm_ctx *ctx) {
  sm_trainer t = {0};
  t.n_local = 20000;
  t.dp.enabled = 1;
  t.dp.sample_rate = 0.013;
  int64_t *r = malloc((size_t)t.n_local * sizeof(int64_t)), total = 0, steps = 50;
  int64_t smallest = INT64_MAX, largest = 0;
  for (int64_t s = 0; s < steps; s++) {
    int64_t m = 0;
    CHECK(sm_trainer_dp_sample(ctx, &t, s, r, &m) == SM_OK);
    total += m;
    smallest = m < smallest ? m : smallest;
    largest = m > largest ? m : largest;
  }
  double n = (double)t.n_local * (double)steps, q = t.dp.sample_rate;
  double rate = (double)total / n, sd = sqrt(q * (1 - q) / n);
  printf("Poisson sampling: rate %.5f, q %.5f, %.2f standard deviations; batch %lld..%lld\n", rate,
         q, fabs(rate - q) / sd, (long long)smallest, (long long)largest);
  CHECK(fabs(rate - q) <= 5 * sd);
  CHECK(smallest < largest);
  free(r);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_SELF);
  check_clipping(&ctx);
  check_poisson(&ctx);
  sm_ctx_free(&ctx);
  return test_finish();
}
