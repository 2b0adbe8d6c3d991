/* CTGAN's new gradients against central finite differences of their float forwards:
 * the Linear's gradient-of-gradient (sm_linear_double_backward), the discriminator's
 * backward, the gradient penalty's parameter gradient (the second backward pass), the
 * generator's residual blocks with batch normalisation, and spectral normalisation of the
 * critic. Each check also shows that a zeroed gradient fails it. */
#include "models/ctgan.h"
#include "nn/nn_test.h"

enum { ROWS = 5, IN = 4, OUT = 3 };
enum { PACKS = 4, PACK_IN = 12 };

/* ---- Linear double backward ------------------------------------------------------------ */

typedef struct double_case {
  sm_linear l;
  sm_nn_params p;
  float dy[ROWS * OUT], u[ROWS * IN], c[ROWS * IN];
} double_case;

/* sum c .* (dy W^T) */
static double double_objective(void *state) {
  double_case *k = state;
  sm_linear_input_grad(k->u, k->dy, &k->l, &k->p, ROWS);
  return weighted_sum(k->c, k->u, ROWS * IN);
}

static void check_double_backward(sm_ctx *ctx) {
  double_case k = {0};
  sm_linear_reserve(&k.l, &k.p, IN, OUT);
  CHECK(sm_nn_params_alloc(ctx, &k.p) == SM_OK);
  sm_linear_init_default(&k.l, &k.p, 21);
  rand_floats(k.dy, ROWS * OUT, 22, -1, 1);
  rand_floats(k.c, ROWS * IN, 23, -1, 1);

  /* analytic: dW and d(dy); the bias gets nothing */
  float d_dy[ROWS * OUT], dw[IN * OUT];
  sm_nn_zero_grad(&k.p);
  sm_linear_double_backward(d_dy, &k.p, k.c, k.dy, &k.l, ROWS);
  memcpy(dw, k.p.grad + k.l.w, sizeof dw);
  check_grad("double backward d(dy)", k.dy, ROWS * OUT, d_dy, double_objective, &k);
  check_grad("double backward dW", k.p.value + k.l.w, IN * OUT, dw, double_objective, &k);
  for (int j = 0; j < OUT; j++)
    CHECK(k.p.grad[k.l.b + j] == 0.0f);
  sm_nn_params_free(&k.p);
}

/* ---- discriminator and penalty ---------------------------------------------------------- */

typedef struct dis_case {
  ctgan_dis d;
  sm_nn_params p;
  ctgan_dis_acts a;
  ctgan_dis_work w;
  float *acts, *work;
  float x[PACKS * PACK_IN], c[PACKS];
  float weight;
} dis_case;

static void dis_setup(sm_ctx *ctx, dis_case *k, uint64_t seed) {
  static const int dims[] = {7, 5};
  memset(k, 0, sizeof *k);
  k->d.in = PACK_IN;
  k->d.n_hidden = 2;
  int in = PACK_IN;
  for (int i = 0; i < 2; i++) {
    k->d.dims[i] = dims[i];
    sm_linear_reserve(&k->d.fc[i], &k->p, in, dims[i]);
    in = dims[i];
  }
  sm_linear_reserve(&k->d.fc[2], &k->p, in, 1);
  CHECK(sm_nn_params_alloc(ctx, &k->p) == SM_OK);
  rand_floats(k->p.value, k->p.n, seed, -0.6, 0.6);
  rand_floats(k->x, PACKS * PACK_IN, seed + 1, -1, 1);
  rand_floats(k->c, PACKS, seed + 2, -1, 1);
  k->weight = 0.7f;
  k->acts = malloc(sm_ctgan_dis_carve(&k->d, PACKS, &k->a, NULL) * sizeof(float));
  k->work = malloc(sm_ctgan_dis_work_carve(&k->d, PACKS, &k->w, NULL) * sizeof(float));
  sm_ctgan_dis_carve(&k->d, PACKS, &k->a, k->acts);
  sm_ctgan_dis_work_carve(&k->d, PACKS, &k->w, k->work);
}

static void dis_free(dis_case *k) {
  free(k->acts);
  free(k->work);
  sm_nn_params_free(&k->p);
}

