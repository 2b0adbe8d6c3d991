/* model: the kind and the parameters that kind declares (sm_param_desc tables). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "synthmpi/model.h"
#include "synthmpi/seq.h"

/* Is value one of the "a|b|c" choices? */
static int in_choices(const char *choices, const char *value) {
  size_t len = strlen(value);
  for (const char *p = choices; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL) {
    const char *end = strchr(p, '|');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == len && !strncmp(p, value, n))
      return 1;
  }
  return 0;
}

/* One parameter's value from its node, checked against its declaration. */
static int param_value(const cfg_source *src, const sm_param_desc *d, const cfg_node *node,
                       const char *what, double *num, char **str) {
  /* bounds of 0 and 0 mean the declaration sets none */
  int bounded = d->min != 0 || d->max != 0;
  double lo = bounded ? d->min : -HUGE_VAL, hi = bounded ? d->max : HUGE_VAL;
  switch (d->type) {
  case SM_PARAM_INT: {
    int64_t v = 0;
    int64_t ilo = bounded ? (int64_t)ceil(lo) : INT64_MIN;
    int64_t ihi = bounded ? (int64_t)floor(hi) : INT64_MAX;
    SM_TRY(cfg_int_value(src, node, what, ilo, ihi, &v));
    *num = (double)v;
    return SM_OK;
  }
  case SM_PARAM_REAL:
    return cfg_real_value(src, node, what, lo, hi, num);
  case SM_PARAM_BOOL: {
    int v = 0;
    SM_TRY(cfg_bool_value(src, node, what, &v));
    *num = v;
    return SM_OK;
  }
  case SM_PARAM_STRING:
    SM_TRY(cfg_string_value(src, node, what, str));
    if (!d->choices || in_choices(d->choices, *str))
      return SM_OK;
    break;
  }

  /* a string outside the declared choices: "one of a, b, c" */
  char list[256] = "";
  size_t used = 0;
  for (const char *p = d->choices; *p && used + 3 < sizeof list; p++)
    used += (size_t)snprintf(list + used, sizeof list - used, *p == '|' ? ", " : "%c", *p);
  char got[96];
  cfg_describe(node, got, sizeof got);
  free(*str);
  *str = NULL;
  return cfg_error(src, node, "%s: expected one of %s, got %s", what, list, got);
}

/* The parameter's default, as declared (a bad one is the model's bug, not the user's). */
static int param_default(const cfg_source *src, const sm_param_desc *d, const char *kind,
                         double *num, char **str) {
  cfg_node node = {.kind = CFG_SCALAR, .plain = 1, .text = (char *)d->default_value};
  cfg_source quiet = *src;
  if (node.text && param_value(&quiet, d, &node, d->name, num, str) == SM_OK)
    return SM_OK;
  return sm_fail(src->ctx, SM_ERR, "model %s declares an invalid default for %s", kind, d->name);
}

/* The keys model: accepts: kind and every declared parameter. */
static const char **model_keys(const sm_model_ops *ops) {
  const char **known = calloc((size_t)ops->n_params + 2, sizeof(char *));
  if (!known)
    return NULL;
  known[0] = "kind";
  for (int i = 0; i < ops->n_params; i++)
    known[i + 1] = ops->params[i].name;
  return known;
}

/* The registered model named by model.kind, or an error listing them. */
static int find_model(const cfg_source *src, const cfg_node *kind_node, const char *kind,
                      const sm_model_ops **ops) {
  if ((*ops = sm_model_find(kind)) || (*ops = sm_seq_model_find(kind)))
    return SM_OK;
  char list[256] = "";
  size_t used = 0;
  const sm_model_ops *const *all = sm_model_list();
  for (int i = 0; all[i] && used < sizeof list; i++)
    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", all[i]->kind);
  if (used < sizeof list)
    snprintf(list + used, sizeof list - used, ", dna_markov (FASTA data)");
  char got[96];
  cfg_describe(kind_node, got, sizeof got);
  return cfg_error(src, kind_node, "model.kind: unknown model %s (registered: %s)", got, list);
}

static int read_params(const cfg_source *src, const cfg_node *map, const sm_model_ops *ops,
                       sm_params *p) {
  p->n = ops->n_params;
  p->desc = ops->params;
  p->num = calloc((size_t)(p->n ? p->n : 1), sizeof(double));
  p->str = calloc((size_t)(p->n ? p->n : 1), sizeof(char *));
  if (!p->num || !p->str)
    return sm_fail(src->ctx, SM_ERR, "out of memory reading model parameters");

  /* each parameter from the file, or its declared default */
  for (int i = 0; i < p->n; i++) {
    const sm_param_desc *d = &ops->params[i];
    const cfg_node *node = cfg_get(map, d->name);
    char what[160];
    snprintf(what, sizeof what, "model.%s", d->name);
    if (node)
      SM_TRY(param_value(src, d, node, what, &p->num[i], &p->str[i]));
    else
      SM_TRY(param_default(src, d, ops->kind, &p->num[i], &p->str[i]));
  }

  /* the model's own check across parameters, at the key it names (or the model map) */
  const char *key = NULL;
  char why[256] = "";
  if (ops->check_params && ops->check_params(p, why, sizeof why, &key)) {
    const cfg_node *at = key ? cfg_get(map, key) : NULL;
    return cfg_error(src, at ? at : map, "model.%s: %s", key ? key : "kind", why);
  }
  return SM_OK;
}

int cfg_read_model(const cfg_source *src, const cfg_node *root, sm_model_spec *out) {
  const cfg_node *map = NULL, *kind_node = NULL;
  SM_TRY(cfg_require(src, root, "", "model", &map));
  SM_TRY(cfg_get_map(src, root, "", "model", &map));
  SM_TRY(cfg_require(src, map, "model", "kind", &kind_node));
  SM_TRY(cfg_string_value(src, kind_node, "model.kind", &out->kind));

  /* the kind decides which other keys exist */
  const sm_model_ops *ops = NULL;
  SM_TRY(find_model(src, kind_node, out->kind, &ops));
  const char **known = model_keys(ops);
  if (!known)
    return sm_fail(src->ctx, SM_ERR, "out of memory reading model parameters");
  int rc = cfg_check_keys(src, map, "model", known);
  free(known);
  SM_TRY(rc);
  return read_params(src, map, ops, &out->params);
}

void cfg_params_free(sm_params *p) {
  for (int i = 0; i < p->n && p->str; i++)
    free(p->str[i]);
  free(p->str);
  free(p->num);
  memset(p, 0, sizeof(*p));
}

/* A parameter's index; a name the model does not declare is a programming error. */
static int param_index(const sm_params *p, const char *name, int want_string) {
  for (int i = 0; i < p->n; i++)
    if (!strcmp(p->desc[i].name, name)) {
      if ((p->desc[i].type == SM_PARAM_STRING) == want_string)
        return i;
      break;
    }
  fprintf(stderr, "synthmpi: internal error: model parameter '%s' is not a declared %s\n", name,
          want_string ? "string" : "number");
  abort();
}

double sm_params_num(const sm_params *p, const char *name) {
  return p->num[param_index(p, name, 0)];
}

const char *sm_params_str(const sm_params *p, const char *name) {
  return p->str[param_index(p, name, 1)];
}
