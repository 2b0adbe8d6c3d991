/* Test fixtures for the CSV reader: a scratch folder, files written by rank 0, source
 * specs built by hand and columns gathered in global row order. */
#ifndef SYNTHMPI_TEST_CSV_FIXTURE_H
#define SYNTHMPI_TEST_CSV_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synthmpi/data.h"

/* A scratch folder made by rank 0 and known to every rank. */
static inline void fixture_tempdir(char *dir, size_t size) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    snprintf(dir, size, "/tmp/synthmpi_csv_XXXXXX");
    if (!mkdtemp(dir))
      dir[0] = '\0';
  }
  MPI_Bcast(dir, (int)size, MPI_CHAR, 0, MPI_COMM_WORLD);
}

/* Rank 0 writes the file; every rank gets its path. */
static inline const char *fixture_write(const char *dir, const char *name, const char *text,
                                        size_t len) {
  static char path[4096];
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (rank == 0) {
    FILE *f = fopen(path, "wb");
    if (f) {
      fwrite(text, 1, len, f);
      fclose(f);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return path;
}

/* Rank 0 removes the files written and the folder. */
static inline void fixture_cleanup(const char *dir, const char *const *names, int n) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank != 0)
    return;
  char path[4096];
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    unlink(path);
  }
  rmdir(dir);
}

/* A CSV source with a header, ',' and trimming; columns declared by the caller. */
static inline sm_source_spec fixture_spec(const char *path) {
  sm_source_spec s;
  static char *missing[] = {"?"};
  memset(&s, 0, sizeof s);
  s.path = (char *)path;
  s.format = "csv";
  s.header = 1;
  s.delimiter = ',';
  s.trim = 1;
  s.n_missing = 1;
  s.missing = missing;
  return s;
}

/* A column declaration of the given type (-1: inferred). */
static inline sm_column_spec fixture_column(const char *name, int type) {
  sm_column_spec c;
  memset(&c, 0, sizeof c);
  c.name = (char *)name;
  c.type = type;
  return c;
}

/* Rank 0 receives column j of every rank in global row order (malloc'd, n_rows_total
 * values); other ranks get NULL. Also checks that row offsets tile the rows. */
static inline double *fixture_gather(const sm_table *t, int j, int *offsets_ok) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int n = (int)t->n_rows, *counts = calloc((size_t)size, sizeof(int));
  int *displs = calloc((size_t)size, sizeof(int));
  long long off = t->row_offset, *offs = calloc((size_t)size, sizeof(long long));
  MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Gather(&off, 1, MPI_LONG_LONG, offs, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  double *all = rank == 0 ? calloc((size_t)t->n_rows_total + 1, sizeof(double)) : NULL;
  *offsets_ok = 1;
  for (int r = 0, at = 0; rank == 0 && r < size; r++) {
    displs[r] = at;
    *offsets_ok = *offsets_ok && offs[r] == at;
    at += counts[r];
  }
  MPI_Gatherv(t->values[j], n, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  free(counts);
  free(displs);
  free(offs);
  return all;
}

/* Every rank holds the same status and message. */
static inline int fixture_same_everywhere(int rc, const char *msg) {
  char first[SM_MSG_MAX];
  int rc0 = rc, same = 1;
  snprintf(first, sizeof first, "%s", msg);
  MPI_Bcast(&rc0, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Bcast(first, SM_MSG_MAX, MPI_CHAR, 0, MPI_COMM_WORLD);
  int mine = rc0 == rc && strcmp(first, msg) == 0;
  MPI_Allreduce(&mine, &same, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return same;
}

#endif