/* The smallest |pre-activation| of the forward (kinks must stay out of the step's reach). */
static double dis_margin(dis_case *k) {
  sm_ctgan_dis_forward(&k->a, k->x, &k->d, &k->p, PACKS, 5, 0);
  double m = 1e30;
  for (int l = 0; l < k->d.n_hidden; l++)
    for (int i = 0; i < PACKS * k->d.dims[l]; i++)
      m = fmin(m, fabs(k->a.pre[l][i]));
  return m;
}

/* sum c .* scores (dropout masks from a fixed stream, so every evaluation shares them) */
static double score_objective(void *state) {
  dis_case *k = state;
  sm_ctgan_dis_forward(&k->a, k->x, &k->d, &k->p, PACKS, 5, 0);
  return weighted_sum(k->c, k->a.y, PACKS);
}

/* the penalty sum weight (|d score / dx| - 1)^2 (its gradient goes to a discarded buffer) */
static double penalty_objective(void *state) {
  dis_case *k = state;
  sm_ctgan_dis_forward(&k->a, k->x, &k->d, &k->p, PACKS, 5, 0);
  return sm_ctgan_penalty(&k->p, &k->a, &k->d, PACKS, k->weight, &k->w);
}

/* A case whose pre-activations keep a margin of 0.05 from the kinks. */
static void dis_case_with_margin(sm_ctx *ctx, dis_case *k) {
  for (uint64_t seed = 100;; seed += 10) {
    dis_setup(ctx, k, seed);
    if (dis_margin(k) > 0.05)
      return;
    dis_free(k);
  }
}

static void check_discriminator(sm_ctx *ctx) {
  dis_case k;
  dis_case_with_margin(ctx, &k);

  /* plain backward: parameters and input */
  float *g = malloc(k.p.n * sizeof(float)), dx[PACKS * PACK_IN];
  score_objective(&k);
  sm_nn_zero_grad(&k.p);
  sm_ctgan_dis_backward(dx, &k.p, k.c, k.x, &k.a, &k.d, PACKS, 1, &k.w);
  memcpy(g, k.p.grad, k.p.n * sizeof(float));
  check_grad("critic dx", k.x, PACKS * PACK_IN, dx, score_objective, &k);
  check_grad("critic all parameters", k.p.value, k.p.n, g, score_objective, &k);

  /* the input gradient alone matches, and leaves the parameter gradients alone */
  float dx2[PACKS * PACK_IN];
  sm_nn_zero_grad(&k.p);
  sm_ctgan_dis_backward(dx2, &k.p, k.c, k.x, &k.a, &k.d, PACKS, 0, &k.w);
  double worst = 0, touched = 0;
  for (int i = 0; i < PACKS * PACK_IN; i++)
    worst = fmax(worst, fabs(dx2[i] - dx[i]));
  for (size_t i = 0; i < k.p.n; i++)
    touched = fmax(touched, fabs(k.p.grad[i]));
  CHECK_CLOSE(worst, 0.0, 1e-6);
  CHECK(touched == 0.0);
  free(g);
  dis_free(&k);
}

static void check_penalty(sm_ctx *ctx) {
  dis_case k;
  dis_case_with_margin(ctx, &k);

  /* analytic penalty gradient; the biases get none */
  float *g = malloc(k.p.n * sizeof(float));
  sm_nn_zero_grad(&k.p);
  double pen = penalty_objective(&k);
  memcpy(g, k.p.grad, k.p.n * sizeof(float));
  printf("penalty %.6f over %d packs\n", pen, PACKS);
  CHECK(pen > 0);
  for (int l = 0; l <= k.d.n_hidden; l++) {
    char name[64];
    const sm_linear *fc = &k.d.fc[l];
    snprintf(name, sizeof name, "penalty dW layer %d", l);
    check_grad(name, k.p.value + fc->w, (size_t)fc->in * fc->out, g + fc->w, penalty_objective, &k);
    for (int j = 0; j < fc->out; j++)
      CHECK(g[fc->b + j] == 0.0f);
  }

  /* the biases do move the penalty only through the kinks: finite differences see zero */
  float zero[8] = {0};
  double err = fd_error(k.p.value + k.d.fc[0].b, 7, zero, penalty_objective, &k);
  printf("penalty bias layer 0: finite differences %.2e relative to zero\n", err);
  CHECK(err <= FD_TOL);
  free(g);
  dis_free(&k);
}

