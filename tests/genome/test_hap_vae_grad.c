/* The hap_vae training step against central finite differences of its own loss
 * (reconstruction + beta * KL, summed over the batch rows) for every parameter of small
 * networks (two hidden layers and a context of 2; one hidden layer; three hidden layers and
 * a context of 1), on hand-made haplotypes with missing alleles (masked out of the loss). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genome/hap_vae.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define ROWS 6
#define VARS 9
/* central differences in float32 arithmetic: step and tolerances. The step is small
 * enough that no LeakyReLU input of these rows crosses its kink (a step of 4e-3 does for
 * the three-layer network, and the difference then averages two slopes) */
#define H 1e-3
#define TOL_ABS 4e-3
#define TOL_REL 2e-2

/* The step's total loss for rows 4, 1, 3, 0, 5 at epoch 2; gradients land in the buffer. */
static double step_loss(sm_ctx *ctx, sm_hap_vae *v, hap_vae_train *tr) {
  static const int64_t rows[] = {4, 1, 3, 0, 5};
  double loss[2] = {0, 0};
  sm_nn_zero_grad(&v->params);
  CHECK(sm_hap_vae_batch(ctx, tr, rows, 5, 5, 2, loss) == SM_OK);
  return loss[0] + v->set.beta * loss[1];
}

/* Random 0/1 alleles with a few missing calls. */
static void fill_rows(sm_hapmat *m, uint8_t *g) {
  sm_rng r;
  sm_rng_init(&r, 7, SM_STREAM_TEST, 0);
  for (int i = 0; i < ROWS * VARS; i++)
    g[i] = sm_rng_uniform(&r) < 0.4 ? 1 : 0;
  g[3] = g[VARS + 7] = g[4 * VARS] = SM_ALLELE_MISSING;
  memset(m, 0, sizeof *m);
  m->n_rows = ROWS, m->n_vars = VARS, m->g = g;
}

/* A 9 -> hidden... -> latent 3 -> reversed hidden -> 9 network with beta 0.7. */
static void make_model(sm_ctx *ctx, sm_hap_vae *v, int n_hidden, const int *hidden, int context) {
  memset(v, 0, sizeof *v);
  v->set.latent = 3, v->set.n_hidden = n_hidden;
  memcpy(v->set.hidden, hidden, (size_t)n_hidden * sizeof(int));
  v->set.beta = 0.7, v->set.batch_size = ROWS, v->set.epochs = 1, v->set.seed = 3;
  v->set.temperature = 1, v->set.context = context;
  sm_hap_vae_layout(v, VARS);
  CHECK(sm_nn_params_alloc(ctx, &v->params) == SM_OK);
  sm_hap_vae_init(v);

  /* context weights away from their zero start */
  sm_rng r;
  sm_rng_init(&r, 5, SM_STREAM_TEST, 1);
  for (size_t i = 0; i < (size_t)VARS * context; i++)
    v->params.value[v->ctx_w + i] = (float)(sm_rng_uniform(&r) - 0.5);
  v->major = calloc(VARS, 1);
  v->major[3] = 1;
}

static void check_network(sm_ctx *ctx, int n_hidden, const int *hidden, int context) {
  sm_hap_vae v;
  sm_hapmat m;
  uint8_t g[ROWS * VARS];
  fill_rows(&m, g);
  make_model(ctx, &v, n_hidden, hidden, context);
  hap_vae_train *tr = sm_hap_vae_train_new(ctx, &v, &m, 100);
  CHECK(tr != NULL);

  /* analytic gradients */
  size_t n = v.n_model;
  double loss = step_loss(ctx, &v, tr);
  float *grad = malloc(n * sizeof(float));
  memcpy(grad, v.params.grad, n * sizeof(float));

  /* central differences, one parameter at a time */
  double worst = 0;
  int bad = 0, nonzero = 0;
  float *val = v.params.value;
  for (size_t i = 0; i < n; i++) {
    float keep = val[i];
    val[i] = keep + (float)H;
    double up = step_loss(ctx, &v, tr);
    val[i] = keep - (float)H;
    double down = step_loss(ctx, &v, tr);
    val[i] = keep;
    double fd = (up - down) / (2 * H), d = fabs(fd - grad[i]);
    if (d > TOL_ABS + TOL_REL * fmax(fabs(fd), fabs(grad[i]))) {
      fprintf(stderr, "parameter %zu: analytic %.6g, finite difference %.6g\n", i, grad[i], fd);
      bad++;
    }
    nonzero += grad[i] != 0.0f;
    worst = fmax(worst, d);
  }
  printf("%d hidden layers, context %d: loss %.6f over %zu parameters (%d with a non-zero "
         "gradient): max |analytic - finite "
         "difference| %.3g, tolerance %.0e + %.0e relative, %d outside\n",
         n_hidden, context, loss, n, nonzero, worst, TOL_ABS, TOL_REL, bad);
  CHECK(bad == 0);
  /* most parameters are reached (the rest: alignment padding of the buffer, and weights of
   * inputs that are 0 in every row of the batch) */
  CHECK(nonzero > (int)n / 2);

  /* missing calls are fed as the major allele but left out of the loss: observing that same
   * allele instead gives the same network input and one more (positive) loss term */
  g[3] = v.major[3], g[VARS + 7] = v.major[7], g[4 * VARS] = v.major[0];
  hap_vae_train *full = sm_hap_vae_train_new(ctx, &v, &m, 100);
  CHECK(full != NULL);
  double observed = full ? step_loss(ctx, &v, full) : 0;
  printf("loss with the three calls missing %.6f, observed %.6f\n", loss, observed);
  CHECK(observed > loss && observed - loss < 3 * 20.0);
  free(grad);
  sm_hap_vae_train_free(full);
  sm_hap_vae_train_free(tr);
  sm_hap_vae_free(&v);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_SELF);
  static const int two[] = {7, 5}, one[] = {6}, three[] = {7, 6, 4};
  check_network(&ctx, 2, two, 2);
  check_network(&ctx, 1, one, 0);
  check_network(&ctx, 3, three, 1);
  sm_ctx_free(&ctx);
  return test_finish();
}
