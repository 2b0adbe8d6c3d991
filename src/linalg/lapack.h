/* Private: LAPACK and ScaLAPACK entry points (no C headers ship for them here) and the
 * one check macro for their `info` results.
 *
 * Fortran routines take every argument by reference and a hidden length for each
 * character argument, passed last.
 */
#ifndef SYNTHMPI_LINALG_LAPACK_H
#define SYNTHMPI_LINALG_LAPACK_H

#include <stddef.h>

#include "synthmpi/core.h"

void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
             const int *lda, const double *vl, const double *vu, const int *il, const int *iu,
             const double *abstol, int *m, double *w, double *z, const int *ldz, int *isuppz,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t range_len, size_t uplo_len);

/* BLACS and ScaLAPACK */
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int context);
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ictxt, const int *lld, int *info);
void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, int *info, size_t uplo_len);

/* Record a LAPACK-style failure (info != 0) in words: a bad argument when info < 0,
 * the routine's own meaning of a positive info otherwise. */
int sm_fail_lapack(sm_ctx *ctx, int info, const char *call, const char *file, int line);

/* The check macro for LAPACK and ScaLAPACK: `call` sets `info`; non-zero is failure. */
#define SM_LAPACK_CHECK(ctx, call, info)                                                           \
  do {                                                                                             \
    call;                                                                                          \
    if ((info) != 0)                                                                               \
      return sm_fail_lapack((ctx), (info), #call, __FILE__, __LINE__);                             \
  } while (0)

#endif
