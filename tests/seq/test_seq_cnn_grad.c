/* dna_cnn on one rank: the whole model's loss gradient against central finite differences
 * on a tiny network, causality of the whole model (the prediction of base t never moves
 * when a base at or after t changes), and sampling: the logits the cached step-by-step
 * sampler drew each base from equal the full forward's on the sampled sequence, and a
 * sequence's bases do not depend on which others are drawn beside it. */
#include "nn/nn_test.h"
#include "seq/cnn.h"

enum { LEN = 37, N_SAMPLE = 21, SAMPLE_LEN = 45 };
/* One-hot inputs make many pre-activations exactly equal, and a relu's kink inside the
 * difference's interval spoils it; so each parameter is differenced at two steps and the
 * analytic value must match one of them. The tolerance is relative to the largest
 * gradient. */
#define MODEL_FD_STEP 5e-4
#define MODEL_FD_STEP_SMALL 5e-5
#define MODEL_FD_TOL 2e-3

typedef struct model_case {
  sm_ctx *ctx;
  sm_cnn *m;
  sm_cnn_work *w;
  uint8_t codes[LEN];
  double logp[LEN * 4];
} model_case;

/* Sum over bases of -ln p(base): the loss sm_cnn_sequence_grad differentiates. */
static double model_objective(void *state) {
  model_case *c = state;
  double nats = 0;
  CHECK(sm_cnn_sequence_logp(c->ctx, c->m, &c->w, c->codes, LEN, c->logp) == SM_OK);
  for (int t = 0; t < LEN; t++)
    nats -= c->logp[t * 4 + c->codes[t]];
  return nats;
}

/* (f(v + h) - f(v - h)) / 2h at the float steps actually taken; v is restored. */
static double central_difference(model_case *c, float *v, double h) {
  float saved = *v;
  *v = (float)(saved + h);
  double up = model_objective(c), x_up = *v;
  *v = (float)(saved - h);
  double down = model_objective(c), x_down = *v;
  *v = saved;
  return (up - down) / (x_up - x_down);
}

static sm_cnn_settings tiny(int kernel, int blocks, int cycle) {
  sm_cnn_settings s = {.channels = 3,
                       .blocks = blocks,
                       .kernel = kernel,
                       .cycle = cycle,
                       .batch_size = 1,
                       .epochs = 1,
                       .lr = 1e-3,
                       .seed = 3};
  return s;
}

static void random_codes(uint8_t *codes, int n, uint64_t seed) {
  sm_rng rng;
  sm_rng_init(&rng, seed, SM_STREAM_TEST, 0);
  for (int i = 0; i < n; i++)
    codes[i] = (uint8_t)(sm_rng_uniform(&rng) * 4.0);
}

static void check_gradient(sm_ctx *ctx, int kernel, int blocks, int cycle) {
  model_case c = {.ctx = ctx};
  sm_cnn_settings s = tiny(kernel, blocks, cycle);
  CHECK(sm_cnn_create(ctx, &s, &c.m) == SM_OK);
  random_codes(c.codes, LEN, 17);

  /* analytic: the grad of the summed loss; the returned sum is the objective's */
  size_t n = c.m->n_model;
  float *analytic = malloc(n * sizeof(float));
  double nats = 0;
  sm_nn_zero_grad(&c.m->params);
  CHECK(sm_cnn_sequence_grad(ctx, c.m, &c.w, c.codes, LEN, 1.0f, &nats) == SM_OK);
  memcpy(analytic, c.m->params.grad, n * sizeof(float));
  CHECK_CLOSE(nats, model_objective(&c), 1e-4);

  char name[64];
  snprintf(name, sizeof name, "dna_cnn k%d blocks %d cycle %d", kernel, blocks, cycle);
  double worst = 0, scale = 1e-3, control = 0;
  for (size_t i = 0; i < n; i++) {
    double fd[2];
    for (int k = 0; k < 2; k++)
      fd[k] = central_difference(&c, c.m->params.value + i,
                                 k == 0 ? MODEL_FD_STEP : MODEL_FD_STEP_SMALL);
    worst = fmax(worst, fmin(fabs(analytic[i] - fd[0]), fabs(analytic[i] - fd[1])));
    control = fmax(control, fabs(fd[0]));
    scale = fmax(scale, fabs(fd[0]));
  }
  printf("gradcheck %-30s %zu parameters: rel err %.2e (tol %.0e), zeroed gradient %.2e\n", name, n,
         worst / scale, MODEL_FD_TOL, control / scale);
  CHECK(worst / scale <= MODEL_FD_TOL);
  CHECK(control / scale >= FD_CONTROL_MIN);

  /* the scale multiplies the gradient */
  sm_nn_zero_grad(&c.m->params);
  CHECK(sm_cnn_sequence_grad(ctx, c.m, &c.w, c.codes, LEN, 0.5f, &nats) == SM_OK);
  CHECK_CLOSE(c.m->params.grad[c.m->head.w + 1], 0.5 * analytic[c.m->head.w + 1], 1e-6);
  free(analytic);
  sm_cnn_work_free(c.w);
  sm_cnn_free(c.m);
}

