/* The TVAE training step against central finite differences of its own loss
 * (loss_factor * reconstruction + beta * KL, summed over the batch rows) for every
 * parameter, sigma included, on a small hand-made encoding with scalar and one-hot spans. */
#include <stdlib.h>
#include <string.h>

#include "models/tvae.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define WIDTH 7
#define ROWS 6
/* central differences in float32 arithmetic: step and tolerances */
#define H 4e-3
#define TOL_ABS 4e-3
#define TOL_REL 2e-2

static const sm_span spans[] = {{SM_SPAN_SCALAR, 0, 1, 0},
                                {SM_SPAN_ONEHOT, 1, 3, 0},
                                {SM_SPAN_SCALAR, 4, 1, 1},
                                {SM_SPAN_ONEHOT, 5, 2, 1}};

/* A state with small networks over the spans above; values from a test stream whose seed
 * was picked so that no ReLU input of these rows lies within H of zero (a difference
 * across a kink does not measure the derivative). */
static tvae_state *make_state(sm_ctx *ctx) {
  tvae_state *st = calloc(1, sizeof *st);
  tvae_settings *s = &st->set;
  s->embedding_dim = 3;
  s->n_compress = 1;
  s->compress[0] = 5;
  s->n_decompress = 2;
  s->decompress[0] = 4;
  s->decompress[1] = 5;
  s->loss_factor = 2.0;
  s->beta = 0.7;
  s->batch_size = ROWS;
  s->seed = 3;
  st->encoder.width = WIDTH;
  st->encoder.n_spans = 4;
  st->encoder.spans = malloc(sizeof spans);
  memcpy(st->encoder.spans, spans, sizeof spans);

  sm_tvae_layout(&st->net, s, WIDTH);
  CHECK(sm_nn_params_alloc(ctx, &st->net.params) == SM_OK);
  sm_rng rng;
  sm_rng_init(&rng, 11, SM_STREAM_TEST, 0);
  for (size_t i = 0; i < st->net.n_model; i++)
    st->net.params.value[i] = (float)(sm_rng_uniform(&rng) - 0.5);
  for (int c = 0; c < WIDTH; c++)
    st->net.params.value[st->net.sigma + c] = (float)(0.2 + 0.5 * sm_rng_uniform(&rng));
  return st;
}

/* Encoded rows: alpha in (-0.9, 0.9) for scalars, a random class for one-hots. */
static float *make_rows(void) {
  float *x = calloc(ROWS * WIDTH, sizeof(float));
  sm_rng rng;
  sm_rng_init(&rng, 10, SM_STREAM_TEST, 0);
  for (int r = 0; r < ROWS; r++)
    for (int k = 0; k < 4; k++) {
      const sm_span *sp = &spans[k];
      if (sp->kind == SM_SPAN_SCALAR)
        x[r * WIDTH + sp->start] = (float)(1.8 * sm_rng_uniform(&rng) - 0.9);
      else
        x[r * WIDTH + sp->start + (int)(sm_rng_uniform(&rng) * sp->width)] = 1.0f;
    }
  return x;
}

/* The step's total loss; gradients land in the parameter buffer. */
static double step_loss(sm_ctx *ctx, tvae_state *st, tvae_train *tr) {
  static const int64_t rows[] = {4, 1, 3, 0, 5};
  double loss[2] = {0, 0};
  sm_nn_zero_grad(&st->net.params);
  CHECK(sm_tvae_batch(ctx, tr, rows, 5, 5, 2, loss) == SM_OK);
  return st->set.loss_factor * loss[0] + st->set.beta * loss[1];
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_SELF);
  tvae_state *st = make_state(&ctx);
  tvae_train *tr = sm_tvae_train_wrap(&ctx, st, make_rows(), ROWS, 100);
  CHECK(tr != NULL);

  /* analytic gradients */
  size_t n = st->net.n_model;
  double loss = step_loss(&ctx, st, tr);
  float *grad = malloc(n * sizeof(float));
  memcpy(grad, st->net.params.grad, n * sizeof(float));

  /* central differences, one parameter at a time */
  double worst = 0, worst_sigma = 0;
  int bad = 0;
  float *v = st->net.params.value;
  for (size_t i = 0; i < n; i++) {
    float keep = v[i];
    v[i] = keep + (float)H;
    double up = step_loss(&ctx, st, tr);
    v[i] = keep - (float)H;
    double down = step_loss(&ctx, st, tr);
    v[i] = keep;
    double fd = (up - down) / (2 * H), d = fabs(fd - grad[i]);
    int sigma = i >= st->net.sigma && i < st->net.sigma + WIDTH;
    if (d > TOL_ABS + TOL_REL * fmax(fabs(fd), fabs(grad[i]))) {
      fprintf(stderr, "parameter %zu%s: analytic %.6g, finite difference %.6g\n", i,
              sigma ? " (sigma)" : "", grad[i], fd);
      bad++;
    }
    worst = fmax(worst, d);
    worst_sigma = sigma ? fmax(worst_sigma, d) : worst_sigma;
  }
  printf("loss %.6f over %zu parameters: max |analytic - finite difference| %.3g (sigma %.3g), "
         "tolerance %.0e + %.0e relative, %d outside\n",
         loss, n, worst, worst_sigma, TOL_ABS, TOL_REL, bad);
  CHECK(bad == 0);

  /* the sigma gradient is not trivially zero on the scalar spans */
  CHECK(grad[st->net.sigma + 0] != 0.0f && grad[st->net.sigma + 4] != 0.0f);
  free(grad);
  sm_tvae_train_free(tr);
  free(st->encoder.spans);
  sm_nn_params_free(&st->net.params);
  free(st);
  sm_ctx_free(&ctx);
  return test_finish();
}
