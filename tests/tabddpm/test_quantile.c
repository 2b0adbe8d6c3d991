/* The quantile transform of TabDDPM's encoding on the real Adult numeric columns: fitted over
 * ranks it equals a one-rank fit bitwise; inverse(forward(x)) gives x back; and normal scores
 * drawn from N(0, 1) map back to values whose shares at each column's minimum and maximum
 * match the real shares (no pile-up at the range ends). */
#include <stdlib.h>
#include <string.h>

#include "adult.h"
#include "synthmpi/rng.h"
#include "test_util.h"
#include "transform/flat.h"

/* relative to the range: the level clip at 1e-7 moves an untied extreme by up to
 * 1e-7 (Q - 1) of the gap to its neighbouring quantile */
#define TOL_ROUND_TRIP 1e-4
#define DRAWS 200000
/* share at a range end: at most twice the real share plus this, at least half minus this */
#define SHARE_SLACK 0.002

static void check_same_fit(sm_ctx *ctx, const sm_experiment *e, const sm_flat *f) {
  int same = 1;
  if (ctx->rank == 0) {
    sm_ctx self;
    sm_ctx_init(&self, MPI_COMM_SELF);
    sm_table full;
    sm_flat one;
    CHECK(test_adult_read_all(ctx, e, &full) == SM_OK);
    CHECK(sm_flat_fit(&self, &one, &full, SM_FLAT_QUANTILE, 0) == SM_OK);
    for (int j = 0; j < f->n_cols; j++) {
      const sm_flat_column *a = &f->cols[j], *b = &one.cols[j];
      same &= a->qt.n == b->qt.n && a->mean == b->mean && a->std == b->std;
      if (a->qt.n == b->qt.n && a->qt.n > 0)
        same &= memcmp(a->qt.q, b->qt.q, (size_t)a->qt.n * sizeof(double)) == 0;
    }
    printf("%d ranks: quantiles, means and stds %s a one-rank fit\n", ctx->size,
           same ? "bitwise equal to" : "DIFFER from");
    sm_flat_free(&one);
    sm_table_free(&full);
    sm_ctx_free(&self);
  }
  MPI_Bcast(&same, 1, MPI_INT, 0, MPI_COMM_WORLD);
  CHECK(same);
}

static void check_round_trip(const sm_flat *f, const sm_table *t) {
  double worst = 0;
  for (int j = 0; j < f->n_cols; j++) {
    const sm_flat_column *c = &f->cols[j];
    if (!c->numeric)
      continue;
    for (int64_t r = 0; r < t->n_rows; r++) {
      double x = t->values[j][r];
      double back = sm_quantile_inverse(&c->qt, sm_quantile_forward(&c->qt, x));
      worst = fmax(worst, fabs(back - x) / (c->hi - c->lo));
    }
  }
  MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0)
    printf("inverse(forward(x)) - x: max %.3g of the range (tol %.0e)\n", worst, TOL_ROUND_TRIP);
  CHECK(worst < TOL_ROUND_TRIP);
}

/* Real shares at the ends against those of N(0, 1) scores mapped back. */
static void check_ends(const sm_flat *f, const sm_table *t) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int j = 0; j < f->n_cols; j++) {
    const sm_flat_column *c = &f->cols[j];
    if (!c->numeric)
      continue;
    double real[2] = {0, 0}, made[2] = {0, 0};
    for (int64_t r = 0; r < t->n_rows; r++) {
      real[0] += t->values[j][r] == c->lo;
      real[1] += t->values[j][r] == c->hi;
    }
    MPI_Allreduce(MPI_IN_PLACE, real, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    sm_rng rng;
    sm_rng_init(&rng, 11, SM_STREAM_TEST, (uint64_t)j);
    for (int i = 0; i < DRAWS; i++) {
      double x = sm_quantile_inverse(&c->qt, sm_rng_normal(&rng));
      made[0] += x == c->lo;
      made[1] += x == c->hi;
    }
    for (int e = 0; e < 2; e++) {
      double share = made[e] / DRAWS, want = real[e] / t->n_rows_total;
      int ok = share <= 2 * want + SHARE_SLACK && share >= 0.5 * want - SHARE_SLACK;
      if (rank == 0)
        printf("%-15s %s: share %.4f, real %.4f%s\n", t->schema.cols[j].name,
               e ? "maximum" : "minimum", share, want, ok ? "" : "  <- outside");
      CHECK(ok);
    }
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_WARN;
  sm_experiment e;
  sm_table train;
  if (test_adult_experiment(&ctx, 0, NULL, &e) != SM_OK ||
      test_adult_read(&ctx, &e, &train, NULL) != SM_OK) {
    fprintf(stderr, "adult: %s\n", ctx.msg);
    CHECK(0);
    return test_finish();
  }
  sm_flat f;
  CHECK(sm_flat_fit(&ctx, &f, &train, SM_FLAT_QUANTILE, 0) == SM_OK);
  check_same_fit(&ctx, &e, &f);
  check_round_trip(&f, &train);
  check_ends(&f, &train);
  sm_flat_free(&f);
  sm_table_free(&train);
  sm_experiment_free(&e);
  sm_ctx_free(&ctx);
  return test_finish();
}
