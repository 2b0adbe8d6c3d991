/* Releases, fitted-model files and exports, in parallel HDF5.
 *
 * Release layout (format version 1):
 *   /                     attributes: format ("synthmpi-release"), format_version, version,
 *                         rows, seed, model, created, experiment (resolved YAML),
 *                         schema (JSON), columns (names in order)
 *   /columns/<name>       one dataset per column, (rows,), chunked by sampling.chunk_rows:
 *                         continuous, datetime: float64 (missing: NaN)
 *                         integer: int64 (missing: INT64_MIN)
 *                         categorical, boolean: int32 codes (missing: -1)
 *                         attributes: type, and datetime: format
 *   /categories/<name>    categorical/boolean dictionaries, fixed-length strings
 * The file is written as <path>.partial and renamed when complete.
 */
#ifndef SYNTHMPI_RELEASE_H
#define SYNTHMPI_RELEASE_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "synthmpi/config.h"
#include "synthmpi/model.h"
#include "synthmpi/table.h"

/* Collective. Generate sampling.rows rows with the model (each rank its block of rows,
 * in chunks of sampling.chunk_rows) and write them collectively to path. With
 * sampling.conditions, the rows are the model's rows that match them (release_conditional.c). */
int sm_release_write(sm_ctx *ctx, const sm_experiment *e, const sm_model *model, const char *path);

/* Local. Every sampling.condition names a categorical or boolean column of s and one of its
 * categories; SM_EINPUT at the condition's position otherwise. */
int sm_release_check_conditions(sm_ctx *ctx, const sm_experiment *e, const sm_schema *s);

/* Collective. As sm_release_write, and stops between chunks once *stop (set by a signal
 * handler) is non-zero on any rank: the unfinished file is removed and SM_ERR returned
 * with a message saying so. stop may be NULL. */
int sm_release_write_until(sm_ctx *ctx, const sm_experiment *e, const sm_model *model,
                           const char *path, const volatile sig_atomic_t *stop);

/* Collective. Read this rank's block of the rows of a release (all columns). */
int sm_release_read(sm_ctx *ctx, const char *path, sm_table *out);

/* Collective. Print schema, provenance and size of a release or model file. */
int sm_release_inspect(sm_ctx *ctx, const char *path, FILE *out);

/* Collective. Write a release as CSV (header line, then rows in global order). */
int sm_release_export_csv(sm_ctx *ctx, const char *path, const char *csv_path);

/* Collective. Save a fitted model with its schema and the resolved experiment. */
int sm_model_save(sm_ctx *ctx, const sm_model *m, const sm_experiment *e, const char *path);
/* Collective. Load a fitted model; fails with SM_EINPUT if the file is not one. */
int sm_model_load(sm_ctx *ctx, const char *path, sm_model *m);

#endif
