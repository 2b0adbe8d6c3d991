/* Privacy metrics: nearest-row distances against a brute-force reference, a release that
 * copies its training rows, an independent release from the same distribution, and the
 * same figures at any rank count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "eval_fixture.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define TOL 1e-12
#define NCOL 4
#define NT 1200 /* training rows */
#define NH 1000 /* held-out rows */
#define NS 900  /* independent synthetic rows */

static const char *names[NCOL] = {"x", "n", "colour", "flag"};
static const sm_coltype types[NCOL] = {SM_COL_CONTINUOUS, SM_COL_INTEGER, SM_COL_CATEGORICAL,
                                       SM_COL_BOOLEAN};
static char *colours[] = {"blue", "green", "red"};
static char *flags[] = {"false", "true"};

/* n rows of one distribution; `first` picks the rows of the stream, `spread` widens x so
 * some values fall outside the training range. A share miss_x of x is missing (rows
 * without x may repeat exactly); about 10 % of flag is missing. */
static void make_rows(double **v, int n, int64_t first, double spread, double miss_x) {
  for (int i = 0; i < n; i++) {
    sm_rng g;
    sm_rng_init(&g, 42, SM_STREAM_TEST, (uint64_t)(first + i));
    double z = sm_rng_normal(&g);
    v[0][i] = sm_rng_uniform(&g) < miss_x ? NAN : spread * z;
    v[1][i] = floor(sm_rng_uniform(&g) * 8.0);
    v[2][i] = floor(sm_rng_uniform(&g) * 3.0);
    v[3][i] = sm_rng_uniform(&g) < 0.1 ? NAN : (z + sm_rng_normal(&g) > 0);
  }
}

static void alloc_cols(double **v, int n) {
  for (int j = 0; j < NCOL; j++)
    v[j] = malloc((size_t)n * sizeof(double));
}

static void free_cols(double **v) {
  for (int j = 0; j < NCOL; j++)
    free(v[j]);
}

/* Reference term of one column, written from the definition. */
static double ref_term(int j, double a, double b, double lo, double hi) {
  if (isnan(a) || isnan(b))
    return isnan(a) && isnan(b) ? 0.0 : 1.0;
  if (sm_coltype_is_discrete(types[j]) || hi == lo)
    return a == b ? 0.0 : 1.0;
  double d = fabs(a - b) / (hi - lo);
  return d > 1.0 ? 1.0 : d;
}

