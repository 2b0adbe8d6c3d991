/* MST on the real Adult data (configs/adult-mst.yaml), in reproducible mode:
 *   - the per-marginal noise std at epsilon 1, delta 1e-9 (the reference README: ~39 for
 *     15 one-way marginals, ~37 for 14 tree edges) and the ledger's totals;
 *   - the fitted noisy marginals and the tree equal a one-rank fit on all rows, whatever
 *     the number of ranks (noise drawn once, by rank 0);
 *   - at epsilon 1e6 the 1-way marginals of 200k sampled rows match the data (TV < 0.01)
 *     and so do the tree edges' 2-way marginals (TV < 0.02);
 *   - sampling is chunk-independent; save/load gives the same rows and ledger;
 *   - columns without a declared domain are refused before fitting;
 *   - the resolved experiment shows no DP-SGD settings.
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adult.h"
#include "io/h5util.h"
#include "models/mst.h"
#include "synthmpi/data.h"
#include "synthmpi/privacy.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define SAMPLE_ROWS 200000
#define TV_ONE_WAY 0.01
#define TV_TWO_WAY 0.02
/* Allreduced integer counts and one noise draw: the fits agree to rounding only. */
#define SAME_FIT_TOL 1e-9

/* The Adult MST experiment on the real files, reproducible, with extra overrides. */
static int load_experiment(sm_ctx *ctx, const char *epsilon, sm_experiment *e) {
  const char *dir = getenv("SYNTHMPI_SOURCE_DIR"), *data = getenv("SYNTHMPI_DATA");
  char path[4096], d[4200], h[4200], eps[64];
  snprintf(path, sizeof path, "%s/configs/adult-mst.yaml", dir ? dir : ".");
  snprintf(d, sizeof d, "data.path=%s/tabular/adult/adult.data", data ? data : "../shared/data");
  snprintf(h, sizeof h, "holdout.path=%s/tabular/adult/adult.test", data ? data : "../shared/data");
  snprintf(eps, sizeof eps, "privacy.epsilon=%s", epsilon);
  char *sets[] = {d, h, eps, "privacy.reproducible=true", "model.reproducible_seed=7"};
  return sm_experiment_load(ctx, path, 5, sets, e);
}

static int fit(sm_ctx *ctx, const sm_experiment *e, const sm_table *t, mst_state **st) {
  sm_fit_options opt;
  memset(&opt, 0, sizeof opt);
  opt.privacy = &e->privacy;
  return sm_model_find("mst")->fit(ctx, &e->model, &opt, t, (void **)st);
}

static const sm_ledger_entry *find_entry(const sm_ledger *l, const char *mechanism) {
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->entries[i].mechanism, mechanism) == 0)
      return &l->entries[i];
  return NULL;
}

/* ---- epsilon 1: noise scale and the ledger ------------------------------------------ */

static void test_noise_and_ledger(sm_ctx *ctx, const mst_state *st) {
  double rho = 0.0, eps = 0.0, rho_sum = 0.0;
  CHECK(sm_zcdp_rho(ctx, 1.0, 1e-9, &rho) == SM_OK);
  double sigma = sqrt(3.0 / (2.0 * rho));
  const sm_ledger_entry *one = find_entry(&st->ledger, "mst-1way");
  const sm_ledger_entry *sel = find_entry(&st->ledger, "mst-select");
  const sm_ledger_entry *two = find_entry(&st->ledger, "mst-2way");
  CHECK(one && sel && two && st->ledger.n == 3);
  if (!one || !sel || !two)
    return;
  if (ctx->rank == 0)
    printf("epsilon 1, delta 1e-9: rho %.6f, sigma %.4f; 1-way std %.3f (%lld marginals), "
           "2-way std %.3f (%lld edges)\n",
           rho, sigma, one->noise_multiplier, (long long)one->steps, two->noise_multiplier,
           (long long)two->steps);

  /* the README's figures: sigma ~ 10.0, std ~ 39 for 15 and ~ 37 for 14 marginals */
  CHECK(one->steps == 15 && sel->steps == 14 && two->steps == 14);
  CHECK_CLOSE(sigma, 10.0, 0.05);
  CHECK_CLOSE(one->noise_multiplier, sigma * sqrt(15.0), 1e-9);
  CHECK_CLOSE(two->noise_multiplier, sigma * sqrt(14.0), 1e-9);
  CHECK_CLOSE(one->noise_multiplier, 39.0, 0.5);
  CHECK_CLOSE(two->noise_multiplier, 37.0, 0.5);

  /* each phase rho / 3, the total rho, epsilon from sm_zcdp_epsilon and within budget */
  for (int i = 0; i < st->ledger.n; i++) {
    CHECK_CLOSE(st->ledger.entries[i].rho, rho / 3.0, 1e-15);
    rho_sum += st->ledger.entries[i].rho;
  }
  CHECK_CLOSE(rho_sum, rho, 1e-15);
  CHECK(sm_zcdp_epsilon(ctx, rho, 1e-9, &eps) == SM_OK);
  CHECK_CLOSE(st->ledger.epsilon_total, eps, 1e-12);
  CHECK(st->ledger.epsilon_total <= 1.0 + 1e-9);
  CHECK_CLOSE(st->ledger.epsilon_total, 1.0, 1e-3);
  CHECK(st->ledger.reproducible == 1);
}

