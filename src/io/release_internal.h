/* Private: the pieces of the release writer shared by the plain and the conditioned release. */
#ifndef SYNTHMPI_IO_RELEASE_INTERNAL_H
#define SYNTHMPI_IO_RELEASE_INTERNAL_H

#include <signal.h>

#include "io/h5util.h"
#include "synthmpi/release.h"

/* The open partial file and one dataset per column. */
typedef struct release_writer {
  hid_t file;
  hid_t dxpl;   /* collective transfers */
  hid_t *dsets; /* (n_cols) /columns/<name> */
  int n_cols;
} release_writer;

/* A stop request and what a failed write leaves behind, shared by the writing loops. */
typedef struct release_stop {
  const volatile sig_atomic_t *stop; /* non-zero (set by a signal handler): stop at the next
                                      * chunk on every rank; may be NULL */
  int *broken;                       /* set when a collective write failed (the file cannot be
                                      * closed any more) */
  const char *path, *partial;        /* the release and the file being written */
} release_stop;

/* Rank 0 (other ranks: SM_OK). Room for a collective write of at most `rows` rows: the
 * free space of the partial file's file system and the file size limit, against their
 * uncompressed size and 1 MB of slack. A write that fails inside HDF5 cannot be undone (with
 * compression it can even block the ranks), so the writers stop before one that might not
 * fit. */
int sm_release_room(sm_ctx *ctx, const release_stop *halt, const sm_schema *s, int64_t rows);

/* Local. In place: the sampled float64 values of t's n_rows rows become their stored types
 * (row0 is the global index of t's first row, for messages). */
int sm_release_chunk_to_disk(sm_ctx *ctx, sm_table *t, int64_t row0);
/* Collective. Write t's first n rows as global rows [row0, row0 + n) of every column;
 * n = 0 takes part in the collective write with nothing. */
int sm_release_write_slab(sm_ctx *ctx, const release_writer *w, const sm_table *t, int64_t row0,
                          int64_t n);

/* Collective. Fill the release with rows of the model that match sampling.conditions. */
int sm_release_write_conditioned(sm_ctx *ctx, const release_writer *w, const sm_experiment *e,
                                 const sm_model *model, const release_stop *halt);

#endif
