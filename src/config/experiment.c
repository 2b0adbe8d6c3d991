/* The experiment: read on rank 0, parsed on every rank, validated into sm_experiment. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/internal.h"
#include "synthmpi/seq.h"

const char *const cfg_log_level_names[4] = {"error", "warn", "info", "debug"};

static const char *const top_keys[] = {"version", "name",     "data",       "holdout",
                                       "model",   "sampling", "evaluation", "runtime",
                                       "privacy", "sweep",    NULL};
static const char *const sampling_keys[] = {
    "rows",      "seed",       "output",         "chunk_rows", "compression",
    "overwrite", "conditions", "max_candidates", "length",     NULL};
static const char *const eval_keys[] = {"enabled", "target",           "max_rows",   "seed",
                                        "utility", "utility_max_rows", "classifier", NULL};
static const char *const classifier_keys[] = {"rounds", "max_depth", "learning_rate", NULL};
static const char *const runtime_keys[] = {"output_dir", "log_level", "blas_threads", NULL};

static int oom(sm_ctx *ctx) {
  return sm_fail(ctx, SM_ERR, "out of memory reading the experiment");
}

/* ---- reading the file on rank 0 ------------------------------------------------------ */

/* Read at most CFG_MAX_BYTES of path (malloc'd, NUL-terminated); rank 0 only. */
static int read_bounded(sm_ctx *ctx, const char *path, char **bytes, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return sm_fail(ctx, SM_EINPUT, "%s: cannot open: %s", path, strerror(errno));
  char *buf = malloc(CFG_MAX_BYTES + 2);
  if (!buf) {
    fclose(f);
    return oom(ctx);
  }

  /* one byte more than allowed tells a file that is too large */
  size_t n = fread(buf, 1, CFG_MAX_BYTES + 1, f);
  int err = ferror(f) ? errno : 0;
  fclose(f);
  if (err) {
    free(buf);
    return sm_fail(ctx, SM_EINPUT, "%s: cannot read: %s", path, strerror(err));
  }
  if (n > CFG_MAX_BYTES) {
    free(buf);
    return sm_fail(ctx, SM_EINPUT,
                   "%s: larger than %d bytes (1 MiB); an experiment file "
                   "is a few kilobytes",
                   path, CFG_MAX_BYTES);
  }
  buf[n] = '\0';
  *bytes = buf;
  *len = n;
  return SM_OK;
}

/* The working directory of this process (malloc'd). */
static int working_dir(sm_ctx *ctx, char **out) {
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf))
    return sm_fail(ctx, SM_ERR, "cannot determine the working directory: %s", strerror(errno));
  return (*out = sm_strdup(buf)) ? SM_OK : oom(ctx);
}

/* Collective: rank 0 reads the file and its working directory; every rank receives the
 * bytes, or rank 0's failure. All ranks return the same status. */
