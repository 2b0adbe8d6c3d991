/* sm_read_source: a CSV file read in parallel into rank-local columns and a global schema.
 *
 * Phases (csv.h): prefix and chunk (csv_scan.c), rows (csv_record.c), then the columns
 * here: plan (which field feeds which column, declared types and domains), value mapping
 * and missing tokens, type inference agreed across ranks, conversion (local; the earliest
 * bad value wins), and the collective finish: merged dictionaries, observed ranges,
 * missing counts and row offsets.
 */
#include "data/csv.h"
#include "synthmpi/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a column is read. */
typedef struct column_plan {
  int n_cols;
  int *field;                  /* (n_cols) field of the record feeding the column */
  const sm_column_spec **spec; /* (n_cols) declared settings, or NULL */
  int *infer;                  /* (n_cols) 1 when the type is inferred from the values */
  int *lookup;                 /* (n_cols) codes from the schema's dictionary (LOOKUP_*) */
  sm_schema schema;            /* names, types, formats, domains, fixed dictionaries */
} column_plan;

/* Where categorical codes come from. */
enum { LOOKUP_MERGE = 0, LOOKUP_DECLARED = 1, LOOKUP_FIXED = 2 };

static void plan_free(column_plan *p) {
  free(p->field);
  free(p->spec);
  free(p->infer);
  free(p->lookup);
  sm_schema_free(&p->schema);
}

static const sm_column_spec *find_spec(const sm_source_spec *src, const char *name) {
  for (int i = 0; i < src->n_columns; i++)
    if (src->columns[i].name && strcmp(src->columns[i].name, name) == 0)
      return &src->columns[i];
  return NULL;
}

static int find_name(char **names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0)
      return i;
  return -1;
}

/* Sorted, deduplicated copy of a list of strings as col's dictionary. */
static int set_categories(sm_ctx *ctx, sm_column *col, char **list, int n) {
  char **sorted = sm_calloc(ctx, (size_t)n, sizeof(char *));
  if (!sorted)
    return SM_ERR;
  memcpy(sorted, list, (size_t)n * sizeof(char *));
  int k = (int)csv_sort_unique(sorted, n);
  col->categories = sm_calloc(ctx, (size_t)k, sizeof(char *));
  for (int i = 0; col->categories && i < k; i++, col->n_categories++)
    col->categories[i] = sm_strdup(sorted[i]);
  free(sorted);
  return col->categories ? SM_OK : SM_ERR;
}

/* Column j's schema entry from its declaration (type -1: inferred later). */
static int plan_declared(sm_ctx *ctx, column_plan *p, int j, const char *name) {
  const sm_column_spec *spec = p->spec[j];
  sm_column *col = &p->schema.cols[j];
  col->name = sm_strdup(name);
  if (!col->name)
    return sm_fail(ctx, SM_ERR, "out of memory planning columns");
  p->infer[j] = !spec || spec->type < 0;
  col->type = p->infer[j] ? SM_COL_CATEGORICAL : (sm_coltype)spec->type;
  if (!spec)
    return SM_OK;

  /* format, numeric domain, category domain */
  if (col->type == SM_COL_DATETIME)
    col->datetime_format = sm_strdup(spec->format ? spec->format : CSV_DEFAULT_DATETIME_FORMAT);
  col->has_domain = spec->has_domain;
  col->lo = spec->lo;
  col->hi = spec->hi;
  if (col->type == SM_COL_BOOLEAN) {
    char *names[2] = {"false", "true"};
    p->lookup[j] = LOOKUP_DECLARED;
    col->has_domain = 1;
    return set_categories(ctx, col, names, 2);
  }
  if (col->type == SM_COL_CATEGORICAL && spec->n_domain_categories > 0) {
    p->lookup[j] = LOOKUP_DECLARED;
    col->has_domain = 1;
    return set_categories(ctx, col, spec->domain_categories, spec->n_domain_categories);
  }
  return SM_OK;
}

