/* Test helper: configs/adult-ctgan-dp.yaml on the real Adult files, and a private CTGAN
 * session set up to its first step. */
#ifndef SYNTHMPI_TEST_CTGAN_DP_FIXTURE_H
#define SYNTHMPI_TEST_CTGAN_DP_FIXTURE_H

#include "models/ctgan.h"
#include "synthmpi/config.h"
#include "synthmpi/ledger.h"

/* Collective. The experiment with data.path and holdout.path set to $SYNTHMPI_DATA's Adult
 * files, then the n_extra "key=value" overrides. */
int ctgan_dp_load(sm_ctx *ctx, int n_extra, const char *const *extra, sm_experiment *e);

/* Collective. sm_ctgan_begin with the experiment's privacy section; the ledger in *l. */
int ctgan_dp_begin(sm_ctx *ctx, const sm_experiment *e, const sm_table *train, sm_ledger *l,
                   ctgan_session *s);

#endif
