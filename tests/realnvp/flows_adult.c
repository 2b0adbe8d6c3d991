/* RealNVP or TabDDPM (argv[1]) on real Adult rows at several rank counts: the loss curve and
 * the parameters match a one-rank fit, a resumed fit ends bitwise where an uninterrupted one
 * does, sampling does not depend on chunking or on a save/load round trip, released values
 * lie in their columns' domains.
 * Small networks and short runs keep the test short; the defaults run in the benchmarks. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adult.h"
#include "io/h5util.h"
#include "models/models.h"
#include "models/realnvp.h"
#include "models/tabddpm.h"
#include "test_util.h"

#define EPOCHS 4
#define CURVE_TOL 1e-3 /* relative, loss curves at different rank counts */
#define SAMPLE_ROWS 2000

typedef struct flow_model {
  const char *kind;
  const sm_model_ops *ops;
  int n_losses;
  const char *sets[8]; /* small settings for the test */
} flow_model;

static const flow_model models[] = {
    {"realnvp",
     &sm_model_realnvp,
     1,
     {"model.couplings=4", "model.hidden_dims=32", "model.epochs=4", "model.batch_size=1000",
      NULL}},
    /* 4 epochs of 17 steps with batch 2000 */
    {"tabddpm",
     &sm_model_tabddpm,
     2,
     {"model.hidden_dims=64,64", "model.dim_t=32", "model.batch_size=2000", "model.steps=68",
      "model.timesteps=20", "model.sample_steps=10", NULL}},
};

static const flow_model *fm;

static const double *history(const void *state) {
  return fm->n_losses == 1 ? ((const realnvp_state *)state)->history
                           : ((const tabddpm_state *)state)->history;
}

static const sm_nn_params *params(const void *state) {
  return fm->n_losses == 1 ? &((const realnvp_state *)state)->net.params
                           : &((const tabddpm_state *)state)->net.params;
}

static size_t n_model(const void *state) {
  return fm->n_losses == 1 ? ((const realnvp_state *)state)->net.n_model
                           : ((const tabddpm_state *)state)->net.n_model;
}