/* Columns against a fixed schema: by header name, or in order without a header. */
static int plan_fixed(sm_ctx *ctx, const sm_source_spec *src, const sm_schema *fixed,
                      const csv_prefix *pre, int n_fields, column_plan *p) {
  SM_TRY(sm_schema_copy(&p->schema, fixed) == SM_OK
             ? SM_OK
             : sm_fail(ctx, SM_ERR, "out of memory copying the schema"));
  if (!src->header && n_fields != fixed->n_cols)
    return sm_fail(ctx, SM_EINPUT, "%s: %d columns declared, the schema read against has %d",
                   src->path, n_fields, fixed->n_cols);
  for (int j = 0; j < p->n_cols; j++) {
    const char *name = fixed->cols[j].name;
    p->field[j] = src->header ? find_name(pre->names, pre->n_names, name) : j;
    if (p->field[j] < 0)
      return sm_fail(ctx, SM_EINPUT, "%s: column '%s' is not in the header", src->path, name);
    p->spec[j] = find_spec(src, name);
    p->lookup[j] = sm_coltype_is_discrete(fixed->cols[j].type) ? LOOKUP_FIXED : LOOKUP_MERGE;
    if (fixed->cols[j].type == SM_COL_BOOLEAN)
      p->lookup[j] = LOOKUP_DECLARED;
  }
  return SM_OK;
}

/* Columns from the header (declared ones matched by name) or from the declarations. */
static int plan_own(sm_ctx *ctx, const sm_source_spec *src, const csv_prefix *pre, column_plan *p) {
  for (int i = 0; src->header && i < src->n_columns; i++)
    if (find_name(pre->names, pre->n_names, src->columns[i].name) < 0)
      return sm_fail(ctx, SM_EINPUT, "%s: declared column '%s' is not in the header", src->path,
                     src->columns[i].name);
  for (int j = 0; j < p->n_cols; j++) {
    const char *name = src->header ? pre->names[j] : src->columns[j].name;
    if (src->header && find_name(pre->names, j, name) >= 0)
      return sm_fail(ctx, SM_EINPUT, "%s: column '%s' appears twice in the header", src->path,
                     name);
    p->field[j] = j;
    p->spec[j] = src->header ? find_spec(src, name) : &src->columns[j];
    SM_TRY(plan_declared(ctx, p, j, name));
  }
  return SM_OK;
}

/* Deterministic on every rank (it only reads the broadcast prefix and the spec). */
static int plan_columns(sm_ctx *ctx, const sm_source_spec *src, const sm_schema *fixed,
                        const csv_prefix *pre, int n_fields, column_plan *p) {
  memset(p, 0, sizeof(*p));
  p->n_cols = fixed ? fixed->n_cols : n_fields;
  size_t n = (size_t)p->n_cols;
  p->field = sm_calloc(ctx, n, sizeof(int));
  p->spec = sm_calloc(ctx, n, sizeof(*p->spec));
  p->infer = sm_calloc(ctx, n, sizeof(int));
  p->lookup = sm_calloc(ctx, n, sizeof(int));
  if (!p->field || !p->spec || !p->infer || !p->lookup)
    return SM_ERR;
  if (fixed)
    return plan_fixed(ctx, src, fixed, pre, n_fields, p);

  /* a schema of our own */
  p->schema.n_cols = p->n_cols;
  p->schema.cols = sm_calloc(ctx, n, sizeof(sm_column));
  if (!p->schema.cols)
    return SM_ERR;
  return plan_own(ctx, src, pre, p);
}

static int is_missing_token(const sm_source_spec *src, const char *s) {
  if (!*s)
    return 1;
  for (int i = 0; i < src->n_missing; i++)
    if (strcmp(s, src->missing[i]) == 0)
      return 1;
  return 0;
}

