/* Private: the operation tables of the built-in models, one per file in models/, and the
 * optional hooks some of them add (found by sm_model_find_hooks, registry.c). */
#ifndef SYNTHMPI_MODELS_MODELS_H
#define SYNTHMPI_MODELS_MODELS_H

#include "synthmpi/model.h"

extern const sm_model_ops sm_model_gaussian_copula; /* copula.c */
extern const sm_model_ops sm_model_tvae;            /* tvae.c */
extern const sm_model_ops sm_model_mst;             /* mst.c */
extern const sm_model_ops sm_model_hap_markov;      /* genome/hap_markov.c */
extern const sm_model_ops sm_model_ctgan;           /* ctgan.c */
extern const sm_model_ops sm_model_hap_vae;         /* genome/hap_vae.c */
extern const sm_model_ops sm_model_realnvp;         /* realnvp.c */
extern const sm_model_ops sm_model_tabddpm;         /* tabddpm.c */

/* Optional operations beyond sm_model_ops, for the models that have them. */
typedef struct sm_model_hooks {
  const sm_model_ops *ops; /* the model they belong to */

  /* Local. When the model can fix its conditional vector to category `code` of schema
   * column `col`: the training rows with that category (as the model counted them, >= 0);
   * otherwise -1. */
  double (*given_count)(const void *state, int col, int code);

  /* Local (no communication). As sample, with every row's conditional vector fixed to
   * category `code` of column `col` (given_count >= 0 for it). Row i's values depend only on
   * (seed, i, col, code), so any range gives the same rows; the model does not promise that
   * they have the category. SM_EINPUT when the model cannot fix it. */
  int (*sample_given)(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, int col,
                      int code, sm_table *out);

  /* Local. Takes the sampling-time settings of an experiment's model section (the same
   * kind) into a loaded model, where they differ from what was saved; a setting left at
   * its default keeps the saved value. */
  void (*sampling_settings)(void *state, const sm_params *p);
} sm_model_hooks;

/* The hooks of the model with these operations, or NULL when it has none. */
const sm_model_hooks *sm_model_find_hooks(const sm_model_ops *ops);

/* Local. The sampling-time settings of spec (an experiment's model section) taken into the
 * loaded model m when spec names m's kind and the model has such settings. */
void sm_model_sampling_settings(sm_model *m, const sm_model_spec *spec);

/* CTGAN's hooks (ctgan_sample.c): its conditional vector holds every categorical and boolean
 * column. */
double sm_ctgan_given_count(const void *state, int col, int code);
int sm_ctgan_sample_given(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, int col,
                          int code, sm_table *out);

/* TabDDPM's hook (tabddpm.c): model.sample_steps, when set, replaces the saved count. */
void sm_tabddpm_sampling_settings(void *state, const sm_params *p);

#endif
