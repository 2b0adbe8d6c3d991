/* A test-only model and file utilities for the io tests.
 *
 * Every value of the test model is a fixed function of (seed, row), drawn from the
 * Philox stream SM_STREAM_TEST, so the expected release can be recomputed serially.
 * Columns: x continuous (scaled normal), n integer, c categorical (names that need CSV
 * quoting), b boolean, d datetime, "price, usd" continuous; all but the last have
 * missing values.
 */
#ifndef SYNTHMPI_TESTS_IO_TESTMODEL_H
#define SYNTHMPI_TESTS_IO_TESTMODEL_H

#include <stdint.h>

#include "synthmpi/config.h"
#include "synthmpi/model.h"

#define TEST_COLS 6

typedef struct test_model_state {
  double scale;     /* multiplies column x */
  int64_t fail_row; /* sample fails when asked for this row; -1: never */
} test_model_state;

extern const sm_model_ops test_model_ops;

/* The values of one row, as the model samples them (NaN = missing). */
void test_model_row(uint64_t seed, int64_t row, double scale, double out[TEST_COLS]);

/* A fitted test model (state malloc'd; free with sm_model_free). */
int test_model_make(sm_model *m, double scale, int64_t fail_row);

/* An experiment filled by hand for the release writer; free with test_experiment_free. */
void test_experiment(sm_experiment *e, int64_t rows, uint64_t seed, int64_t chunk_rows,
                     int compression);
void test_experiment_free(sm_experiment *e);

/* Start a test program: MPI_Init, ctx on MPI_COMM_WORLD and a fresh directory under /tmp
 * (its name malloc'd, NULL when it could not be made). test_io_end removes the directory
 * and frees both; MPI_Finalize is left to test_finish. */
char *test_io_begin(int *argc, char ***argv, sm_ctx *ctx);
void test_io_end(sm_ctx *ctx, char *dir);

/* Rank 0 makes a fresh directory under /tmp; every rank gets its name (malloc'd). */
char *test_tmpdir(MPI_Comm comm);
/* Rank 0 removes a directory tree. */
void test_rmtree(MPI_Comm comm, const char *dir);
/* "<dir>/<name>" in a static buffer per call slot (0..3). */
const char *test_path(int slot, const char *dir, const char *name);
/* 1 when path exists. */
int test_exists(const char *path);
/* FNV-1a of a whole file's bytes (0 when unreadable). */
uint64_t test_file_hash(const char *path);

/* Serial (this rank alone, default file driver): compare every column dataset of a
 * release with the test model's values, as stored (int64 / int32 codes / float64).
 * Returns the number of mismatches (or -1 when unreadable); *checksum: FNV-1a over the
 * stored bytes of all columns in order. */
long test_check_release(const char *path, uint64_t seed, int64_t rows, double scale,
                        uint64_t *checksum);

#endif
