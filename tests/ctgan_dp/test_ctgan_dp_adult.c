/* A private CTGAN fit on real Adult rows (configs/adult-ctgan-dp.yaml, reproducible mode,
 * small networks, 2 epochs with 2 critic updates a step): the loss curve is the same at 1,
 * 2 and 3 ranks (the Poisson samples, each row's keyed fake partner and the noise do not
 * depend on how rows are split over ranks), the ledger's dp-sgd entry counts every critic update
 * with the accountant's epsilon, within the budget, and the release's sampling tables
 * (category counts) come from the model: each column's counts add up to the public row
 * count, are the same on every rank, and are not the uniform tables of training. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adult.h"
#include "ctgan_dp_fixture.h"
#include "models/models.h"
#include "synthmpi/privacy.h"
#include "test_util.h"

/* loss curves at different rank counts differ by summation order only (absolute) */
#define LOSS_TOL 1e-3
#define EPOCHS 2
#define D_STEPS 2
#define BATCH 4000

static const char *const overrides[] = {
    "model.embedding_dim=16",   "model.generator_dims=32", "model.discriminator_dims=32,32",
    "model.batch_size=4000",    "model.epochs=2",          "model.discriminator_steps=2",
    "privacy.reproducible=true"};
#define N_OVERRIDES ((int)(sizeof overrides / sizeof overrides[0]))

/* Collective on ctx. A private fit; its ledger in *l. */
static int fit(sm_ctx *ctx, const sm_experiment *e, const sm_table *train, sm_ledger *l,
               void **state) {
  sm_fit_options opt = {.privacy = &e->privacy, .ledger = l};
  memset(l, 0, sizeof *l);
  *state = NULL;
  int rc = sm_model_ctgan.fit(ctx, &e->model, &opt, train, state);
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
  int64_t steps = EPOCHS * D_STEPS * ((n + BATCH - 1) / BATCH);
  if (ctx->rank == 0)
    printf("ledger: q %.6g sigma %.6g steps %lld (want %lld) epsilon %.6g (accountant %.6g, "
           "budget %g); note '%s'\n",
           d->sample_rate, d->noise_multiplier, (long long)d->steps, (long long)steps, d->epsilon,
           want.bound, e->privacy.epsilon, d->note);
  CHECK(strcmp(d->mechanism, "dp-sgd") == 0 && strcmp(d->accountant, "rdp") == 0);
  CHECK(d->steps == steps && fabs(d->sample_rate - (double)BATCH / (double)n) < 1e-15);
  CHECK(d->noise_multiplier > 0 && strstr(d->note, "sensitivity 1 C")); /* pac 1 */
  CHECK(fabs(d->epsilon - want.bound) <= 1e-12 * want.bound);
  CHECK(d->epsilon <= e->privacy.epsilon && l->epsilon_total == d->epsilon);
}

/* The sampling tables after the fit. */
static void check_tables(sm_ctx *ctx, const ctgan_state *st, int64_t n) {
  const ctgan_cond *c = &st->cond;
  int cond = sm_ctgan_cond_width(c), sums_ok = 1, uniform = 1;
  double *lo = malloc((size_t)cond * sizeof(double)), *hi = malloc((size_t)cond * sizeof(double));
  memcpy(lo, c->count, (size_t)cond * sizeof(double));
  memcpy(hi, c->count, (size_t)cond * sizeof(double));
  MPI_Allreduce(MPI_IN_PLACE, lo, cond, MPI_DOUBLE, MPI_MIN, ctx->comm);
  MPI_Allreduce(MPI_IN_PLACE, hi, cond, MPI_DOUBLE, MPI_MAX, ctx->comm);
  for (int j = 0; j < c->n_cols; j++) {
    double total = 0;
    for (int k = 0; k < c->size[j]; k++) {
      total += c->count[c->offset[j] + k];
      uniform &= fabs(c->count[c->offset[j] + k] - c->count[c->offset[j]]) < 1e-9 * (double)n;
    }
    sums_ok &= fabs(total - (double)n) <= 1e-9 * (double)n;
  }
  int same = memcmp(lo, hi, (size_t)cond * sizeof(double)) == 0;
  if (ctx->rank == 0)
    printf("sampling tables: %d columns, sums to %lld rows %s, same on every rank %s, "
           "first column's counts %.0f %.0f ...\n",
           c->n_cols, (long long)n, sums_ok ? "yes" : "no", same ? "yes" : "no", c->count[0],
           c->count[1]);
  CHECK(c->n_cols == 9 && sums_ok && same && !uniform);
  free(lo);
  free(hi);
}

/* Rank 0 alone fits all rows; the loss curve must match this rank count's. */
static void check_ranks(sm_ctx *ctx, const sm_experiment *e, const ctgan_state *st) {
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
    const ctgan_state *a = one;
    for (int i = 0; ok && i < EPOCHS * CTGAN_N_LOSSES; i++) {
      worst = fmax(worst, fabs(a->history[i] - st->history[i]));
      if (i % CTGAN_N_LOSSES == 0)
        printf("epoch %d: critic %.6f penalty %.6f generator %.6f conditional %.6f at %d ranks; "
               "%.6f %.6f %.6f %.6f at 1\n",
               i / CTGAN_N_LOSSES + 1, st->history[i], st->history[i + 1], st->history[i + 2],
               st->history[i + 3], ctx->size, a->history[i], a->history[i + 1], a->history[i + 2],
               a->history[i + 3]);
    }
    printf("loss curve at %d ranks against 1: max difference %.3g (tolerance %.0e)\n", ctx->size,
           worst, LOSS_TOL);
    sm_ctgan_free(one);
    sm_ledger_free(&l);
    sm_table_free(&full);
    sm_ctx_free(&self);
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, ctx->comm);
  MPI_Bcast(&worst, 1, MPI_DOUBLE, 0, ctx->comm);
  CHECK(ok && worst <= LOSS_TOL);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_ERROR;
  sm_experiment e;
  sm_table train;
  int rc = ctgan_dp_load(&ctx, N_OVERRIDES, overrides, &e);
  CHECK(rc == SM_OK);
  if (rc != SM_OK || test_adult_read(&ctx, &e, &train, NULL) != SM_OK)
    return test_finish();

  /* the resolved experiment shows DP-SGD's settings for ctgan */
  CHECK(strstr(e.resolved, "\n  accountant: \"rdp\"\n") &&
        strstr(e.resolved, "\n  max_grad_norm: ") && strstr(e.resolved, "\n  noise_multiplier: "));

  sm_ledger l;
  void *state = NULL;
  CHECK(fit(&ctx, &e, &train, &l, &state) == SM_OK);
  if (state) {
    const ctgan_state *st = state;
    int finite = 1;
    for (int i = 0; i < EPOCHS * CTGAN_N_LOSSES; i++)
      finite &= isfinite(st->history[i]);
    CHECK(finite);
    check_ledger(&ctx, &e, &l, train.n_rows_total);
    check_tables(&ctx, st, train.n_rows_total);
    check_ranks(&ctx, &e, st);
  }
  sm_ctgan_free(state);
  sm_ledger_free(&l);
  sm_table_free(&train);
  sm_experiment_free(&e);
  sm_ctx_free(&ctx);
  return test_finish();
}