/* ---- the estimator ------------------------------------------------------------------- */

/* Slow reference of the simplex projection: theta by bisection on
 * sum max(v - theta, 0) = total, then x = max(v - theta, 0). */
static void project_reference(const double *v, int n, double total, double *x) {
  double lo = -1e9, hi = 1e9;
  for (int it = 0; it < 200; it++) {
    double mid = 0.5 * (lo + hi), s = 0;
    for (int i = 0; i < n; i++)
      s += fmax(v[i] - mid, 0.0);
    if (s > total)
      lo = mid;
    else
      hi = mid;
  }
  for (int i = 0; i < n; i++)
    x[i] = fmax(v[i] - 0.5 * (lo + hi), 0.0);
}

static void test_projection(sm_ctx *ctx) {
  double v[40], x[40], ref[40], worst = 0;
  sm_rng rng;
  sm_rng_init(&rng, 3, SM_STREAM_TEST, 0);
  for (int trial = 0; trial < 20; trial++) {
    int n = 1 + trial * 2;
    for (int i = 0; i < n; i++)
      v[i] = x[i] = 50.0 * sm_rng_normal(&rng) + 5.0;
    CHECK(sm_mst_project_simplex(ctx, x, n, 100.0) == SM_OK);
    project_reference(v, n, 100.0, ref);
    for (int i = 0; i < n; i++)
      worst = fmax(worst, fabs(x[i] - ref[i]));
  }
  if (ctx->rank == 0)
    printf("simplex projection vs bisection: max difference %.3g (tol 1e-6)\n", worst);
  CHECK(worst <= 1e-6);
}

/* The tree is consistent: each edge table's margins are its ends' 1-way estimates. */
static void test_consistency(sm_ctx *ctx, const mst_state *st) {
  double worst = 0, n = (double)st->n_train;
  for (int k = 1; k < st->n_attrs; k++) {
    int c = st->order[k], p = st->parent[c], q = st->parent[p];
    int nc = st->attrs[c].n_comp, np = st->attrs[p].n_comp, nq = q >= 0 ? st->attrs[q].n_comp : 1;
    for (int i = 0; i < np; i++) {
      double row = 0, parent = 0; /* P(p = i) from the edge and from p's own table */
      for (int j = 0; j < nc; j++)
        row += st->joint[c][i * nc + j];
      for (int h = 0; h < nq; h++)
        parent += st->joint[p][h * np + i];
      worst = fmax(worst, fabs(row - parent));
    }
  }
  if (ctx->rank == 0)
    printf("tree consistency: max margin difference %.3g counts (tol %.3g)\n", worst, 1e-6 * n);
  CHECK(worst <= 1e-6 * n);
}

/* ---- rank invariance ------------------------------------------------------------------ */

/* Largest difference between two fits' measurements, tree and estimates; -1 when their
 * shapes differ. */
