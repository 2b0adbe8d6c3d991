/* The steps shared by the subcommands: load, read, fit, sample, evaluate. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "synthmpi/data.h"
#include "synthmpi/eval.h"
#include "synthmpi/release.h"
#include "synthmpi/rng.h"
#include "synthmpi/seq.h"

/* BLAS threads: the experiment's value, else OPENBLAS_NUM_THREADS, else cores on the node
 * divided by the ranks on it. */
static int set_blas_threads(sm_ctx *ctx, const sm_experiment *e) {
  int threads = e->runtime.blas_threads;
  const char *env = getenv("OPENBLAS_NUM_THREADS");
  if (threads == 0 && env && atoi(env) > 0) {
    /* the environment decides, as OpenBLAS itself would */
    sm_log(ctx, SM_LOG_DEBUG, "BLAS threads per rank: %d (OPENBLAS_NUM_THREADS)", atoi(env));
    return SM_OK;
  }
  if (threads == 0) {
    MPI_Comm node;
    int on_node = 1;
    SM_MPI_CHECK(
        ctx, MPI_Comm_split_type(ctx->comm, MPI_COMM_TYPE_SHARED, ctx->rank, MPI_INFO_NULL, &node));
    MPI_Comm_size(node, &on_node);
    MPI_Comm_free(&node);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    threads = cores > on_node ? (int)(cores / on_node) : 1;
  }
  openblas_set_num_threads(threads);
  sm_log(ctx, SM_LOG_DEBUG, "BLAS threads per rank: %d", threads);
  return SM_OK;
}

int sm_cli_load(sm_ctx *ctx, const sm_cli_args *args, sm_experiment *e) {
  int rc = sm_experiment_load(ctx, args->target, args->n_sets, (char **)args->sets, e);
  if (rc != SM_OK)
    return rc;

  /* the command line's -q/-v win over the experiment's log level */
  if (args->verbosity == 0)
    ctx->log_level = e->runtime.log_level;
  return sm_agree(ctx, set_blas_threads(ctx, e));
}

/* Local (the schema is the same on every rank): the evaluation target names a column, and a
 * discrete one when utility is on; checked before anything is written. */
static int check_target(sm_ctx *ctx, const sm_experiment *e, const sm_schema *s) {
  const sm_eval_spec *v = &e->evaluation;
  const char *at = v->target_at ? v->target_at : "";
  if (!v->enabled || !v->target)
    return SM_OK;
  int j = sm_schema_find(s, v->target);
  if (j < 0)
    return sm_fail(ctx, SM_EINPUT, "%sevaluation.target: '%s' is not a column of %s", at, v->target,
                   e->data.path);
  if (v->utility && !sm_coltype_is_discrete(s->cols[j].type))
    return sm_fail(ctx, SM_EINPUT,
                   "%sevaluation.target: column '%s' is %s; utility needs a categorical or "
                   "boolean target",
                   at, v->target, sm_coltype_name(s->cols[j].type));
  return SM_OK;
}

/* Models that spend a privacy budget themselves (fit honours sm_fit_options.privacy). */
static int model_is_private(const char *kind) {
  return kind &&
         (strcmp(kind, "tvae") == 0 || strcmp(kind, "ctgan") == 0 || strcmp(kind, "mst") == 0);
}

/* A declared column whose type and domain make it safe in a private run. */
static int column_has_domain(const sm_column_spec *c) {
  if (c->type < 0)
    return 0;
  if (c->type == SM_COL_BOOLEAN)
    return 1;
  if (c->type == SM_COL_CATEGORICAL)
    return c->n_domain_categories > 0;
  return c->has_domain;
}

/* Local (the experiment is the same on every rank): a private run needs a model that
 * accounts for its privacy and a declared type and domain for every column, checked before
 * any data is read, so neither bounds nor category lists are taken from the data. */
static int check_private_run(sm_ctx *ctx, const sm_experiment *e) {
  if (!e->privacy.enabled)
    return SM_OK;
  if (!model_is_private(e->model.kind))
    return sm_fail(
        ctx, SM_EINPUT,
        "%s: privacy: model '%s' has no differentially private fit (use tvae, ctgan or mst)",
        e->path, e->model.kind);
  if (e->data.n_columns == 0)
    return sm_fail(ctx, SM_EINPUT,
                   "%s: privacy: a private run needs every column declared under data.columns "
                   "with its type and domain (numeric [lo, hi], categorical list); none are",
                   e->path);

  /* one message listing every column without a domain */
  char list[SM_MSG_MAX / 2] = "";
  size_t used = 0;
  int missing = 0;
  for (int j = 0; j < e->data.n_columns; j++) {
    const sm_column_spec *c = &e->data.columns[j];
    if (column_has_domain(c))
      continue;
    if (used < sizeof list)
      used += (size_t)snprintf(list + used, sizeof list - used, "%s%s (line %d)",
                               missing ? ", " : "", c->name, c->line);
    missing++;
  }
  if (missing == 0)
    return SM_OK;
  return sm_fail(ctx, SM_EINPUT,
                 "%s: privacy: %d column%s without a declared type and domain (numeric "
                 "[lo, hi], categorical list of values): %s; a private run must not take "
                 "bounds or categories from the data",
                 e->path, missing, missing == 1 ? "" : "s", list);
}

