/* CTGAN conditioned releases through the generator's conditional vector, on real Adult rows
 * at 1, 2 and 3 ranks, with a CTGAN fitted for one epoch:
 *  (a) a release conditioned on income = >50K and native_country = India holds only
 *      matching rows, and is exactly the first matching candidates of the model's
 *      fixed-vector rows (a slow reference made here, row by row);
 *  (b) it is the same written by all ranks and by rank 0 alone;
 *  (c) through the release path, the candidates with the vector fixed to India match far
 *      more often than the unconditioned candidates of plain rejection, and the counts in
 *      the "quota out of reach" message equal the reference counts;
 *  (d) the hook itself: chunk-invariant rows, the training count of a category, refusals
 *      of numeric columns; rows whose own draw is the fixed category equal to their
 *      unconditioned rows, the others changed; a common condition whose rounds match more
 *      than 1024 rows on a rank. (Conditions name categories only; a numeric range is refused when
 * the experiment is checked, so there is no range to test here.)
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/ctgan.h"
#include "models/models.h"
#include "synthmpi/data.h"
#include "synthmpi/release.h"
#include "test_util.h"

/* the rows of the conditioned releases of (a) and (d), and the candidate budget of (c) */
#define RARE_ROWS 300
#define COMMON_ROWS 3000
#define BUDGET 30000
/* (c): the fixed vector must accept at least this many times the share of rejection */
#define MIN_GAIN 2.0
#define MAX_SETS 12

/* configs/adult-ctgan.yaml on the real files for a one-epoch fit (learning rates raised so
 * that one epoch teaches the generator its conditional vector), then the given overrides. */
