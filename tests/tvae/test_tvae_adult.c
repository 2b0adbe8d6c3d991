/* TVAE on real Adult rows at several rank counts: the loss curve and the parameters match a
 * one-rank fit (with the rows copied to every rank, and with each rank keeping its own), a
 * resumed fit ends bitwise where an uninterrupted one does, a stop request
 * leaves a checkpoint and no model, a data set smaller than one batch still trains, and
 * sampling does not depend on chunking or on a save/load round trip.
 * Small networks keep the test short; the defaults are exercised by the benchmark. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adult.h"
#include "io/h5util.h"
#include "models/models.h"
#include "models/tvae.h"
#include "test_util.h"

#define EPOCHS 4
/* relative tolerance of loss curves at different rank counts (summation order only) */
#define CURVE_TOL 1e-3
#define SAMPLE_ROWS 3000

static const sm_model_ops *ops(void) {
  return &sm_model_tvae;
}

/* configs/adult-tvae.yaml on the real files, with small networks and the given overrides
 * ("model.epochs=4"-style, as --set takes them). */
static int load_experiment(sm_ctx *ctx, int n, const char *const *sets, sm_experiment *e) {
  const char *src = getenv("SYNTHMPI_SOURCE_DIR"), *data = getenv("SYNTHMPI_DATA");
  char path[4096], train[4200], test[4200];
  snprintf(path, sizeof path, "%s/configs/adult-tvae.yaml", src ? src : ".");
  snprintf(train, sizeof train, "data.path=%s/tabular/adult/adult.data", data ? data : "");
  snprintf(test, sizeof test, "holdout.path=%s/tabular/adult/adult.test", data ? data : "");
  char *all[16] = {train, test, "model.embedding_dim=16", "model.compress_dims=32,32",
                   "model.decompress_dims=32,32"};
  for (int i = 0; i < n && i < 11; i++)
    all[5 + i] = (char *)sets[i];
  int rc = sm_experiment_load(ctx, path, 5 + n, all, e);
  if (rc != SM_OK)
    fprintf(stderr, "experiment: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  return rc;
}

/* Fit with the given options; prints the failure message. */
static int fit(sm_ctx *ctx, const sm_experiment *e, const sm_fit_options *opt,
               const sm_table *train, void **state) {
  *state = NULL;
  int rc = ops()->fit(ctx, &e->model, opt, train, state);
  if (rc != SM_OK && rc != SM_EINTERRUPTED && ctx->rank == 0)
    fprintf(stderr, "fit: %s\n", ctx->msg);
  return rc;
}

static const tvae_state *tvae(const void *state) {
  return state;
}

/* (a) the curve at this rank count against a one-rank fit of all rows on rank 0; every
 * rank holds the same parameters. */
static void check_rank_invariance(sm_ctx *ctx, const sm_experiment *e, const void *state) {
  const tvae_state *st = tvae(state);
  double ref[EPOCHS * 2] = {0};
  if (ctx->rank == 0) {
    sm_ctx self;
    sm_ctx_init(&self, MPI_COMM_SELF);
    self.log_level = SM_LOG_WARN;
    sm_table full;
    void *one = NULL;
    CHECK(test_adult_read_all(ctx, e, &full) == SM_OK);
    CHECK(fit(&self, e, NULL, &full, &one) == SM_OK);
    if (one)
      memcpy(ref, tvae(one)->history, sizeof ref);
    ops()->free_state(one);
    sm_table_free(&full);
    sm_ctx_free(&self);
  }
  MPI_Bcast(ref, EPOCHS * 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  double worst = 0;
  for (int k = 0; k < EPOCHS * 2; k++) {
    double d = fabs(st->history[k] - ref[k]) / fmax(fabs(ref[k]), 1e-3);
    worst = fmax(worst, d);
  }
  if (ctx->rank == 0) {
    printf("%d ranks, rec/kl per epoch:", ctx->size);
    for (int k = 0; k < EPOCHS; k++)
      printf(" %.4f/%.4f", st->history[2 * k], st->history[2 * k + 1]);
    printf("\n1 rank,  rec/kl per epoch:");
    for (int k = 0; k < EPOCHS; k++)
      printf(" %.4f/%.4f", ref[2 * k], ref[2 * k + 1]);
    printf("\nmax relative difference %.3g (tol %.0e)\n", worst, CURVE_TOL);
  }
  CHECK(worst <= CURVE_TOL);
  CHECK(st->history[2 * (EPOCHS - 1)] < st->history[0]);

  /* the same parameters on every rank */
  uint64_t sum = sm_nn_checksum(&st->net.params), lo = sum, hi = sum;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  CHECK(lo == hi);
}

/* A model file whose parameters have the first layout (no "layout" attribute: separate mu
 * and logvar layers) is refused with a clear error. */
static void check_old_layout(sm_ctx *ctx, const char *path) {
  hid_t f = sm_h5_open(ctx, path, 1);
  hid_t g = H5Gopen2(f, "model", H5P_DEFAULT);
  CHECK(H5Adelete(g, "layout") >= 0);
  void *loaded = NULL;
  int rc = ops()->load(ctx, g, &loaded);
  CHECK(rc == SM_EINPUT && loaded == NULL);
  CHECK(strstr(ctx->msg, "laid out as another synthmpi version") != NULL);
  H5Gclose(g);
  H5Fclose(f);
}

/* Bitwise equality of two fitted states' parameters and histories. */
static void check_same(const void *a, const void *b) {
  CHECK(a && b);
  if (!a || !b)
    return;
  const tvae_state *x = tvae(a), *y = tvae(b);
  CHECK(x->net.n_model == y->net.n_model);
  int same = memcmp(x->net.params.value, y->net.params.value, x->net.n_model * sizeof(float));
  int hist = memcmp(x->history, y->history, EPOCHS * 2 * sizeof(double));
  CHECK(same == 0);
  CHECK(hist == 0);
}

/* (b), (c): checkpoints, resume, refusal, stop. straight is the uninterrupted fit. */
static void check_checkpoints(sm_ctx *ctx, const sm_experiment *e, const sm_table *train,
                              const char *dir, const void *straight) {
  char ckpt[256];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", dir);
  void *state = NULL;

  /* every 2 epochs: the file holds epoch 2 after the run; resume from it */
  sm_fit_options every = {.checkpoint = ckpt, .checkpoint_every = 2, .experiment_hash = 11};
  CHECK(fit(ctx, e, &every, train, &state) == SM_OK);
  ops()->free_state(state);
  sm_fit_options resume = every;
  resume.resume = 1;
  CHECK(fit(ctx, e, &resume, train, &state) == SM_OK);
  check_same(straight, state);
  ops()->free_state(state);

  /* another experiment's checkpoint is refused */
  sm_fit_options other = resume;
  other.experiment_hash = 12;
  CHECK(fit(ctx, e, &other, train, &state) == SM_EINPUT);
  CHECK(state == NULL && strstr(ctx->msg, "different experiment") != NULL);

  /* so is one with the first parameter layout (no "layout" attribute) */
  hid_t f = sm_h5_open(ctx, ckpt, 1);
  CHECK(H5Adelete(f, "layout") >= 0);
  H5Fclose(f);
  CHECK(fit(ctx, e, &resume, train, &state) == SM_EINPUT);
  CHECK(state == NULL && strstr(ctx->msg, "laid out as another synthmpi version") != NULL);

  /* a stop requested before training: a checkpoint, SM_EINTERRUPTED and no model; resuming
   * from that checkpoint still ends bitwise where the straight run does */
  volatile sig_atomic_t flag = 1;
  if (ctx->rank == 0)
    unlink(ckpt);
  MPI_Barrier(MPI_COMM_WORLD);
  sm_fit_options stop = {.checkpoint = ckpt, .experiment_hash = 11, .stop = &flag};
  CHECK(fit(ctx, e, &stop, train, &state) == SM_EINTERRUPTED);
  CHECK(state == NULL);
  CHECK(access(ckpt, R_OK) == 0);
  if (ctx->rank == 0)
    printf("stop: %s\n", ctx->msg);
  CHECK(fit(ctx, e, &resume, train, &state) == SM_OK);
  check_same(straight, state);
  ops()->free_state(state);
  MPI_Barrier(MPI_COMM_WORLD);
  if (ctx->rank == 0)
    unlink(ckpt);
}

/* (d) 37 rows and a batch of 500: one smaller batch per epoch, and the loss falls. */
static void check_tiny(sm_ctx *ctx, const sm_table *train) {
  sm_experiment e;
  const char *sets[] = {"model.epochs=60"};
  if (load_experiment(ctx, 1, sets, &e) != SM_OK)
    return;
  sm_table full, part;
  CHECK(test_adult_read_all(ctx, &e, &full) == SM_OK);
  full.n_rows = 37;
  CHECK(test_table_block(ctx, &full, &part) == SM_OK);
  full.n_rows = train->n_rows_total;
  void *state = NULL;
  CHECK(fit(ctx, &e, NULL, &part, &state) == SM_OK);
  if (state) {
    const double *h = tvae(state)->history;
    double first = 2 * h[0] + h[1], last = 2 * h[2 * 59] + h[2 * 59 + 1];
    if (ctx->rank == 0)
      printf("37 rows, batch 500: loss %.4f at epoch 1, %.4f at epoch 60\n", first, last);
    CHECK(last < first);
  }
  ops()->free_state(state);
  sm_table_free(&part);
  sm_table_free(&full);
  sm_experiment_free(&e);
}

/* Sample global rows [row0, row0 + n) in chunks of the given sizes (cycled). */
static void sample_chunks(sm_ctx *ctx, const void *state, const sm_schema *schema, int64_t row0,
                          int64_t n, const int64_t *sizes, int n_sizes, sm_table *out) {
  CHECK(sm_table_alloc(ctx, out, schema, n) == SM_OK);
  for (int64_t done = 0, k = 0; done < n; k++) {
    int64_t m = sizes[k % n_sizes] < n - done ? sizes[k % n_sizes] : n - done;
    sm_table part;
    CHECK(sm_table_alloc(ctx, &part, schema, m) == SM_OK);
    CHECK(ops()->sample(ctx, state, 99, row0 + done, &part) == SM_OK);
    for (int j = 0; j < schema->n_cols; j++)
      memcpy(out->values[j] + done, part.values[j], (size_t)m * sizeof(double));
    sm_table_free(&part);
    done += m;
  }
}

static int same_table(const sm_table *a, const sm_table *b) {
  for (int j = 0; j < a->schema.n_cols; j++)
    if (memcmp(a->values[j], b->values[j], (size_t)a->n_rows * sizeof(double)) != 0)
      return 0;
  return 1;
}

/* (e) chunking-independent sampling, sane values, and a save/load round trip. */
static void check_sampling(sm_ctx *ctx, const void *state, const sm_schema *schema,
                           const char *dir) {
  static const int64_t whole[] = {SAMPLE_ROWS}, odd[] = {1, 7, 1024, 333};
  int64_t row0 = 5000 + 17 * ctx->rank;
  sm_table a, b, c;
  sample_chunks(ctx, state, schema, row0, SAMPLE_ROWS, whole, 1, &a);
  sample_chunks(ctx, state, schema, row0, SAMPLE_ROWS, odd, 4, &b);
  CHECK(same_table(&a, &b));

  /* values inside their columns' ranges and dictionaries */
  int64_t bad = 0;
  for (int j = 0; j < schema->n_cols; j++)
    for (int64_t r = 0; r < a.n_rows; r++) {
      double v = a.values[j][r];
      const sm_column *col = &schema->cols[j];
      if (isnan(v))
        continue;
      if (sm_coltype_is_discrete(col->type))
        bad += v < 0 || v >= col->n_categories || v != floor(v);
      else if (col->type == SM_COL_INTEGER)
        bad += v != floor(v);
    }
  CHECK(bad == 0);

  /* save, load, sample again */
  char path[256];
  snprintf(path, sizeof path, "%s/model.h5", dir);
  hid_t f = sm_h5_create(ctx, path);
  hid_t g = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(ops()->save(ctx, state, g) == SM_OK);
  H5Gclose(g);
  H5Fclose(f);
  void *loaded = NULL;
  f = sm_h5_open(ctx, path, 0);
  g = H5Gopen2(f, "model", H5P_DEFAULT);
  int rc = ops()->load(ctx, g, &loaded);
  if (rc != SM_OK)
    fprintf(stderr, "load: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  H5Gclose(g);
  H5Fclose(f);
  if (loaded) {
    sample_chunks(ctx, loaded, schema, row0, SAMPLE_ROWS, odd, 4, &c);
    CHECK(same_table(&a, &c));
    CHECK(memcmp(tvae(loaded)->history, tvae(state)->history, EPOCHS * 2 * sizeof(double)) == 0);
    sm_table_free(&c);
  }
  ops()->free_state(loaded);
  check_old_layout(ctx, path);
  sm_table_free(&a);
  sm_table_free(&b);
  MPI_Barrier(MPI_COMM_WORLD);
  if (ctx->rank == 0)
    unlink(path);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_WARN;
  char *dir = test_mkdtemp("synthmpi_tvae");
  sm_experiment e;
  const char *sets[] = {"model.epochs=4"};
  sm_table train;
  if (load_experiment(&ctx, 1, sets, &e) != SM_OK || test_adult_read(&ctx, &e, &train, NULL))
    return test_finish();

  /* the straight fit, then each property against it */
  void *state = NULL;
  CHECK(fit(&ctx, &e, NULL, &train, &state) == SM_OK);
  CHECK(state == NULL || tvae(state)->replicated == (ctx.size > 1));
  if (state) {
    check_rank_invariance(&ctx, &e, state);
    check_checkpoints(&ctx, &e, &train, dir, state);
    check_sampling(&ctx, state, &train.schema, dir);
  }
  check_tiny(&ctx, &train);

  /* the same curve when each rank trains on the batch rows it holds (the rows are small
   * enough to be copied to every rank by default) */
  sm_experiment own;
  const char *own_sets[] = {"model.epochs=4", "model.replicate_mb=0"};
  void *owned = NULL;
  if (load_experiment(&ctx, 2, own_sets, &own) == SM_OK) {
    CHECK(fit(&ctx, &own, NULL, &train, &owned) == SM_OK);
    CHECK(owned == NULL || !tvae(owned)->replicated);
    if (owned)
      check_rank_invariance(&ctx, &own, owned);
    ops()->free_state(owned);
    sm_experiment_free(&own);
  }

  ops()->free_state(state);
  sm_table_free(&train);
  sm_experiment_free(&e);
  MPI_Barrier(MPI_COMM_WORLD);
  if (ctx.rank == 0)
    rmdir(dir);
  free(dir);
  sm_ctx_free(&ctx);
  return test_finish();
}
