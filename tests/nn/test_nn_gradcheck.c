/* Every layer and loss of the engine against central finite differences of its float
 * forward, with the scalar objective L = sum(w .* out) for layers and the loss itself for
 * losses. Each check also shows that a zeroed gradient fails it. */
#include "nn_test.h"

enum { ROWS = 5, IN = 4, OUT = 3 };

/* ---- linear ------------------------------------------------------------------------- */

typedef struct linear_case {
  sm_linear l;
  sm_nn_params p;
  float x[ROWS * IN], y[ROWS * OUT], w[ROWS * OUT];
} linear_case;

static double linear_objective(void *state) {
  linear_case *c = state;
  sm_linear_forward(c->y, c->x, &c->l, &c->p, ROWS);
  return weighted_sum(c->w, c->y, ROWS * OUT);
}

static void check_linear(sm_ctx *ctx) {
  linear_case c = {0};
  sm_linear_reserve(&c.l, &c.p, IN, OUT);
  CHECK(sm_nn_params_alloc(ctx, &c.p) == SM_OK);
  sm_linear_init_default(&c.l, &c.p, 11);
  rand_floats(c.x, ROWS * IN, 1, -1, 1);
  rand_floats(c.w, ROWS * OUT, 2, -1, 1);

  /* analytic gradients: dy = w; the parameter gradients are copied out */
  float dx[ROWS * IN], dw[IN * OUT], db[OUT];
  linear_objective(&c);
  sm_nn_zero_grad(&c.p);
  sm_linear_backward(dx, &c.p, c.w, c.x, &c.l, ROWS);
  memcpy(dw, c.p.grad + c.l.w, sizeof dw);
  memcpy(db, c.p.grad + c.l.b, sizeof db);

  check_grad("linear dx", c.x, ROWS * IN, dx, linear_objective, &c);
  check_grad("linear dW", c.p.value + c.l.w, IN * OUT, dw, linear_objective, &c);
  check_grad("linear db", c.p.value + c.l.b, OUT, db, linear_objective, &c);

  /* the parameter gradients accumulate: a second backward doubles them */
  sm_linear_backward(NULL, &c.p, c.w, c.x, &c.l, ROWS);
  CHECK_CLOSE(c.p.grad[c.l.w + 1], 2.0 * dw[1], 1e-5);
  CHECK_CLOSE(c.p.grad[c.l.b + 2], 2.0 * db[2], 1e-5);
  sm_nn_params_free(&c.p);
}

/* ---- linear over sparse rows --------------------------------------------------------- */

enum { SP_ROWS = 7, SP_IN = 40, SP_OUT = 150, SP_NNZ = 5 };

/* The sparse forward and backward against the dense layer (itself checked above) on rows
 * with SP_NNZ nonzeros each, one of them a padding zero; SP_OUT spans two whole blocks of
 * the forward and a remainder. */
static void check_linear_sparse(sm_ctx *ctx) {
  sm_linear l;
  sm_nn_params p = {0};
  sm_linear_reserve(&l, &p, SP_IN, SP_OUT);
  CHECK(sm_nn_params_alloc(ctx, &p) == SM_OK);
  sm_linear_init_default(&l, &p, 12);

  /* rows: distinct columns r, r + 7, ..., values from the test stream, the last one 0 */
  int32_t col[SP_ROWS * SP_NNZ];
  float val[SP_ROWS * SP_NNZ], x[SP_ROWS * SP_IN] = {0}, dy[SP_ROWS * SP_OUT];
  rand_floats(val, SP_ROWS * SP_NNZ, 3, -1, 1);
  rand_floats(dy, SP_ROWS * SP_OUT, 4, -1, 1);
  for (int r = 0; r < SP_ROWS; r++)
    for (int k = 0; k < SP_NNZ; k++) {
      int at = r * SP_NNZ + k;
      col[at] = (r + 7 * k) % SP_IN;
      val[at] = k == SP_NNZ - 1 ? 0.0f : val[at];
      x[r * SP_IN + col[at]] = val[at];
    }
  sm_sparse_rows sx = {.col = col, .val = val, .nnz = SP_NNZ};

  /* forward */
  float y[SP_ROWS * SP_OUT], ys[SP_ROWS * SP_OUT];
  sm_linear_forward(y, x, &l, &p, SP_ROWS);
  sm_linear_forward_sparse(ys, &sx, &l, &p, SP_ROWS);
  double worst = 0;
  for (int i = 0; i < SP_ROWS * SP_OUT; i++)
    worst = fmax(worst, fabs((double)y[i] - ys[i]));
  printf("sparse linear forward: max |dense - sparse| %.2e\n", worst);
  CHECK(worst < 1e-5);

  /* backward: the same parameter gradients, accumulated */
  float *dense_grad = malloc(p.n * sizeof(float));
  sm_nn_zero_grad(&p);
  sm_linear_backward(NULL, &p, dy, x, &l, SP_ROWS);
  memcpy(dense_grad, p.grad, p.n * sizeof(float));
  sm_nn_zero_grad(&p);
  sm_linear_backward_sparse(&p, dy, &sx, &l, SP_ROWS);
  sm_linear_backward_sparse(&p, dy, &sx, &l, SP_ROWS);
  worst = 0;
  for (size_t i = 0; i < p.n; i++)
    worst = fmax(worst, fabs(2.0 * dense_grad[i] - p.grad[i]));
  printf("sparse linear backward (twice): max |2 dense - sparse| %.2e\n", worst);
  CHECK(worst < 1e-5);
  free(dense_grad);
  CHECK(p.grad[l.w + (size_t)col[0] * SP_OUT] != 0.0f);
  sm_nn_params_free(&p);
}

