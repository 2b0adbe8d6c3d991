/* Dense linear algebra for statistics: LAPACK on one rank's copy, or ScaLAPACK on a
 * block-cyclic grid over all ranks. Matrices are n x n, row-major, float64. */
#ifndef SYNTHMPI_LINALG_H
#define SYNTHMPI_LINALG_H

#include "synthmpi/core.h"

typedef enum sm_factor_method {
  SM_FACTOR_AUTO = 0, /* LAPACK below scalapack_min_columns, else ScaLAPACK */
  SM_FACTOR_LAPACK = 1,
  SM_FACTOR_SCALAPACK = 2
} sm_factor_method;

/* Collective. a holds the same symmetric positive definite matrix on every rank; on
 * return it holds the lower Cholesky factor L (a = L L^T, upper part zero) on every
 * rank. Returns SM_ERR with a message if a is not positive definite. */
int sm_cholesky(sm_ctx *ctx, double *a, int n, sm_factor_method method, int block_size);

/* Local. Make a symmetric matrix a valid correlation matrix: eigenvalues clipped at
 * min_eig, then rescaled to unit diagonal. Returns the number of clipped eigenvalues, or
 * minus a status code on failure (message in ctx). */
int sm_repair_correlation(sm_ctx *ctx, double *a, int n, double min_eig);

#endif
