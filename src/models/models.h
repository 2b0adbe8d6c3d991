/* Private: the operation tables of the built-in models, one per file in models/. */
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

#endif
