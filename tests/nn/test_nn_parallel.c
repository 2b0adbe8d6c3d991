/* The layer engine across ranks: a global batch split unevenly over the ranks (rank 0 holds
 * no rows when there are two or more) must give what one process computes on the whole
 * batch: linear gradients after sm_nn_allreduce_grad, synchronised batch norm, and dropout
 * masks and Gumbel noise per global row. Also the linear forward against a naive loop. */
#include "nn_test.h"

enum { GLOBAL = 7, IN = 5, OUT = 4, BN_F = 3 };
/* float32 sums in another order: results agree to this. */
#define RANK_TOL 1e-5

/* This rank's rows [lo, hi) of the global batch: the block partition, with rank 0's rows
 * handed to rank 1, so one rank has none and the others differ in size. */
static void split_rows(const sm_ctx *ctx, int64_t *lo, int64_t *hi) {
  sm_partition(GLOBAL, ctx->size, ctx->rank, lo, hi);
  if (ctx->size >= 2 && ctx->rank == 0)
    *hi = *lo;
  if (ctx->size >= 2 && ctx->rank == 1)
    *lo = 0;
}

static double max_diff(const float *a, const float *b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; i++)
    worst = fmax(worst, fabs((double)a[i] - b[i]));
  return worst;
}

/* Largest difference over all ranks, printed by rank 0 under the given name. */
static double report_diff(const sm_ctx *ctx, const char *name, double local) {
  double worst = 0;
  MPI_Allreduce(&local, &worst, 1, MPI_DOUBLE, MPI_MAX, ctx->comm);
  if (ctx->rank == 0)
    printf("%d ranks: %-30s max diff %.2e (tol %.0e)\n", ctx->size, name, worst, RANK_TOL);
  return worst;
}

/* ---- linear: naive forward, per-example norms, gradient allreduce -------------------- */

static void check_linear_forward(sm_ctx *ctx, const sm_linear *l, const sm_nn_params *p,
                                 const float *x) {
  float y[GLOBAL * OUT], ref[GLOBAL * OUT];
  sm_linear_forward(y, x, l, p, GLOBAL);
  for (int r = 0; r < GLOBAL; r++)
    for (int j = 0; j < OUT; j++) {
      double s = p->value[l->b + j];
      for (int i = 0; i < IN; i++)
        s += (double)x[r * IN + i] * p->value[l->w + i * OUT + j];
      ref[r * OUT + j] = (float)s;
    }
  CHECK(report_diff(ctx, "linear forward vs naive loop", max_diff(y, ref, GLOBAL * OUT)) <=
        RANK_TOL);

  /* zero rows touch nothing */
  float untouched = 123.0f;
  sm_linear_forward(&untouched, x, l, p, 0);
  CHECK(untouched == 123.0f);
}

/* Per-example squared norms against the gradient of each row alone. */
static void check_example_norms(sm_ctx *ctx, const sm_linear *l, sm_nn_params *p, const float *x,
                                const float *dy) {
  double norm2[GLOBAL] = {0}, worst = 0;
  sm_linear_example_norms(norm2, dy, x, l, GLOBAL);
  for (int r = 0; r < GLOBAL; r++) {
    sm_nn_zero_grad(p);
    sm_linear_backward(NULL, p, dy + r * OUT, x + r * IN, l, 1);
    double want = 0;
    for (size_t k = 0; k < p->n; k++)
      want += (double)p->grad[k] * p->grad[k];
    worst = fmax(worst, fabs(norm2[r] - want) / want);
  }
  CHECK(report_diff(ctx, "example norms (relative)", worst) <= RANK_TOL);
}