static int share_file(sm_ctx *ctx, const char *path, char **bytes, size_t *len, char **cwd) {
  int64_t head[3] = {SM_OK, 0, 0}; /* status, bytes, working directory length */
  if (ctx->rank == 0) {
    head[0] = read_bounded(ctx, path, bytes, len);
    if (head[0] == SM_OK && (head[0] = working_dir(ctx, cwd)) == SM_OK) {
      head[1] = (int64_t)*len;
      head[2] = (int64_t)strlen(*cwd);
    }
  }
  SM_MPI_CHECK(ctx, MPI_Bcast(head, 3, MPI_INT64_T, 0, ctx->comm));

  /* a failure travels as its message */
  if (head[0] != SM_OK) {
    SM_MPI_CHECK(ctx, MPI_Bcast(ctx->msg, SM_MSG_MAX, MPI_CHAR, 0, ctx->comm));
    ctx->status = (int)head[0];
    return (int)head[0];
  }

  /* the bytes and the directory relative paths start from */
  int alloc_ok = 1;
  if (ctx->rank != 0) {
    *len = (size_t)head[1];
    *bytes = malloc((size_t)head[1] + 1);
    *cwd = malloc((size_t)head[2] + 1);
    alloc_ok = *bytes && *cwd;
  }
  if (sm_agree(ctx, alloc_ok ? SM_OK : oom(ctx)) != SM_OK)
    return ctx->status;
  SM_MPI_CHECK(ctx, MPI_Bcast(*bytes, (int)head[1] + 1, MPI_CHAR, 0, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Bcast(*cwd, (int)head[2] + 1, MPI_CHAR, 0, ctx->comm));
  return SM_OK;
}

/* ---- sections ------------------------------------------------------------------------ */

/* Sequence models need sequence data (data.format: fasta), and sequence data one of them. */
static int check_model_data(const cfg_source *src, const cfg_node *root, const sm_experiment *e) {
  int seq_model = sm_seq_model_find(e->model.kind) != NULL;
  int seq_data = strcmp(e->data.format, "fasta") == 0;
  if (seq_model == seq_data)
    return SM_OK;
  return cfg_error(src, cfg_get(cfg_get(root, "model"), "kind"),
                   seq_data ? "model.kind: FASTA data need a sequence model (dna_markov), got '%s'"
                            : "model.kind: '%s' models DNA sequences; it needs data.format: fasta",
                   e->model.kind);
}

/* name: default is the file name without its extension. */
static int read_name(const cfg_source *src, const cfg_node *root, sm_experiment *e) {
  const char *slash = strrchr(e->path, '/');
  char *dflt = sm_strdup(slash ? slash + 1 : e->path);
  if (!dflt)
    return oom(src->ctx);
  char *dot = strrchr(dflt, '.');
  if (dot && dot != dflt)
    *dot = '\0';
  int rc = cfg_get_string(src, root, "", "name", dflt[0] ? dflt : "experiment", &e->name);
  free(dflt);
  SM_TRY(rc);
  if (!e->name[0] || strchr(e->name, '/'))
    return cfg_error(src, cfg_get(root, "name"), "name: expected a name without '/', got '%s'",
                     e->name);
  return SM_OK;
}

static int read_version(const cfg_source *src, const cfg_node *root, sm_experiment *e) {
  const cfg_node *node = NULL;
  int64_t v = 0;
  SM_TRY(cfg_require(src, root, "", "version", &node));
  SM_TRY(cfg_int_value(src, node, "version", 0, INT_MAX, &v));
  if (v != SM_EXPERIMENT_VERSION)
    return cfg_error(src, node,
                     "version: unsupported experiment version %d (this synthmpi "
                     "reads version %d)",
                     (int)v, SM_EXPERIMENT_VERSION);
  e->version = (int)v;
  return SM_OK;
}

/* A release name: one file directly in the output directory, not one of the run's other
 * files and not an unfinished one. */
static int output_name_ok(const char *name) {
  static const char *const taken[] = {".", "..", "model.h5", "evaluation.json"};
  size_t n = strlen(name);
  if (n == 0 || strchr(name, '/') || (n >= 8 && strcmp(name + n - 8, ".partial") == 0))
    return 0;
  for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++)
    if (strcmp(name, taken[i]) == 0)
      return 0;
  return 1;
}

