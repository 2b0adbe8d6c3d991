/* The training loop on a small linear regression: data-parallel semantics (the same fit on
 * one rank and on all ranks), a stop request on one rank interrupts every rank with a
 * checkpoint, a resumed run ends bitwise where an uninterrupted one does, and checkpoints of
 * a different experiment or a missing file are refused. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/trainer.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define N_ROWS 1003
#define DIM 4
#define BATCH 64
#define EPOCHS 4

/* The toy model: y = x w + b fitted by 0.5 (y - pred)^2. */
typedef struct toy {
  sm_linear layer;
  sm_nn_params params;
  sm_adam adam;
  float *x, *y;                     /* this rank's rows: (n, DIM), (n) */
  float *bx, *by, *pred;            /* one batch */
  volatile sig_atomic_t *stop_flag; /* set by the batch callback at stop_epoch */
  int64_t stop_epoch, stop_step;
  int stop_rank, rank;
} toy;

/* Row i of the data set, from its own stream. */
static void make_row(int64_t i, float *x, float *y) {
  static const float w[DIM] = {0.5f, -1.0f, 2.0f, 0.25f};
  sm_rng rng;
  sm_rng_init(&rng, 42, SM_STREAM_TEST, (uint64_t)i);
  *y = 0.3f + 0.1f * (float)sm_rng_normal(&rng);
  for (int k = 0; k < DIM; k++) {
    x[k] = (float)sm_rng_normal(&rng);
    *y += w[k] * x[k];
  }
}

static int toy_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global,
                     int64_t epoch, double *loss) {
  toy *t = model;
  for (int64_t r = 0; r < m; r++) {
    memcpy(t->bx + r * DIM, t->x + rows[r] * DIM, DIM * sizeof(float));
    t->by[r] = t->y[rows[r]];
  }
  sm_linear_forward(t->pred, t->bx, &t->layer, &t->params, (int)m);
  loss[0] += sm_mse_loss(t->pred, t->pred, t->by, (size_t)m, 1.0f);
  sm_linear_backward(NULL, &t->params, t->pred, t->bx, &t->layer, (int)m);

  /* a stop request raised on one rank only, as a signal would */
  if (t->stop_flag && t->rank == t->stop_rank && epoch == t->stop_epoch)
    *t->stop_flag = 1;
  return SM_OK;
}

/* Set up the toy on ctx's ranks (rows by sm_partition) and its trainer. */
static void toy_init(sm_ctx *ctx, toy *t, sm_trainer *tr, int64_t epochs) {
  memset(t, 0, sizeof *t);
  memset(tr, 0, sizeof *tr);
  int64_t lo, hi;
  sm_partition(N_ROWS, ctx->size, ctx->rank, &lo, &hi);
  t->rank = ctx->rank;
  t->x = malloc((size_t)(hi - lo + 1) * DIM * sizeof(float));
  t->y = malloc((size_t)(hi - lo + 1) * sizeof(float));
  for (int64_t i = lo; i < hi; i++)
    make_row(i, t->x + (i - lo) * DIM, t->y + (i - lo));
  t->bx = malloc(BATCH * DIM * sizeof(float));
  t->by = malloc(BATCH * sizeof(float));
  t->pred = malloc(BATCH * sizeof(float));

  sm_linear_reserve(&t->layer, &t->params, DIM, 1);
  tr->kind = "toy";
  tr->n_losses = 1;
  tr->loss_names[0] = "mse";
  tr->batch_size = BATCH;
  tr->epochs = epochs;
  tr->seed = 5;
  tr->batch = toy_batch;
  tr->model = t;
  tr->params = &t->params;
  tr->adam = &t->adam;
  tr->n_global = N_ROWS;
  tr->row_offset = lo;
  tr->n_local = hi - lo;
  sm_trainer_reserve(tr, &t->params);
  CHECK(sm_nn_params_alloc(ctx, &t->params) == SM_OK);
  sm_linear_init_default(&t->layer, &t->params, 3);
  CHECK(sm_adam_init(ctx, &t->adam, t->params.n, 0.05, 0.9, 0.999, 1e-8, 1e-4, 0) == SM_OK);
}

static void toy_free(toy *t, sm_trainer *tr) {
  free(t->x);
  free(t->y);
  free(t->bx);
  free(t->by);
  free(t->pred);
  sm_nn_params_free(&t->params);
  sm_adam_free(&t->adam);
  sm_trainer_free(tr);
}

/* Train the toy; returns the status; values (params->n) and history (EPOCHS) copied out. */
static int run_toy(sm_ctx *ctx, const sm_fit_options *opt, int64_t epochs, float *values,
                   double *history, volatile sig_atomic_t *flag, int64_t stop_epoch) {
  toy t;
  sm_trainer tr;
  toy_init(ctx, &t, &tr, epochs);
  t.stop_flag = flag;
  t.stop_epoch = stop_epoch;
  t.stop_rank = ctx->size - 1;
  int rc = sm_trainer_run(ctx, &tr, opt);
  if (values)
    memcpy(values, t.params.value, t.params.n * sizeof(float));
  if (history && rc == SM_OK)
    memcpy(history, tr.history, (size_t)epochs * sizeof(double));
  toy_free(&t, &tr);
  return rc;
}