static void check_linear(sm_ctx *ctx) {
  sm_linear l;
  sm_nn_params p = {0};
  sm_linear_reserve(&l, &p, IN, OUT);
  CHECK(sm_nn_params_alloc(ctx, &p) == SM_OK);
  sm_linear_init_default(&l, &p, 21);
  float x[GLOBAL * IN], dy[GLOBAL * OUT];
  rand_floats(x, GLOBAL * IN, 22, -1, 1);
  rand_floats(dy, GLOBAL * OUT, 23, -1, 1);
  check_linear_forward(ctx, &l, &p, x);
  check_example_norms(ctx, &l, &p, x, dy);

  /* reference: the whole batch in this process, mean over the batch */
  float *ref = malloc(p.n * sizeof(float));
  sm_nn_zero_grad(&p);
  sm_linear_backward(NULL, &p, dy, x, &l, GLOBAL);
  for (size_t k = 0; k < p.n; k++)
    ref[k] = p.grad[k] / GLOBAL;

  /* this rank's rows only, then one allreduce */
  int64_t lo, hi;
  split_rows(ctx, &lo, &hi);
  sm_nn_zero_grad(&p);
  sm_linear_backward(NULL, &p, dy + lo * OUT, x + lo * IN, &l, (int)(hi - lo));
  CHECK(sm_nn_allreduce_grad(ctx, &p, 1.0f / GLOBAL) == SM_OK);
  CHECK(report_diff(ctx, "allreduced linear gradient", max_diff(p.grad, ref, p.n)) <= RANK_TOL);

  /* every rank holds the same values, hence the same checksum; a change shows */
  uint64_t sum = sm_nn_checksum(&p), low = 0, high = 0;
  MPI_Allreduce(&sum, &low, 1, MPI_UINT64_T, MPI_MIN, ctx->comm);
  MPI_Allreduce(&sum, &high, 1, MPI_UINT64_T, MPI_MAX, ctx->comm);
  CHECK(low == high);
  p.value[3] = nextafterf(p.value[3], 1.0f);
  CHECK(sm_nn_checksum(&p) != sum);
  free(ref);
  sm_nn_params_free(&p);
}

/* ---- synchronised batch norm -------------------------------------------------------- */

typedef struct bn_result {
  float y[GLOBAL * BN_F], dx[GLOBAL * BN_F], dgamma[BN_F], dbeta[BN_F];
  double running_mean[BN_F], running_var[BN_F];
} bn_result;

/* Forward (training) and backward of rows [lo, hi) of x and dy; the parameter gradients are
 * allreduced (scale 1) like a training step does. Results land at the rows' own places. */
static void run_batchnorm(sm_ctx *ctx, bn_result *out, const float *x, const float *dy, int64_t lo,
                          int64_t hi) {
  sm_batchnorm bn;
  sm_nn_params p = {0};
  CHECK(sm_batchnorm_reserve(ctx, &bn, &p, BN_F) == SM_OK);
  CHECK(sm_nn_params_alloc(ctx, &p) == SM_OK);
  rand_floats(p.value, p.n, 31, 0.5, 1.5);
  int rows = (int)(hi - lo);
  const float *xr = x + lo * BN_F, *dyr = dy + lo * BN_F;

  CHECK(sm_batchnorm_forward(ctx, out->y + lo * BN_F, xr, &bn, &p, rows, GLOBAL, 1) == SM_OK);
  CHECK(sm_batchnorm_backward(ctx, out->dx + lo * BN_F, &p, dyr, xr, &bn, rows, GLOBAL) == SM_OK);
  CHECK(sm_nn_allreduce_grad(ctx, &p, 1.0f) == SM_OK);
  memcpy(out->dgamma, p.grad + bn.gamma, sizeof out->dgamma);
  memcpy(out->dbeta, p.grad + bn.beta, sizeof out->dbeta);
  memcpy(out->running_mean, bn.running_mean, sizeof out->running_mean);
  memcpy(out->running_var, bn.running_var, sizeof out->running_var);
  sm_batchnorm_free(&bn);
  sm_nn_params_free(&p);
}

