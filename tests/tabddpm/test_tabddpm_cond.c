/* TabDDPM's class conditioning on real Adult rows at 1, 2 and 3 ranks: the target block and
 * its class counts match a count of the income column (the same at every rank count), a
 * release's income marginal matches the training marginal within a binomial tolerance and
 * its rows do not depend on the rank count, the model file keeps the target and the counts,
 * model.target picks or refuses columns, and the learning rate decays linearly.
 * Small networks and short runs keep the test short. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adult.h"
#include "io/h5util.h"
#include "models/models.h"
#include "models/tabddpm.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define RELEASE_ROWS 30000
#define BINOMIAL_SIGMAS 4.5 /* tolerance of a marginal, in binomial standard deviations */
#define ROUND_TRIP_ROWS 600

/* 2 epochs of 17 steps with batch 2000, T 20, 10 reverse steps */
static const char *const small[] = {"model.hidden_dims=64,64", "model.dim_t=32",
                                    "model.batch_size=2000",   "model.steps=34",
                                    "model.timesteps=20",      "model.sample_steps=10"};
#define N_SMALL ((int)(sizeof small / sizeof small[0]))

static int load_experiment(sm_ctx *ctx, const char *extra, sm_experiment *e) {
  const char *src = getenv("SYNTHMPI_SOURCE_DIR"), *data = getenv("SYNTHMPI_DATA");
  char path[4096], train[4200], test[4200];
  snprintf(path, sizeof path, "%s/configs/adult-tabddpm.yaml", src ? src : ".");
  snprintf(train, sizeof train, "data.path=%s/tabular/adult/adult.data", data ? data : "");
  snprintf(test, sizeof test, "holdout.path=%s/tabular/adult/adult.test", data ? data : "");
  char *all[16] = {train, test};
  int n = 2;
  for (int i = 0; i < N_SMALL; i++)
    all[n++] = (char *)small[i];
  if (extra)
    all[n++] = (char *)extra;
  int rc = sm_experiment_load(ctx, path, n, all, e);
  if (rc != SM_OK)
    fprintf(stderr, "experiment: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  return rc;
}

/* Collective. A fit with the extra override; returns the fit's status. */
static int fit_with(sm_ctx *ctx, const char *extra, const sm_table *train, void **state) {
  sm_experiment e;
  *state = NULL;
  if (load_experiment(ctx, extra, &e) != SM_OK)
    return SM_ERR;
  int rc = sm_model_tabddpm.fit(ctx, &e.model, NULL, train, state);
  sm_experiment_free(&e);
  return rc;
}

/* Counts of each category of column j over all ranks' rows (a direct count of the table). */
static void column_counts(const sm_table *t, int j, double *count, int K) {
  memset(count, 0, (size_t)K * sizeof(double));
  for (int64_t r = 0; r < t->n_rows; r++) {
    double v = t->values[j][r];
    if (v >= 0 && v < K)
      count[(int)v] += 1.0;
  }
  MPI_Allreduce(MPI_IN_PLACE, count, K, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

/* The target is income's block; its counts are income's counts, the same on every rank. */
static void check_counts(sm_ctx *ctx, const tabddpm_state *st, const sm_table *train) {
  int j = sm_schema_find(&train->schema, "income");
  CHECK(j >= 0 && st->set.target_block == st->flat.cols[j].block);
  if (j < 0 || st->set.target_block != st->flat.cols[j].block)
    return;
  int K = st->flat.block_width[st->set.target_block];
  double want[8] = {0}, lo[8], hi[8];
  CHECK(K == 2);
  column_counts(train, j, want, K);
  memcpy(lo, st->class_count, (size_t)K * sizeof(double));
  memcpy(hi, st->class_count, (size_t)K * sizeof(double));
  MPI_Allreduce(MPI_IN_PLACE, lo, K, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, hi, K, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  for (int k = 0; k < K; k++) {
    CHECK(st->class_count[k] == want[k]);
    CHECK(lo[k] == hi[k]);
  }
  if (ctx->rank == 0)
    printf("class counts %.0f %.0f, income column %.0f %.0f\n", st->class_count[0],
           st->class_count[1], want[0], want[1]);
}

/* Rows [row0, row0 + n) of a release into a new table. */
static int sample_rows(sm_ctx *ctx, const void *st, const sm_schema *schema, int64_t row0,
                       int64_t n, sm_table *out) {
  CHECK(sm_table_alloc(ctx, out, schema, n) == SM_OK);
  int rc = sm_model_tabddpm.sample(ctx, st, 4242, row0, out);
  CHECK(rc == SM_OK);
  return rc;
}

/* Local. An order-free checksum of rows [0, n) of t that start at global row row0: the
 * wrapping sum over rows and columns of a hash of (global row, column, value bits). */
static uint64_t release_checksum(const sm_table *t, int64_t row0) {
  uint64_t sum = 0;
  for (int64_t r = 0; r < t->n_rows; r++)
    for (int c = 0; c < t->schema.n_cols; c++) {
      double v = isnan(t->values[c][r]) ? NAN : t->values[c][r];
      uint64_t bits;
      memcpy(&bits, &v, sizeof bits);
      sum += sm_hash64(bits ^ sm_hash64((uint64_t)(row0 + r) * 64 + (uint64_t)c));
    }
  return sum;
}

/* The release's income marginal against the training one, and the rows made by each rank's
 * block against the same rows made on rank 0 alone. */
static void check_marginal(sm_ctx *ctx, const tabddpm_state *st, const sm_table *train) {
  int j = sm_schema_find(&train->schema, "income");
  int64_t lo = 0, hi = 0;
  sm_partition(RELEASE_ROWS, ctx->size, ctx->rank, &lo, &hi);
  sm_table part;
  CHECK(j >= 0);
  if (j < 0 || sample_rows(ctx, st, &train->schema, lo, hi - lo, &part) != SM_OK)
    return;
  double got[2] = {0}, want[2] = {0};
  column_counts(&part, j, got, 2);
  column_counts(train, j, want, 2);
  double p = want[1] / (want[0] + want[1]), q = got[1] / RELEASE_ROWS;
  double tol = BINOMIAL_SIGMAS * sqrt(p * (1 - p) / RELEASE_ROWS);
  if (ctx->rank == 0)
    printf("release share of >50K %.5f, training %.5f (diff %.5f, tol %.5f = %.1f sigma)\n", q, p,
           fabs(q - p), tol, BINOMIAL_SIGMAS);
  CHECK(got[0] + got[1] == RELEASE_ROWS);
  CHECK_CLOSE(q, p, tol);

  /* the blocks' checksums add up to the checksum of rank 0's sample of every row */
  uint64_t sum = release_checksum(&part, lo), whole_sum = 0;
  MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  sm_table whole;
  if (ctx->rank == 0 && sample_rows(ctx, st, &train->schema, 0, RELEASE_ROWS, &whole) == SM_OK) {
    whole_sum = release_checksum(&whole, 0);
    sm_table_free(&whole);
  }
  MPI_Bcast(&whole_sum, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  if (ctx->rank == 0)
    printf("release checksum over %d ranks %016llx, one rank %016llx\n", ctx->size,
           (unsigned long long)sum, (unsigned long long)whole_sum);
  CHECK(sum == whole_sum);
  sm_table_free(&part);
}

/* Save, load: the same target, counts and schedule, and the same rows. */
static void check_round_trip(sm_ctx *ctx, const tabddpm_state *st, const sm_schema *schema,
                             const char *dir) {
  char path[256];
  snprintf(path, sizeof path, "%s/model.h5", dir);
  hid_t f = sm_h5_create(ctx, path);
  hid_t g = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(sm_model_tabddpm.save(ctx, st, g) == SM_OK);
  H5Gclose(g);
  H5Fclose(f);
  void *loaded = NULL;
  f = sm_h5_open(ctx, path, 0);
  g = H5Gopen2(f, "model", H5P_DEFAULT);
  CHECK(sm_model_tabddpm.load(ctx, g, &loaded) == SM_OK);
  H5Gclose(g);
  H5Fclose(f);
  const tabddpm_state *back = loaded;
  sm_table a, b;
  if (back && sample_rows(ctx, st, schema, 77, ROUND_TRIP_ROWS, &a) == SM_OK) {
    CHECK(back->set.target_block == st->set.target_block);
    CHECK(back->set.lr_linear == st->set.lr_linear);
    int K = st->flat.block_width[st->set.target_block];
    CHECK(memcmp(back->class_count, st->class_count, (size_t)K * sizeof(double)) == 0);
    if (sample_rows(ctx, back, schema, 77, ROUND_TRIP_ROWS, &b) == SM_OK) {
      CHECK(release_checksum(&a, 77) == release_checksum(&b, 77));
      sm_table_free(&b);
    }
    sm_table_free(&a);
  }
  if (ctx->rank == 0)
    printf("model file round trip: target block %d, counts and rows kept\n",
           back ? back->set.target_block : -2);
  sm_model_tabddpm.free_state(loaded);
  MPI_Barrier(MPI_COMM_WORLD);
  if (ctx->rank == 0)
    unlink(path);
}

/* model.target: none is unconditional, sex picks sex's block, age (numeric) is refused. */
static void check_target_param(sm_ctx *ctx, const sm_table *train) {
  void *st = NULL;
  CHECK(fit_with(ctx, "model.target=none", train, &st) == SM_OK);
  const tabddpm_state *s = st;
  CHECK(s && s->set.target_block == -1 && !s->class_count);
  sm_model_tabddpm.free_state(st);

  int sex = sm_schema_find(&train->schema, "sex");
  CHECK(fit_with(ctx, "model.target=sex", train, &st) == SM_OK);
  s = st;
  CHECK(s && sex >= 0 && s->set.target_block == s->flat.cols[sex].block);
  sm_model_tabddpm.free_state(st);

  int rc = fit_with(ctx, "model.target=age", train, &st);
  CHECK(rc == SM_EINPUT && !st);
  CHECK(strstr(ctx->msg, "model.target: 'age'") != NULL);
  if (ctx->rank == 0)
    printf("model.target=age refused: %s\n", ctx->msg);
}

/* The learning rate of a step: lr (1 - steps taken / total steps), or lr when constant. */
static void check_lr_schedule(sm_ctx *ctx) {
  tabddpm_state st = {0};
  sm_adam adam = {0};
  tabddpm_train tr = {.st = &st, .adam = &adam, .total_steps = 400};
  double loss[TABDDPM_N_LOSSES] = {0};
  st.set.lr = 2e-3;
  st.set.lr_linear = 1;
  const int64_t taken[] = {0, 100, 399};
  for (int i = 0; i < 3; i++) {
    adam.step = taken[i];
    CHECK(sm_tabddpm_batch(ctx, &tr, NULL, 0, 0, 0, loss) == SM_OK);
    CHECK_CLOSE(adam.lr, 2e-3 * (1.0 - taken[i] / 400.0), 1e-15);
  }
  st.set.lr_linear = 0;
  CHECK(sm_tabddpm_batch(ctx, &tr, NULL, 0, 0, 0, loss) == SM_OK);
  CHECK_CLOSE(adam.lr, 2e-3, 0.0);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_WARN;
  char dir[64] = "/tmp/synthmpi_ddpm_XXXXXX";
  if (ctx.rank == 0 && !mkdtemp(dir))
    dir[0] = '\0';
  MPI_Bcast(dir, (int)sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  sm_experiment e;
  sm_table train;
  if (load_experiment(&ctx, NULL, &e) != SM_OK || test_adult_read(&ctx, &e, &train, NULL))
    return test_finish();
  sm_experiment_free(&e);

  check_lr_schedule(&ctx);
  void *state = NULL;
  CHECK(fit_with(&ctx, NULL, &train, &state) == SM_OK);
  if (state) {
    check_counts(&ctx, state, &train);
    check_marginal(&ctx, state, &train);
    check_round_trip(&ctx, state, &train.schema, dir);
  }
  sm_model_tabddpm.free_state(state);
  check_target_param(&ctx, &train);
  sm_table_free(&train);
  MPI_Barrier(MPI_COMM_WORLD);
  if (ctx.rank == 0)
    rmdir(dir);
  sm_ctx_free(&ctx);
  return test_finish();
}