static char *tmpdir(MPI_Comm comm) {
  char dir[64] = "/tmp/synthmpi_trainer_XXXXXX";
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0 && !mkdtemp(dir))
    dir[0] = '\0';
  MPI_Bcast(dir, (int)sizeof dir, MPI_CHAR, 0, comm);
  return strdup(dir);
}

static int exists(const char *path) {
  return access(path, F_OK) == 0;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx, self;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  sm_ctx_init(&self, MPI_COMM_SELF);
  ctx.log_level = self.log_level = SM_LOG_WARN;
  char *dir = tmpdir(MPI_COMM_WORLD), ckpt[256], other[256];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", dir);
  snprintf(other, sizeof other, "%s/missing.h5", dir);
  size_t n = 0;
  {
    toy t;
    sm_trainer tr;
    toy_init(&ctx, &t, &tr, EPOCHS);
    n = t.params.n;
    toy_free(&t, &tr);
  }
  float *straight = calloc(n, sizeof(float)), *single = calloc(n, sizeof(float));
  float *resumed = calloc(n, sizeof(float));
  double hist[EPOCHS], hist_single[EPOCHS], hist_resumed[EPOCHS];

  /* (1) all ranks against one rank holding every row: the same fit up to rounding */
  sm_fit_options plain = {0};
  CHECK(run_toy(&ctx, &plain, EPOCHS, straight, hist, NULL, -1) == SM_OK);
  CHECK(run_toy(&self, &plain, EPOCHS, single, hist_single, NULL, -1) == SM_OK);
  double worst = 0;
  for (size_t i = 0; i < n; i++)
    worst = fmax(worst, fabs((double)straight[i] - single[i]));
  if (ctx.rank == 0)
    printf("loss per epoch: %.6f %.6f %.6f %.6f (one rank: %.6f ... %.6f); max parameter "
           "difference to one rank %.3g (tol 1e-5)\n",
           hist[0], hist[1], hist[2], hist[3], hist_single[0], hist_single[3], worst);
  CHECK(worst <= 1e-5);
  for (int e = 0; e < EPOCHS; e++)
    CHECK_CLOSE(hist[e], hist_single[e], 1e-5 * fabs(hist_single[e]));
  CHECK(hist[EPOCHS - 1] < 0.5 * hist[0]);

  /* (2) checkpoint every 2 epochs: the file holds epoch 2; resuming from it ends bitwise
   * where the uninterrupted run ended */
  sm_fit_options every = {.checkpoint = ckpt, .checkpoint_every = 2, .experiment_hash = 77};
  CHECK(run_toy(&ctx, &every, EPOCHS, straight, hist, NULL, -1) == SM_OK);
  CHECK(exists(ckpt));
  sm_fit_options resume = every;
  resume.resume = 1;
  CHECK(run_toy(&ctx, &resume, EPOCHS, resumed, hist_resumed, NULL, -1) == SM_OK);
  CHECK(memcmp(straight, resumed, n * sizeof(float)) == 0);
  CHECK(memcmp(hist, hist_resumed, sizeof hist) == 0);

  /* (3) a stop raised on the last rank during epoch 1: every rank stops, a checkpoint is
   * written mid-epoch, and resuming ends bitwise like the uninterrupted run */
  volatile sig_atomic_t flag = 0;
  unlink(ckpt);
  MPI_Barrier(MPI_COMM_WORLD);
  sm_fit_options stop = {.checkpoint = ckpt, .experiment_hash = 77, .stop = &flag};
  int rc = run_toy(&ctx, &stop, EPOCHS, NULL, NULL, &flag, 1);
  CHECK(rc == SM_EINTERRUPTED);
  CHECK(exists(ckpt));
  if (ctx.rank == 0)
    printf("interrupted: %s\n", ctx.msg);
  CHECK(run_toy(&ctx, &resume, EPOCHS, resumed, hist_resumed, NULL, -1) == SM_OK);
  CHECK(memcmp(straight, resumed, n * sizeof(float)) == 0);
  CHECK(memcmp(hist, hist_resumed, sizeof hist) == 0);

  /* (4) refusals: another experiment's checkpoint, a missing file */
  sm_fit_options wrong = resume;
  wrong.experiment_hash = 78;
  CHECK(run_toy(&ctx, &wrong, EPOCHS, NULL, NULL, NULL, -1) == SM_EINPUT);
  CHECK(strstr(ctx.msg, "different experiment") != NULL);
  if (ctx.rank == 0)
    printf("refused: %s\n", ctx.msg);
  sm_fit_options missing = resume;
  missing.checkpoint = other;
  CHECK(run_toy(&ctx, &missing, EPOCHS, NULL, NULL, NULL, -1) == SM_EINPUT);
  CHECK(strstr(ctx.msg, "missing") != NULL);

  MPI_Barrier(MPI_COMM_WORLD);
  if (ctx.rank == 0) {
    unlink(ckpt);
    rmdir(dir);
  }
  free(dir);
  free(straight);
  free(single);
  free(resumed);
  sm_ctx_free(&self);
  sm_ctx_free(&ctx);
  return test_finish();
}