/* ---- elementwise activations -------------------------------------------------------- */

enum { ACT_N = 24 };
enum act_kind { ACT_RELU, ACT_LEAKY, ACT_TANH, ACT_GELU };

typedef struct act_case {
  enum act_kind kind;
  float x[ACT_N], y[ACT_N], w[ACT_N];
} act_case;

static double act_objective(void *state) {
  act_case *c = state;
  if (c->kind == ACT_RELU)
    sm_relu_forward(c->y, c->x, ACT_N);
  else if (c->kind == ACT_LEAKY)
    sm_leaky_relu_forward(c->y, c->x, ACT_N, 0.2f);
  else if (c->kind == ACT_TANH)
    sm_tanh_forward(c->y, c->x, ACT_N);
  else
    sm_gelu_forward(c->y, c->x, ACT_N);
  return weighted_sum(c->w, c->y, ACT_N);
}

static void check_activation(enum act_kind kind, const char *name) {
  act_case c = {.kind = kind};
  rand_floats(c.x, ACT_N, 3, -3, 3);
  rand_floats(c.w, ACT_N, 4, -1, 1);

  /* keep inputs off the kink at 0 by more than the finite-difference step */
  for (int i = 0; i < ACT_N; i++)
    if (fabsf(c.x[i]) < 0.1f)
      c.x[i] = c.x[i] < 0 ? -0.1f - c.x[i] : 0.1f + c.x[i];

  /* analytic gradient with dy = w (dx aliasing a copy of dy, as the header allows) */
  float dx[ACT_N];
  act_objective(&c);
  memcpy(dx, c.w, sizeof dx);
  if (kind == ACT_RELU)
    sm_relu_backward(dx, dx, c.x, ACT_N);
  else if (kind == ACT_LEAKY)
    sm_leaky_relu_backward(dx, dx, c.x, ACT_N, 0.2f);
  else if (kind == ACT_TANH)
    sm_tanh_backward(dx, dx, c.y, ACT_N);
  else
    sm_gelu_backward(dx, dx, c.x, ACT_N);
  check_grad(name, c.x, ACT_N, dx, act_objective, &c);
}

/* ---- softmax and Gumbel-softmax over a span ----------------------------------------- */

enum { SM_ROWS = 4, STRIDE = 7, START = 2, WIDTH = 4 };

typedef struct softmax_case {
  int gumbel;
  float x[SM_ROWS * STRIDE], y[SM_ROWS * STRIDE], w[SM_ROWS * STRIDE];
} softmax_case;

static double softmax_objective(void *state) {
  softmax_case *c = state;
  if (c->gumbel)
    sm_gumbel_softmax_forward(c->y, c->x, SM_ROWS, STRIDE, START, WIDTH, 0.7f, 5,
                              SM_STREAM_NN_NOISE, 100);
  else
    sm_softmax_forward(c->y, c->x, SM_ROWS, STRIDE, START, WIDTH);
  return weighted_sum(c->w, c->y, SM_ROWS * STRIDE);
}

static void check_softmax(int gumbel, const char *name) {
  softmax_case c = {.gumbel = gumbel};
  rand_floats(c.x, SM_ROWS * STRIDE, 6, -2, 2);
  rand_floats(c.w, SM_ROWS * STRIDE, 7, -1, 1);

  /* columns outside the span carry no weight: the layer leaves them alone */
  for (int r = 0; r < SM_ROWS; r++)
    for (int j = 0; j < STRIDE; j++)
      if (j < START || j >= START + WIDTH)
        c.w[r * STRIDE + j] = 0;

  /* analytic gradient; dx outside the span must stay untouched */
  float dx[SM_ROWS * STRIDE];
  for (int k = 0; k < SM_ROWS * STRIDE; k++)
    dx[k] = 0;
  softmax_objective(&c);
  for (int r = 0; r < SM_ROWS; r++) {
    double total = 0;
    for (int j = START; j < START + WIDTH; j++)
      total += c.y[r * STRIDE + j];
    CHECK_CLOSE(total, 1.0, 1e-6);
  }
  if (gumbel)
    sm_gumbel_softmax_backward(dx, c.w, c.y, SM_ROWS, STRIDE, START, WIDTH, 0.7f);
  else
    sm_softmax_backward(dx, c.w, c.y, SM_ROWS, STRIDE, START, WIDTH);
  check_grad(name, c.x, SM_ROWS * STRIDE, dx, softmax_objective, &c);
}

