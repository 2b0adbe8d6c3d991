/* The noise of the private CTGAN critic, measured by subtraction on real Adult rows: one
 * critic step's clipped sum is reduced twice, with the noise and without, and the
 * difference times the expected number of packs q N / pac is the noise alone. Its
 * coordinates must have mean 0 and standard deviation sigma S C, S the sensitivity of the
 * clipped sum in units of C: 1 for packs of one row (pac 1, each fake row keyed by its real
 * row), 3 for pac 10 (see ctgan_private.c); both are measured. Noise added on every rank instead of
 * once would show sqrt(ranks) times that. The draws come from the secure generator (not
 * reproducible mode); the subtraction needs no repeated draw, since the sample is drawn once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adult.h"
#include "ctgan_dp_fixture.h"
#include "models/trainer.h"
#include "test_util.h"

#define SIGMA 1.3
#define CLIP 0.7

static const char *overrides[] = {"model.pac=10",
                                  "model.embedding_dim=16",
                                  "model.generator_dims=32",
                                  "model.discriminator_dims=64",
                                  "model.batch_size=3000",
                                  "model.epochs=1",
                                  "privacy.noise_multiplier=1.3",
                                  "privacy.max_grad_norm=0.7",
                                  "privacy.epsilon=100"};
#define N_OVERRIDES ((int)(sizeof overrides / sizeof overrides[0]))

/* Collective. The noise of one critic step into noise (n_dis): the step's clipped sum
 * reduced with and without the noise, the difference times q N / pac. */
static int measure(sm_ctx *ctx, ctgan_session *s, double *noise) {
  ctgan_train *tr = s->tr;
  size_t n = s->st->net.n_dis;
  float *grad = s->st->net.params.grad, *sum = malloc(n * sizeof(float));
  float *noisy = malloc(n * sizeof(float));
  int rc = sum && noisy ? SM_OK : SM_ERR;
  double loss[2] = {0, 0}, packs = s->t->dp.sample_rate * (double)s->n_global / s->st->set.pac;
  if (rc == SM_OK)
    rc = sm_ctgan_dp_prepare(ctx, tr, 0, 0);
  if (rc == SM_OK) {
    sm_ctgan_dp_clipped_sum(tr, CLIP, loss);
    memcpy(sum, grad, n * sizeof(float));
    rc = sm_ctgan_dp_reduce(ctx, tr, 0, 0, 1);
  }
  if (rc == SM_OK) {
    memcpy(noisy, grad, n * sizeof(float));
    memcpy(grad, sum, n * sizeof(float));
    rc = sm_ctgan_dp_reduce(ctx, tr, 0, 0, 0);
  }
  for (size_t i = 0; rc == SM_OK && i < n; i++)
    noise[i] = ((double)noisy[i] - grad[i]) * packs;
  free(sum);
  free(noisy);
  return rc;
}

/* Collective. The noise std of one critic step with packs of pac rows against sigma S C. */
static void check_noise(sm_ctx *ctx, const sm_table *train, int pac, const char *pac_override) {
  sm_experiment e;
  sm_ledger l;
  ctgan_session s;
  overrides[0] = pac_override;
  int rc = ctgan_dp_load(ctx, N_OVERRIDES, (const char *const *)overrides, &e);
  CHECK(rc == SM_OK);
  if (rc != SM_OK)
    return;
  rc = ctgan_dp_begin(ctx, &e, train, &l, &s);
  CHECK(rc == SM_OK);
  if (rc == SM_OK) {
    double sens = pac == 1 ? 1.0 : 3.0;
    CHECK(!s.t->dp.reproducible && s.t->dp.noise_multiplier == SIGMA && s.t->dp.clip == CLIP);
    CHECK(s.st->set.pac == pac && s.t->dp.sensitivity == sens);

    /* mean and std over the critic's parameters; the std of n draws is within 5 of its
     * standard errors, 1 / sqrt(2 n) relative, and the mean within 5 of sigma S C / sqrt(n) */
    size_t n = s.st->net.n_dis;
    double *noise = malloc(n * sizeof(double)), sum = 0, sum2 = 0;
    CHECK(noise && measure(ctx, &s, noise) == SM_OK);
    for (size_t i = 0; noise && i < n; i++) {
      sum += noise[i];
      sum2 += noise[i] * noise[i];
    }
    double mean = sum / (double)n, std = sqrt(sum2 / (double)n - mean * mean);
    double want = SIGMA * sens * CLIP, tol = 5.0 / sqrt(2.0 * (double)n);
    double mean_se = fabs(mean) / (want / sqrt((double)n));
    if (ctx->rank == 0)
      printf("%d ranks, pac %d: noise std %.6g over %zu coordinates (want sigma %gC = %.6g): "
             "relative difference %.4f (tolerance %.4f); |mean| %.2f standard errors "
             "(tolerance 5)\n",
             ctx->size, pac, std, n, sens, want, fabs(std / want - 1), tol, mean_se);
    CHECK(fabs(std / want - 1) <= tol);
    CHECK(mean_se <= 5.0);
    free(noise);
    sm_ctgan_end(&s, 0);
  }
  sm_ledger_free(&l);
  sm_experiment_free(&e);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_ERROR;
  sm_experiment e;
  sm_table train;
  int rc = ctgan_dp_load(&ctx, N_OVERRIDES, (const char *const *)overrides, &e);
  CHECK(rc == SM_OK);
  if (rc != SM_OK || test_adult_read(&ctx, &e, &train, NULL) != SM_OK)
    return test_finish();
  sm_experiment_free(&e);
  check_noise(&ctx, &train, 10, "model.pac=10");
  check_noise(&ctx, &train, 1, "model.pac=1");
  sm_table_free(&train);
  sm_ctx_free(&ctx);
  return test_finish();
}