/* The column's value mapping: suffix stripped in place, then replacements. */
static char *map_value(const sm_column_spec *spec, char *s) {
  if (!spec)
    return s;
  if (spec->strip_suffix && *spec->strip_suffix) {
    size_t n = strlen(s), k = strlen(spec->strip_suffix);
    if (n >= k && strcmp(s + n - k, spec->strip_suffix) == 0)
      s[n - k] = '\0';
  }
  for (int i = 0; i < spec->n_replace; i++)
    if (strcmp(s, spec->replace_from[i]) == 0)
      return spec->replace_to[i];
  return s;
}

/* Local: map every used cell and turn missing tokens (before or after mapping) to NULL. */
static void map_cells(const sm_source_spec *src, const column_plan *p, csv_rows *rows) {
  for (int64_t i = 0; i < rows->n_rows; i++)
    for (int j = 0; j < p->n_cols; j++) {
      char **cell = &rows->cells[i * rows->n_fields + p->field[j]];
      if (is_missing_token(src, *cell)) {
        *cell = NULL;
        continue;
      }
      *cell = map_value(p->spec[j], *cell);
      if (is_missing_token(src, *cell))
        *cell = NULL;
    }
}

/* Collective: integer if every value (on every rank) is one, else continuous if every
 * value is a finite number, else categorical; all missing is categorical. */
static int infer_types(sm_ctx *ctx, column_plan *p, const csv_rows *rows) {
  int n = p->n_cols;
  int *flags = sm_calloc(ctx, (size_t)(3 * n), sizeof(int));
  if (!flags)
    return SM_ERR;

  /* per column: [all integers, all finite numbers, no value at all] */
  for (int j = 0; j < n; j++) {
    int all_int = 1, all_num = 1, none = 1;
    for (int64_t i = 0; p->infer[j] && i < rows->n_rows && (all_int || all_num); i++) {
      const char *s = rows->cells[i * rows->n_fields + p->field[j]];
      double v;
      if (!s)
        continue;
      none = 0;
      all_int = all_int && csv_parse_integer(s, &v);
      all_num = all_num && csv_parse_finite(s, &v);
    }
    flags[3 * j] = all_int;
    flags[3 * j + 1] = all_num;
    flags[3 * j + 2] = none;
  }
  int mrc = MPI_Allreduce(MPI_IN_PLACE, flags, 3 * n, MPI_INT, MPI_MIN, ctx->comm);

  /* the decision is the same on every rank */
  for (int j = 0; mrc == MPI_SUCCESS && j < n; j++) {
    if (!p->infer[j] || flags[3 * j + 2])
      continue;
    p->schema.cols[j].type = flags[3 * j]       ? SM_COL_INTEGER
                             : flags[3 * j + 1] ? SM_COL_CONTINUOUS
                                                : SM_COL_CATEGORICAL;
  }
  free(flags);
  if (mrc != MPI_SUCCESS)
    return sm_fail_mpi(ctx, mrc, "MPI_Allreduce(type flags)", __FILE__, __LINE__);
  return SM_OK;
}