/* ---- generator ------------------------------------------------------------------------ */

enum { G_ROWS = 6, G_IN = 5, G_OUT = 4 };

typedef struct gen_case {
  sm_ctx *ctx;
  ctgan_gen g;
  sm_nn_params p;
  ctgan_gen_acts a;
  float *acts, *work;
  float c[G_ROWS * G_OUT], draw[G_ROWS * G_OUT];
} gen_case;

/* sum c .* raw output, batch statistics of the rows (training mode) */
static double gen_objective(void *state) {
  gen_case *k = state;
  CHECK(sm_ctgan_gen_forward(k->ctx, &k->a, &k->g, &k->p, G_ROWS, G_ROWS) == SM_OK);
  return weighted_sum(k->c, k->a.raw, G_ROWS * G_OUT);
}

static void check_generator(sm_ctx *ctx) {
  static const int dims[] = {6, 3};
  gen_case k = {.ctx = ctx};
  k.g.in = G_IN;
  k.g.n_res = 2;
  k.g.out = G_OUT;
  k.g.widths[0] = G_IN;
  for (int i = 0; i < 2; i++) {
    k.g.dims[i] = dims[i];
    sm_linear_reserve(&k.g.fc[i], &k.p, k.g.widths[i], dims[i]);
    CHECK(sm_batchnorm_reserve(ctx, &k.g.bn[i], &k.p, dims[i]) == SM_OK);
    k.g.widths[i + 1] = k.g.widths[i] + dims[i];
  }
  sm_linear_reserve(&k.g.last, &k.p, k.g.widths[2], G_OUT);
  CHECK(sm_nn_params_alloc(ctx, &k.p) == SM_OK);
  rand_floats(k.p.value, k.p.n, 31, -0.7, 0.7);
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < dims[i]; j++)
      k.p.value[k.g.bn[i].gamma + j] += 1.0f;
  k.acts = malloc(sm_ctgan_gen_carve(&k.g, G_ROWS, &k.a, NULL) * sizeof(float));
  k.work = malloc(sm_ctgan_gen_work(&k.g, G_ROWS) * sizeof(float));
  sm_ctgan_gen_carve(&k.g, G_ROWS, &k.a, k.acts);
  rand_floats(k.a.x[0], G_ROWS * G_IN, 32, -1, 1);
  rand_floats(k.c, G_ROWS * G_OUT, 33, -1, 1);

  /* analytic gradients of every parameter (Linear, batch normalisation, skip paths) */
  float *g = malloc(k.p.n * sizeof(float));
  gen_objective(&k);
  sm_nn_zero_grad(&k.p);
  memcpy(k.draw, k.c, sizeof k.draw);
  CHECK(sm_ctgan_gen_backward(ctx, &k.p, k.draw, &k.a, &k.g, G_ROWS, G_ROWS, k.work) == SM_OK);
  memcpy(g, k.p.grad, k.p.n * sizeof(float));
  check_grad("generator all parameters", k.p.value, k.p.n, g, gen_objective, &k);
  free(g);
  free(k.acts);
  free(k.work);
  for (int i = 0; i < 2; i++)
    sm_batchnorm_free(&k.g.bn[i]);
  sm_nn_params_free(&k.p);
}

/* ---- spectral normalisation ------------------------------------------------------------ */

enum { SN_WIDTH = 3, SN_COND = 1, SN_PAC = 2, SN_PACKS = 3 };

typedef struct sn_case {
  ctgan_net net;
  float *eff, *acts, *work;
  ctgan_dis_acts a;
  ctgan_dis_work w;
  float x[SN_PACKS * SN_PAC * (SN_WIDTH + SN_COND)], c[SN_PACKS];
} sn_case;

/* sum c .* scores + the penalty, through weights divided by sigma (u and v held fixed) */
static double sn_objective(void *state) {
  sn_case *k = state;
  sm_ctgan_sn_weights(k->eff, &k->net);
  sm_nn_params view = {k->eff, k->net.params.grad, k->net.n_dis};
  sm_ctgan_dis_forward(&k->a, k->x, &k->net.dis, &view, SN_PACKS, 5, 0);
  double pen = sm_ctgan_penalty(&view, &k->a, &k->net.dis, SN_PACKS, 0.3f, &k->w);
  return weighted_sum(k->c, k->a.y, SN_PACKS) + pen;
}