static int read_sampling(const cfg_source *src, const cfg_node *root, sm_experiment *e) {
  const cfg_node *map = NULL;
  sm_sampling_spec *s = &e->sampling;
  SM_TRY(cfg_get_map(src, root, "", "sampling", &map));
  SM_TRY(cfg_check_keys(src, map, "sampling", sampling_keys));
  SM_TRY(cfg_get_int(src, map, "sampling", "rows", 0, INT64_MAX, 0, &s->rows));
  SM_TRY(cfg_get_uint64(src, map, "sampling", "seed", 1, &s->seed));

  /* output: a file name under runtime.output_dir, default <name>.h5 */
  char dflt[PATH_MAX];
  snprintf(dflt, sizeof dflt, "%s.h5", e->name);
  SM_TRY(cfg_get_string(src, map, "sampling", "output", dflt, &s->output));
  if (!output_name_ok(s->output))
    return cfg_error(src, cfg_get(map, "output"),
                     "sampling.output: expected a file name under runtime.output_dir (no "
                     "'/', not '.', '..', *.partial, model.h5 or evaluation.json), got '%s'",
                     s->output);

  int64_t level = 0;
  SM_TRY(cfg_get_int(src, map, "sampling", "chunk_rows", 1, INT64_MAX, 65536, &s->chunk_rows));
  SM_TRY(cfg_get_int(src, map, "sampling", "compression", 0, 9, 0, &level));
  s->compression = (int)level;
  SM_TRY(cfg_get_bool(src, map, "sampling", "overwrite", 0, &s->overwrite));

  /* length: bases per sequence, for sequence data only; only tables take conditions */
  SM_TRY(cfg_get_int(src, map, "sampling", "length", 0, INT32_MAX, 0, &s->length));
  if (s->length > 0 && strcmp(e->data.format, "fasta") != 0)
    return cfg_error(src, cfg_get(map, "length"),
                     "sampling.length: only sequence data (data.format: fasta) take a length");
  if (strcmp(e->data.format, "csv") != 0 && cfg_get(map, "conditions"))
    return cfg_error(src, cfg_get(map, "conditions"),
                     "sampling.conditions: genomic and sequence data (data.format: %s) have no "
                     "columns to condition on",
                     e->data.format);
  return cfg_read_conditions(src, map, s);
}

/* classifier: the gradient-boosted trees used for utility. */
static int read_classifier(const cfg_source *src, const cfg_node *eval, sm_eval_spec *v) {
  const cfg_node *map = NULL;
  const char *section = "evaluation.classifier";
  int64_t rounds = 0, depth = 0;
  SM_TRY(cfg_get_map(src, eval, "evaluation", "classifier", &map));
  SM_TRY(cfg_check_keys(src, map, section, classifier_keys));
  SM_TRY(cfg_get_int(src, map, section, "rounds", 1, 100000, 300, &rounds));
  SM_TRY(cfg_get_int(src, map, section, "max_depth", 1, 64, 6, &depth));
  SM_TRY(cfg_get_real(src, map, section, "learning_rate", 1e-6, 1, 0.1, &v->utility_eta));
  v->utility_rounds = (int)rounds;
  v->utility_depth = (int)depth;
  return SM_OK;
}

/* target: must name a declared column when columns are declared. */
static int check_target(const cfg_source *src, const cfg_node *map, const sm_experiment *e) {
  const sm_source_spec *d = &e->data;
  if (!e->evaluation.target || d->n_columns == 0)
    return SM_OK;
  for (int j = 0; j < d->n_columns; j++)
    if (!strcmp(d->columns[j].name, e->evaluation.target))
      return SM_OK;
  return cfg_error(src, cfg_get(map, "target"),
                   "evaluation.target: '%s' is not a declared "
                   "column",
                   e->evaluation.target);
}

/* The target's position for messages given once the data are read. */
static int note_target(const cfg_source *src, const cfg_node *node, sm_eval_spec *v) {
  char at[SM_MSG_MAX / 2];
  if (!node)
    return SM_OK;
  if (node->origin)
    snprintf(at, sizeof at, "--set %s: ", node->origin);
  else
    snprintf(at, sizeof at, "%s:%d:%d: ", src->file, node->line, node->column);
  v->target_at = sm_strdup(at);
  return v->target_at ? SM_OK : sm_fail(src->ctx, SM_ERR, "out of memory");
}

