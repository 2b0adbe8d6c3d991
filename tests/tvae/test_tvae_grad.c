/* The TVAE training step against central finite differences of its own loss
 * (loss_factor * reconstruction + beta * KL, summed over the batch rows) for every
 * parameter, sigma included, on a small hand-made encoding with scalar and one-hot spans. */
#include <stdlib.h>
#include <string.h>

#include "models/tvae.h"
#include "synthmpi/rng.h"
#include "test_util.h"
#include "tvae/tvae_fixture.h"

/* central differences in float32 arithmetic: step (the fixture keeps every ReLU input of
 * its rows farther than this from zero) and tolerances */
#define H 4e-3
#define TOL_ABS 4e-3
#define TOL_REL 2e-2

/* The step's total loss; gradients land in the parameter buffer. */
static double step_loss(sm_ctx *ctx, tvae_state *st, tvae_train *tr) {
  static const int64_t rows[] = {4, 1, 3, 0, 5};
  double loss[2] = {0, 0};
  sm_nn_zero_grad(&st->net.params);
  CHECK(sm_tvae_batch(ctx, tr, rows, 5, 5, 2, loss) == SM_OK);
  return st->set.loss_factor * loss[0] + st->set.beta * loss[1];
}

/* Check every gradient of one batch over rows (taken), whose first layer takes nonzeros
 * nonzeros per row (0: dense); returns the batch's loss. */
static double check_rows(sm_ctx *ctx, float *rows, int nonzeros) {
  tvae_state *st = NULL;
  CHECK(tvae_fixture_state(ctx, &st) == SM_OK);
  tvae_train *tr = sm_tvae_train_wrap(ctx, st, rows, TVAE_FIXTURE_ROWS, 100);
  CHECK(tr != NULL);
  CHECK(sm_tvae_train_nonzeros(tr) == nonzeros);

  /* analytic gradients */
  size_t n = st->net.n_model;
  double loss = step_loss(ctx, st, tr);
  float *grad = malloc(n * sizeof(float));
  memcpy(grad, st->net.params.grad, n * sizeof(float));

  /* central differences, one parameter at a time */
  double worst = 0, worst_sigma = 0;
  int bad = 0;
  float *v = st->net.params.value;
  for (size_t i = 0; i < n; i++) {
    float keep = v[i];
    v[i] = keep + (float)H;
    double up = step_loss(ctx, st, tr);
    v[i] = keep - (float)H;
    double down = step_loss(ctx, st, tr);
    v[i] = keep;
    double fd = (up - down) / (2 * H), d = fabs(fd - grad[i]);
    int sigma = i >= st->net.sigma && i < st->net.sigma + TVAE_FIXTURE_WIDTH;
    if (d > TOL_ABS + TOL_REL * fmax(fabs(fd), fabs(grad[i]))) {
      fprintf(stderr, "parameter %zu%s: analytic %.6g, finite difference %.6g\n", i,
              sigma ? " (sigma)" : "", grad[i], fd);
      bad++;
    }
    worst = fmax(worst, d);
    worst_sigma = sigma ? fmax(worst_sigma, d) : worst_sigma;
  }
  printf("first layer %s: loss %.6f over %zu parameters: max |analytic - finite difference| "
         "%.3g (sigma %.3g), tolerance %.0e + %.0e relative, %d outside\n",
         nonzeros ? "sparse" : "dense", loss, n, worst, worst_sigma, TOL_ABS, TOL_REL, bad);
  CHECK(bad == 0);

  /* the sigma gradient is not trivially zero on the scalar spans */
  CHECK(grad[st->net.sigma + 0] != 0.0f && grad[st->net.sigma + 4] != 0.0f);
  free(grad);
  sm_tvae_train_free(tr);
  tvae_fixture_free(st);
  return loss;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_SELF);

  /* the encoded rows: 4 nonzeros of 7 columns each, so the first layer takes them sparse */
  double sparse = check_rows(&ctx, tvae_fixture_rows(), 4);

  /* a row outside the batch with its first one-hot span made soft (columns 1-3): the first
   * layer goes dense, and the batch's loss is the sparse one */
  float *soft = tvae_fixture_rows();
  soft[2 * TVAE_FIXTURE_WIDTH + 1] = 0.25f;
  soft[2 * TVAE_FIXTURE_WIDTH + 2] = 0.0f;
  soft[2 * TVAE_FIXTURE_WIDTH + 3] = 0.75f;
  CHECK_CLOSE(check_rows(&ctx, soft, 0), sparse, 1e-5 * sparse);

  sm_ctx_free(&ctx);
  return test_finish();
}