static void check_spectral_norm(sm_ctx *ctx) {
  ctgan_settings s = {.embedding_dim = 2,
                      .n_gen = 1,
                      .gen = {4},
                      .n_dis = 2,
                      .dis = {5, 4},
                      .pac = SN_PAC,
                      .spectral_norm = 1,
                      .seed = 3};
  sn_case k = {0};
  CHECK(sm_ctgan_layout(ctx, &k.net, &s, SN_WIDTH, SN_COND) == SM_OK);
  CHECK(sm_nn_params_alloc(ctx, &k.net.params) == SM_OK);
  rand_floats(k.net.params.value, k.net.params.n, 41, -0.8, 0.8);
  for (int i = 0; i < 20; i++)
    sm_ctgan_sn_power(&k.net);
  rand_floats(k.x, sizeof k.x / sizeof k.x[0], 42, -1, 1);
  rand_floats(k.c, SN_PACKS, 43, -1, 1);
  k.eff = malloc(k.net.n_dis * sizeof(float));
  k.acts = malloc(sm_ctgan_dis_carve(&k.net.dis, SN_PACKS, &k.a, NULL) * sizeof(float));
  k.work = malloc(sm_ctgan_dis_work_carve(&k.net.dis, SN_PACKS, &k.w, NULL) * sizeof(float));
  sm_ctgan_dis_carve(&k.net.dis, SN_PACKS, &k.a, k.acts);
  sm_ctgan_dis_work_carve(&k.net.dis, SN_PACKS, &k.w, k.work);

  /* after the power iterations sigma is the largest singular value: W / sigma has norm 1 */
  sm_ctgan_sn_weights(k.eff, &k.net);
  const sm_linear *l0 = &k.net.dis.fc[0];
  float *u = k.net.params.value + k.net.sn_u[0];
  double wu = 0.0;
  for (int a = 0; a < l0->in; a++) {
    double r = 0.0;
    for (int b = 0; b < l0->out; b++)
      r += (double)k.eff[l0->w + (size_t)a * l0->out + b] * u[b];
    wu += r * r;
  }
  printf("spectral norm: sigma of layer 0 %.5f, |W_sn u| %.6f\n", k.net.sn_sigma[0], sqrt(wu));
  CHECK_CLOSE(sqrt(wu), 1.0, 1e-4);

  /* gradients of the raw weights: the passes' gradients, then sm_ctgan_sn_backward */
  float *g = malloc(k.net.n_dis * sizeof(float));
  memset(k.net.params.grad, 0, k.net.params.n * sizeof(float));
  sn_objective(&k);
  memset(k.net.params.grad, 0, k.net.params.n * sizeof(float));
  sm_nn_params view = {k.eff, k.net.params.grad, k.net.n_dis};
  sm_ctgan_dis_backward(NULL, &view, k.c, k.x, &k.a, &k.net.dis, SN_PACKS, 1, &k.w);
  sm_ctgan_sn_weights(k.eff, &k.net);
  sm_ctgan_dis_forward(&k.a, k.x, &k.net.dis, &view, SN_PACKS, 5, 0);
  sm_ctgan_penalty(&view, &k.a, &k.net.dis, SN_PACKS, 0.3f, &k.w);
  sm_ctgan_sn_backward(k.net.params.grad, &k.net);
  memcpy(g, k.net.params.grad, k.net.n_dis * sizeof(float));
  for (int i = 0; i <= k.net.dis.n_hidden; i++) {
    char name[64];
    const sm_linear *l = &k.net.dis.fc[i];
    snprintf(name, sizeof name, "spectral norm dW layer %d", i);
    check_grad(name, k.net.params.value + l->w, (size_t)l->in * l->out, g + l->w, sn_objective, &k);
  }
  free(g);
  free(k.eff);
  free(k.acts);
  free(k.work);
  sm_ctgan_net_free(&k.net);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_SELF);
  check_double_backward(&ctx);
  check_discriminator(&ctx);
  check_penalty(&ctx);
  check_generator(&ctx);
  check_spectral_norm(&ctx);
  sm_ctx_free(&ctx);
  return test_finish();
}
