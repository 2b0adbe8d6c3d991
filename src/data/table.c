/* Schema and table helpers. */
#include "synthmpi/table.h"

#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"continuous", "integer", "categorical", "boolean",
                                         "datetime"};

const char *sm_coltype_name(sm_coltype t) {
  return (t >= 0 && t <= SM_COL_DATETIME) ? type_names[t] : "unknown";
}

int sm_coltype_parse(const char *s) {
  for (int i = 0; i <= SM_COL_DATETIME; i++)
    if (strcmp(s, type_names[i]) == 0)
      return i;
  return -1;
}

int sm_coltype_is_discrete(sm_coltype t) {
  return t == SM_COL_CATEGORICAL || t == SM_COL_BOOLEAN;
}

static int column_copy(sm_column *d, const sm_column *s) {
  *d = *s;
  d->name = sm_strdup(s->name);
  d->datetime_format = sm_strdup(s->datetime_format);
  d->categories = NULL;
  if (s->n_categories > 0) {
    d->categories = calloc((size_t)s->n_categories, sizeof(char *));
    if (!d->categories)
      return SM_ERR;
    for (int i = 0; i < s->n_categories; i++)
      if (!(d->categories[i] = sm_strdup(s->categories[i])))
        return SM_ERR;
  }
  return (d->name || !s->name) ? SM_OK : SM_ERR;
}

static void column_free(sm_column *c) {
  free(c->name);
  free(c->datetime_format);
  for (int i = 0; i < c->n_categories && c->categories; i++)
    free(c->categories[i]);
  free(c->categories);
  memset(c, 0, sizeof(*c));
}

int sm_schema_copy(sm_schema *dst, const sm_schema *src) {
  dst->n_cols = src->n_cols;
  dst->cols = calloc((size_t)(src->n_cols ? src->n_cols : 1), sizeof(sm_column));
  if (!dst->cols)
    return SM_ERR;
  for (int j = 0; j < src->n_cols; j++)
    if (column_copy(&dst->cols[j], &src->cols[j]) != SM_OK)
      return SM_ERR;
  return SM_OK;
}

void sm_schema_free(sm_schema *s) {
  if (!s)
    return;
  for (int j = 0; j < s->n_cols && s->cols; j++)
    column_free(&s->cols[j]);
  free(s->cols);
  s->cols = NULL;
  s->n_cols = 0;
}

int sm_schema_find(const sm_schema *s, const char *name) {
  for (int j = 0; j < s->n_cols; j++)
    if (strcmp(s->cols[j].name, name) == 0)
      return j;
  return -1;
}

int sm_column_find_category(const sm_column *c, const char *value) {
  int lo = 0, hi = c->n_categories - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    int cmp = strcmp(c->categories[mid], value);
    if (cmp == 0)
      return mid;
    if (cmp < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

int sm_table_alloc(sm_ctx *ctx, sm_table *t, const sm_schema *schema, int64_t n_rows) {
  memset(t, 0, sizeof(*t));
  if (sm_schema_copy(&t->schema, schema) != SM_OK)
    return sm_fail(ctx, SM_ERR, "out of memory copying the schema");
  t->n_rows = n_rows;
  t->values = sm_calloc(ctx, (size_t)(schema->n_cols ? schema->n_cols : 1), sizeof(double *));
  if (!t->values)
    return SM_ERR;
  for (int j = 0; j < schema->n_cols; j++)
    if (!(t->values[j] = sm_malloc(ctx, (size_t)n_rows * sizeof(double))))
      return SM_ERR;
  return SM_OK;
}

void sm_table_free(sm_table *t) {
  if (!t)
    return;
  for (int j = 0; j < t->schema.n_cols && t->values; j++)
    free(t->values[j]);
  free(t->values);
  sm_schema_free(&t->schema);
  memset(t, 0, sizeof(*t));
}
