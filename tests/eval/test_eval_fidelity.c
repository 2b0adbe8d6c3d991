/* Distributed fidelity against slow references on the whole tables, independence from the
 * rank count under subsampling, identical tables, and bad codes refused on every rank. */
#include <math.h>
#include <stdlib.h>

#include "eval/eval_internal.h"
#include "eval_fixture.h"
#include "eval_reference.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define TOL 1e-12
#define NCOL 5
#define NR 301
#define NS 257

static const char *names[NCOL] = {"x", "n", "colour", "flag", "when"};
static const sm_coltype types[NCOL] = {SM_COL_CONTINUOUS, SM_COL_INTEGER, SM_COL_CATEGORICAL,
                                       SM_COL_BOOLEAN, SM_COL_DATETIME};
static char *colours[] = {"blue", "green", "red", "white"};
static char *flags[] = {"false", "true"};

/* Global columns (same on every rank); `shift` makes the synthetic set differ. Colour 3
 * never occurs in the synthetic set; flag is missing in about 10 % of rows. */
static void make_global(double **v, int n, uint64_t seed, double shift) {
  sm_rng g;
  sm_rng_init(&g, seed, SM_STREAM_TEST, 0);
  for (int i = 0; i < n; i++) {
    double z = sm_rng_normal(&g);
    v[0][i] = sm_rng_uniform(&g) < 0.1 ? NAN : z + shift;
    v[1][i] = floor(sm_rng_uniform(&g) * 20.0);
    v[2][i] = floor(sm_rng_uniform(&g) * (shift > 0 ? 3 : 4));
    v[3][i] = sm_rng_uniform(&g) < 0.1 ? NAN : (z + sm_rng_normal(&g) > 0);
    v[4][i] = 1.6e9 + 86400.0 * round(10 * z + 3 * sm_rng_normal(&g));
  }
  v[1][0] = 0, v[1][1] = 19; /* the integer column spans [0, 19] exactly */
}

/* The reference score of every column and pair on whole global tables. */
static void reference_scores(const sm_schema *s, double **r, double **y, double *shape,
                             double *pair) {
  double br[NCOL][NR], bs[NCOL][NS];
  for (int j = 0; j < NCOL; j++) {
    int numeric = !sm_coltype_is_discrete(types[j]);
    shape[j] = numeric ? ref_ks_complement(r[j], NR, y[j], NS)
                       : ref_tv_complement(r[j], NR, y[j], NS, s->cols[j].n_categories);
    for (int i = 0; i < NR; i++)
      br[j][i] = r[j][i];
    for (int i = 0; i < NS; i++)
      bs[j][i] = y[j][i];
    if (numeric) {
      ref_bin(r[j], NR, r[j], NR, br[j]);
      ref_bin(r[j], NR, y[j], NS, bs[j]);
    }
  }
  int p = 0;
  for (int a = 0; a < NCOL; a++) {
    for (int b = a + 1; b < NCOL; b++, p++) {
      int corr = !sm_coltype_is_discrete(types[a]) && !sm_coltype_is_discrete(types[b]);
      int ka = sm_coltype_is_discrete(types[a]) ? s->cols[a].n_categories : 10;
      int kb = sm_coltype_is_discrete(types[b]) ? s->cols[b].n_categories : 10;
      pair[p] = corr ? ref_correlation_similarity(r[a], r[b], NR, y[a], y[b], NS)
                     : ref_contingency(br[a], br[b], NR, bs[a], bs[b], NS, ka, kb);
    }
  }
}

/* All rows, no subsampling: every score equals its reference. */
static void test_against_reference(sm_ctx *ctx, const sm_schema *s, double **r, double **y) {
  sm_table tr, ts;
  CHECK(fixture_block(ctx, &tr, s, r, NR) == SM_OK);
  CHECK(fixture_block(ctx, &ts, s, y, NS) == SM_OK);
  sm_eval_spec spec = {.max_rows = 0, .seed = 7};
  sm_fidelity f;
  CHECK(sm_fidelity_compute(ctx, &spec, &tr, &ts, &f) == SM_OK);

  /* per column and per pair */
  double shape[NCOL], pair[NCOL * (NCOL - 1) / 2];
  reference_scores(s, r, y, shape, pair);
  double worst = 0.0, sum_s = 0.0, sum_p = 0.0;
  for (int j = 0; j < NCOL; j++) {
    CHECK_CLOSE(f.shape[j], shape[j], TOL);
    worst = fmax(worst, fabs(f.shape[j] - shape[j]));
    sum_s += shape[j];
  }
  CHECK(f.n_pairs == NCOL * (NCOL - 1) / 2);
  for (int p = 0; p < f.n_pairs; p++) {
    CHECK_CLOSE(f.pair[p], pair[p], TOL);
    worst = fmax(worst, fabs(f.pair[p] - pair[p]));
    sum_p += pair[p];
  }
  CHECK(f.pair_is_correlation[0] == 1 && f.pair_is_correlation[1] == 0);

  /* means */
  CHECK_CLOSE(f.column_shapes, sum_s / NCOL, TOL);
  CHECK_CLOSE(f.column_pairs, sum_p / f.n_pairs, TOL);
  CHECK_CLOSE(f.overall, 0.5 * (sum_s / NCOL + sum_p / f.n_pairs), TOL);
  CHECK(f.overall < 1.0 && f.n_real == NR && f.n_synth == NS);
  if (ctx->rank == 0)
    printf("overall %.6f, max |score - reference| %.3g\n", f.overall, worst);
  sm_fidelity_free(&f);

  /* identical tables score exactly 1 */
  CHECK(sm_fidelity_compute(ctx, &spec, &tr, &tr, &f) == SM_OK);
  CHECK(f.overall == 1.0 && f.column_shapes == 1.0 && f.column_pairs == 1.0);
  sm_fidelity_free(&f);
  sm_table_free(&tr);
  sm_table_free(&ts);
}