static double fit_difference(const mst_state *a, const mst_state *b) {
  double worst = 0.0;
  if (a->n_attrs != b->n_attrs)
    return -1.0;
  for (int j = 0; j < a->n_attrs; j++) {
    const mst_attr *x = &a->attrs[j], *y = &b->attrs[j];
    if (x->n_comp != y->n_comp || a->parent[j] != b->parent[j] || a->order[j] != b->order[j])
      return -1.0;
    for (int v = 0; v < x->n_values; v++)
      worst = fmax(worst, fabs(x->noisy[v] - y->noisy[v]));
    int p = a->parent[j];
    int64_t n = (int64_t)x->n_comp * (p >= 0 ? a->attrs[p].n_comp : 1);
    for (int64_t i = 0; i < n; i++) {
      worst = fmax(worst, fabs(a->joint[j][i] - b->joint[j][i]));
      if (p >= 0)
        worst = fmax(worst, fabs(a->noisy2[j][i] - b->noisy2[j][i]));
    }
  }
  return worst;
}

/* Rank 0 fits alone on all rows and compares with the fit made by every rank. */
static void test_rank_invariance(sm_ctx *ctx, const sm_experiment *e, const mst_state *st) {
  if (ctx->rank != 0)
    return;
  sm_ctx self;
  sm_table full;
  mst_state *alone = NULL;
  CHECK(sm_ctx_init(&self, MPI_COMM_SELF) == SM_OK);
  self.log_level = SM_LOG_WARN;
  CHECK(test_adult_read_all(&self, e, &full) == SM_OK);
  CHECK(fit(&self, e, &full, &alone) == SM_OK);
  if (alone) {
    double d = fit_difference(st, alone);
    printf("fit on %d ranks vs one rank: max difference %.3g (tol %g)\n", ctx->size, d,
           SAME_FIT_TOL);
    CHECK(d >= 0 && d <= SAME_FIT_TOL);
  }
  sm_mst_free(alone);
  sm_table_free(&full);
  sm_ctx_free(&self);
}

/* ---- fidelity at epsilon 1e6 ----------------------------------------------------------- */

/* Collective: counts over the attributes' domains of a table's rows, summed over ranks.
 * one: (sum n_values); two: per tree edge (n_values[p], n_values[c]). */
static void domain_counts(sm_ctx *ctx, const mst_state *st, const sm_table *t, double *one,
                          double *two, int64_t n_one, int64_t n_two) {
  memset(one, 0, (size_t)n_one * sizeof(double));
  memset(two, 0, (size_t)n_two * sizeof(double));
  for (int64_t r = 0; r < t->n_rows; r++) {
    int64_t o1 = 0, o2 = 0;
    for (int j = 0; j < st->n_attrs; j++) {
      int v = sm_mst_value_index(&st->attrs[j], t->values[j][r]), p = st->parent[j];
      one[o1 + v] += 1.0;
      o1 += st->attrs[j].n_values;
      if (p < 0)
        continue;
      int u = sm_mst_value_index(&st->attrs[p], t->values[p][r]);
      two[o2 + (int64_t)u * st->attrs[j].n_values + v] += 1.0;
      o2 += (int64_t)st->attrs[p].n_values * st->attrs[j].n_values;
    }
  }
  MPI_Allreduce(MPI_IN_PLACE, one, (int)n_one, MPI_DOUBLE, MPI_SUM, ctx->comm);
  MPI_Allreduce(MPI_IN_PLACE, two, (int)n_two, MPI_DOUBLE, MPI_SUM, ctx->comm);
}

/* Total variation distance of two count vectors (n). */
static double tv(const double *a, const double *b, int64_t n) {
  double sa = 0, sb = 0, d = 0;
  for (int64_t i = 0; i < n; i++)
    sa += a[i], sb += b[i];
  for (int64_t i = 0; i < n; i++)
    d += fabs(a[i] / sa - b[i] / sb);
  return 0.5 * d;
}

/* Each rank samples its block of SAMPLE_ROWS rows. */
static int sample_block(sm_ctx *ctx, const mst_state *st, const sm_schema *s, uint64_t seed,
                        sm_table *out) {
  int64_t lo, hi;
  sm_partition(SAMPLE_ROWS, ctx->size, ctx->rank, &lo, &hi);
  SM_TRY(sm_table_alloc(ctx, out, s, hi - lo));
  return sm_mst_sample(ctx, st, seed, lo, out);
}

