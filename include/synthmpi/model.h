/* Generators behind one interface, registered by name (model.kind in the experiment). */
#ifndef SYNTHMPI_MODEL_H
#define SYNTHMPI_MODEL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "synthmpi/config.h"
#include "synthmpi/ledger.h"
#include "synthmpi/table.h"

/* How a fit runs: seeds, checkpoints and the stop request of a signal. */
typedef struct sm_fit_options {
  const char *checkpoint;            /* checkpoint file, or NULL for none */
  int checkpoint_every;              /* epochs between checkpoints; 0: only when stopped */
  int resume;                        /* continue from the checkpoint (refused if it is missing or
                                      * was written by a different experiment) */
  uint64_t experiment_hash;          /* identifies the data and model settings of the experiment */
  const volatile sig_atomic_t *stop; /* becomes non-zero on SIGTERM/SIGUSR1: checkpoint and return
                                      * SM_EINTERRUPTED at the next step (checked collectively) */
  const sm_privacy_spec *privacy;    /* private run settings, or NULL */
  sm_ledger *ledger;                 /* private runs: the fit records what it spends here (it
                                      * is saved in checkpoints and continues on resume) */
} sm_fit_options;

/* The differentially private fit of a model, which decides the privacy settings it reads:
 * DP-SGD reads all of them; zCDP (MST) only epsilon, delta and reproducible. */
typedef enum sm_model_privacy {
  SM_MODEL_NOT_PRIVATE = 0, /* no private fit: a privacy section is refused */
  SM_MODEL_DP_SGD,
  SM_MODEL_ZCDP,
} sm_model_privacy;

typedef struct sm_model_ops {
  const char *kind;            /* name used in model.kind */
  const char *summary;         /* one line for --help and the docs */
  const sm_param_desc *params; /* declared parameters (model.<name> in YAML) */
  int n_params;

  /* Collective. Fit on the rank-local training rows; *state is owned by the caller
   * and released with free_state. */
  int (*fit)(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
             const sm_table *train, void **state);

  /* Local (no communication). Fill global release rows [row0, row0 + out->n_rows) of
   * out, whose schema is the training schema. Row i's values depend only on (seed, i). */
  int (*sample)(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, sm_table *out);

  /* Save to / load from an open HDF5 group (hid_t passed as int64_t). Collective:
   * every rank calls with the same state; loading gives every rank the full state. */
  int (*save)(sm_ctx *ctx, const void *state, int64_t group);
  int (*load)(sm_ctx *ctx, int64_t group, void **state);

  void (*free_state)(void *state);

  sm_model_privacy private_fit; /* its private fit, if any */
  /* Optional (may be NULL): a check across parameters, run when the experiment is read.
   * Returns 0 when the parameters are consistent, else non-zero with a message in why;
   * *key names the parameter whose location the error points at (the model section's
   * when that parameter is not written in the file). */
  int (*check_params)(const sm_params *p, char *why, size_t size, const char **key);
} sm_model_ops;

/* A fitted model: its operations, state and the schema it was fitted on. */
typedef struct sm_model {
  const sm_model_ops *ops;
  void *state;
  sm_schema schema;
  sm_ledger ledger; /* private runs: what the fit spent (n == 0 when not private) */
} sm_model;

/* The registry. Returns NULL when the kind is unknown. */
const sm_model_ops *sm_model_find(const char *kind);
/* All registered models, NULL-terminated. */
const sm_model_ops *const *sm_model_list(void);

void sm_model_free(sm_model *m);

#endif