/* One value of column col; on failure writes the reason to why and returns 0. */
static int convert_value(const sm_column *col, int lookup, const char *s, double *v, char *why,
                         size_t size) {
  int ok = 1;
  switch (col->type) {
  case SM_COL_INTEGER:
    if (!(ok = csv_parse_integer(s, v)))
      snprintf(why, size, "'%s' is not an integer between -2^53 and 2^53", s);
    break;
  case SM_COL_CONTINUOUS:
    if (!(ok = csv_parse_finite(s, v)))
      snprintf(why, size, "'%s' is not a finite number", s);
    break;
  case SM_COL_DATETIME:
    if (!(ok = csv_parse_datetime(s, col->datetime_format, v)))
      snprintf(why, size, "'%s' does not match the datetime format '%s'", s,
               col->datetime_format ? col->datetime_format : CSV_DEFAULT_DATETIME_FORMAT);
    break;
  case SM_COL_BOOLEAN:
    if (!(ok = csv_parse_boolean(s, v)))
      snprintf(why, size, "'%s' is not a boolean (true/false, yes/no, t/f, 1/0)", s);
    break;
  case SM_COL_CATEGORICAL: {
    int code = lookup == LOOKUP_MERGE ? -1 : sm_column_find_category(col, s);
    *v = code >= 0 ? code : NAN;
    if (code < 0 && lookup == LOOKUP_DECLARED) {
      ok = 0;
      snprintf(why, size, "'%s' is not one of the declared categories", s);
    }
    break;
  }
  }

  /* a declared numeric domain */
  int numeric = !sm_coltype_is_discrete(col->type);
  if (ok && numeric && col->has_domain && (*v < col->lo || *v > col->hi)) {
    ok = 0;
    snprintf(why, size, "%s is outside the declared domain [%.17g, %.17g]", s, col->lo, col->hi);
  }
  return ok;
}

/* Local: convert column j into v; returns the first bad row (why says what), or -1. */
static int64_t convert_column(const column_plan *p, int j, const csv_rows *rows, double *v,
                              char *why, size_t size) {
  const sm_column *col = &p->schema.cols[j];
  for (int64_t i = 0; i < rows->n_rows; i++) {
    const char *s = rows->cells[i * rows->n_fields + p->field[j]];
    v[i] = NAN;
    if (s && !convert_value(col, p->lookup[j], s, &v[i], why, size))
      return i;
  }
  return -1;
}

/* Local: every column's values; the bad value with the earliest row (then column) is the
 * one reported, so the message does not depend on the number of ranks. */
static int convert_all(sm_ctx *ctx, const sm_source_spec *src, const column_plan *p,
                       const csv_rows *rows, double **values) {
  int64_t worst = -1;
  int worst_col = -1;
  char why[SM_MSG_MAX / 2], first[SM_MSG_MAX / 2] = "";
  for (int j = 0; j < p->n_cols; j++) {
    if (!(values[j] = sm_malloc(ctx, (size_t)rows->n_rows * sizeof(double))))
      return SM_ERR;
    int64_t bad = convert_column(p, j, rows, values[j], why, sizeof why);
    if (bad >= 0 && (worst < 0 || bad < worst)) {
      worst = bad;
      worst_col = j;
      memcpy(first, why, sizeof why);
    }
  }
  if (worst < 0)
    return SM_OK;
  return sm_fail(ctx, SM_EINPUT, "%s:%lld: column '%s': %s", src->path,
                 (long long)rows->line[worst], p->schema.cols[worst_col].name, first);
}

/* Collective: merge the dictionary of a categorical column read without one, then code. */
static int merge_column(sm_ctx *ctx, column_plan *p, int j, const csv_rows *rows, double *v) {
  sm_column *col = &p->schema.cols[j];
  char **seen = sm_malloc(ctx, (size_t)(rows->n_rows ? rows->n_rows : 1) * sizeof(char *));
  int64_t n = 0;
  for (int64_t i = 0; seen && i < rows->n_rows; i++) {
    char *s = rows->cells[i * rows->n_fields + p->field[j]];
    if (s)
      seen[n++] = s;
  }

  /* an allocation failure still joins the collective, with nothing */
  int rc = csv_dictionary_merge(ctx, seen, n, col);
  free(seen);
  for (int64_t i = 0; rc == SM_OK && i < rows->n_rows; i++) {
    const char *s = rows->cells[i * rows->n_fields + p->field[j]];
    v[i] = s ? sm_column_find_category(col, s) : NAN;
  }
  return seen ? rc : SM_ERR;
}