/* Brute force: mean-over-columns distance from query row q to its nearest training row. */
static double ref_dcr(double **train, int nt, double **query, int q) {
  double lo[NCOL], hi[NCOL], best = INFINITY;
  for (int j = 0; j < NCOL; j++) {
    lo[j] = INFINITY, hi[j] = -INFINITY;
    for (int i = 0; i < nt; i++)
      if (!isnan(train[j][i]))
        lo[j] = fmin(lo[j], train[j][i]), hi[j] = fmax(hi[j], train[j][i]);
  }
  for (int i = 0; i < nt; i++) {
    double sum = 0.0;
    for (int j = 0; j < NCOL; j++)
      sum += ref_term(j, query[j][q], train[j][i], lo[j], hi[j]);
    best = fmin(best, sum / NCOL);
  }
  return best;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Every nearest distance and the DCR summary against the brute-force reference. */
static void test_against_reference(sm_ctx *ctx, const sm_schema *s) {
  enum { NTR = 150, NQ = 97 };
  double *tr[NCOL], *q[NCOL];
  alloc_cols(tr, NTR);
  alloc_cols(q, NQ);
  make_rows(tr, NTR, 0, 1.0, 0.1);
  make_rows(q, NQ, 5000, 1.7, 0.1);
  q[0][0] = 50.0, q[0][1] = -40.0; /* beyond a whole training range: the term is capped */
  sm_table t, y;
  CHECK(fixture_block(ctx, &t, s, tr, NTR) == SM_OK);
  CHECK(fixture_block(ctx, &y, s, q, NQ) == SM_OK);

  /* per query row */
  sm_eval_scale sc;
  sm_eval_sample qs;
  double got[NQ], want[NQ], worst = 0.0;
  CHECK(sm_eval_scale_init(ctx, &t, &sc) == SM_OK);
  CHECK(sm_eval_gather(ctx, &y, 0, 1, -1, &qs) == SM_OK);
  CHECK(sm_eval_nearest(ctx, &sc, &t, 0, 3, &qs, got) == SM_OK);
  for (int i = 0; i < NQ; i++) {
    want[i] = ref_dcr(tr, NTR, q, i);
    CHECK_CLOSE(got[i], want[i], TOL);
    worst = fmax(worst, fabs(got[i] - want[i]));
  }

  /* summary figures: all rows are queried and searched at these sizes */
  sm_privacy_limits lim = {1000, 1000, 1000, 1000};
  sm_eval_spec spec = {.seed = 9};
  sm_privacy_metrics p;
  CHECK(sm_privacy_metrics_limited(ctx, &spec, &lim, &t, NULL, &y, &p) == SM_OK);
  qsort(want, NQ, sizeof(double), cmp_double);
  double w05 = want[4] + 0.8 * (want[5] - want[4]); /* position 0.05 * 96 = 4.8 */
  CHECK_CLOSE(p.dcr_synth_median, want[48], TOL);
  CHECK_CLOSE(p.dcr_synth_p05, w05, TOL);
  CHECK(p.dcr_synth_rows == NQ && p.dcr_reference_rows == NTR);
  CHECK(isnan(p.dcr_hold_median) && isnan(p.dcr_share_closer) && !p.mia_done);
  CHECK(p.identical_synth < 0.2 && isnan(p.identical_hold) && p.reason[0]);
  if (ctx->rank == 0)
    printf("DCR: median %.6f, max |nearest - brute force| %.3g over %d rows\n", p.dcr_synth_median,
           worst, NQ);
  sm_eval_sample_free(&qs);
  sm_eval_scale_free(&sc);
  sm_table_free(&t);
  sm_table_free(&y);
  free_cols(tr);
  free_cols(q);
}

/* The whole figure set with the default sample sizes. */
static void metrics_of(sm_ctx *ctx, const sm_schema *s, double **tr, double **ho, double **sy,
                       int ns, sm_privacy_metrics *p) {
  sm_table t, h, y;
  CHECK(fixture_block(ctx, &t, s, tr, NT) == SM_OK);
  CHECK(fixture_block(ctx, &h, s, ho, NH) == SM_OK);
  CHECK(fixture_block(ctx, &y, s, sy, ns) == SM_OK);
  sm_eval_spec spec = {.seed = 5};
  CHECK(sm_privacy_metrics_compute(ctx, &spec, &t, &h, &y, p) == SM_OK);
  sm_table_free(&t);
  sm_table_free(&h);
  sm_table_free(&y);
}

/* A release that is the training set: every row identical, DCR 0, the attack wins. */
static void test_copies(sm_ctx *ctx, const sm_schema *s, double **tr, double **ho) {
  sm_privacy_metrics p;
  metrics_of(ctx, s, tr, ho, tr, NT, &p);
  CHECK(p.identical_synth == 1.0);
  CHECK(p.dcr_synth_median == 0.0 && p.dcr_synth_p05 == 0.0);
  CHECK(p.dcr_hold_median > 0.0 && p.dcr_share_closer == 1.0);
  CHECK(p.mia_done && p.mia_members == 1000 && p.mia_non_members == 1000);
  CHECK_CLOSE(p.mia_auc, 1.0, 1e-3);
  CHECK_CLOSE(p.mia_advantage, 1.0, 1e-3);
  if (ctx->rank == 0)
    printf("copies: identical %.4f, DCR median %.4f, AUC %.6f, advantage %.6f\n", p.identical_synth,
           p.dcr_synth_median, p.mia_auc, p.mia_advantage);
}

/* An independent release of the same distribution: the attack is a coin toss. The AUC of
 * 1000 against 1000 has a standard error near 0.013; the tolerance is 0.05 (about 4). */
static void test_independent(sm_ctx *ctx, const sm_schema *s, double **tr, double **ho,
                             double **sy) {
  sm_privacy_metrics p;
  metrics_of(ctx, s, tr, ho, sy, NS, &p);
  CHECK(p.mia_done);
  CHECK_CLOSE(p.mia_auc, 0.5, 0.05);
  CHECK(p.mia_advantage < 0.1);
  CHECK(p.identical_synth == 0.0 && p.identical_hold == 0.0);
  CHECK(p.dcr_synth_median > 0.0 && p.dcr_share_closer < 0.2);
  if (ctx->rank == 0)
    printf("independent: AUC %.4f (|AUC - 0.5| %.4f <= 0.05), advantage %.4f, DCR median "
           "%.4f vs holdout %.4f\n",
           p.mia_auc, fabs(p.mia_auc - 0.5), p.mia_advantage, p.dcr_synth_median,
           p.dcr_hold_median);
}

/* The figures as one array, for exact comparison. */
static void pack(const sm_privacy_metrics *p, double *out) {
  double v[] = {p->dcr_synth_median, p->dcr_synth_p05,    p->dcr_hold_median,
                p->dcr_hold_p05,     p->dcr_share_closer, p->identical_synth,
                p->identical_hold,   p->mia_auc,          p->mia_advantage};
  memcpy(out, v, sizeof v);
}

enum { NFIG = 9 };

/* Subsampled figures (small limits) of the tables on the ranks of comm. */
static void limited_figures(sm_ctx *ctx, const sm_schema *s, double **tr, double **ho, double **sy,
                            double *out) {
  sm_table t, h, y;
  CHECK(fixture_block(ctx, &t, s, tr, NT) == SM_OK);
  CHECK(fixture_block(ctx, &h, s, ho, NH) == SM_OK);
  CHECK(fixture_block(ctx, &y, s, sy, NS) == SM_OK);
  sm_privacy_limits lim = {60, 400, 150, 1 << 20};
  sm_eval_spec spec = {.seed = 17};
  sm_privacy_metrics p;
  CHECK(sm_privacy_metrics_limited(ctx, &spec, &lim, &t, &h, &y, &p) == SM_OK);
  CHECK(p.dcr_synth_rows == 60 && p.dcr_reference_rows == 400 && p.mia_members == 150);
  pack(&p, out);
  sm_table_free(&t);
  sm_table_free(&h);
  sm_table_free(&y);
}

/* The same subsampled figures on all ranks and on rank 0 alone. */
static void test_rank_count(sm_ctx *ctx, const sm_schema *s, double **tr, double **ho,
                            double **sy) {
  double all[NFIG], solo[NFIG];
  limited_figures(ctx, s, tr, ho, sy, all);
  MPI_Comm one;
  MPI_Comm_split(ctx->comm, ctx->rank == 0 ? 0 : MPI_UNDEFINED, 0, &one);
  if (ctx->rank == 0) {
    sm_ctx c1;
    CHECK(sm_ctx_init(&c1, one) == SM_OK);
    limited_figures(&c1, s, tr, ho, sy, solo);
    sm_ctx_free(&c1);
    MPI_Comm_free(&one);
  }
  MPI_Bcast(solo, NFIG, MPI_DOUBLE, 0, ctx->comm);
  double worst = 0.0;
  for (int k = 0; k < NFIG; k++) {
    CHECK_CLOSE(all[k], solo[k], 0.0);
    worst = fmax(worst, fabs(all[k] - solo[k]));
  }
  if (ctx->rank == 0)
    printf("subsampled on %d ranks: AUC %.4f, max diff to one rank %.3g\n", ctx->size, all[7],
           worst);
}

/* Quantiles as numpy computes them, and the advantage of a small scored set. */
static void test_kernels(void) {
  double x[] = {1, 2, 3, 4};
  CHECK_CLOSE(sm_eval_quantile(x, 4, 0.05), 1.15, TOL);
  CHECK_CLOSE(sm_eval_quantile(x, 4, 0.5), 2.5, TOL);
  CHECK_CLOSE(sm_eval_quantile(x, 4, 1.0), 4.0, TOL);
  CHECK(isnan(sm_eval_quantile(x, 0, 0.5)));

  /* thresholds: after 0.9 TPR 1/2 FPR 0, after 0.5 (tie) TPR 1 FPR 1/3 */
  double score[] = {0.9, 0.5, 0.5, 0.1, 0.0};
  int label[] = {1, 1, 0, 0, 0};
  CHECK_CLOSE(sm_eval_max_advantage(score, label, 5), 2.0 / 3.0, TOL);
  int same[] = {1, 1, 1, 1, 1};
  CHECK(isnan(sm_eval_max_advantage(score, same, 5)));
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  int n_cats[NCOL] = {0, 0, 3, 2};
  char **cats[NCOL] = {NULL, NULL, colours, flags};
  sm_column cols[NCOL];
  sm_schema s;
  fixture_schema(&s, cols, NCOL, names, types, n_cats, cats);

  /* training, held-out and synthetic rows: disjoint parts of one stream; x is always
   * present, so no row of one set equals a row of another */
  double *tr[NCOL], *ho[NCOL], *sy[NCOL];
  alloc_cols(tr, NT);
  alloc_cols(ho, NH);
  alloc_cols(sy, NS);
  make_rows(tr, NT, 0, 1.0, 0.0);
  make_rows(ho, NH, 100000, 1.0, 0.0);
  make_rows(sy, NS, 200000, 1.0, 0.0);

  test_kernels();
  test_against_reference(&ctx, &s);
  test_copies(&ctx, &s, tr, ho);
  test_independent(&ctx, &s, tr, ho, sy);
  test_rank_count(&ctx, &s, tr, ho, sy);
  free_cols(tr);
  free_cols(ho);
  free_cols(sy);
  sm_ctx_free(&ctx);
  return test_finish();
}