static int read_evaluation(const cfg_source *src, const cfg_node *root, sm_experiment *e) {
  const cfg_node *map = NULL;
  sm_eval_spec *v = &e->evaluation;
  const char *section = "evaluation";
  SM_TRY(cfg_get_map(src, root, "", section, &map));
  SM_TRY(cfg_check_keys(src, map, section, eval_keys));
  SM_TRY(cfg_get_bool(src, map, section, "enabled", 1, &v->enabled));
  SM_TRY(cfg_get_string(src, map, section, "target", NULL, &v->target));
  SM_TRY(check_target(src, map, e));
  SM_TRY(note_target(src, cfg_get(map, "target"), v));
  SM_TRY(cfg_get_int(src, map, section, "max_rows", 100, INT64_MAX, 100000, &v->max_rows));
  SM_TRY(cfg_get_uint64(src, map, section, "seed", 1, &v->seed));

  /* utility needs a target: on by default when there is one */
  SM_TRY(cfg_get_bool(src, map, section, "utility", v->target != NULL, &v->utility));
  if (v->utility && !v->target)
    return cfg_error(src, cfg_get(map, "utility"),
                     "evaluation.utility: needs "
                     "evaluation.target (the column to predict)");
  SM_TRY(cfg_get_int(src, map, section, "utility_max_rows", 100, INT64_MAX, 50000,
                     &v->utility_max_rows));
  return read_classifier(src, map, v);
}

static int read_runtime(const cfg_source *src, const cfg_node *root, sm_experiment *e) {
  const cfg_node *map = NULL;
  sm_runtime_spec *r = &e->runtime;
  SM_TRY(cfg_get_map(src, root, "", "runtime", &map));
  SM_TRY(cfg_check_keys(src, map, "runtime", runtime_keys));

  /* output_dir stays relative to the working directory */
  char dflt[PATH_MAX];
  snprintf(dflt, sizeof dflt, "runs/%s", e->name);
  SM_TRY(cfg_get_string(src, map, "runtime", "output_dir", dflt, &r->output_dir));
  if (!r->output_dir[0])
    return cfg_error(src, cfg_get(map, "output_dir"), "runtime.output_dir: cannot be empty");

  /* log level by name */
  char *level = NULL;
  SM_TRY(cfg_get_string(src, map, "runtime", "log_level", "info", &level));
  r->log_level = -1;
  for (int i = 0; i < 4; i++)
    if (!strcmp(level, cfg_log_level_names[i]))
      r->log_level = i;
  if (r->log_level < 0) {
    int rc = cfg_error(src, cfg_get(map, "log_level"),
                       "runtime.log_level: expected one of "
                       "error, warn, info, debug, got '%s'",
                       level);
    free(level);
    return rc;
  }
  free(level);

  int64_t threads = 0;
  SM_TRY(cfg_get_int(src, map, "runtime", "blas_threads", 0, 4096, 0, &threads));
  r->blas_threads = (int)threads;
  return SM_OK;
}

/* ---- the whole experiment ------------------------------------------------------------ */

/* The experiment file's directory as given, and as an absolute path (both malloc'd). */
static int experiment_dirs(sm_ctx *ctx, const char *path, const char *cwd, char **dir,
                           char **base) {
  const char *slash = strrchr(path, '/');
  *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : sm_strdup(".");
  if (!*dir)
    return oom(ctx);
  size_t n = strlen(cwd) + strlen(*dir) + 2;
  if (!(*base = malloc(n)))
    return oom(ctx);
  if ((*dir)[0] == '/')
    snprintf(*base, n, "%s", *dir);
  else if (!strcmp(*dir, "."))
    snprintf(*base, n, "%s", cwd);
  else
    snprintf(*base, n, "%s/%s", cwd, *dir);
  return SM_OK;
}

static int read_sections(const cfg_source *src, const cfg_node *root, const char *base,
                         sm_experiment *e) {
  SM_TRY(cfg_check_keys(src, root, "", top_keys));
  SM_TRY(read_version(src, root, e));
  SM_TRY(read_name(src, root, e));
  SM_TRY(cfg_read_data(src, root, base, &e->data));
  SM_TRY(cfg_read_holdout(src, root, base, &e->data, &e->holdout));
  SM_TRY(cfg_read_model(src, root, &e->model));
  SM_TRY(check_model_data(src, root, e));
  SM_TRY(read_sampling(src, root, e));
  for (int i = 0; i < e->sampling.n_conditions && e->data.n_columns > 0; i++)
    SM_TRY(cfg_check_condition(src, &e->data, &e->sampling.conditions[i]));
  SM_TRY(read_evaluation(src, root, e));
  if (e->evaluation.target && !(e->model.default_target = sm_strdup(e->evaluation.target)))
    return oom(src->ctx);
  SM_TRY(cfg_read_privacy(src, root, &e->privacy));
  SM_TRY(read_runtime(src, root, e));
  return cfg_read_sweep(src, root, &e->sweep);
}