/* ---- dropout ------------------------------------------------------------------------ */

enum { DR_ROWS = 6, DR_COLS = 5 };

typedef struct dropout_case {
  float x[DR_ROWS * DR_COLS], y[DR_ROWS * DR_COLS], w[DR_ROWS * DR_COLS];
  float mask[DR_ROWS * DR_COLS];
} dropout_case;

static double dropout_objective(void *state) {
  dropout_case *c = state;
  sm_dropout_forward(c->y, c->mask, c->x, DR_ROWS, DR_COLS, 0.4f, 9, SM_STREAM_NN_DROPOUT, 20);
  return weighted_sum(c->w, c->y, DR_ROWS * DR_COLS);
}

static void check_dropout(void) {
  dropout_case c;
  rand_floats(c.x, DR_ROWS * DR_COLS, 8, -2, 2);
  rand_floats(c.w, DR_ROWS * DR_COLS, 9, -1, 1);

  /* the mask holds zeros and 1 / (1 - rate) only, and both occur */
  float dx[DR_ROWS * DR_COLS];
  dropout_objective(&c);
  int dropped = 0, kept = 0;
  for (int k = 0; k < DR_ROWS * DR_COLS; k++) {
    dropped += c.mask[k] == 0.0f;
    kept += fabsf(c.mask[k] - 1.0f / 0.6f) < 1e-6f;
  }
  printf("dropout: %d of %d dropped at rate 0.4\n", dropped, DR_ROWS * DR_COLS);
  CHECK(dropped > 0 && kept > 0 && dropped + kept == DR_ROWS * DR_COLS);
  sm_dropout_backward(dx, c.w, c.mask, DR_ROWS * DR_COLS);
  check_grad("dropout dx", c.x, DR_ROWS * DR_COLS, dx, dropout_objective, &c);
}

/* ---- batch normalisation (training mode) -------------------------------------------- */

enum { BN_ROWS = 6, BN_F = 3 };

typedef struct bn_case {
  sm_ctx *ctx;
  sm_batchnorm bn;
  sm_nn_params p;
  float x[BN_ROWS * BN_F], y[BN_ROWS * BN_F], w[BN_ROWS * BN_F];
} bn_case;

static double bn_objective(void *state) {
  bn_case *c = state;
  int rc = sm_batchnorm_forward(c->ctx, c->y, c->x, &c->bn, &c->p, BN_ROWS, BN_ROWS, 1);
  CHECK(rc == SM_OK);
  return weighted_sum(c->w, c->y, BN_ROWS * BN_F);
}

static void check_batchnorm(sm_ctx *ctx) {
  bn_case c = {.ctx = ctx};
  CHECK(sm_batchnorm_reserve(ctx, &c.bn, &c.p, BN_F) == SM_OK);
  CHECK(sm_nn_params_alloc(ctx, &c.p) == SM_OK);
  rand_floats(c.p.value, c.p.n, 10, 0.5, 1.5);
  rand_floats(c.x, BN_ROWS * BN_F, 11, -2, 3);
  rand_floats(c.w, BN_ROWS * BN_F, 12, -1, 1);

  /* analytic gradients */
  float dx[BN_ROWS * BN_F], dgamma[BN_F], dbeta[BN_F];
  bn_objective(&c);
  sm_nn_zero_grad(&c.p);
  CHECK(sm_batchnorm_backward(ctx, dx, &c.p, c.w, c.x, &c.bn, BN_ROWS, BN_ROWS) == SM_OK);
  memcpy(dgamma, c.p.grad + c.bn.gamma, sizeof dgamma);
  memcpy(dbeta, c.p.grad + c.bn.beta, sizeof dbeta);

  check_grad("batchnorm dx", c.x, BN_ROWS * BN_F, dx, bn_objective, &c);
  check_grad("batchnorm dgamma", c.p.value + c.bn.gamma, BN_F, dgamma, bn_objective, &c);
  check_grad("batchnorm dbeta", c.p.value + c.bn.beta, BN_F, dbeta, bn_objective, &c);
  sm_batchnorm_free(&c.bn);
  sm_nn_params_free(&c.p);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  CHECK(sm_ctx_init(&ctx, MPI_COMM_WORLD) == SM_OK);

  check_linear(&ctx);
  check_linear_sparse(&ctx);
  check_activation(ACT_RELU, "relu");
  check_activation(ACT_LEAKY, "leaky relu");
  check_activation(ACT_TANH, "tanh");
  check_activation(ACT_GELU, "gelu");
  check_softmax(0, "softmax");
  check_softmax(1, "gumbel softmax");
  check_dropout();
  check_batchnorm(&ctx);

  sm_ctx_free(&ctx);
  return test_finish();
}
