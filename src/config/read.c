/* Typed values from the experiment tree. */
#include "config/read.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WHAT_MAX 256

const char *cfg_join(char *buf, size_t size, const char *section, const char *key) {
  snprintf(buf, size, "%s%s%s", section, *section ? "." : "", key);
  return buf;
}

/* "what: expected <expected>, got <the node>" at the node. */
static int expected(const cfg_source *src, const cfg_node *node, const char *what,
                    const char *expectation) {
  char got[96];
  cfg_describe(node, got, sizeof got);
  return cfg_error(src, node, "%s: expected %s, got %s", what, expectation, got);
}

/* Words for an integer range: "a non-negative integer", "an integer from 0 to 9", ... */
static void int_range_words(char *buf, size_t size, int64_t lo, int64_t hi) {
  if (lo == 0 && hi == INT64_MAX)
    snprintf(buf, size, "a non-negative integer");
  else if (lo == 1 && hi == INT64_MAX)
    snprintf(buf, size, "a positive integer");
  else if (hi == INT64_MAX)
    snprintf(buf, size, "an integer >= %" PRId64, lo);
  else if (lo == INT64_MIN)
    snprintf(buf, size, "an integer <= %" PRId64, hi);
  else
    snprintf(buf, size, "an integer from %" PRId64 " to %" PRId64, lo, hi);
}

/* Parse a whole scalar as a finite double. */
static int parse_double(const cfg_node *node, double *out) {
  if (node->kind != CFG_SCALAR || cfg_is_null(node))
    return 0;
  const char *t = node->text;
  if (!*t || *t == ' ' || *t == '\t')
    return 0;
  char *end = NULL;
  errno = 0;
  double v = strtod(t, &end);
  if (*end || errno == ERANGE || !isfinite(v))
    return 0;
  *out = v;
  return 1;
}

/* Parse a whole scalar as an integer; "1e6" is accepted when integral. */
static int parse_int(const cfg_node *node, int64_t *out) {
  if (node->kind != CFG_SCALAR || cfg_is_null(node))
    return 0;
  const char *t = node->text;
  if (!*t || *t == ' ' || *t == '\t')
    return 0;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(t, &end, 10);
  if (!*end && errno == 0) {
    *out = v;
    return 1;
  }

  /* written as a number with a fraction or exponent */
  double d;
  if (!parse_double(node, &d) || d != floor(d) || fabs(d) >= 9.2e18)
    return 0;
  *out = (int64_t)d;
  return 1;
}

int cfg_int_value(const cfg_source *src, const cfg_node *node, const char *what, int64_t lo,
                  int64_t hi, int64_t *out) {
  int64_t v = 0;
  if (!parse_int(node, &v) || v < lo || v > hi) {
    char words[96];
    int_range_words(words, sizeof words, lo, hi);
    return expected(src, node, what, words);
  }
  *out = v;
  return SM_OK;
}

int cfg_uint64_value(const cfg_source *src, const cfg_node *node, const char *what, uint64_t *out) {
  const char *t = node->kind == CFG_SCALAR ? node->text : "";
  char *end = NULL;
  errno = 0;
  unsigned long long v = (*t >= '0' && *t <= '9') ? strtoull(t, &end, 10) : 0;
  if (!(*t >= '0' && *t <= '9') || *end || errno == ERANGE || cfg_is_null(node))
    return expected(src, node, what, "an unsigned 64-bit integer");
  *out = (uint64_t)v;
  return SM_OK;
}

int cfg_real_value(const cfg_source *src, const cfg_node *node, const char *what, double lo,
                   double hi, double *out) {
  double v = 0;
  if (!parse_double(node, &v) || v < lo || v > hi) {
    char words[96];
    snprintf(words, sizeof words, "a number from %g to %g", lo, hi);
    return expected(src, node, what, words);
  }
  *out = v;
  return SM_OK;
}

