/* Private: the sections of the experiment, read from the tree into the public struct. */
#ifndef SYNTHMPI_CONFIG_INTERNAL_H
#define SYNTHMPI_CONFIG_INTERNAL_H

#include "config/read.h"
#include "synthmpi/config.h"

/* data: and holdout:. base is the absolute directory that relative paths are resolved
 * against (the experiment file's). */
int cfg_read_data(const cfg_source *src, const cfg_node *root, const char *base,
                  sm_source_spec *out);
int cfg_read_holdout(const cfg_source *src, const cfg_node *root, const char *base,
                     const sm_source_spec *data, sm_holdout_spec *out);
void cfg_source_free(sm_source_spec *s);

/* model: the kind and its declared parameters. */
int cfg_read_model(const cfg_source *src, const cfg_node *root, sm_model_spec *out);
void cfg_params_free(sm_params *p);

/* privacy: absent leaves out->enabled 0. */
#define SM_PRIVACY_MAX_SIGMA 1e6
int cfg_read_privacy(const cfg_source *src, const cfg_node *root, sm_privacy_spec *out);
void cfg_privacy_free(sm_privacy_spec *p);

/* sampling.conditions and sampling.max_candidates (conditions.c). */
int cfg_read_conditions(const cfg_source *src, const cfg_node *sampling, sm_sampling_spec *out);
void cfg_conditions_free(sm_sampling_spec *s);
/* A condition on a declared column, checked against the declaration. */
int cfg_check_condition(const cfg_source *src, const sm_source_spec *data, const sm_condition *c);

/* sweep: dotted keys and their values (sweep.c). */
int cfg_read_sweep(const cfg_source *src, const cfg_node *root, sm_sweep_spec *out);
void cfg_sweep_free(sm_sweep_spec *s);

/* The experiment as YAML text that loads back to the same struct (malloc'd). */
int cfg_write_resolved(sm_ctx *ctx, const sm_experiment *e, char **out);

/* Log level names, indexed by SM_LOG_*. */
extern const char *const cfg_log_level_names[4];

#endif