static int load_experiment(sm_ctx *ctx, int n, const char *const *sets, sm_experiment *e) {
  const char *src = getenv("SYNTHMPI_SOURCE_DIR"), *data = getenv("SYNTHMPI_DATA");
  char path[4096], train[4200], test[4200];
  snprintf(path, sizeof path, "%s/configs/adult-ctgan.yaml", src ? src : ".");
  snprintf(train, sizeof train, "data.path=%s/tabular/adult/adult.data", data ? data : "");
  snprintf(test, sizeof test, "holdout.path=%s/tabular/adult/adult.test", data ? data : "");
  char *all[MAX_SETS] = {train,
                         test,
                         "model.epochs=1",
                         "model.generator_lr=2e-3",
                         "model.discriminator_lr=2e-3",
                         "sampling.chunk_rows=4096"};
  int base = 6;
  for (int i = 0; i < n && base + i < MAX_SETS; i++)
    all[base + i] = (char *)sets[i];
  int rc = sm_experiment_load(ctx, path, base + n, all, e);
  if (rc != SM_OK)
    fprintf(stderr, "experiment: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  return rc;
}

/* Equal values, NaN (missing) equal to NaN. */
static int same_value(double a, double b) {
  return a == b || (isnan(a) && isnan(b));
}

/* The conditions of e as columns and codes of schema s. */
typedef struct conds {
  int n, col[4];
  double code[4];
} conds;

static void resolve(const sm_experiment *e, const sm_schema *s, conds *c) {
  c->n = e->sampling.n_conditions < 4 ? e->sampling.n_conditions : 4;
  for (int i = 0; i < c->n; i++) {
    c->col[i] = sm_schema_find(s, e->sampling.conditions[i].column);
    c->code[i] = c->col[i] < 0 ? -1
                               : sm_column_find_category(&s->cols[c->col[i]],
                                                         e->sampling.conditions[i].value);
  }
}

static int matches(const conds *c, const sm_table *t, int64_t i) {
  for (int k = 0; k < c->n; k++)
    if (!(t->values[c->col[k]][i] == c->code[k]))
      return 0;
  return 1;
}

/* Candidates [row0, row0 + n) of the model: its rows with the vector fixed to (col, code),
 * or its unconditioned rows when col < 0. */
static int candidates(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, int col,
                      int code, sm_table *t) {
  t->row_offset = row0;
  if (col < 0)
    return sm_model_ctgan.sample(ctx, state, seed, row0, t);
  return sm_ctgan_sample_given(ctx, state, seed, row0, col, code, t);
}

/* The slow reference: the first `rows` candidates that match every condition, one row at a
 * time, into want (allocated here). */
static void reference(sm_ctx *ctx, const void *state, const sm_schema *s, const conds *c,
                      uint64_t seed, int col, int code, int64_t rows, sm_table *want) {
  sm_table t;
  CHECK(sm_table_alloc(ctx, want, s, rows) == SM_OK);
  CHECK(sm_table_alloc(ctx, &t, s, 1000) == SM_OK);
  int64_t got = 0;
  for (int64_t first = 0; got < rows && first < 100 * BUDGET; first += 1000) {
    CHECK(candidates(ctx, state, seed, first, col, code, &t) == SM_OK);
    for (int64_t i = 0; i < t.n_rows && got < rows; i++) {
      if (!matches(c, &t, i))
        continue;
      for (int j = 0; j < s->n_cols; j++)
        want->values[j][got] = t.values[j][i];
      got++;
    }
  }
  CHECK(got == rows);
  sm_table_free(&t);
}

/* Rank 0: the whole release at path, read alone; compared with want. Returns 1 when equal. */
static int release_equals(const char *path, const sm_table *want) {
  sm_ctx self;
  sm_ctx_init(&self, MPI_COMM_SELF);
  self.log_level = SM_LOG_WARN;
  sm_table got;
  int rc = sm_release_read(&self, path, &got), same = rc == SM_OK;
  if (rc != SM_OK)
    fprintf(stderr, "%s: %s\n", path, self.msg);
  same = same && got.n_rows == want->n_rows;
  int64_t bad = 0;
  for (int j = 0; same && j < want->schema.n_cols; j++)
    for (int64_t i = 0; i < want->n_rows; i++)
      bad += !same_value(got.values[j][i], want->values[j][i]);
  if (bad > 0)
    fprintf(stderr, "%s: %lld values differ from the reference\n", path, (long long)bad);
  if (rc == SM_OK)
    sm_table_free(&got);
  sm_ctx_free(&self);
  return same && bad == 0;
}

/* Rank 0: the release at path holds only rows matching c. */
static int64_t count_mismatches(const char *path, const conds *c) {
  sm_ctx self;
  sm_ctx_init(&self, MPI_COMM_SELF);
  sm_table got;
  if (sm_release_read(&self, path, &got) != SM_OK) {
    sm_ctx_free(&self);
    return -1;
  }
  int64_t bad = 0;
  for (int64_t i = 0; i < got.n_rows; i++)
    bad += !matches(c, &got, i);
  sm_table_free(&got);
  sm_ctx_free(&self);
  return bad;
}

/* A conditioned release of e by all ranks and by rank 0 alone, against the reference of the
 * candidates fixed to condition `fixed` of e. */
static void check_release(sm_ctx *ctx, const sm_experiment *e, const sm_model *m, int fixed,
                          const char *dir, const char *name) {
  conds c;
  resolve(e, &m->schema, &c);
  char all[256], one[256];
  snprintf(all, sizeof all, "%s/%s_all.h5", dir, name);
  snprintf(one, sizeof one, "%s/%s_one.h5", dir, name);
  int rc = sm_release_write(ctx, e, m, all);
  if (rc != SM_OK && ctx->rank == 0)
    fprintf(stderr, "release: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  if (ctx->rank == 0) {
    sm_ctx self;
    sm_ctx_init(&self, MPI_COMM_SELF);
    self.log_level = SM_LOG_WARN;
    CHECK(sm_release_write(&self, e, m, one) == SM_OK);
    sm_table want;
    reference(&self, m->state, &m->schema, &c, e->sampling.seed, c.col[fixed], (int)c.code[fixed],
              e->sampling.rows, &want);
    int64_t bad = count_mismatches(all, &c);
    int same_all = release_equals(all, &want), same_one = release_equals(one, &want);
    printf("%s: %lld rows, %lld not matching; %d ranks %s the reference, 1 rank %s it\n", name,
           (long long)e->sampling.rows, (long long)bad, ctx->size,
           same_all ? "equal" : "DIFFER FROM", same_one ? "equals" : "DIFFERS FROM");
    CHECK(bad == 0);
    CHECK(same_all && same_one);
    sm_table_free(&want);
    sm_ctx_free(&self);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

/* The matches among candidates [0, BUDGET), counted by all ranks (each its block). */
static int64_t count_matches(sm_ctx *ctx, const sm_model *m, const conds *c, uint64_t seed, int col,
                             int code) {
  int64_t lo, hi, mine = 0, all = 0;
  sm_partition(BUDGET, ctx->size, ctx->rank, &lo, &hi);
  sm_table t;
  CHECK(sm_table_alloc(ctx, &t, &m->schema, hi - lo > 0 ? hi - lo : 1) == SM_OK);
  t.n_rows = hi - lo;
  if (t.n_rows > 0)
    CHECK(candidates(ctx, m->state, seed, lo, col, code, &t) == SM_OK);
  for (int64_t i = 0; i < t.n_rows; i++)
    mine += matches(c, &t, i);
  MPI_Allreduce(&mine, &all, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  sm_table_free(&t);
  return all;
}

/* A release whose quota is out of reach: the matches its message reports (-1 if none). */
static int64_t reported_matches(sm_ctx *ctx, const sm_experiment *e, const sm_model *m,
                                const char *path) {
  int rc = sm_release_write(ctx, e, m, path);
  CHECK(rc == SM_EINPUT);
  const char *at = strstr(ctx->msg, "(sampling.max_candidates) only ");
  long long n = -1;
  if (!at || sscanf(at, "(sampling.max_candidates) only %lld", &n) != 1)
    fprintf(stderr, "unexpected message: %s\n", ctx->msg);
  CHECK(access(path, F_OK) != 0);
  return n;
}

/* (c) acceptance of the fixed vector against rejection, through the release path. plain is
 * CTGAN without its hooks (a copy of its operations, which the registry does not know). */
static void check_acceptance(sm_ctx *ctx, const sm_experiment *e, const sm_model *m,
                             const sm_model *plain, int fixed, const char *dir) {
  conds c;
  resolve(e, &m->schema, &c);
  char path[256];
  snprintf(path, sizeof path, "%s/out_of_reach.h5", dir);
  int64_t given = reported_matches(ctx, e, m, path);
  int64_t rejected = reported_matches(ctx, e, plain, path);
  int64_t want_given =
      count_matches(ctx, m, &c, e->sampling.seed, c.col[fixed], (int)c.code[fixed]);
  int64_t want_rejected = count_matches(ctx, m, &c, e->sampling.seed, -1, -1);
  double share_given = (double)given / BUDGET, share_rejected = (double)rejected / BUDGET;
  if (ctx->rank == 0)
    printf("%d candidates: conditional vector %lld match (%.3f%%, reference %lld), rejection "
           "%lld (%.3f%%, reference %lld); %.1f times the share (at least %.1f)\n",
           BUDGET, (long long)given, 100 * share_given, (long long)want_given, (long long)rejected,
           100 * share_rejected, (long long)want_rejected,
           share_rejected > 0 ? share_given / share_rejected : INFINITY, MIN_GAIN);
  CHECK(given == want_given);
  CHECK(rejected == want_rejected);
  CHECK(given > MIN_GAIN * (double)rejected);
}

/* (d) the hook: rows of [row0, row0 + n) in chunks of several sizes equal one call. */
static void check_hook(sm_ctx *ctx, const sm_model *m, const sm_table *train, int col, int code) {
  static const int64_t sizes[] = {1, 7, 1024, 333};
  int64_t row0 = 4000 + 17 * ctx->rank, n = 2500;
  sm_table whole, part;
  CHECK(sm_table_alloc(ctx, &whole, &m->schema, n) == SM_OK);
  CHECK(sm_ctgan_sample_given(ctx, m->state, 7, row0, col, code, &whole) == SM_OK);
  int age = sm_schema_find(&m->schema, "age");
  CHECK(sm_ctgan_sample_given(ctx, m->state, 7, row0, age, 0, &whole) == SM_EINPUT);
  int64_t bad = 0;
  for (int64_t done = 0, k = 0; done < n; k++) {
    int64_t len = sizes[k % 4] < n - done ? sizes[k % 4] : n - done;
    CHECK(sm_table_alloc(ctx, &part, &m->schema, len) == SM_OK);
    CHECK(sm_ctgan_sample_given(ctx, m->state, 7, row0 + done, col, code, &part) == SM_OK);
    for (int j = 0; j < m->schema.n_cols; j++)
      for (int64_t i = 0; i < len; i++)
        bad += !same_value(part.values[j][i], whole.values[j][done + i]);
    sm_table_free(&part);
    done += len;
  }
  if (ctx->rank == 0)
    printf("hook: %lld values differ between chunkings of %lld rows\n", (long long)bad,
           (long long)n);
  CHECK(bad == 0);
  sm_table_free(&whole);

  /* the training rows of the category, as the model counted them */
  double mine = 0, all = 0;
  for (int64_t i = 0; i < train->n_rows; i++)
    mine += train->values[col][i] == code;
  MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  CHECK_CLOSE(sm_ctgan_given_count(m->state, col, code), all, 0.0);

  /* a numeric column, and a code that is not a category, cannot be fixed (sampling from
   * one was refused above) */
  CHECK(sm_ctgan_given_count(m->state, age, 0) < 0);
  CHECK(sm_ctgan_given_count(m->state, col, m->schema.cols[col].n_categories) < 0);
  CHECK(sm_model_find_hooks(&sm_model_ctgan) != NULL);
  CHECK(sm_model_find_hooks(sm_model_find("gaussian_copula")) == NULL);
}

/* Local. The conditional choice unconditioned row i draws (ctgan_sample.c's first two
 * uniforms of the row's stream): the position of its column in the conditional vector. */
static void drawn_choice(const ctgan_state *st, uint64_t seed, int64_t i, int *col, int *cat) {
  sm_rng rng;
  sm_rng_init(&rng, seed, SM_STREAM_SAMPLE, (uint64_t)i);
  double u1 = sm_rng_uniform(&rng), u2 = sm_rng_uniform(&rng);
  *col = *cat = -1;
  sm_ctgan_cond_draw(&st->cond, st->cond.freq_cdf, u1, u2, col, cat);
}

/* (d) a row whose own draw is the fixed category has the same input and, with the block
 * normalised by the unconditioned rows' statistics, the same values as unconditioned row
 * i; most other rows change. sex = Male is fixed; rows [0, n) of two blocks of 500. */
static void check_same_draw(sm_ctx *ctx, const sm_model *m) {
  const ctgan_state *st = m->state;
  int sex = sm_schema_find(&m->schema, "sex");
  int male = sm_column_find_category(&m->schema.cols[sex], "Male"), pos = -1;
  for (int i = 0; i < st->cond.n_cols; i++)
    pos = st->encoder.spans[st->cond.span[i]].column == sex ? i : pos;
  CHECK(pos >= 0 && male >= 0);
  int64_t n = 1000, same_draw = 0, equal = 0, other = 0, changed = 0;
  sm_table plain, given;
  CHECK(sm_table_alloc(ctx, &plain, &m->schema, n) == SM_OK);
  CHECK(sm_table_alloc(ctx, &given, &m->schema, n) == SM_OK);
  CHECK(sm_model_ctgan.sample(ctx, m->state, 11, 0, &plain) == SM_OK);
  CHECK(sm_ctgan_sample_given(ctx, m->state, 11, 0, sex, male, &given) == SM_OK);
  for (int64_t i = 0; i < n; i++) {
    int col, cat, same = 1;
    drawn_choice(st, 11, i, &col, &cat);
    for (int j = 0; j < m->schema.n_cols; j++)
      same &= same_value(plain.values[j][i], given.values[j][i]);
    int mine = col == pos && cat == male;
    same_draw += mine;
    equal += mine && same;
    other += !mine;
    changed += !mine && !same;
  }
  if (ctx->rank == 0)
    printf("fixed sex = Male: %lld of %lld rows that drew it equal their unconditioned row; "
           "%lld of the other %lld changed\n",
           (long long)equal, (long long)same_draw, (long long)changed, (long long)other);
  CHECK(same_draw > 0 && equal == same_draw);
  CHECK(changed > other / 2);
  sm_table_free(&plain);
  sm_table_free(&given);
}

/* The fitted model as the release path takes it. */
static int make_model(sm_model *m, const sm_model_ops *ops, void *state, const sm_schema *s) {
  memset(m, 0, sizeof *m);
  m->ops = ops;
  m->state = state;
  return sm_schema_copy(&m->schema, s);
}

/* The checks on one fitted model. */
static void check_all(sm_ctx *ctx, void *state, const sm_table *train, const char *dir) {
  char rare_rows[64], common_rows[64], budget[64];
  snprintf(rare_rows, sizeof rare_rows, "sampling.rows=%d", RARE_ROWS);
  snprintf(common_rows, sizeof common_rows, "sampling.rows=%d", COMMON_ROWS);
  snprintf(budget, sizeof budget, "sampling.max_candidates=%d", BUDGET);
  const char *rare[] = {"sampling.conditions.income=\">50K\"",
                        "sampling.conditions.native_country=India", rare_rows};
  const char *reach[] = {"sampling.conditions.income=\">50K\"",
                         "sampling.conditions.native_country=India", "sampling.rows=100000",
                         budget};
  const char *common[] = {"sampling.conditions.sex=Male", common_rows};
  sm_model m, plain;
  sm_model_ops copy = sm_model_ctgan;
  CHECK(make_model(&m, &sm_model_ctgan, state, &train->schema) == SM_OK);
  CHECK(make_model(&plain, &copy, state, &train->schema) == SM_OK);
  sm_experiment e;

  /* (d) the hook, on the rare category */
  int country = sm_schema_find(&m.schema, "native_country");
  int india = sm_column_find_category(&m.schema.cols[country], "India");
  int rich = sm_column_find_category(&m.schema.cols[sm_schema_find(&m.schema, "income")], ">50K");
  CHECK(india >= 0 && rich >= 0);
  check_hook(ctx, &m, train, country, india);
  check_same_draw(ctx, &m);

  /* (a), (b): India is the rarer of the two categories, so the vector is fixed to it,
   * though it is the second condition */
  CHECK(sm_ctgan_given_count(state, country, india) <
        sm_ctgan_given_count(state, sm_schema_find(&m.schema, "income"), rich));
  if (load_experiment(ctx, 3, rare, &e) == SM_OK) {
    CHECK(strcmp(e.sampling.conditions[1].column, "native_country") == 0);
    check_release(ctx, &e, &m, 1, dir, "rare");
  }
  sm_experiment_free(&e);

  /* (c) */
  if (load_experiment(ctx, 4, reach, &e) == SM_OK)
    check_acceptance(ctx, &e, &m, &plain, 1, dir);
  sm_experiment_free(&e);

  /* (d) a common condition: rounds of 4096 candidates with more than 1024 matches a rank */
  if (load_experiment(ctx, 2, common, &e) == SM_OK)
    check_release(ctx, &e, &m, 0, dir, "common");
  sm_experiment_free(&e);
  m.state = plain.state = NULL;
  sm_model_free(&m);
  sm_model_free(&plain);
}

/* Rank 0: the releases of check_release and their folder. */
static void remove_releases(const char *dir) {
  static const char *names[] = {"rare_all.h5", "rare_one.h5", "common_all.h5", "common_one.h5"};
  char path[256];
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    unlink(path);
  }
  CHECK(rmdir(dir) == 0);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_WARN;
  char *dir = test_mkdtemp("synthmpi_ctgan_cond");
  sm_experiment e;
  sm_table train;
  if (load_experiment(&ctx, 0, NULL, &e) != SM_OK ||
      sm_read_source(&ctx, &e.data, NULL, &train) != SM_OK) {
    fprintf(stderr, "setup: %s\n", ctx.msg);
    CHECK(0);
    return test_finish();
  }

  /* one epoch of CTGAN on all ranks' rows, then the checks */
  void *state = NULL;
  int rc = sm_model_ctgan.fit(&ctx, &e.model, NULL, &train, &state);
  if (rc != SM_OK && ctx.rank == 0)
    fprintf(stderr, "fit: %s\n", ctx.msg);
  CHECK(rc == SM_OK);
  if (state)
    check_all(&ctx, state, &train, dir);

  sm_model_ctgan.free_state(state);
  sm_table_free(&train);
  sm_experiment_free(&e);
  MPI_Barrier(MPI_COMM_WORLD);
  if (ctx.rank == 0)
    remove_releases(dir);
  free(dir);
  sm_ctx_free(&ctx);
  return test_finish();
}