static void check_batchnorm(sm_ctx *ctx) {
  float x[GLOBAL * BN_F], dy[GLOBAL * BN_F];
  rand_floats(x, GLOBAL * BN_F, 32, -1, 4);
  rand_floats(dy, GLOBAL * BN_F, 33, -1, 1);

  /* reference: the whole batch in this process alone */
  sm_ctx self;
  CHECK(sm_ctx_init(&self, MPI_COMM_SELF) == SM_OK);
  static bn_result ref, got;
  run_batchnorm(&self, &ref, x, dy, 0, GLOBAL);
  sm_ctx_free(&self);

  /* this rank's rows, statistics over all ranks */
  int64_t lo, hi;
  split_rows(ctx, &lo, &hi);
  run_batchnorm(ctx, &got, x, dy, lo, hi);
  size_t a = (size_t)lo * BN_F, n = (size_t)(hi - lo) * BN_F;
  CHECK(report_diff(ctx, "batchnorm y", max_diff(got.y + a, ref.y + a, n)) <= RANK_TOL);
  CHECK(report_diff(ctx, "batchnorm dx", max_diff(got.dx + a, ref.dx + a, n)) <= RANK_TOL);
  CHECK(report_diff(ctx, "batchnorm dgamma", max_diff(got.dgamma, ref.dgamma, BN_F)) <= RANK_TOL);
  CHECK(report_diff(ctx, "batchnorm dbeta", max_diff(got.dbeta, ref.dbeta, BN_F)) <= RANK_TOL);
  for (int j = 0; j < BN_F; j++) {
    CHECK_CLOSE(got.running_mean[j], ref.running_mean[j], RANK_TOL);
    CHECK_CLOSE(got.running_var[j], ref.running_var[j], RANK_TOL);
  }

  /* the running variance is PyTorch's: 0.9 + 0.1 * unbiased variance of column 0 */
  double mean = 0, ss = 0;
  for (int r = 0; r < GLOBAL; r++)
    mean += x[r * BN_F] / (double)GLOBAL;
  for (int r = 0; r < GLOBAL; r++)
    ss += (x[r * BN_F] - mean) * (x[r * BN_F] - mean);
  CHECK_CLOSE(ref.running_var[0], 0.9 + 0.1 * ss / (GLOBAL - 1), 1e-9);
  CHECK_CLOSE(ref.running_mean[0], 0.1 * mean, 1e-9);
}

/* ---- random streams per global row -------------------------------------------------- */

enum { COLS = 6 };

static void check_streams(sm_ctx *ctx) {
  float x[GLOBAL * COLS], whole[GLOBAL * COLS], part[GLOBAL * COLS];
  float mask_whole[GLOBAL * COLS], mask_part[GLOBAL * COLS];
  rand_floats(x, GLOBAL * COLS, 41, -2, 2);
  int64_t lo, hi;
  split_rows(ctx, &lo, &hi);
  int rows = (int)(hi - lo);
  size_t a = (size_t)lo * COLS, n = (size_t)rows * COLS;

  /* dropout masks: whole batch here against this rank's rows starting at row lo */
  sm_dropout_forward(whole, mask_whole, x, GLOBAL, COLS, 0.5f, 7, SM_STREAM_NN_DROPOUT, 0);
  sm_dropout_forward(part + a, mask_part + a, x + a, rows, COLS, 0.5f, 7, SM_STREAM_NN_DROPOUT, lo);
  CHECK(report_diff(ctx, "dropout mask by global row",
                    max_diff(mask_part + a, mask_whole + a, n)) == 0.0);

  /* Gumbel noise over the span [1, 5) */
  sm_gumbel_softmax_forward(whole, x, GLOBAL, COLS, 1, 4, 0.5f, 7, SM_STREAM_NN_NOISE, 0);
  sm_gumbel_softmax_forward(part, x + a, rows, COLS, 1, 4, 0.5f, 7, SM_STREAM_NN_NOISE, lo);
  double local = 0;
  for (int r = 0; r < rows; r++)
    local = fmax(local, max_diff(part + r * COLS + 1, whole + (lo + r) * COLS + 1, 4));
  CHECK(report_diff(ctx, "gumbel softmax by global row", local) == 0.0);

  /* rows differ from each other (the noise is not one draw repeated) */
  float a0[COLS] = {0}, a1[COLS] = {0}, zero[2 * COLS] = {0};
  sm_gumbel_softmax_forward(a0, zero, 1, COLS, 0, 3, 1.0f, 7, SM_STREAM_NN_NOISE, 0);
  sm_gumbel_softmax_forward(a1, zero, 1, COLS, 0, 3, 1.0f, 7, SM_STREAM_NN_NOISE, 1);
  CHECK(max_diff(a0, a1, 3) > 1e-3);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  CHECK(sm_ctx_init(&ctx, MPI_COMM_WORLD) == SM_OK);

  check_linear(&ctx);
  check_batchnorm(&ctx);
  check_streams(&ctx);

  sm_ctx_free(&ctx);
  return test_finish();
}