static void test_fidelity(sm_ctx *ctx, const sm_table *train, const mst_state *st) {
  int64_t n_one = 0, n_two = 0;
  for (int j = 0; j < st->n_attrs; j++) {
    int p = st->parent[j];
    n_one += st->attrs[j].n_values;
    n_two += p >= 0 ? (int64_t)st->attrs[p].n_values * st->attrs[j].n_values : 0;
  }
  double *d1 = calloc((size_t)n_one, sizeof(double)), *s1 = calloc((size_t)n_one, sizeof(double));
  double *d2 = calloc((size_t)n_two, sizeof(double)), *s2 = calloc((size_t)n_two, sizeof(double));
  sm_table synth;
  CHECK(sample_block(ctx, st, &train->schema, 11, &synth) == SM_OK);
  domain_counts(ctx, st, train, d1, d2, n_one, n_two);
  domain_counts(ctx, st, &synth, s1, s2, n_one, n_two);

  /* every 1-way marginal, every tree edge's 2-way marginal */
  double worst1 = 0, worst2 = 0;
  for (int j = 0, o1 = 0, o2 = 0; j < st->n_attrs; o1 += st->attrs[j].n_values, j++) {
    double t1 = tv(d1 + o1, s1 + o1, st->attrs[j].n_values);
    CHECK(t1 < TV_ONE_WAY);
    worst1 = fmax(worst1, t1);
    int p = st->parent[j];
    if (p < 0)
      continue;
    int64_t m = (int64_t)st->attrs[p].n_values * st->attrs[j].n_values;
    double t2 = tv(d2 + o2, s2 + o2, m);
    CHECK(t2 < TV_TWO_WAY);
    worst2 = fmax(worst2, t2);
    o2 += (int)m;
  }
  if (ctx->rank == 0)
    printf("epsilon 1e6, %d sampled rows: worst 1-way TV %.4f (< %g), worst edge TV %.4f "
           "(< %g)\n",
           SAMPLE_ROWS, worst1, TV_ONE_WAY, worst2, TV_TWO_WAY);
  sm_table_free(&synth);
  free(d1);
  free(s1);
  free(d2);
  free(s2);
}

/* ---- chunks, save and load ------------------------------------------------------------- */

/* Values of two tables equal (NaN equal to NaN) over n rows. */
static int same_values(const sm_table *a, int64_t a0, const sm_table *b, int64_t b0, int64_t n) {
  for (int j = 0; j < a->schema.n_cols; j++)
    for (int64_t r = 0; r < n; r++) {
      double x = a->values[j][a0 + r], y = b->values[j][b0 + r];
      if (!(x == y || (isnan(x) && isnan(y))))
        return 0;
    }
  return 1;
}

static void test_chunks(sm_ctx *ctx, const sm_schema *s, const mst_state *st) {
  sm_table whole, part1, part2;
  CHECK(sm_table_alloc(ctx, &whole, s, 500) == SM_OK);
  CHECK(sm_table_alloc(ctx, &part1, s, 123) == SM_OK);
  CHECK(sm_table_alloc(ctx, &part2, s, 377) == SM_OK);
  CHECK(sm_mst_sample(ctx, st, 5, 1000, &whole) == SM_OK);
  CHECK(sm_mst_sample(ctx, st, 5, 1000, &part1) == SM_OK);
  CHECK(sm_mst_sample(ctx, st, 5, 1123, &part2) == SM_OK);
  CHECK(same_values(&whole, 0, &part1, 0, 123));
  CHECK(same_values(&whole, 123, &part2, 0, 377));
  sm_table_free(&whole);
  sm_table_free(&part1);
  sm_table_free(&part2);
}

