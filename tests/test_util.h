/* Small helpers for synthmpi's test programs (C, run under mpiexec). */
#ifndef SYNTHMPI_TEST_UTIL_H
#define SYNTHMPI_TEST_UTIL_H

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Failures counted per rank; TEST_FINISH agrees across ranks and returns the exit code. */
static int test_failures = 0;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                     \
      test_failures++;                                                                             \
    }                                                                                              \
  } while (0)

/* Numeric check that names its tolerance and prints the difference. */
#define CHECK_CLOSE(got, want, tol)                                                                \
  do {                                                                                             \
    double g_ = (got), w_ = (want), d_ = fabs(g_ - w_);                                            \
    if (!(d_ <= (tol))) {                                                                          \
      fprintf(stderr, "%s:%d: %s = %.12g, want %.12g (diff %.3g > tol %.3g)\n", __FILE__,          \
              __LINE__, #got, g_, w_, d_, (double)(tol));                                          \
      test_failures++;                                                                             \
    }                                                                                              \
  } while (0)

/* Path of a real data file: $SYNTHMPI_DATA/<rel>. */
static inline const char *test_data(const char *rel) {
  static char buf[4096];
  const char *dir = getenv("SYNTHMPI_DATA");
  snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "../shared/data", rel);
  return buf;
}

/* A new directory /tmp/<prefix>_XXXXXX made by rank 0, its name on every rank (malloc'd;
 * "" when it could not be made). */
static inline char *test_mkdtemp(const char *prefix) {
  char dir[256];
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  snprintf(dir, sizeof dir, "/tmp/%s_XXXXXX", prefix);
  if (rank == 0 && !mkdtemp(dir))
    dir[0] = '\0';
  MPI_Bcast(dir, (int)sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  char *copy = malloc(strlen(dir) + 1);
  if (copy)
    strcpy(copy, dir);
  return copy;
}

static inline int test_finish(void) {
  int all = 0, rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Allreduce(&test_failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0)
    printf("%s\n", all ? "FAILED" : "ok");
  MPI_Finalize();
  return all ? 1 : 0;
}

#endif