int cfg_bool_value(const cfg_source *src, const cfg_node *node, const char *what, int *out) {
  static const char *const yes[] = {"true", "yes", "on"};
  static const char *const no[] = {"false", "no", "off"};
  if (node->kind == CFG_SCALAR)
    for (int i = 0; i < 3; i++) {
      if (!strcasecmp(node->text, yes[i]) || !strcasecmp(node->text, no[i])) {
        *out = !strcasecmp(node->text, yes[i]);
        return SM_OK;
      }
    }
  return expected(src, node, what, "true or false");
}

int cfg_string_value(const cfg_source *src, const cfg_node *node, const char *what, char **out) {
  if (node->kind != CFG_SCALAR)
    return expected(src, node, what, "a string");
  if (cfg_is_null(node))
    return expected(src, node, what, "a string (quote it to mean the text)");
  if (!(*out = sm_strdup(node->text)))
    return sm_fail(src->ctx, SM_ERR, "out of memory");
  return SM_OK;
}

int cfg_check_keys(const cfg_source *src, const cfg_node *map, const char *section,
                   const char *const *known) {
  if (!map)
    return SM_OK;
  for (int i = 0; i < map->n; i++) {
    int found = 0;
    for (int k = 0; known[k] && !found; k++)
      found = !strcmp(map->keys[i]->text, known[k]);
    if (found)
      continue;

    /* list what would have been accepted */
    char list[SM_MSG_MAX / 2] = "";
    size_t used = 0;
    for (int k = 0; known[k] && used < sizeof list; k++)
      used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", known[k]);
    char key[96];
    cfg_describe(map->keys[i], key, sizeof key);
    return cfg_error(src, map->keys[i], "unknown key %s %s%s (known: %s)", key,
                     *section ? "in " : "at the top level", section, list);
  }
  return SM_OK;
}

const cfg_node *cfg_get(const cfg_node *map, const char *key) {
  const cfg_node *v = cfg_map_get(map, key);
  return (v && !cfg_is_null(v)) ? v : NULL;
}

int cfg_get_map(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                const cfg_node **out) {
  *out = cfg_get(map, key);
  if (*out && (*out)->kind != CFG_MAP) {
    char what[WHAT_MAX];
    return expected(src, *out, cfg_join(what, sizeof what, section, key), "a map");
  }
  return SM_OK;
}

int cfg_require(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                const cfg_node **out) {
  if ((*out = cfg_get(map, key)))
    return SM_OK;
  if (*section)
    return cfg_error(src, map, "%s: missing required key '%s'", section, key);
  return cfg_error(src, map, "missing required key '%s'", key);
}

int cfg_get_int(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                int64_t lo, int64_t hi, int64_t dflt, int64_t *out) {
  const cfg_node *v = cfg_get(map, key);
  char what[WHAT_MAX];
  *out = dflt;
  return v ? cfg_int_value(src, v, cfg_join(what, sizeof what, section, key), lo, hi, out) : SM_OK;
}

int cfg_get_uint64(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                   uint64_t dflt, uint64_t *out) {
  const cfg_node *v = cfg_get(map, key);
  char what[WHAT_MAX];
  *out = dflt;
  return v ? cfg_uint64_value(src, v, cfg_join(what, sizeof what, section, key), out) : SM_OK;
}

int cfg_get_real(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                 double lo, double hi, double dflt, double *out) {
  const cfg_node *v = cfg_get(map, key);
  char what[WHAT_MAX];
  *out = dflt;
  return v ? cfg_real_value(src, v, cfg_join(what, sizeof what, section, key), lo, hi, out) : SM_OK;
}

int cfg_get_bool(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                 int dflt, int *out) {
  const cfg_node *v = cfg_get(map, key);
  char what[WHAT_MAX];
  *out = dflt;
  return v ? cfg_bool_value(src, v, cfg_join(what, sizeof what, section, key), out) : SM_OK;
}

int cfg_get_string(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                   const char *dflt, char **out) {
  const cfg_node *v = cfg_get(map, key);
  char what[WHAT_MAX];
  if (v)
    return cfg_string_value(src, v, cfg_join(what, sizeof what, section, key), out);
  *out = sm_strdup(dflt);
  if (dflt && !*out)
    return sm_fail(src->ctx, SM_ERR, "out of memory");
  return SM_OK;
}