/* Scores of the whole tables on rank 0 alone (a one-rank communicator), sent to all. */
static void one_rank_scores(sm_ctx *ctx, const sm_schema *s, double **r, double **y,
                            const sm_eval_spec *spec, double *out, int n_out) {
  MPI_Comm solo;
  MPI_Comm_split(ctx->comm, ctx->rank == 0 ? 0 : MPI_UNDEFINED, 0, &solo);
  if (ctx->rank == 0) {
    sm_ctx c1;
    sm_table tr, ts;
    sm_fidelity f;
    CHECK(sm_ctx_init(&c1, solo) == SM_OK);
    CHECK(fixture_block(&c1, &tr, s, r, NR) == SM_OK);
    CHECK(fixture_block(&c1, &ts, s, y, NS) == SM_OK);
    CHECK(sm_fidelity_compute(&c1, spec, &tr, &ts, &f) == SM_OK);
    for (int j = 0; j < NCOL; j++)
      out[j] = f.shape[j];
    for (int p = 0; p < f.n_pairs; p++)
      out[NCOL + p] = f.pair[p];
    out[n_out - 1] = f.overall;
    sm_fidelity_free(&f);
    sm_table_free(&tr);
    sm_table_free(&ts);
    sm_ctx_free(&c1);
    MPI_Comm_free(&solo);
  }
  MPI_Bcast(out, n_out, MPI_DOUBLE, 0, ctx->comm);
}

/* A subsample of 100 rows: exactly 100 kept, and the same scores at any rank count. */
static void test_subsample(sm_ctx *ctx, const sm_schema *s, double **r, double **y) {
  sm_table tr, ts;
  CHECK(fixture_block(ctx, &tr, s, r, NR) == SM_OK);
  CHECK(fixture_block(ctx, &ts, s, y, NS) == SM_OK);
  sm_eval_spec spec = {.max_rows = 100, .seed = 11};
  unsigned char *keep = malloc((size_t)tr.n_rows + 1);
  int64_t n_keep = 0, total = 0;
  CHECK(sm_eval_select(ctx, &tr, spec.max_rows, spec.seed, keep, &n_keep) == SM_OK);
  MPI_Allreduce(&n_keep, &total, 1, MPI_INT64_T, MPI_SUM, ctx->comm);
  CHECK(total == 100);
  free(keep);

  /* distributed against one rank */
  enum { NOUT = NCOL + NCOL * (NCOL - 1) / 2 + 1 };
  double solo[NOUT];
  one_rank_scores(ctx, s, r, y, &spec, solo, NOUT);
  sm_fidelity f;
  CHECK(sm_fidelity_compute(ctx, &spec, &tr, &ts, &f) == SM_OK);
  CHECK(f.n_real == 100 && f.n_synth == 100);
  double worst = 0.0;
  for (int j = 0; j < NCOL; j++)
    worst = fmax(worst, fabs(f.shape[j] - solo[j]));
  for (int p = 0; p < f.n_pairs; p++)
    worst = fmax(worst, fabs(f.pair[p] - solo[NCOL + p]));
  CHECK_CLOSE(worst, 0.0, TOL);
  CHECK_CLOSE(f.overall, solo[NOUT - 1], TOL);
  if (ctx->rank == 0)
    printf("subsample overall %.6f on %d ranks, max diff to one rank %.3g\n", f.overall, ctx->size,
           worst);
  sm_fidelity_free(&f);
  sm_table_free(&tr);
  sm_table_free(&ts);
}

/* A code outside the dictionary on the last rank fails as bad input on every rank. */
static void test_bad_code(sm_ctx *ctx, const sm_schema *s, double **r, double **y) {
  sm_table tr, ts;
  CHECK(fixture_block(ctx, &tr, s, r, NR) == SM_OK);
  CHECK(fixture_block(ctx, &ts, s, y, NS) == SM_OK);
  if (ctx->rank == ctx->size - 1 && ts.n_rows > 0)
    ts.values[2][ts.n_rows - 1] = 9;
  sm_eval_spec spec = {.max_rows = 0, .seed = 1};
  sm_fidelity f;
  CHECK(sm_fidelity_compute(ctx, &spec, &tr, &ts, &f) == SM_EINPUT);
  if (ctx->rank == 0)
    printf("refused: %s\n", ctx->msg);
  sm_table_free(&tr);
  sm_table_free(&ts);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  int n_cats[NCOL] = {0, 0, 4, 2, 0};
  char **cats[NCOL] = {NULL, NULL, colours, flags, NULL};
  sm_column cols[NCOL];
  sm_schema s;
  fixture_schema(&s, cols, NCOL, names, types, n_cats, cats);

  /* global real and synthetic columns */
  double *r[NCOL], *y[NCOL];
  for (int j = 0; j < NCOL; j++) {
    r[j] = malloc(NR * sizeof(double));
    y[j] = malloc(NS * sizeof(double));
  }
  make_global(r, NR, 3, 0.0);
  make_global(y, NS, 4, 0.4);

  test_against_reference(&ctx, &s, r, y);
  test_subsample(&ctx, &s, r, y);
  test_bad_code(&ctx, &s, r, y);
  for (int j = 0; j < NCOL; j++)
    free(r[j]), free(y[j]);
  sm_ctx_free(&ctx);
  return test_finish();
}
