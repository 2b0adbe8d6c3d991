/* The noise DP-SGD adds, measured on a run whose gradients are all zero: after each step's
 * reduction the summed gradient (each rank holds its shard of it) is noise alone, which
 * must have mean 0 and standard
 * deviation sigma C / (q N), the noise of std sigma C added once for the whole job and
 * divided by the expected batch. Noise added on every rank would show sqrt(ranks) times
 * that. The draws come from the secure generator (not reproducible mode), and the Poisson
 * batches the model sees must add up to about q N rows per step over all ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/trainer.h"
#include "test_util.h"

#define N_ROWS 30001
#define BATCH 1500
#define N_PARAMS 40000
#define STEPS 5 /* steps whose noise is measured (of the epoch's 21) */
#define SIGMA 1.7
#define CLIP 0.8
/* the std of N_PARAMS draws is within 5 of its standard errors (1 / sqrt(2 N_PARAMS)) */
#define STD_TOL (5.0 / sqrt(2.0 * N_PARAMS))

typedef struct zero_model {
  sm_nn_params params;
  sm_adam adam;
  const sm_trainer *trainer; /* whose shard of the summed gradient is measured */
  double scale;              /* 1 / (q N): the trainer's divisor of a private step */
  int64_t rows_seen;         /* this rank's sampled rows, all steps */
  double sums[STEPS][3];     /* each step's count, sum and sum of squares over this rank's
                              * shard of the model's parameters */
  int steps;                 /* steps recorded */
  size_t n_model;            /* parameters before the trainer's floats */
} zero_model;

/* The batch adds nothing to the gradient: only the noise will be there. */
static int zero_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global,
                      int64_t epoch, double *loss) {
  zero_model *z = model;
  (void)ctx, (void)rows, (void)global, (void)epoch, (void)loss;
  z->rows_seen += m;
  return SM_OK;
}

/* After the step: count, sum and sum of squares of this rank's shard of the summed and
 * scaled gradient (the ranks' shards together cover the buffer once). */
static void record_noise(void *model) {
  zero_model *z = model;
  if (z->steps >= STEPS)
    return;
  const sm_trainer *t = z->trainer;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  size_t lo = (size_t)t->shard_displs[rank], hi = lo + (size_t)t->shard_counts[rank];
  double *acc = z->sums[z->steps];
  for (size_t i = lo; i < hi && i < z->n_model; i++) {
    double g = t->shard_grad[i - lo] * z->scale;
    acc[0] += 1;
    acc[1] += g;
    acc[2] += g * g;
  }
  z->steps++;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_ERROR;

  /* the model: one buffer of zero-gradient parameters, and the trainer's floats */
  zero_model z;
  sm_trainer t;
  memset(&z, 0, sizeof z);
  memset(&t, 0, sizeof t);
  sm_nn_reserve(&z.params, N_PARAMS);
  z.n_model = z.params.n;
  int64_t lo, hi;
  sm_partition(N_ROWS, ctx.size, ctx.rank, &lo, &hi);
  t.kind = "zero";
  t.n_losses = 1;
  t.loss_names[0] = "none";
  t.batch_size = BATCH;
  t.epochs = 1;
  t.seed = 11;
  t.batch = zero_batch;
  t.after_step = record_noise;
  t.model = &z;
  z.trainer = &t;
  t.params = &z.params;
  t.adam = &z.adam;
  t.n_global = N_ROWS;
  t.row_offset = lo;
  t.n_local = hi - lo;
  sm_trainer_reserve(&t, &z.params);
  CHECK(sm_nn_params_alloc(&ctx, &z.params) == SM_OK);
  CHECK(sm_adam_init(&ctx, &z.adam, z.params.n, 1e-3, 0.9, 0.999, 1e-8, 0, 0) == SM_OK);

  /* a plan with the noise given, from the secure generator */
  char rdp[] = "rdp";
  sm_privacy_spec p = {1, 1e6, 1e-5, rdp, CLIP, SIGMA, 0};
  CHECK(sm_trainer_dp_plan(&ctx, &t, &p) == SM_OK);
  CHECK(t.dp.enabled && t.dp.noise_multiplier == SIGMA && !t.dp.reproducible);
  z.scale = (float)(1.0 / (t.dp.sample_rate * N_ROWS));

  /* one epoch */
  sm_fit_options opt;
  memset(&opt, 0, sizeof opt);
  CHECK(sm_trainer_run(&ctx, &t, &opt) == SM_OK);

  /* each step's noise: std sigma C / (q N), mean about 0 */
  double want = SIGMA * CLIP / (t.dp.sample_rate * N_ROWS), worst = 0, worst_mean = 0;
  MPI_Allreduce(MPI_IN_PLACE, z.sums, STEPS * 3, MPI_DOUBLE, MPI_SUM, ctx.comm);
  double std0 = 0;
  for (int s = 0; s < STEPS; s++) {
    double n = z.sums[s][0], mean = z.sums[s][1] / n;
    double std = sqrt(z.sums[s][2] / n - mean * mean);
    CHECK(n == (double)z.n_model);
    std0 = s == 0 ? std : std0;
    worst = fmax(worst, fabs(std / want - 1));
    worst_mean = fmax(worst_mean, fabs(mean) / (want / sqrt((double)N_PARAMS)));
  }
  int64_t steps = sm_batches_per_epoch(N_ROWS, BATCH), seen = z.rows_seen;
  MPI_Allreduce(MPI_IN_PLACE, &seen, 1, MPI_INT64_T, MPI_SUM, ctx.comm);
  double expected = t.dp.sample_rate * N_ROWS * (double)steps;
  double sd = sqrt(expected * (1 - t.dp.sample_rate));
  if (ctx.rank == 0) {
    printf("%d ranks: noise std %.6g (want sigma C / qN = %.6g), worst relative difference "
           "%.4f (tolerance %.4f); worst |mean| %.2f standard errors (tolerance 5)\n",
           ctx.size, std0, want, worst, STD_TOL, worst_mean);
    printf("Poisson rows over %lld steps: %lld, expected %.0f (%.2f standard deviations)\n",
           (long long)steps, (long long)seen, expected, fabs((double)seen - expected) / sd);
  }
  CHECK(z.steps == STEPS);
  CHECK(worst <= STD_TOL);
  CHECK(worst_mean <= 5.0);
  CHECK(fabs((double)seen - expected) <= 5 * sd);

  sm_nn_params_free(&z.params);
  sm_adam_free(&z.adam);
  sm_trainer_free(&t);
  sm_ctx_free(&ctx);
  return test_finish();
}
