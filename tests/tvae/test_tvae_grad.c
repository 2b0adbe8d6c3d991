/* The TVAE training step against central finite differences of its own loss
 * (loss_factor * reconstruction + beta * KL, summed over the batch rows) for every
 * parameter, sigma included, on a small hand-made encoding with scalar and one-hot spans.
 * Where a step crosses a ReLU's kink the central difference mixes two slopes; there the
 * one-sided differences of second order on each side are taken, and the smooth side must
 * match. */
#include <stdlib.h>
#include <string.h>

#include "models/tvae.h"
#include "synthmpi/rng.h"
#include "test_util.h"
#include "tvae/tvae_fixture.h"

/* differences in float32 arithmetic: step and tolerances; at most MAX_KINKS parameters may
 * need the one-sided differences */
#define H 4e-3
#define TOL_ABS 4e-3
#define TOL_REL 2e-2
#define MAX_KINKS 12

/* The step's total loss; gradients land in the parameter buffer. */
static double step_loss(sm_ctx *ctx, tvae_state *st, tvae_train *tr) {
  static const int64_t rows[] = {4, 1, 3, 0, 5};
  double loss[2] = {0, 0};
  sm_nn_zero_grad(&st->net.params);
  CHECK(sm_tvae_batch(ctx, tr, rows, 5, 5, 2, loss) == SM_OK);
  return st->set.loss_factor * loss[0] + st->set.beta * loss[1];
}

/* The loss with parameter i moved by k steps of H. */
static double moved_loss(sm_ctx *ctx, tvae_state *st, tvae_train *tr, size_t i, int k) {
  float *v = st->net.params.value, keep = v[i];
  v[i] = keep + (float)(k * H);
  double loss = step_loss(ctx, st, tr);
  v[i] = keep;
  return loss;
}

static int close_to(double fd, double analytic) {
  return fabs(fd - analytic) <= TOL_ABS + TOL_REL * fmax(fabs(fd), fabs(analytic));
}

/* Whether the one-sided second-order difference on either side of parameter i matches. */
static int one_sided_match(sm_ctx *ctx, tvae_state *st, tvae_train *tr, size_t i, double analytic) {
  double f0 = moved_loss(ctx, st, tr, i, 0);
  double up =
      (-3 * f0 + 4 * moved_loss(ctx, st, tr, i, 1) - moved_loss(ctx, st, tr, i, 2)) / (2 * H);
  double down =
      (3 * f0 - 4 * moved_loss(ctx, st, tr, i, -1) + moved_loss(ctx, st, tr, i, -2)) / (2 * H);
  return close_to(up, analytic) || close_to(down, analytic);
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

  /* central differences, one parameter at a time; one-sided ones at kinks */
  double worst = 0, worst_sigma = 0;
  int bad = 0, kinks = 0;
  for (size_t i = 0; i < n; i++) {
    double fd = (moved_loss(ctx, st, tr, i, 1) - moved_loss(ctx, st, tr, i, -1)) / (2 * H);
    int sigma = i >= st->net.sigma && i < st->net.sigma + TVAE_FIXTURE_WIDTH;
    if (!close_to(fd, grad[i])) {
      int smooth_side = one_sided_match(ctx, st, tr, i, grad[i]);
      kinks += smooth_side;
      bad += !smooth_side;
      fprintf(stderr, "parameter %zu%s: analytic %.6g, central difference %.6g%s\n", i,
              sigma ? " (sigma)" : "", grad[i], fd,
              smooth_side ? ", a one-sided difference matches (a kink)" : "");
      continue;
    }
    worst = fmax(worst, fabs(fd - grad[i]));
    worst_sigma = sigma ? fmax(worst_sigma, fabs(fd - grad[i])) : worst_sigma;
  }
  printf("first layer %s: loss %.6f over %zu parameters: max |analytic - central difference| "
         "%.3g (sigma %.3g), tolerance %.0e + %.0e relative; %d at kinks, %d outside\n",
         nonzeros ? "sparse" : "dense", loss, n, worst, worst_sigma, TOL_ABS, TOL_REL, kinks, bad);
  CHECK(bad == 0);
  CHECK(kinks <= MAX_KINKS);

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
