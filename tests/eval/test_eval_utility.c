/* Utility: a label that depends on a feature is learnt (AUC > 0.9); shuffled labels are
 * not (AUC near 0.5); one-class and multiclass targets are reported, not crashed on. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "eval_fixture.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define NCOL 4
#define NTRAIN 1500
#define NTEST 800

static const char *names[NCOL] = {"x1", "x2", "group", "label"};
static const sm_coltype types[NCOL] = {SM_COL_CONTINUOUS, SM_COL_CONTINUOUS, SM_COL_CATEGORICAL,
                                       SM_COL_CATEGORICAL};
static char *groups[] = {"a", "b", "c"};
static char *labels[] = {"no", "yes", "maybe"};

/* label = 1 when x1 + group effect + noise > 0; x2 is noise; some values missing. */
static void make_rows(double **v, int n, uint64_t seed) {
  sm_rng g;
  sm_rng_init(&g, seed, SM_STREAM_TEST, 0);
  for (int i = 0; i < n; i++) {
    v[0][i] = sm_rng_normal(&g);
    v[1][i] = sm_rng_uniform(&g) < 0.05 ? NAN : sm_rng_normal(&g);
    v[2][i] = floor(sm_rng_uniform(&g) * 3);
    v[3][i] = (v[0][i] + 0.5 * (v[2][i] - 1) + 0.3 * sm_rng_normal(&g)) > 0;
    if (sm_rng_uniform(&g) < 0.02)
      v[3][i] = NAN;
  }
}

typedef struct sets {
  sm_table train, synth, test;
} sets;

static void sets_free(sets *s) {
  sm_table_free(&s->train);
  sm_table_free(&s->synth);
  sm_table_free(&s->test);
}

static void make_sets(sm_ctx *ctx, const sm_schema *s, double **tr, double **sy, double **te,
                      sets *out) {
  CHECK(fixture_block(ctx, &out->train, s, tr, NTRAIN) == SM_OK);
  CHECK(fixture_block(ctx, &out->synth, s, sy, NTRAIN) == SM_OK);
  CHECK(fixture_block(ctx, &out->test, s, te, NTEST) == SM_OK);
}

static int64_t count_present(const double *x, int n) {
  int64_t m = 0;
  for (int i = 0; i < n; i++)
    m += !isnan(x[i]);
  return m;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  int n_cats[NCOL] = {0, 0, 3, 2};
  char **cats[NCOL] = {NULL, NULL, groups, labels};
  sm_column cols[NCOL];
  sm_schema s;
  fixture_schema(&s, cols, NCOL, names, types, n_cats, cats);

  /* real training, held-out, and "synthetic" rows whose labels are shuffled */
  double *tr[NCOL], *te[NCOL], *sy[NCOL];
  for (int j = 0; j < NCOL; j++) {
    tr[j] = malloc(NTRAIN * sizeof(double));
    sy[j] = malloc(NTRAIN * sizeof(double));
    te[j] = malloc(NTEST * sizeof(double));
  }
  make_rows(tr, NTRAIN, 1);
  make_rows(te, NTEST, 2);
  make_rows(sy, NTRAIN, 3);
  sm_rng g;
  sm_rng_init(&g, 9, SM_STREAM_TEST, 1);
  for (int i = NTRAIN - 1; i > 0; i--) {
    int k = (int)(sm_rng_uniform(&g) * (i + 1));
    double t = sy[3][i];
    sy[3][i] = sy[3][k], sy[3][k] = t;
  }

  /* learnt from real rows, not from shuffled ones */
  sm_eval_spec spec = {.target = "label",
                       .utility = 1,
                       .seed = 5,
                       .utility_max_rows = 0,
                       .utility_rounds = 100,
                       .utility_depth = 4,
                       .utility_eta = 0.1};
  sets d;
  make_sets(&ctx, &s, tr, sy, te, &d);
  sm_utility u;
  CHECK(sm_utility_compute(&ctx, &spec, &d.train, &d.test, &d.synth, &u) == SM_OK);
  if (ctx.rank == 0)
    printf("real AUC %.4f F1 %.4f; shuffled AUC %.4f F1 %.4f\n", u.auc_real, u.f1_real, u.auc_synth,
           u.f1_synth);
  CHECK(u.done && u.auc_real > 0.9 && u.f1_real > 0.8);
  CHECK_CLOSE(u.auc_synth, 0.5, 0.08);
  CHECK(u.n_real == count_present(tr[3], NTRAIN) && u.n_test == count_present(te[3], NTEST));

  /* a synthetic set of one class: real still scored, synthetic reported as undefined */
  for (int i = 0; i < NTRAIN; i++)
    sy[3][i] = 0;
  sets_free(&d);
  make_sets(&ctx, &s, tr, sy, te, &d);
  CHECK(sm_utility_compute(&ctx, &spec, &d.train, &d.test, &d.synth, &u) == SM_OK);
  CHECK(u.done && u.auc_real > 0.9 && isnan(u.auc_synth) && isnan(u.f1_synth));
  CHECK(strstr(u.reason, "synthetic rows have one target class") != NULL);
  if (ctx.rank == 0)
    printf("one class: %s\n", u.reason);

  /* a subsample of 500 training rows still learns */
  spec.utility_max_rows = 500;
  CHECK(sm_utility_compute(&ctx, &spec, &d.train, &d.test, &d.synth, &u) == SM_OK);
  CHECK(u.n_real <= 500 && u.n_real > 450 && u.auc_real > 0.85);

  /* a three-category target is refused with the reason; an unknown one is bad input */
  sets_free(&d);
  cols[3].n_categories = 3;
  make_sets(&ctx, &s, tr, sy, te, &d);
  CHECK(sm_utility_compute(&ctx, &spec, &d.train, &d.test, &d.synth, &u) == SM_OK);
  CHECK(!u.done && strstr(u.reason, "only binary") != NULL);
  spec.target = "nope";
  CHECK(sm_utility_compute(&ctx, &spec, &d.train, &d.test, &d.synth, &u) == SM_EINPUT);
  sets_free(&d);

  for (int j = 0; j < NCOL; j++)
    free(tr[j]), free(sy[j]), free(te[j]);
  sm_ctx_free(&ctx);
  return test_finish();
}
