/* Test helper: the Adult census files, read by the product's reader through the
 * experiment configs/adult-copula.yaml pointed at the real data ($SYNTHMPI_DATA). */
#ifndef SYNTHMPI_TEST_ADULT_H
#define SYNTHMPI_TEST_ADULT_H

#include "synthmpi/config.h"
#include "synthmpi/table.h"

/* Collective on ctx->comm. Load configs/adult-copula.yaml (under $SYNTHMPI_SOURCE_DIR) with
 * data.path and holdout.path set to the real Adult files, then the given "key=value"
 * overrides. Returns an sm_status code; the caller frees e with sm_experiment_free. */
int test_adult_experiment(sm_ctx *ctx, int n_overrides, const char *const *overrides,
                          sm_experiment *e);

/* Collective on ctx->comm. Read adult.data into train and, when holdout is not NULL,
 * adult.test against the training schema, as the synthmpi program does; each rank gets
 * its block of rows. */
int test_adult_read(sm_ctx *ctx, const sm_experiment *e, sm_table *train, sm_table *holdout);

/* Local. Read all of adult.data on this rank alone (a context on MPI_COMM_SELF, warnings
 * kept quiet), as a one-rank run would; a failure is recorded in ctx. */
int test_adult_read_all(sm_ctx *ctx, const sm_experiment *e, sm_table *full);

/* This rank's block (by sm_partition over ctx) of a table every rank holds whole. */
int test_table_block(sm_ctx *ctx, const sm_table *full, sm_table *part);

#endif