/* Collective: observed ranges of numeric columns without a domain, missing counts. */
static int reduce_ranges(sm_ctx *ctx, column_plan *p, int keep_ranges, int64_t n_rows,
                         double **values) {
  int n = p->n_cols;
  double *lo = sm_malloc(ctx, (size_t)n * sizeof(double));
  double *hi = sm_malloc(ctx, (size_t)n * sizeof(double));
  int64_t *missing = sm_calloc(ctx, (size_t)n, sizeof(int64_t));
  int mrc = MPI_SUCCESS;
  if (!lo || !hi || !missing) {
    free(lo), free(hi), free(missing);
    return SM_ERR;
  }

  /* local ranges and counts, then the global ones */
  for (int j = 0; j < n; j++) {
    lo[j] = INFINITY;
    hi[j] = -INFINITY;
    for (int64_t i = 0; i < n_rows; i++) {
      double x = values[j][i];
      missing[j] += isnan(x);
      lo[j] = x < lo[j] ? x : lo[j];
      hi[j] = x > hi[j] ? x : hi[j];
    }
  }
  mrc = MPI_Allreduce(MPI_IN_PLACE, lo, n, MPI_DOUBLE, MPI_MIN, ctx->comm);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Allreduce(MPI_IN_PLACE, hi, n, MPI_DOUBLE, MPI_MAX, ctx->comm);
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Allreduce(MPI_IN_PLACE, missing, n, MPI_INT64_T, MPI_SUM, ctx->comm);

  /* an all-missing numeric column has no range (NaN) */
  for (int j = 0; mrc == MPI_SUCCESS && j < n; j++) {
    sm_column *col = &p->schema.cols[j];
    col->n_missing = missing[j];
    if (keep_ranges || col->has_domain || sm_coltype_is_discrete(col->type))
      continue;
    col->lo = lo[j] <= hi[j] ? lo[j] : NAN;
    col->hi = lo[j] <= hi[j] ? hi[j] : NAN;
  }
  free(lo), free(hi), free(missing);
  if (mrc != MPI_SUCCESS)
    return sm_fail_mpi(ctx, mrc, "MPI_Allreduce(column ranges)", __FILE__, __LINE__);
  return SM_OK;
}

/* Every column of a schema of the file's own needs a value somewhere (a holdout read against
 * a fixed schema may lack one); the counts are already global. line: the header's line, or
 * the first data line without a header. */
static int check_has_values(sm_ctx *ctx, const sm_source_spec *src, int64_t line,
                            const column_plan *p, int64_t total) {
  for (int j = 0; j < p->n_cols; j++)
    if (p->schema.cols[j].n_missing >= total)
      return sm_fail(ctx, SM_EINPUT,
                     "%s:%lld: column '%s' has no values (all %lld rows are missing)", src->path,
                     (long long)line, p->schema.cols[j].name, (long long)total);
  return SM_OK;
}

/* Collective: values read against a fixed dictionary that it lacks, one warning per column. */
static int warn_unknown(sm_ctx *ctx, const sm_source_spec *src, const column_plan *p,
                        const csv_rows *rows, double **values) {
  for (int j = 0; j < p->n_cols; j++) {
    if (p->lookup[j] != LOOKUP_FIXED)
      continue;
    int64_t unknown = 0;
    for (int64_t i = 0; i < rows->n_rows; i++)
      unknown += rows->cells[i * rows->n_fields + p->field[j]] && isnan(values[j][i]);
    SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, &unknown, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
    if (unknown > 0)
      sm_log(ctx, SM_LOG_WARN,
             "%s: column '%s': %lld values not among the training categories "
             "were read as missing",
             src->path, p->schema.cols[j].name, (long long)unknown);
  }
  return SM_OK;
}