static int load_experiment(sm_ctx *ctx, const char *extra, sm_experiment *e) {
  const char *src = getenv("SYNTHMPI_SOURCE_DIR"), *data = getenv("SYNTHMPI_DATA");
  char path[4096], train[4200], test[4200];
  snprintf(path, sizeof path, "%s/configs/adult-%s.yaml", src ? src : ".", fm->kind);
  snprintf(train, sizeof train, "data.path=%s/tabular/adult/adult.data", data ? data : "");
  snprintf(test, sizeof test, "holdout.path=%s/tabular/adult/adult.test", data ? data : "");
  char *all[16] = {train, test};
  int n = 2;
  for (int i = 0; fm->sets[i]; i++)
    all[n++] = (char *)fm->sets[i];
  if (extra)
    all[n++] = (char *)extra;
  int rc = sm_experiment_load(ctx, path, n, all, e);
  if (rc != SM_OK)
    fprintf(stderr, "experiment: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  return rc;
}

static int fit(sm_ctx *ctx, const sm_experiment *e, const sm_fit_options *opt,
               const sm_table *train, void **state) {
  *state = NULL;
  int rc = fm->ops->fit(ctx, &e->model, opt, train, state);
  if (rc != SM_OK && ctx->rank == 0)
    fprintf(stderr, "fit: %s\n", ctx->msg);
  return rc;
}

/* The curve against a one-rank fit of all rows on rank 0; the same parameters everywhere. */
static void check_rank_invariance(sm_ctx *ctx, const sm_experiment *e, const void *state) {
  int n = EPOCHS * fm->n_losses;
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
      memcpy(ref, history(one), (size_t)n * sizeof(double));
    fm->ops->free_state(one);
    sm_table_free(&full);
    sm_ctx_free(&self);
  }
  MPI_Bcast(ref, n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  const double *h = history(state);
  double worst = 0;
  for (int k = 0; k < n; k++)
    worst = fmax(worst, fabs(h[k] - ref[k]) / fmax(fabs(ref[k]), 1e-3));
  if (ctx->rank == 0) {
    printf("%s, %d ranks, losses per epoch:", fm->kind, ctx->size);
    for (int k = 0; k < n; k++)
      printf(" %.5f", h[k]);
    printf("\n%s, 1 rank,  losses per epoch:", fm->kind);
    for (int k = 0; k < n; k++)
      printf(" %.5f", ref[k]);
    printf("\nmax relative difference %.3g (tol %.0e)\n", worst, CURVE_TOL);
  }
  CHECK(worst <= CURVE_TOL);
  CHECK(h[n - fm->n_losses] < h[0]); /* the first loss term falls */
  uint64_t sum = sm_nn_checksum(params(state)), lo = sum, hi = sum;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  CHECK(lo == hi);
}

static void check_same(const void *a, const void *b) {
  CHECK(a && b);
  if (!a || !b)
    return;
  CHECK(n_model(a) == n_model(b));
  CHECK(memcmp(params(a)->value, params(b)->value, n_model(a) * sizeof(float)) == 0);
  CHECK(memcmp(history(a), history(b), EPOCHS * fm->n_losses * sizeof(double)) == 0);
}

/* A checkpoint every 2 epochs, then a resume from it: bitwise the straight fit. */
static void check_resume(sm_ctx *ctx, const sm_experiment *e, const sm_table *train,
                         const char *dir, const void *straight) {
  char ckpt[256];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", dir);
  void *state = NULL;
  sm_fit_options every = {.checkpoint = ckpt, .checkpoint_every = 2, .experiment_hash = 7};
  CHECK(fit(ctx, e, &every, train, &state) == SM_OK);
  fm->ops->free_state(state);
  sm_fit_options resume = every;
  resume.resume = 1;
  CHECK(fit(ctx, e, &resume, train, &state) == SM_OK);
  check_same(straight, state);
  if (ctx->rank == 0)
    printf("resumed from epoch 2: parameters and history bitwise equal to the straight fit\n");
  fm->ops->free_state(state);
  MPI_Barrier(MPI_COMM_WORLD);
  if (ctx->rank == 0)
    unlink(ckpt);
}

static void sample_chunks(sm_ctx *ctx, const void *state, const sm_schema *schema, int64_t row0,
                          const int64_t *sizes, int n_sizes, sm_table *out) {
  CHECK(sm_table_alloc(ctx, out, schema, SAMPLE_ROWS) == SM_OK);
  for (int64_t done = 0, k = 0; done < SAMPLE_ROWS; k++) {
    int64_t m = sizes[k % n_sizes] < SAMPLE_ROWS - done ? sizes[k % n_sizes] : SAMPLE_ROWS - done;
    sm_table part;
    CHECK(sm_table_alloc(ctx, &part, schema, m) == SM_OK);
    CHECK(fm->ops->sample(ctx, state, 99, row0 + done, &part) == SM_OK);
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

/* Every value in its column's domain: dictionary codes, and numbers within the observed range
 * of the training rows. (Range ends are checked for TabDDPM's transform in test_quantile and
 * on a trained model in the end-to-end test.) */
static void check_values(sm_ctx *ctx, const sm_table *s, const sm_table *real) {
  int64_t bad = 0;
  for (int j = 0; j < s->schema.n_cols; j++) {
    const sm_column *col = &s->schema.cols[j];
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t r = 0; r < real->n_rows; r++) {
      lo = fmin(lo, real->values[j][r]);
      hi = fmax(hi, real->values[j][r]);
    }
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    for (int64_t r = 0; r < s->n_rows; r++) {
      double v = s->values[j][r];
      if (isnan(v))
        continue;
      if (sm_coltype_is_discrete(col->type))
        bad += v < 0 || v >= col->n_categories || v != floor(v);
      else
        bad += v < lo || v > hi || (col->type == SM_COL_INTEGER && v != floor(v));
    }
  }
  if (ctx->rank == 0)
    printf("values outside their domains: %lld\n", (long long)bad);
  CHECK(bad == 0);
}

static void check_sampling(sm_ctx *ctx, const void *state, const sm_table *train, const char *dir) {
  static const int64_t whole[] = {SAMPLE_ROWS}, odd[] = {1, 7, 1024, 333};
  const sm_schema *schema = &train->schema;
  int64_t row0 = 5000 + 17 * ctx->rank;
  sm_table a, b, c;
  sample_chunks(ctx, state, schema, row0, whole, 1, &a);
  sample_chunks(ctx, state, schema, row0, odd, 4, &b);
  CHECK(same_table(&a, &b));
  check_values(ctx, &a, train);

  /* save, load, sample again */
  char path[256];
  snprintf(path, sizeof path, "%s/model.h5", dir);
  hid_t f = sm_h5_create(ctx, path);
  hid_t g = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(fm->ops->save(ctx, state, g) == SM_OK);
  H5Gclose(g);
  H5Fclose(f);
  void *loaded = NULL;
  f = sm_h5_open(ctx, path, 0);
  g = H5Gopen2(f, "model", H5P_DEFAULT);
  CHECK(fm->ops->load(ctx, g, &loaded) == SM_OK);
  H5Gclose(g);
  H5Fclose(f);
  if (loaded) {
    sample_chunks(ctx, loaded, schema, row0, odd, 4, &c);
    CHECK(same_table(&a, &c));
    sm_table_free(&c);
  }
  fm->ops->free_state(loaded);
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
  fm = argc > 1 && strcmp(argv[1], "tabddpm") == 0 ? &models[1] : &models[0];
  char dir[64] = "/tmp/synthmpi_flows_XXXXXX";
  if (ctx.rank == 0 && !mkdtemp(dir))
    dir[0] = '\0';
  MPI_Bcast(dir, (int)sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  sm_experiment e;
  sm_table train;
  if (load_experiment(&ctx, NULL, &e) != SM_OK || test_adult_read(&ctx, &e, &train, NULL))
    return test_finish();

  void *state = NULL;
  CHECK(fit(&ctx, &e, NULL, &train, &state) == SM_OK);
  if (state) {
    check_rank_invariance(&ctx, &e, state);
    check_resume(&ctx, &e, &train, dir, state);
    check_sampling(&ctx, state, &train, dir);
  }
  fm->ops->free_state(state);
  sm_table_free(&train);
  sm_experiment_free(&e);
  MPI_Barrier(MPI_COMM_WORLD);
  if (ctx.rank == 0)
    rmdir(dir);
  sm_ctx_free(&ctx);
  return test_finish();
}
