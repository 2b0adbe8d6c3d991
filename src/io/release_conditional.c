/* A conditioned release (sampling.conditions): rows drawn from the model and kept when every
 * condition holds.
 *
 * Candidates are the model's rows 0, 1, 2, ..., drawn in rounds of chunk_rows candidates
 * split among the ranks. For most models they are its unconditioned rows (the same rows an
 * unconditioned release with the same seed would have), so the release follows the model's
 * conditional distribution exactly. A model with a conditional vector (CTGAN) makes them with
 * the vector fixed to one condition, the one whose category was rarest in its training rows,
 * which it honours far more often than chance; every condition, that one included, is still
 * checked on every candidate, so only matching rows are released.
 *
 * Release row i is the i-th candidate that matches, so the release does not depend on the
 * number of ranks: a scan of the ranks' match counts gives each rank where its matches go.
 * The rounds stop when the release is full, or with a message saying how far they got when
 * sampling.max_candidates candidates have been drawn.
 */
#include <stdlib.h>
#include <string.h>

#include "io/release_internal.h"
#include "models/models.h"

/* The conditions as column indices and category codes, and how candidates are made. */
typedef struct resolved {
  int n;
  int *col;
  double *code;
  const sm_model_hooks *hooks; /* the model's hooks, or NULL */
  int given;                   /* the condition fixed in the conditional vector, or -1 */
} resolved;

int sm_release_check_conditions(sm_ctx *ctx, const sm_experiment *e, const sm_schema *s) {
  for (int i = 0; i < e->sampling.n_conditions; i++) {
    const sm_condition *c = &e->sampling.conditions[i];
    int j = sm_schema_find(s, c->column);
    if (j < 0)
      return sm_fail(ctx, SM_EINPUT, "%ssampling.conditions: '%s' is not a column of the model",
                     c->at, c->column);
    const sm_column *col = &s->cols[j];
    if (!sm_coltype_is_discrete(col->type))
      return sm_fail(ctx, SM_EINPUT,
                     "%ssampling.conditions: column '%s' is %s; conditions name a category of a "
                     "categorical or boolean column",
                     c->at, c->column, sm_coltype_name(col->type));
    if (sm_column_find_category(col, c->value) < 0)
      return sm_fail(ctx, SM_EINPUT,
                     "%ssampling.conditions: column '%s' never has the value '%s' in the data "
                     "the model was fitted on (it has %d categories, e.g. '%s')",
                     c->at, c->column, c->value, col->n_categories,
                     col->n_categories > 0 ? col->categories[0] : "");
  }
  return SM_OK;
}

/* Local. The condition to fix in the model's conditional vector: of those it can fix, the
 * one with the fewest training rows (the first of equals); -1 when there is none. */
static int pick_given(const sm_model *model, const resolved *r) {
  int best = -1;
  double fewest = 0;
  for (int i = 0; r->hooks && i < r->n; i++) {
    double count = r->hooks->given_count(model->state, r->col[i], (int)r->code[i]);
    if (count >= 0 && (best < 0 || count < fewest)) {
      best = i;
      fewest = count;
    }
  }
  return best;
}

/* Local. Column and code of every condition (already checked), and the one fixed in the
 * model's conditional vector. */
static int resolve(sm_ctx *ctx, const sm_experiment *e, const sm_model *model, resolved *r) {
  const sm_schema *s = &model->schema;
  r->n = e->sampling.n_conditions;
  r->col = sm_calloc(ctx, (size_t)r->n, sizeof(int));
  r->code = sm_calloc(ctx, (size_t)r->n, sizeof(double));
  if (!r->col || !r->code)
    return SM_ERR;
  for (int i = 0; i < r->n; i++) {
    const sm_condition *c = &e->sampling.conditions[i];
    r->col[i] = sm_schema_find(s, c->column);
    r->code[i] = sm_column_find_category(&s->cols[r->col[i]], c->value);
  }
  r->hooks = sm_model_find_hooks(model->ops);
  r->hooks = r->hooks && r->hooks->given_count && r->hooks->sample_given ? r->hooks : NULL;
  r->given = pick_given(model, r);
  return SM_OK;
}

/* Local. Move the rows of t that match every condition to its front, in order; returns
 * their number. */
static int64_t keep_matches(const resolved *r, sm_table *t) {
  int64_t kept = 0;
  for (int64_t i = 0; i < t->n_rows; i++) {
    int ok = 1;
    for (int k = 0; k < r->n && ok; k++)
      ok = t->values[r->col[k]][i] == r->code[k];
    if (!ok)
      continue;
    for (int j = 0; j < t->schema.n_cols && kept != i; j++)
      t->values[j][kept] = t->values[j][i];
    kept++;
  }
  return kept;
}

/* Where the rounds are: candidates drawn, those that matched (written or not) and rows
 * written so far (the same on every rank). */
typedef struct cond_state {
  int64_t drawn, matched, written;
  double t0, last;
} cond_state;

/* Collective. One round: this rank's share of candidates [st->drawn, st->drawn + round),
 * its matches written at their place in the release. */
