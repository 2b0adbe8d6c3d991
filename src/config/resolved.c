/* The resolved experiment: every setting with its value or default, as YAML that
 * sm_experiment_load reads back to the same struct. Strings are always double-quoted so
 * that values such as "yes", "1e3" or "null" stay strings. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "synthmpi/model.h"
#include "synthmpi/table.h"

typedef struct text {
  char *s;
  size_t len, cap;
  int failed; /* out of memory */
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (t->failed || n < 0)
    return;

  /* grow geometrically */
  if (t->len + (size_t)n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + (size_t)n + 1)
      cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s) {
      t->failed = 1;
      return;
    }
    t->s = s, t->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

/* A double-quoted YAML string. */
static void put_str(text *t, const char *s) {
  put(t, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      put(t, "\\%c", *p);
    else if (*p == '\t')
      put(t, "\\t");
    else if (*p == '\n')
      put(t, "\\n");
    else if (*p < 0x20 || *p == 0x7f)
      put(t, "\\x%02x", *p);
    else
      put(t, "%c", *p);
  }
  put(t, "\"");
}

/* The shortest decimal that reads back to the same double. */
static void put_real(text *t, double v) {
  char buf[40];
  for (int digits = 1; digits <= 17; digits++) {
    snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  put(t, "%s", buf);
}

/* prefix, a quoted string, suffix */
static void put_str_between(text *t, const char *prefix, const char *s, const char *suffix) {
  put(t, "%s", prefix);
  put_str(t, s);
  put(t, "%s", suffix);
}

static void put_real_between(text *t, const char *prefix, double v, const char *suffix) {
  put(t, "%s", prefix);
  put_real(t, v);
  put(t, "%s", suffix);
}

/* "key: true" or "key: false" on its own line; key carries its indentation */
static void put_bool(text *t, const char *key, int v) {
  put(t, "%s: %s\n", key, v ? "true" : "false");
}

static void put_str_list(text *t, char **v, int n) {
  put(t, "[");
  for (int i = 0; i < n; i++) {
    put(t, i ? ", " : "");
    put_str(t, v[i]);
  }
  put(t, "]");
}

static void put_column(text *t, const sm_column_spec *c) {
  put(t, "    - {name: ");
  put_str(t, c->name);
  if (c->type >= 0)
    put(t, ", type: %s", sm_coltype_name((sm_coltype)c->type));
  if (c->format)
    put_str_between(t, ", format: ", c->format, "");
  if (c->has_domain) {
    put_real_between(t, ", domain: [", c->lo, ", ");
    put_real_between(t, "", c->hi, "]");
  }
  if (c->n_domain_categories > 0) {
    put(t, ", domain: ");
    put_str_list(t, c->domain_categories, c->n_domain_categories);
  }
  if (c->strip_suffix)
    put_str_between(t, ", strip_suffix: ", c->strip_suffix, "");
  if (c->n_replace > 0) {
    put(t, ", replace: {");
    for (int i = 0; i < c->n_replace; i++) {
      put(t, i ? ", " : "");
      put_str(t, c->replace_from[i]);
      put(t, ": ");
      put_str(t, c->replace_to[i]);
    }
    put(t, "}");
  }
  put(t, "}\n");
}

/* The reading settings of data: or a holdout file (indented by two). */
static void put_source(text *t, const sm_source_spec *s, int with_columns) {
  char delim[2] = {s->delimiter, '\0'};
  put_str_between(t, "  path: ", s->path, "\n");
  put_str_between(t, "  format: ", s->format, "\n");
  put_bool(t, "  header", s->header);
  put(t, "  skip_lines: %d\n", s->skip_lines);
  put_str_between(t, "  delimiter: ", delim, "\n");
  put(t, "  missing: ");
  put_str_list(t, s->missing, s->n_missing);
  put(t, "\n");
  put_bool(t, "  trim", s->trim);
  if (with_columns && !strcmp(s->format, "fasta")) {
    put(t, "  window: %" PRId64 "\n  stride: %" PRId64 "\n", s->window, s->stride);
    put(t, "  non_acgt: %s\n", s->non_acgt ? "random" : "skip");
  }
  if (s->legend)
    put_str_between(t, "  legend: ", s->legend, "\n");
  if (!strcmp(s->format, "vcf"))
    put(t, "  missing_calls: %s\n  multiallelic: %s\n", s->impute_missing ? "impute" : "keep",
        s->skip_multiallelic ? "skip" : "refuse");
  if (!with_columns || s->n_columns == 0)
    return;
  put(t, "  columns:\n");
  for (int j = 0; j < s->n_columns; j++)
    put_column(t, &s->columns[j]);
}

static void put_model(text *t, const sm_model_spec *m) {
  put_str_between(t, "model:\n  kind: ", m->kind, "\n");
  for (int i = 0; i < m->params.n; i++) {
    const sm_param_desc *d = &m->params.desc[i];
    put(t, "  %s: ", d->name);
    if (d->type == SM_PARAM_STRING)
      put_str(t, m->params.str[i]);
    else if (d->type == SM_PARAM_BOOL)
      put(t, "%s", m->params.num[i] != 0 ? "true" : "false");
    else if (d->type == SM_PARAM_INT)
      put(t, "%" PRId64, (int64_t)m->params.num[i]);
    else
      put_real(t, m->params.num[i]);
    put(t, "\n");
  }
}

static void put_evaluation(text *t, const sm_eval_spec *v) {
  put(t, "evaluation:\n");
  put_bool(t, "  enabled", v->enabled);
  if (v->target)
    put_str_between(t, "  target: ", v->target, "\n");
  put(t, "  max_rows: %" PRId64 "\n  seed: %" PRIu64 "\n", v->max_rows, v->seed);
  put_bool(t, "  utility", v->utility);
  put(t, "  utility_max_rows: %" PRId64 "\n", v->utility_max_rows);
  put(t, "  classifier: {rounds: %d, max_depth: %d", v->utility_rounds, v->utility_depth);
  put_real_between(t, ", learning_rate: ", v->utility_eta, "}\n");
}

/* The privacy settings the model reads: the DP-SGD ones only for a DP-SGD fit (an MST
 * run spends its budget under zCDP and has no accountant, clipping or noise to set). */
static void put_privacy(text *t, const sm_privacy_spec *p, const char *kind) {
  if (!p->enabled)
    return;
  const sm_model_ops *ops = sm_model_find(kind);
  put_real_between(t, "privacy:\n  epsilon: ", p->epsilon, "\n");
  put_real_between(t, "  delta: ", p->delta, "\n");
  if (!ops || ops->private_fit == SM_MODEL_DP_SGD) {
    put_str_between(t, "  accountant: ", p->accountant, "\n");
    put_real_between(t, "  max_grad_norm: ", p->max_grad_norm, "\n");
    put_real_between(t, "  noise_multiplier: ", p->noise_multiplier, "\n");
  }
  put_bool(t, "  reproducible", p->reproducible);
}

int cfg_write_resolved(sm_ctx *ctx, const sm_experiment *e, char **out) {
  text t = {0};
  put(&t, "# resolved by synthmpi %s: every setting with its value\n", SM_VERSION);
  put(&t, "version: %d\n", e->version);
  put_str_between(&t, "name: ", e->name, "\n");

  /* inputs */
  put(&t, "data:\n");
  put_source(&t, &e->data, 1);
  if (e->holdout.kind == SM_HOLDOUT_FILE) {
    put(&t, "holdout:\n");
    put_source(&t, &e->holdout.source, 0);
  }
  if (e->holdout.kind == SM_HOLDOUT_FRACTION) {
    put_real_between(&t, "holdout:\n  fraction: ", e->holdout.fraction, "\n");
    put(&t, "  seed: %" PRIu64 "\n", e->holdout.seed);
  }
  if (e->holdout.kind == SM_HOLDOUT_TAIL)
    put_real_between(&t, "holdout:\n  fraction: ", e->holdout.fraction, "\n  split: tail\n");
  put_model(&t, &e->model);
  put_privacy(&t, &e->privacy, e->model.kind);

  /* outputs */
  const sm_sampling_spec *s = &e->sampling;
  put(&t, "sampling:\n  rows: %" PRId64 "\n  seed: %" PRIu64 "\n", s->rows, s->seed);
  put_str_between(&t, "  output: ", s->output, "\n");
  put(&t, "  chunk_rows: %" PRId64 "\n  compression: %d\n", s->chunk_rows, s->compression);
  put_bool(&t, "  overwrite", s->overwrite);
  if (s->n_conditions > 0) {
    put(&t, "  conditions: {");
    for (int i = 0; i < s->n_conditions; i++) {
      put_str_between(&t, i ? ", " : "", s->conditions[i].column, ": ");
      put_str(&t, s->conditions[i].value);
    }
    put(&t, "}\n  max_candidates: %" PRId64 "\n", s->max_candidates);
  }
  if (!strcmp(e->data.format, "fasta"))
    put(&t, "  length: %" PRId64 "\n", s->length);
  put_evaluation(&t, &e->evaluation);
  put_str_between(&t, "runtime:\n  output_dir: ", e->runtime.output_dir, "\n");
  put(&t, "  log_level: %s\n", cfg_log_level_names[e->runtime.log_level]);
  put(&t, "  blas_threads: %d\n", e->runtime.blas_threads);

  if (t.failed || !t.s) {
    free(t.s);
    return sm_fail(ctx, SM_ERR, "out of memory writing the resolved experiment");
  }
  *out = t.s;
  return SM_OK;
}
