/* Adam and AdamW against the update of torch.optim written out in double here, and a small
 * data-parallel regression (y = 3x + 1 with one Linear) that must converge. */
#include "nn_test.h"

enum { N = 9, STEPS = 5 };
#define LR 1e-2
#define B1 0.9
#define B2 0.999
#define EPS 1e-8
#define WD 0.1

/* torch.optim.Adam / AdamW for one parameter vector, all in double. */
static void reference_step(double *w, double *m, double *v, const float *grad, int t,
                           int decoupled) {
  for (int i = 0; i < N; i++) {
    double g = grad[i];
    if (decoupled)
      w[i] *= 1.0 - LR * WD;
    else
      g += WD * w[i];
    m[i] = B1 * m[i] + (1.0 - B1) * g;
    v[i] = B2 * v[i] + (1.0 - B2) * g * g;
    double m_hat = m[i] / (1.0 - pow(B1, t)), v_hat = v[i] / (1.0 - pow(B2, t));
    w[i] -= LR * m_hat / (sqrt(v_hat) + EPS);
  }
}

static void check_against_reference(sm_ctx *ctx, int decoupled) {
  sm_nn_params p = {0};
  sm_nn_reserve(&p, N);
  CHECK(sm_nn_params_alloc(ctx, &p) == SM_OK);
  sm_adam opt;
  CHECK(sm_adam_init(ctx, &opt, p.n, LR, B1, B2, EPS, WD, decoupled) == SM_OK);
  rand_floats(p.value, N, 51, -1, 1);
  double w[N], m[N] = {0}, v[N] = {0};
  for (int i = 0; i < N; i++)
    w[i] = p.value[i];

  /* first step by hand: m_hat = g', v_hat = g'^2, so the move is lr g' / (|g'| + eps) */
  rand_floats(p.grad, N, 52, -2, 2);
  double g0 = p.grad[0] + (decoupled ? 0.0 : WD * w[0]);
  double w0 = w[0] * (decoupled ? 1.0 - LR * WD : 1.0) - LR * g0 / (fabs(g0) + EPS);
  sm_adam_step(&opt, &p);
  reference_step(w, m, v, p.grad, 1, decoupled);
  CHECK_CLOSE(p.value[0], w0, 1e-7);

  /* later steps with new gradients against the written-out update */
  double worst = 0;
  for (int t = 2; t <= STEPS; t++) {
    rand_floats(p.grad, N, 52 + (uint64_t)t, -2, 2);
    sm_adam_step(&opt, &p);
    reference_step(w, m, v, p.grad, t, decoupled);
    for (int i = 0; i < N; i++)
      worst = fmax(worst, fabs(p.value[i] - w[i]));
  }
  if (ctx->rank == 0)
    printf("%s: %d steps, max diff from the double reference %.2e (tol 1e-6)\n",
           decoupled ? "AdamW" : "Adam", STEPS, worst);
  CHECK(worst <= 1e-6);
  CHECK(opt.step == STEPS);
  sm_adam_free(&opt);
  sm_nn_params_free(&p);
}

enum { ROWS = 64, FIT_STEPS = 600 };

/* Data-parallel fit of y = 3x + 1: each rank holds a block of the rows, gradients are
 * averaged by one allreduce per step, every rank must end with the same parameters. */
static void check_regression(sm_ctx *ctx) {
  sm_linear l;
  sm_nn_params p = {0};
  sm_linear_reserve(&l, &p, 1, 1);
  CHECK(sm_nn_params_alloc(ctx, &p) == SM_OK);
  sm_linear_init_default(&l, &p, 61);
  sm_adam opt;
  CHECK(sm_adam_init(ctx, &opt, p.n, 0.05, 0.9, 0.999, 1e-8, 0.0, 0) == SM_OK);

  /* this rank's rows of the data */
  float x[ROWS], t[ROWS], y[ROWS], dy[ROWS];
  rand_floats(x, ROWS, 62, -1, 1);
  for (int r = 0; r < ROWS; r++)
    t[r] = 3.0f * x[r] + 1.0f;
  int64_t lo, hi;
  sm_partition(ROWS, ctx->size, ctx->rank, &lo, &hi);
  int rows = (int)(hi - lo);

  /* mean squared error, one allreduce per step */
  double loss = 0;
  for (int step = 0; step < FIT_STEPS; step++) {
    sm_nn_zero_grad(&p);
    sm_linear_forward(y, x + lo, &l, &p, rows);
    double local = sm_mse_loss(dy, y, t + lo, (size_t)rows, 1.0f);
    sm_linear_backward(NULL, &p, dy, x + lo, &l, rows);
    CHECK(sm_nn_allreduce_grad(ctx, &p, 1.0f / ROWS) == SM_OK);
    MPI_Allreduce(&local, &loss, 1, MPI_DOUBLE, MPI_SUM, ctx->comm);
    sm_adam_step(&opt, &p);
  }
  float w = p.value[l.w], b = p.value[l.b];
  if (ctx->rank == 0)
    printf("%d ranks: fit w %.5f (want 3), b %.5f (want 1), final loss %.3e\n", ctx->size, w, b,
           loss / ROWS);
  CHECK_CLOSE(w, 3.0, 1e-2);
  CHECK_CLOSE(b, 1.0, 1e-2);

  /* the same parameters everywhere */
  uint64_t sum = sm_nn_checksum(&p), low = 0, high = 0;
  MPI_Allreduce(&sum, &low, 1, MPI_UINT64_T, MPI_MIN, ctx->comm);
  MPI_Allreduce(&sum, &high, 1, MPI_UINT64_T, MPI_MAX, ctx->comm);
  CHECK(low == high);
  sm_adam_free(&opt);
  sm_nn_params_free(&p);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  CHECK(sm_ctx_init(&ctx, MPI_COMM_WORLD) == SM_OK);

  check_against_reference(&ctx, 0);
  check_against_reference(&ctx, 1);
  check_regression(&ctx);

  sm_ctx_free(&ctx);
  return test_finish();
}