/* Local: after reading, every column of the data was declared (a header may name more). */
static int check_private_schema(sm_ctx *ctx, const sm_experiment *e, const sm_schema *s) {
  if (!e->privacy.enabled)
    return SM_OK;
  for (int j = 0; j < s->n_cols; j++) {
    int found = 0;
    for (int k = 0; k < e->data.n_columns && !found; k++)
      found = strcmp(e->data.columns[k].name, s->cols[j].name) == 0;
    if (!found)
      return sm_fail(ctx, SM_EINPUT,
                     "%s: privacy: column '%s' of %s is not declared under data.columns; a "
                     "private run needs a declared type and domain for every column",
                     e->path, s->cols[j].name, e->data.path);
  }
  return SM_OK;
}

/* Local: sequence experiments run end to end (synthmpi run), not step by step. */
static int check_tabular(sm_ctx *ctx, const sm_experiment *e) {
  if (!sm_seq_experiment(e))
    return SM_OK;
  return sm_fail(ctx, SM_EINPUT,
                 "%s: FASTA experiments run end to end with 'synthmpi run' (fit, sample and "
                 "eval are not separate steps for sequence models)",
                 e->path);
}

int sm_cli_read_data(sm_ctx *ctx, const sm_experiment *e, sm_dataset *d) {
  memset(d, 0, sizeof(*d));
  SM_TRY(sm_agree(ctx, check_tabular(ctx, e)));
  SM_TRY(sm_agree(ctx, check_private_run(ctx, e)));
  double t0 = sm_elapsed(ctx);
  sm_log(ctx, SM_LOG_INFO, "reading %s on %d rank%s", e->data.path, ctx->size,
         ctx->size == 1 ? "" : "s");

  /* the training data, or all input rows when a fraction is held out */
  sm_table all;
  SM_TRY(sm_read_source(ctx, &e->data, NULL, &all));
  if (e->holdout.kind == SM_HOLDOUT_FRACTION) {
    int rc =
        sm_split_fraction(ctx, &all, e->holdout.fraction, e->holdout.seed, &d->train, &d->holdout);
    sm_table_free(&all);
    SM_TRY(rc);
  } else {
    d->train = all;
  }

  /* a holdout file is read against the training schema */
  if (e->holdout.kind == SM_HOLDOUT_FILE)
    SM_TRY(sm_read_source(ctx, &e->holdout.source, &d->train.schema, &d->holdout));
  else if (e->holdout.kind == SM_HOLDOUT_NONE)
    SM_TRY(sm_table_alloc(ctx, &d->holdout, &d->train.schema, 0));

  sm_log(ctx, SM_LOG_INFO, "read %lld training and %lld held-out rows, %d columns (%.2f s)",
         (long long)d->train.n_rows_total, (long long)d->holdout.n_rows_total,
         d->train.schema.n_cols, sm_elapsed(ctx) - t0);
  sm_schema_log(ctx, &d->train.schema);
  SM_TRY(check_private_schema(ctx, e, &d->train.schema));
  SM_TRY(sm_release_check_conditions(ctx, e, &d->train.schema));
  return check_target(ctx, e, &d->train.schema);
}

void sm_cli_dataset_free(sm_dataset *d) {
  sm_table_free(&d->train);
  sm_table_free(&d->holdout);
}

/* The settings that decide what a fit computes: the resolved data, holdout and model
 * sections (not sampling, evaluation or runtime), hashed. */
static uint64_t training_hash(const sm_experiment *e) {
  const char *from = strstr(e->resolved, "\ndata:");
  const char *to = strstr(e->resolved, "\nsampling:");
  if (!from || !to || to < from)
    from = e->resolved, to = e->resolved + strlen(e->resolved);
  uint64_t h = sm_hash64(0x73796e74686d7069ULL);
  for (const char *c = from; c < to; c++)
    h = sm_hash64(h ^ (unsigned char)*c);
  return h;
}

/* Rank 0's notice of a test-only run, and the ledger's totals before the fit adds to it. */
static void start_ledger(const sm_ctx *ctx, const sm_privacy_spec *p, sm_ledger *l) {
  if (!p->enabled)
    return;
  l->epsilon_budget = p->epsilon;
  l->delta = p->delta;
  l->reproducible = p->reproducible;
  if (p->reproducible)
    sm_log(ctx, SM_LOG_WARN,
           "privacy.reproducible is on: the randomness of DP-SGD is seeded, so this release "
           "is NOT differentially private (for tests only); its ledger says so");
  else
    sm_log(ctx, SM_LOG_INFO, "private run: epsilon %g, delta %g, unit of privacy one row",
           p->epsilon, p->delta);
}

