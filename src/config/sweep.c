/* sweep: a parameter sweep over dotted keys, read into sm_sweep_spec.
 *
 *   sweep:
 *     sampling.seed: [1, 2, 3]
 *     model.epochs: [100, 300]
 *
 * Each key is what --set takes; each value is a scalar written as --set would write it.
 * The keys themselves are checked here for form only: a point's values are validated when
 * the experiment is loaded with them (synthmpi sweep does that for every point). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"

#define SWEEP_MAX_POINTS 100000

static int oom(sm_ctx *ctx) {
  return sm_fail(ctx, SM_ERR, "out of memory reading the sweep");
}

/* A dotted key: names of letters, digits and '_' joined by single dots, not "sweep.*",
 * "version" or "name" (those are not settings a point may change). */
static int key_ok(const char *key) {
  size_t n = strlen(key);
  if (n == 0 || key[0] == '.' || key[n - 1] == '.' || strstr(key, ".."))
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)key[i]) && key[i] != '_' && key[i] != '.')
      return 0;
  if (!strcmp(key, "version") || !strcmp(key, "name") || !strcmp(key, "sweep") ||
      !strncmp(key, "sweep.", 6))
    return 0;
  return 1;
}

/* A value: a non-empty scalar without whitespace, so a point prints as "key=value" words. */
static int value_ok(const cfg_node *node) {
  if (node->kind != CFG_SCALAR || cfg_is_null(node) || !node->text[0])
    return 0;
  for (const char *c = node->text; *c; c++)
    if (isspace((unsigned char)*c))
      return 0;
  return 1;
}

/* One key and its list of values into s->keys[k], s->values[k]. */
static int read_key(const cfg_source *src, const cfg_node *key, const cfg_node *list,
                    sm_sweep_spec *s, int k) {
  if (!key_ok(key->text))
    return cfg_error(src, key,
                     "sweep: '%s' is not a setting a sweep can vary (a dotted key such as "
                     "sampling.seed; not version, name or sweep)",
                     key->text);
  if (!list || list->kind != CFG_SEQ || list->n == 0)
    return cfg_error(src, list ? list : key, "sweep.%s: expected a non-empty list of values",
                     key->text);

  /* the values, as written */
  if (!(s->keys[k] = sm_strdup(key->text)) ||
      !(s->values[k] = calloc((size_t)list->n, sizeof(char *))))
    return oom(src->ctx);
  s->n_values[k] = list->n;
  for (int i = 0; i < list->n; i++) {
    if (!value_ok(list->items[i]))
      return cfg_error(src, list->items[i],
                       "sweep.%s: expected a scalar value without spaces (a number or a word)",
                       key->text);
    if (!(s->values[k][i] = sm_strdup(list->items[i]->text)))
      return oom(src->ctx);
  }
  return SM_OK;
}

int cfg_read_sweep(const cfg_source *src, const cfg_node *root, sm_sweep_spec *out) {
  const cfg_node *map = NULL;
  memset(out, 0, sizeof(*out));
  out->n_points = 1;
  SM_TRY(cfg_get_map(src, root, "", "sweep", &map));
  if (!map || map->n == 0)
    return SM_OK;

  /* one list per key, in file order */
  out->keys = calloc((size_t)map->n, sizeof(char *));
  out->n_values = calloc((size_t)map->n, sizeof(int));
  out->values = calloc((size_t)map->n, sizeof(char **));
  if (!out->keys || !out->n_values || !out->values)
    return oom(src->ctx);
  out->n_keys = map->n;
  for (int k = 0; k < map->n; k++)
    SM_TRY(read_key(src, map->keys[k], map->items[k], out, k));

  /* the product, bounded so a typo cannot ask for millions of jobs */
  for (int k = 0; k < out->n_keys; k++) {
    out->n_points *= out->n_values[k];
    if (out->n_points > SWEEP_MAX_POINTS)
      return cfg_error(src, map, "sweep: more than %d points", SWEEP_MAX_POINTS);
  }
  return SM_OK;
}

void cfg_sweep_free(sm_sweep_spec *s) {
  if (!s)
    return;
  for (int k = 0; k < s->n_keys; k++) {
    for (int i = 0; s->values && s->values[k] && i < s->n_values[k]; i++)
      free(s->values[k][i]);
    if (s->values)
      free(s->values[k]);
    if (s->keys)
      free(s->keys[k]);
  }
  free(s->keys);
  free(s->n_values);
  free(s->values);
  memset(s, 0, sizeof(*s));
}

const char *sm_sweep_value(const sm_sweep_spec *s, int64_t point, int key) {
  if (point < 0 || point >= s->n_points || key < 0 || key >= s->n_keys)
    return NULL;

  /* row-major: divide out the keys after this one, then take this key's digit */
  int64_t stride = 1;
  for (int k = s->n_keys - 1; k > key; k--)
    stride *= s->n_values[k];
  return s->values[key][(point / stride) % s->n_values[key]];
}