/* Collective: dictionaries, ranges, counts and row offsets; moves the result into out. */
static int finish_table(sm_ctx *ctx, const sm_source_spec *src, const sm_schema *fixed,
                        const csv_prefix *pre, column_plan *p, const csv_rows *rows,
                        double **values, sm_table *out) {
  int rc = SM_OK;
  for (int j = 0; j < p->n_cols; j++)
    if (p->schema.cols[j].type == SM_COL_CATEGORICAL && p->lookup[j] == LOOKUP_MERGE) {
      int crc = merge_column(ctx, p, j, rows, values[j]);
      rc = rc == SM_OK ? crc : rc;
    }
  SM_TRY(sm_agree(ctx, rc));
  SM_TRY(reduce_ranges(ctx, p, fixed != NULL, rows->n_rows, values));
  SM_TRY(warn_unknown(ctx, src, p, rows, values));

  /* rows: this rank's offset and the total */
  int64_t n = rows->n_rows, before = 0, total = 0;
  SM_MPI_CHECK(ctx, MPI_Exscan(&n, &before, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Allreduce(&n, &total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (!fixed)
    SM_TRY(check_has_values(ctx, src, pre->data_line - (src->header ? 1 : 0), p, total));
  out->n_rows = n;
  out->row_offset = ctx->rank == 0 ? 0 : before;
  out->n_rows_total = total;
  out->schema = p->schema;
  memset(&p->schema, 0, sizeof p->schema);
  out->values = values;
  return SM_OK;
}

/* Collective: the file's rows on this rank, cut into fields. */
static int read_rows(sm_ctx *ctx, const sm_source_spec *src, const sm_schema *fixed,
                     csv_prefix *pre, csv_chunk *chunk, csv_rows *rows) {
  SM_TRY(csv_prefix_read(ctx, src, pre));
  int n_fields =
      src->header ? pre->n_names : (fixed && !src->n_columns ? fixed->n_cols : src->n_columns);
  if (n_fields <= 0)
    return sm_fail(ctx, SM_EINPUT, "%s: no columns declared and no header to name them", src->path);
  SM_TRY(csv_chunk_read(ctx, src, pre, chunk));
  SM_TRY(sm_agree(ctx, csv_rows_cut(ctx, src, chunk, n_fields, rows)));

  /* a file of blank lines has no rows either */
  int64_t total = 0;
  SM_MPI_CHECK(ctx, MPI_Allreduce(&rows->n_rows, &total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (total == 0)
    return sm_fail(ctx, SM_EINPUT, "%s: no data rows", src->path);
  return SM_OK;
}

int sm_read_source(sm_ctx *ctx, const sm_source_spec *src, const sm_schema *fixed, sm_table *out) {
  memset(out, 0, sizeof(*out));
  csv_prefix pre;
  csv_chunk chunk;
  csv_rows rows;
  column_plan plan;
  memset(&chunk, 0, sizeof chunk);
  memset(&rows, 0, sizeof rows);
  memset(&plan, 0, sizeof plan);
  double **values = NULL;

  /* rows, then the columns' plan (the same on every rank) */
  int rc = read_rows(ctx, src, fixed, &pre, &chunk, &rows);
  if (rc == SM_OK)
    rc = sm_agree(ctx, plan_columns(ctx, src, fixed, &pre, rows.n_fields, &plan));

  /* values: mapped, typed, converted */
  if (rc == SM_OK) {
    map_cells(src, &plan, &rows);
    rc = infer_types(ctx, &plan, &rows);
  }
  if (rc == SM_OK) {
    values = sm_calloc(ctx, (size_t)plan.n_cols, sizeof(double *));
    rc = values ? convert_all(ctx, src, &plan, &rows, values) : SM_ERR;
  }
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = sm_agree(ctx, finish_table(ctx, src, fixed, &pre, &plan, &rows, values, out));

  /* on failure nothing is handed out */
  if (rc != SM_OK && out->values == values && values)
    sm_table_free(out);
  else if (rc != SM_OK) {
    for (int j = 0; values && j < plan.n_cols; j++)
      free(values[j]);
    free(values);
    memset(out, 0, sizeof(*out));
  }
  plan_free(&plan);
  csv_rows_free(&rows);
  csv_chunk_free(&chunk);
  csv_prefix_free(&pre);
  return rc;
}
