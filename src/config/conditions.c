/* sampling.conditions: a map of column: value that every released row must match.
 *
 * Only the form is checked here; whether the column exists, is discrete and has the value
 * among its categories is known once the data (or the model) is read, and is reported then
 * at the position remembered in each condition.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "synthmpi/table.h"

/* Rows drawn per released row, at most, unless sampling.max_candidates says otherwise. */
#define DEFAULT_CANDIDATES_PER_ROW 1000

/* "file:line:column: " or "--set k=v: " of a node (malloc'd). */
static char *position(const cfg_source *src, const cfg_node *node) {
  char at[SM_MSG_MAX / 2];
  if (node->origin)
    snprintf(at, sizeof at, "--set %s: ", node->origin);
  else
    snprintf(at, sizeof at, "%s:%d:%d: ", src->file, node->line, node->column);
  return sm_strdup(at);
}

/* One column: value pair into c. */
static int read_one(const cfg_source *src, const cfg_node *key, const cfg_node *value,
                    sm_condition *c) {
  char what[256];
  snprintf(what, sizeof what, "sampling.conditions.%s", key->text);
  if (!value || value->kind != CFG_SCALAR || cfg_is_null(value))
    return cfg_error(src, value ? value : key,
                     "%s: expected one category (a scalar), e.g. 'sex: Female'", what);
  c->column = sm_strdup(key->text);
  c->value = sm_strdup(value->text);
  c->at = position(src, value);
  if (!c->column || !c->value || !c->at)
    return sm_fail(src->ctx, SM_ERR, "out of memory");
  return SM_OK;
}

/* A declared column settles a condition before any data is read: it must exist, be
 * categorical or boolean (or of inferred type), and have the value in a declared domain. */
int cfg_check_condition(const cfg_source *src, const sm_source_spec *data, const sm_condition *c) {
  const sm_column_spec *col = NULL;
  for (int j = 0; j < data->n_columns && !col; j++)
    if (strcmp(data->columns[j].name, c->column) == 0)
      col = &data->columns[j];
  if (!col)
    return sm_fail(src->ctx, SM_EINPUT, "%ssampling.conditions: '%s' is not a declared column",
                   c->at, c->column);
  if (col->type >= 0 && !sm_coltype_is_discrete(col->type))
    return sm_fail(src->ctx, SM_EINPUT,
                   "%ssampling.conditions: column '%s' is declared %s; conditions name a "
                   "category of a categorical or boolean column",
                   c->at, c->column, sm_coltype_name(col->type));
  int found = col->n_domain_categories == 0;
  for (int k = 0; k < col->n_domain_categories && !found; k++)
    found = strcmp(col->domain_categories[k], c->value) == 0;
  if (!found)
    return sm_fail(src->ctx, SM_EINPUT,
                   "%ssampling.conditions: '%s' is not in the declared domain of column '%s'",
                   c->at, c->value, c->column);
  return SM_OK;
}

int cfg_read_conditions(const cfg_source *src, const cfg_node *sampling, sm_sampling_spec *out) {
  const cfg_node *map = NULL;
  SM_TRY(cfg_get_map(src, sampling, "sampling", "conditions", &map));
  SM_TRY(cfg_get_int(src, sampling, "sampling", "max_candidates", 0, INT64_MAX, 0,
                     &out->max_candidates));
  if (!map || map->n == 0)
    return SM_OK;

  /* every pair, in file order */
  out->conditions = calloc((size_t)map->n, sizeof(sm_condition));
  if (!out->conditions)
    return sm_fail(src->ctx, SM_ERR, "out of memory");
  out->n_conditions = map->n;
  for (int i = 0; i < map->n; i++)
    SM_TRY(read_one(src, map->keys[i], map->items[i], &out->conditions[i]));
  return SM_OK;
}

void cfg_conditions_free(sm_sampling_spec *s) {
  for (int i = 0; i < s->n_conditions; i++) {
    free(s->conditions[i].column);
    free(s->conditions[i].value);
    free(s->conditions[i].at);
  }
  free(s->conditions);
  s->conditions = NULL;
  s->n_conditions = 0;
}

int64_t sm_sampling_max_candidates(const sm_sampling_spec *s) {
  if (s->max_candidates > 0)
    return s->max_candidates;
  return s->rows > INT64_MAX / DEFAULT_CANDIDATES_PER_ROW ? INT64_MAX
                                                          : s->rows * DEFAULT_CANDIDATES_PER_ROW;
}
