/* Readers: each rank reads its own part of an input file into a column table. */
#ifndef SYNTHMPI_DATA_H
#define SYNTHMPI_DATA_H

#include "synthmpi/config.h"
#include "synthmpi/table.h"

/* Collective. Read a source (CSV) in parallel: every rank reads its own byte range and
 * ranks agree on row boundaries (also across quoted newlines). Column types come from
 * the declared columns or are inferred; categories are merged across ranks into one
 * sorted dictionary.
 *
 * fixed: NULL to build the schema from the data; otherwise the schema to read into
 * (a holdout file read against the training schema); a category the dictionary lacks
 * becomes missing and is counted in a warning.
 *
 * Bad input returns SM_EINPUT with "path:line: ..." in ctx->msg. */
int sm_read_source(sm_ctx *ctx, const sm_source_spec *src, const sm_schema *fixed, sm_table *out);

/* Collective. Split rows into train and holdout by a seeded hash of the global row
 * index (independent of the number of ranks). Both outputs get fresh row offsets. */
int sm_split_fraction(sm_ctx *ctx, const sm_table *all, double fraction, uint64_t seed,
                      sm_table *train, sm_table *holdout);

/* Rank 0 logs the schema: name, type and categories or range of each column. */
void sm_schema_log(const sm_ctx *ctx, const sm_schema *s);

/* Format one value of column c as text (missing: empty string). Returns the length. */
int sm_format_value(const sm_column *c, double v, char *buf, int size);

#endif