int sm_cli_fit(sm_ctx *ctx, const sm_experiment *e, const sm_cli_args *args, const sm_table *train,
               sm_model *m) {
  memset(m, 0, sizeof(*m));
  m->ops = sm_model_find(e->model.kind);
  if (!m->ops)
    return sm_fail(ctx, SM_EINPUT, "unknown model kind '%s'", e->model.kind);
  if (train->n_rows_total == 0)
    return sm_fail(ctx, SM_EINPUT, "%s: no training rows to fit", e->data.path);

  /* fit is collective; the schema travels with the model */
  double t0 = sm_elapsed(ctx);
  sm_log(ctx, SM_LOG_INFO, "fitting %s on %lld rows", m->ops->kind, (long long)train->n_rows_total);
  char *checkpoint = sm_cli_checkpoint_path(e);
  sm_fit_options opt = {.checkpoint = checkpoint,
                        .resume = args->resume,
                        .experiment_hash = training_hash(e),
                        .stop = sm_cli_catch_stop_signals(),
                        .privacy = e->privacy.enabled ? &e->privacy : NULL,
                        .ledger = e->privacy.enabled ? &m->ledger : NULL};
  start_ledger(ctx, &e->privacy, &m->ledger);
  int rc = sm_agree(ctx, check_private_run(ctx, e));
  if (rc == SM_OK)
    rc = sm_agree(ctx, m->ops->fit(ctx, &e->model, &opt, train, &m->state));
  sm_cli_release_stop_signals();
  if (rc == SM_EINTERRUPTED)
    sm_fail(ctx, rc, "stopped by a signal; checkpoint written to %s: run again with --resume",
            checkpoint);
  free(checkpoint);
  SM_TRY(rc);
  if (sm_schema_copy(&m->schema, &train->schema) != SM_OK)
    return sm_fail(ctx, SM_ERR, "out of memory copying the schema");
  sm_log(ctx, SM_LOG_INFO, "fitted %s in %.2f s", m->ops->kind, sm_elapsed(ctx) - t0);
  return SM_OK;
}

int sm_cli_sample(sm_ctx *ctx, sm_experiment *e, const sm_model *m, int64_t train_rows) {
  SM_TRY(sm_agree(ctx, check_tabular(ctx, e)));
  /* rows: 0 means as many as the model was trained on */
  if (e->sampling.rows == 0)
    e->sampling.rows = train_rows;
  char *path = sm_cli_release_path(e);
  if (!path)
    return sm_fail(ctx, SM_ERR, "out of memory");

  double t0 = sm_elapsed(ctx);
  sm_log(ctx, SM_LOG_INFO, "sampling %lld rows to %s", (long long)e->sampling.rows, path);
  int rc = sm_release_write_until(ctx, e, m, path, sm_cli_catch_interrupt_signals());
  sm_cli_release_interrupt_signals();
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO, "release written: %s (%.2f s)", path, sm_elapsed(ctx) - t0);
  free(path);
  return rc;
}

/* Local: a release evaluated against data must have the data's columns, in order. */
static int same_columns(sm_ctx *ctx, const char *release, const sm_schema *synth, const char *data,
                        const sm_schema *real) {
  if (synth->n_cols != real->n_cols)
    return sm_fail(ctx, SM_EINPUT, "%s: %d columns, but %s has %d", release, synth->n_cols, data,
                   real->n_cols);
  for (int j = 0; j < real->n_cols; j++) {
    const sm_column *a = &synth->cols[j], *b = &real->cols[j];
    if (strcmp(a->name, b->name) != 0 || a->type != b->type)
      return sm_fail(ctx, SM_EINPUT, "%s: column %d is '%s' (%s), but in %s it is '%s' (%s)",
                     release, j + 1, a->name, sm_coltype_name(a->type), data, b->name,
                     sm_coltype_name(b->type));
  }
  return SM_OK;
}

int sm_cli_evaluate(sm_ctx *ctx, const sm_experiment *e, const sm_dataset *d, const char *release) {
  double t0 = sm_elapsed(ctx);
  sm_table synth;
  SM_TRY(sm_release_read(ctx, release, &synth));
  int rc = same_columns(ctx, release, &synth.schema, e->data.path, &d->train.schema);
  if (rc != SM_OK) {
    sm_table_free(&synth);
    return rc;
  }

  char *json = sm_cli_eval_path(e);
  if (e->privacy.enabled)
    sm_log(ctx, SM_LOG_WARN,
           "evaluation of a private release: it reads the real data outside the privacy "
           "budget, so its figures are not private and do not count towards the release's "
           "guarantee; share them separately, if at all");
  rc = sm_evaluate(ctx, e, &d->train, &d->holdout, &synth, json);
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO, "evaluation written: %s (%.2f s)", json, sm_elapsed(ctx) - t0);
  free(json);
  sm_table_free(&synth);
  return rc;
}

char *sm_cli_release_path(const sm_experiment *e) {
  return sm_experiment_output(e, e->sampling.output);
}

char *sm_cli_checkpoint_path(const sm_experiment *e) {
  return sm_experiment_output(e, "checkpoint.h5");
}

char *sm_cli_model_path(const sm_experiment *e) {
  return sm_experiment_output(e, "model.h5");
}

char *sm_cli_eval_path(const sm_experiment *e) {
  return sm_experiment_output(e, "evaluation.json");
}