/* Collective: save st to a file, load it back; rows and the ledger must be the same. */
static void test_save_load(sm_ctx *ctx, const sm_schema *s, const mst_state *st) {
  const char *path = "test_mst_model.h5";
  hid_t f = sm_h5_create(ctx, path);
  CHECK(f >= 0);
  hid_t g = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(sm_mst_save(ctx, st, (int64_t)g) == SM_OK);
  H5Gclose(g);
  H5Fclose(f);

  mst_state *back = NULL;
  f = sm_h5_open(ctx, path, 0);
  g = H5Gopen2(f, "model", H5P_DEFAULT);
  CHECK(sm_mst_load(ctx, (int64_t)g, (void **)&back) == SM_OK);
  H5Gclose(g);
  H5Fclose(f);
  if (!back)
    return;

  /* the same model, the same rows, the same ledger */
  CHECK(fit_difference(st, back) == 0.0);
  sm_table a, b;
  CHECK(sm_table_alloc(ctx, &a, s, 1000) == SM_OK && sm_table_alloc(ctx, &b, s, 1000) == SM_OK);
  CHECK(sm_mst_sample(ctx, st, 9, 0, &a) == SM_OK && sm_mst_sample(ctx, back, 9, 0, &b) == SM_OK);
  CHECK(same_values(&a, 0, &b, 0, 1000));
  char *ja = sm_ledger_to_json(&st->ledger), *jb = sm_ledger_to_json(&back->ledger);
  CHECK(ja && jb && strcmp(ja, jb) == 0);
  free(ja);
  free(jb);
  sm_table_free(&a);
  sm_table_free(&b);
  sm_mst_free(back);
  MPI_Barrier(ctx->comm);
  if (ctx->rank == 0)
    remove(path);
}

/* ---- undeclared domains ------------------------------------------------------------------ */

/* The copula experiment's data section declares no numeric domains and one category
 * list (income): an MST fit on its table is refused, with the columns named. */
/* The resolved experiment shows the privacy settings MST reads, none of DP-SGD's. */
static void test_resolved(const sm_experiment *e) {
  const char *p = strstr(e->resolved, "\nprivacy:\n");
  const char *end = p ? strstr(p + 1, "\nsampling:") : NULL;
  int len = p && end ? (int)(end - p) : 0;
  printf("resolved privacy section:%.*s\n", len, p ? p : "");
  CHECK(p && end && strstr(p, "  epsilon: 1\n") && strstr(p, "  reproducible: true\n"));
  CHECK(!strstr(e->resolved, "accountant") && !strstr(e->resolved, "max_grad_norm") &&
        !strstr(e->resolved, "noise_multiplier"));
}

static void test_undeclared(sm_ctx *ctx, const sm_experiment *mst) {
  sm_experiment e;
  sm_table t;
  CHECK(test_adult_experiment(ctx, 0, NULL, &e) == SM_OK);
  CHECK(test_adult_read(ctx, &e, &t, NULL) == SM_OK);
  mst_state *st = NULL;
  int rc = fit(ctx, mst, &t, &st);
  if (ctx->rank == 0)
    printf("undeclared domains: status %d: %s\n", rc, ctx->msg);
  CHECK(rc == SM_EINPUT && st == NULL);
  CHECK(strstr(ctx->msg, "14 without") && strstr(ctx->msg, "age") &&
        strstr(ctx->msg, "native_country") && !strstr(ctx->msg, "income"));
  sm_table_free(&t);
  sm_experiment_free(&e);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  CHECK(sm_ctx_init(&ctx, MPI_COMM_WORLD) == SM_OK);
  ctx.log_level = SM_LOG_WARN;

  /* epsilon 1: the noise scale, the ledger, rank invariance, chunks, save/load */
  sm_experiment e;
  sm_table train;
  mst_state *st = NULL;
  CHECK(load_experiment(&ctx, "1", &e) == SM_OK);
  CHECK(test_adult_read(&ctx, &e, &train, NULL) == SM_OK);
  CHECK(fit(&ctx, &e, &train, &st) == SM_OK);
  if (ctx.rank == 0)
    test_resolved(&e);
  if (st) {
    test_noise_and_ledger(&ctx, st);
    test_consistency(&ctx, st);
    test_rank_invariance(&ctx, &e, st);
    test_chunks(&ctx, &train.schema, st);
    test_save_load(&ctx, &train.schema, st);
  }
  sm_mst_free(st);
  sm_experiment_free(&e);

  /* epsilon 1e6: the samples reproduce the data's marginals */
  st = NULL;
  CHECK(load_experiment(&ctx, "1e6", &e) == SM_OK);
  CHECK(fit(&ctx, &e, &train, &st) == SM_OK);
  if (st)
    test_fidelity(&ctx, &train, st);
  sm_mst_free(st);
  sm_table_free(&train);

  /* the projection; a table without declared domains */
  test_projection(&ctx);
  test_undeclared(&ctx, &e);
  sm_experiment_free(&e);
  sm_ctx_free(&ctx);
  return test_finish();
}
