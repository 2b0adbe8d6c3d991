/* Test fixture: the Adult census table read with a minimal comma splitter (not the
 * product's CSV reader). "?" is missing; categorical dictionaries are sorted. */
#ifndef SYNTHMPI_TEST_ADULT_FIXTURE_H
#define SYNTHMPI_TEST_ADULT_FIXTURE_H

#include "synthmpi/table.h"

/* Read every row of path into full (all ranks read the same file). Returns 0 on success. */
int adult_read(sm_ctx *ctx, const char *path, sm_table *full);

/* Copy rows [lo, hi) of full into part, with row_offset lo. */
int table_slice(sm_ctx *ctx, const sm_table *full, int64_t lo, int64_t hi, sm_table *part);

#endif
