/* The model registry: model.kind in the experiment picks one of these. */
#include "synthmpi/model.h"

#include <stdlib.h>
#include <string.h>

#include "models/models.h"

static const sm_model_ops *const registry[] = {
    &sm_model_gaussian_copula, &sm_model_tvae,    &sm_model_mst,
    &sm_model_hap_markov,      &sm_model_ctgan,   &sm_model_hap_vae,
    &sm_model_realnvp,         &sm_model_tabddpm, NULL};

/* The optional hooks, by model. */
static const sm_model_hooks hooks[] = {
    {&sm_model_ctgan, sm_ctgan_given_count, sm_ctgan_sample_given, NULL},
    {&sm_model_tabddpm, NULL, NULL, sm_tabddpm_sampling_settings},
};

const sm_model_ops *const *sm_model_list(void) {
  return registry;
}

const sm_model_ops *sm_model_find(const char *kind) {
  for (int i = 0; registry[i]; i++)
    if (kind && strcmp(registry[i]->kind, kind) == 0)
      return registry[i];
  return NULL;
}

const sm_model_hooks *sm_model_find_hooks(const sm_model_ops *ops) {
  for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++)
    if (ops && hooks[i].ops == ops)
      return &hooks[i];
  return NULL;
}

void sm_model_sampling_settings(sm_model *m, const sm_model_spec *spec) {
  const sm_model_hooks *h = sm_model_find_hooks(m->ops);
  if (!h || !h->sampling_settings || !spec->kind || strcmp(spec->kind, m->ops->kind) != 0)
    return;
  h->sampling_settings(m->state, &spec->params);
}

void sm_model_free(sm_model *m) {
  if (!m)
    return;
  if (m->ops && m->state)
    m->ops->free_state(m->state);
  sm_schema_free(&m->schema);
  sm_ledger_free(&m->ledger);
  memset(m, 0, sizeof(*m));
}