/* Changing base src moves the predictions of bases after src only, and moves some. */
static void check_causal(sm_ctx *ctx) {
  model_case c = {.ctx = ctx};
  sm_cnn_settings s = tiny(2, 3, 0);
  double base[LEN * 4];
  int leaks = 0, moved_after = 0;
  CHECK(sm_cnn_create(ctx, &s, &c.m) == SM_OK);
  random_codes(c.codes, LEN, 23);
  CHECK(sm_cnn_sequence_logp(ctx, c.m, &c.w, c.codes, LEN, base) == SM_OK);
  for (int src = 0; src < LEN; src++) {
    uint8_t saved = c.codes[src];
    c.codes[src] = (uint8_t)((saved + 1) % 4);
    CHECK(sm_cnn_sequence_logp(ctx, c.m, &c.w, c.codes, LEN, c.logp) == SM_OK);
    c.codes[src] = saved;
    for (int t = 0; t < LEN; t++) {
      int moved = memcmp(base + t * 4, c.logp + t * 4, 4 * sizeof(double)) != 0;
      leaks += moved && t <= src;
      moved_after += moved && t == src + 1;
    }
  }
  printf("causality: predictions moved by the base itself or a later one: %d (want 0); "
         "next-base predictions moved: %d of %d\n",
         leaks, moved_after, LEN - 1);
  CHECK(leaks == 0);
  CHECK(moved_after == LEN - 1);
  sm_cnn_work_free(c.w);
  sm_cnn_free(c.m);
}

/* Largest |log-softmax(sampler logits) - full forward logp| over one sampled sequence. */
static double logit_mismatch(sm_ctx *ctx, const sm_cnn *m, sm_cnn_work **w, const uint8_t *codes,
                             const float *logits) {
  double logp[SAMPLE_LEN * 4], worst = 0;
  CHECK(sm_cnn_sequence_logp(ctx, m, w, codes, SAMPLE_LEN, logp) == SM_OK);
  for (int t = 0; t < SAMPLE_LEN; t++) {
    const float *x = logits + t * 4;
    double top = fmax(fmax(x[0], x[1]), fmax(x[2], x[3])), sum = 0;
    for (int j = 0; j < 4; j++)
      sum += exp(x[j] - top);
    for (int j = 0; j < 4; j++)
      worst = fmax(worst, fabs(x[j] - top - log(sum) - logp[t * 4 + j]));
  }
  return worst;
}

static void check_sampling(sm_ctx *ctx) {
  sm_cnn *m = NULL;
  sm_cnn_work *w = NULL;
  sm_cnn_settings s = tiny(3, 4, 3); /* dilations 1, 2, 4, 1: rings wrap within the length */
  s.channels = 5;
  CHECK(sm_cnn_create(ctx, &s, &m) == SM_OK);
  uint8_t *all = malloc(N_SAMPLE * SAMPLE_LEN), *part = malloc(N_SAMPLE * SAMPLE_LEN);
  float *logits = malloc(N_SAMPLE * SAMPLE_LEN * 4 * sizeof(float));
  CHECK(sm_cnn_sample(ctx, m, 99, 0, N_SAMPLE, SAMPLE_LEN, all, logits) == SM_OK);

  /* the cached steps against the full forward */
  double worst = 0;
  for (int i = 0; i < N_SAMPLE; i++)
    worst = fmax(worst, logit_mismatch(ctx, m, &w, all + i * SAMPLE_LEN,
                                       logits + (size_t)i * SAMPLE_LEN * 4));
  printf("sampler logits vs full forward: max log-probability diff %.2e (tol 1e-4)\n", worst);
  CHECK(worst <= 1e-4);

  /* rows 3..9 and 10..20 drawn in other batches give the same bases */
  CHECK(sm_cnn_sample(ctx, m, 99, 3, 7, SAMPLE_LEN, part, NULL) == SM_OK);
  CHECK(sm_cnn_sample(ctx, m, 99, 10, 11, SAMPLE_LEN, part + 7 * SAMPLE_LEN, NULL) == SM_OK);
  CHECK(memcmp(part, all + 3 * SAMPLE_LEN, 18 * SAMPLE_LEN) == 0);

  /* another seed gives other sequences; every base is a code */
  CHECK(sm_cnn_sample(ctx, m, 100, 0, N_SAMPLE, SAMPLE_LEN, part, NULL) == SM_OK);
  CHECK(memcmp(part, all, N_SAMPLE * SAMPLE_LEN) != 0);
  for (int i = 0; i < N_SAMPLE * SAMPLE_LEN; i++)
    CHECK(all[i] < 4);
  free(all);
  free(part);
  free(logits);
  sm_cnn_work_free(w);
  sm_cnn_free(m);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  check_gradient(&ctx, 2, 2, 0);
  check_gradient(&ctx, 3, 3, 2);
  check_causal(&ctx);
  check_sampling(&ctx);
  sm_ctx_free(&ctx);
  return test_finish();
}