/* The tree from the bytes with the overrides applied; a map at the top. */
static int build_tree(const cfg_source *src, const char *bytes, size_t len, int n_overrides,
                      char **overrides, cfg_node **root) {
  SM_TRY(cfg_parse(src, bytes, len, NULL, root));
  if (!*root || cfg_is_null(*root))
    return sm_fail(src->ctx, SM_EINPUT, "%s:1:1: the experiment file is empty", src->file);
  if ((*root)->kind != CFG_MAP) {
    char got[96];
    cfg_describe(*root, got, sizeof got);
    return cfg_error(src, *root, "expected a map of settings at the top level, got %s", got);
  }
  for (int i = 0; i < n_overrides; i++)
    SM_TRY(cfg_apply_override(src, *root, overrides[i]));
  return SM_OK;
}

/* Local: the same bytes give the same struct and status on every rank. */
static int parse_experiment(sm_ctx *ctx, const char *path, const char *bytes, size_t len,
                            const char *cwd, int n_overrides, char **overrides, sm_experiment *e) {
  cfg_source src = {ctx, path};
  char *base = NULL;
  cfg_node *root = NULL;
  int rc = SM_OK;
  if (!(e->path = sm_strdup(path)))
    rc = oom(ctx);
  if (rc == SM_OK)
    rc = experiment_dirs(ctx, path, cwd, &e->dir, &base);
  if (rc == SM_OK)
    rc = build_tree(&src, bytes, len, n_overrides, overrides, &root);
  if (rc == SM_OK)
    rc = read_sections(&src, root, base, e);
  if (rc == SM_OK)
    rc = cfg_write_resolved(ctx, e, &e->resolved);
  cfg_node_free(root);
  free(base);
  return rc;
}

int sm_experiment_load(sm_ctx *ctx, const char *path, int n_overrides, char **overrides,
                       sm_experiment *out) {
  memset(out, 0, sizeof(*out));
  char *bytes = NULL, *cwd = NULL;
  size_t len = 0;

  /* rank 0 reads; everyone parses the same bytes */
  int rc = share_file(ctx, path, &bytes, &len, &cwd);
  if (rc == SM_OK)
    rc = parse_experiment(ctx, path, bytes, len, cwd, n_overrides, overrides, out);
  free(bytes);
  free(cwd);

  /* identical input makes identical outcomes; agree anyway */
  rc = sm_agree(ctx, rc);
  if (rc != SM_OK)
    sm_experiment_free(out);
  return rc;
}

void sm_experiment_free(sm_experiment *e) {
  if (!e)
    return;
  free(e->name);
  free(e->path);
  free(e->dir);
  cfg_source_free(&e->data);
  cfg_source_free(&e->holdout.source);
  free(e->model.kind);
  cfg_params_free(&e->model.params);
  free(e->model.default_target);
  free(e->sampling.output);
  cfg_conditions_free(&e->sampling);
  free(e->evaluation.target);
  free(e->evaluation.target_at);
  free(e->runtime.output_dir);
  cfg_privacy_free(&e->privacy);
  cfg_sweep_free(&e->sweep);
  free(e->resolved);
  memset(e, 0, sizeof(*e));
}

char *sm_experiment_output(const sm_experiment *e, const char *file) {
  const char *dir = e->runtime.output_dir ? e->runtime.output_dir : ".";
  size_t n = strlen(dir) + strlen(file) + 2;
  char *out = malloc(n);
  if (out)
    snprintf(out, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", file);
  return out;
}
