/* DP-TVAE on real Adult rows (configs/adult-tvae-dp.yaml, reproducible mode, small networks,
 * one epoch): the ledger's epsilon is the accountant's for the run's (q, sigma, steps) and
 * within the budget, and the parameters after the run are the same at 1, 2 and 3 ranks:
 * the noise is added once for the whole job, not once per rank, and the Poisson batches do
 * not depend on how rows are split over ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adult.h"
#include "models/models.h"
#include "models/tvae.h"
#include "synthmpi/privacy.h"
#include "test_util.h"

/* parameters at different rank counts differ by summation order only (absolute) */
#define PARAM_TOL 1e-5

static int load(sm_ctx *ctx, sm_experiment *e) {
  const char *src = getenv("SYNTHMPI_SOURCE_DIR"), *data = getenv("SYNTHMPI_DATA");
  char path[4096], train[4200], test[4200];
  snprintf(path, sizeof path, "%s/configs/adult-tvae-dp.yaml", src ? src : ".");
  snprintf(train, sizeof train, "data.path=%s/tabular/adult/adult.data", data ? data : "");
  snprintf(test, sizeof test, "holdout.path=%s/tabular/adult/adult.test", data ? data : "");
  char *sets[] = {train,
                  test,
                  "model.embedding_dim=8",
                  "model.compress_dims=16",
                  "model.decompress_dims=16",
                  "model.epochs=1",
                  "model.batch_size=4000",
                  "privacy.reproducible=true"};
  int rc = sm_experiment_load(ctx, path, 8, sets, e);
  if (rc != SM_OK)
    fprintf(stderr, "experiment: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  return rc;
}

/* Collective on ctx. A private fit; its ledger in *l. */
static int fit(sm_ctx *ctx, const sm_experiment *e, const sm_table *train, sm_ledger *l,
               void **state) {
  sm_fit_options opt = {.privacy = &e->privacy, .ledger = l};
  memset(l, 0, sizeof *l);
  *state = NULL;
  int rc = sm_model_tvae.fit(ctx, &e->model, &opt, train, state);
  if (rc != SM_OK)
    fprintf(stderr, "fit: %s\n", ctx->msg);
  return rc;
}

/* The ledger against the accountant. */
static void check_ledger(sm_ctx *ctx, const sm_experiment *e, const sm_ledger *l, int64_t n) {
  CHECK(l->n == 1 && l->reproducible == 1);
  if (l->n != 1)
    return;
  const sm_ledger_entry *d = &l->entries[0];
  sm_dp_sgd mech = {d->sample_rate, d->noise_multiplier, d->steps};
  sm_dp_epsilon want;
  CHECK(sm_dp_sgd_epsilon(ctx, SM_ACCOUNTANT_RDP, &mech, e->privacy.delta, &want) == SM_OK);
  int64_t batches = (n + 3999) / 4000;
  if (ctx->rank == 0)
    printf("ledger: q %.6g sigma %.6g steps %lld epsilon %.6g (accountant %.6g, budget %g)\n",
           d->sample_rate, d->noise_multiplier, (long long)d->steps, d->epsilon, want.bound,
           e->privacy.epsilon);
  CHECK(strcmp(d->mechanism, "dp-sgd") == 0 && strcmp(d->accountant, "rdp") == 0);
  CHECK(d->steps == batches && fabs(d->sample_rate - 4000.0 / (double)n) < 1e-15);
  CHECK(d->noise_multiplier > 0);
  CHECK(fabs(d->epsilon - want.bound) <= 1e-12 * want.bound);
  CHECK(d->epsilon <= e->privacy.epsilon && l->epsilon_total == d->epsilon);
  char *json = sm_ledger_to_json(l);
  CHECK(json && strstr(json, "\"reproducible_test_mode\":true") &&
        strstr(json, "\"private\":false"));
  free(json);
}

/* Rank 0 alone fits all rows; the parameters must match this rank count's. */
static void check_ranks(sm_ctx *ctx, const sm_experiment *e, const tvae_state *st) {
  int ok = 1;
  double worst = 0;
  if (ctx->rank == 0) {
    sm_ctx self;
    sm_ctx_init(&self, MPI_COMM_SELF);
    self.log_level = SM_LOG_ERROR;
    sm_table full;
    sm_ledger l;
    void *one = NULL;
    ok = test_adult_read_all(&self, e, &full) == SM_OK && fit(&self, e, &full, &l, &one) == SM_OK;
    const tvae_state *a = one;
    for (size_t i = 0; ok && i < st->net.n_model; i++)
      worst = fmax(worst, fabs((double)a->net.params.value[i] - st->net.params.value[i]));
    printf("parameters at %d ranks against 1: max difference %.3g (tolerance %.0e)\n", ctx->size,
           worst, PARAM_TOL);
    sm_tvae_free(one);
    sm_ledger_free(&l);
    sm_table_free(&full);
    sm_ctx_free(&self);
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, ctx->comm);
  MPI_Bcast(&worst, 1, MPI_DOUBLE, 0, ctx->comm);
  CHECK(ok && worst <= PARAM_TOL);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_ERROR;
  sm_experiment e;
  sm_table train;
  if (load(&ctx, &e) != SM_OK || test_adult_read(&ctx, &e, &train, NULL) != SM_OK)
    return test_finish();

  /* the resolved experiment shows DP-SGD's settings */
  CHECK(strstr(e.resolved, "\n  accountant: \"rdp\"\n") &&
        strstr(e.resolved, "\n  max_grad_norm: ") && strstr(e.resolved, "\n  noise_multiplier: "));

  sm_ledger l;
  void *state = NULL;
  CHECK(fit(&ctx, &e, &train, &l, &state) == SM_OK);
  if (state) {
    check_ledger(&ctx, &e, &l, train.n_rows_total);
    check_ranks(&ctx, &e, state);
  }
  sm_tvae_free(state);
  sm_ledger_free(&l);
  sm_table_free(&train);
  sm_experiment_free(&e);
  sm_ctx_free(&ctx);
  return test_finish();
}