static int one_round(sm_ctx *ctx, const release_writer *w, const sm_experiment *e,
                     const sm_model *model, const resolved *r, sm_table *t, int64_t round,
                     cond_state *st, const release_stop *halt) {
  int64_t lo, hi, rows = e->sampling.rows;
  sm_partition(round, ctx->size, ctx->rank, &lo, &hi);

  /* draw and filter this rank's candidates */
  int rc = SM_OK;
  t->n_rows = hi - lo;
  t->row_offset = st->drawn + lo;
  if (t->n_rows > 0 && r->given >= 0)
    rc = r->hooks->sample_given(ctx, model->state, e->sampling.seed, t->row_offset,
                                r->col[r->given], (int)r->code[r->given], t);
  else if (t->n_rows > 0)
    rc = model->ops->sample(ctx, model->state, e->sampling.seed, t->row_offset, t);
  int64_t mine = rc == SM_OK && t->n_rows > 0 ? keep_matches(r, t) : 0;
  if (rc == SM_OK)
    rc = sm_release_room(ctx, halt, &model->schema, round);
  SM_TRY(sm_agree(ctx, rc));

  /* where the matches go: after the earlier ranks' matches of this round */
  int64_t before = 0, total = 0;
  SM_MPI_CHECK(ctx, MPI_Exscan(&mine, &before, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Allreduce(&mine, &total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (ctx->rank == 0)
    before = 0;
  int64_t row0 = st->written + before, n = rows - row0 < mine ? rows - row0 : mine;
  n = n > 0 ? n : 0;

  /* the rows that fit, in stored types, written collectively */
  t->n_rows = n;
  rc = sm_agree(ctx, n > 0 ? sm_release_chunk_to_disk(ctx, t, row0) : SM_OK);
  if (rc == SM_OK)
    *halt->broken = (rc = sm_agree(ctx, sm_release_write_slab(ctx, w, t, row0, n))) != SM_OK;
  st->drawn += round;
  st->matched += total;
  st->written = st->written + total < rows ? st->written + total : rows;
  return rc;
}

/* Rank 0: a progress line every few seconds. */
static void log_round(const sm_ctx *ctx, cond_state *st, int64_t rows) {
  double now = MPI_Wtime();
  if (ctx->rank != 0 || now - st->last < 5.0)
    return;
  st->last = now;
  sm_log(ctx, SM_LOG_INFO, "release: %lld of %lld rows match the conditions after %lld drawn",
         (long long)st->written, (long long)rows, (long long)st->drawn);
}

/* Rank 0: how the candidates are made. */
static void log_plan(const sm_ctx *ctx, const sm_experiment *e, const resolved *r) {
  if (r->given < 0) {
    sm_log(ctx, SM_LOG_INFO, "release: candidates are the model's unconditioned rows");
    return;
  }
  const sm_condition *c = &e->sampling.conditions[r->given];
  sm_log(ctx, SM_LOG_INFO,
         "release: candidates are made with the conditional vector fixed to %s = %s; every "
         "condition is still checked",
         c->column, c->value);
}

/* The message of a release that ran out of candidates. */
static int out_of_candidates(sm_ctx *ctx, const sm_experiment *e, const cond_state *st) {
  double share = st->drawn > 0 ? (double)st->written / (double)st->drawn : 0.0;
  char rate[64] = "none of them";
  if (share > 0)
    snprintf(rate, sizeof rate, "about 1 in %.3g of them", 1.0 / share);
  return sm_fail(ctx, SM_EINPUT,
                 "sampling.conditions: after drawing %lld rows (sampling.max_candidates) only "
                 "%lld of the %lld requested match (%s); raise sampling.max_candidates, ask for "
                 "fewer rows, or relax the conditions",
                 (long long)st->drawn, (long long)st->written, (long long)e->sampling.rows, rate);
}

/* Local. The failure of a conditioned write stopped by a signal. */
static int stopped(sm_ctx *ctx, const cond_state *st) {
  return sm_fail(ctx, SM_ERR,
                 "stopped by a signal while writing the release (%lld rows matched): the "
                 "unfinished file was removed, nothing was released",
                 (long long)st->written);
}

int sm_release_write_conditioned(sm_ctx *ctx, const release_writer *w, const sm_experiment *e,
                                 const sm_model *model, const release_stop *halt) {
  int64_t rows = e->sampling.rows, limit = sm_sampling_max_candidates(&e->sampling);
  int64_t round = e->sampling.chunk_rows;
  resolved r = {0, NULL, NULL, NULL, -1};
  sm_table t;
  memset(&t, 0, sizeof t);

  /* one candidate table of this rank's largest share of a round, reused */
  int64_t lo, hi;
  sm_partition(round, ctx->size, 0, &lo, &hi);
  int rc = resolve(ctx, e, model, &r);
  if (rc == SM_OK)
    rc = sm_table_alloc(ctx, &t, &model->schema, hi - lo > 0 ? hi - lo : 1);
  rc = sm_agree(ctx, rc);
  t.n_rows_total = limit;

  /* rounds until the release is full or the candidates run out */
  cond_state st = {0, 0, 0, MPI_Wtime(), MPI_Wtime()};
  if (rc == SM_OK)
    log_plan(ctx, e, &r);
  while (rc == SM_OK && st.written < rows && st.drawn < limit) {
    int64_t n = limit - st.drawn < round ? limit - st.drawn : round;
    if (halt->stop && *halt->stop) {
      rc = sm_agree(ctx, stopped(ctx, &st));
      break;
    }
    rc = one_round(ctx, w, e, model, &r, &t, n, &st, halt);
    log_round(ctx, &st, rows);
  }
  if (rc == SM_OK && st.written < rows)
    rc = out_of_candidates(ctx, e, &st);
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO,
           "release: %lld rows matching %d condition%s, from %lld drawn (%lld of them "
           "matched: %.3g%%)",
           (long long)rows, r.n, r.n == 1 ? "" : "s", (long long)st.drawn, (long long)st.matched,
           st.drawn > 0 ? 100.0 * (double)st.matched / (double)st.drawn : 0.0);
  sm_table_free(&t);
  free(r.col);
  free(r.code);
  return rc;
}
