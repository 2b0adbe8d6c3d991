/* Cholesky factor of a symmetric positive definite matrix held on every rank: LAPACK
 * on each rank's copy, or ScaLAPACK on a block-cyclic grid over all ranks. */
#include "synthmpi/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/lapack.h"

/* With SM_FACTOR_AUTO and no caller's threshold: ScaLAPACK from this size on. */
#define SCALAPACK_MIN_COLUMNS 64

int sm_fail_lapack(sm_ctx *ctx, int info, const char *call, const char *file, int line) {
  char words[160];
  if (info < 0)
    snprintf(words, sizeof words, "argument %d had an illegal value", -info);
  else if (strstr(call, "potrf"))
    snprintf(words, sizeof words, "the leading minor of order %d is not positive definite", info);
  else if (strstr(call, "syevd"))
    snprintf(words, sizeof words, "the eigensolver did not converge (info %d)", info);
  else
    snprintf(words, sizeof words, "info %d", info);
  return sm_fail(ctx, SM_ERR, "%s:%d: %s failed: %s", file, line, call, words);
}

/* Zero the strict upper triangle of a row-major n x n matrix. */
static void zero_upper(double *a, int n) {
  for (int i = 0; i < n; i++)
    memset(a + (size_t)i * n + i + 1, 0, (size_t)(n - i - 1) * sizeof(double));
}

/* Local: factor this rank's copy. Row-major lower L is column-major upper U = L^T. */
static int cholesky_lapack(sm_ctx *ctx, double *a, int n) {
  int info = 0, lda = n > 0 ? n : 1;
  if (n > 0)
    SM_LAPACK_CHECK(ctx, dpotrf_("U", &n, a, &lda, &info, 1), info);
  zero_upper(a, n);
  return SM_OK;
}

/* The most nearly square grid nprow x npcol = size with nprow <= npcol. */
static void grid_shape(int size, int *nprow, int *npcol) {
  int r = (int)sqrt((double)size);
  while (r > 1 && size % r != 0)
    r--;
  *nprow = r < 1 ? 1 : r;
  *npcol = size / *nprow;
}

/* Global index of local index l in a block-cyclic distribution. */
static int global_index(int l, int nb, int p, int nprocs) {
  return (l / nb) * nb * nprocs + p * nb + l % nb;
}

/* Copy between the full row-major matrix and this process's column-major local blocks.
 * to_local: fill the local blocks; else add the local lower triangle into full. */
static void exchange_blocks(double *full, double *local, int n, int nb, int mloc, int nloc,
                            int myrow, int mycol, int nprow, int npcol, int to_local) {
  int lld = mloc > 0 ? mloc : 1;
  for (int lj = 0; lj < nloc; lj++) {
    int j = global_index(lj, nb, mycol, npcol);
    for (int li = 0; li < mloc; li++) {
      int i = global_index(li, nb, myrow, nprow);
      if (to_local)
        local[(size_t)lj * lld + li] = full[(size_t)i * n + j];
      else if (i >= j)
        full[(size_t)i * n + j] = local[(size_t)lj * lld + li];
    }
  }
}

/* Collective: factor on the grid; every rank's a receives the full L. The grid is
 * released before returning, whatever the outcome. */
static int cholesky_scalapack(sm_ctx *ctx, double *a, int n, int block_size) {
  int nprow, npcol, myrow, mycol, zero = 0, one = 1, info = 0;
  int nb = block_size > 0 ? block_size : 32;
  grid_shape(ctx->size, &nprow, &npcol);

  /* a BLACS grid on this job's communicator, row-major process order */
  int handle = Csys2blacs_handle(ctx->comm), ictxt = handle;
  Cblacs_gridinit(&ictxt, "Row", nprow, npcol);
  Cblacs_gridinfo(ictxt, &nprow, &npcol, &myrow, &mycol);

  /* local blocks of the block-cyclic layout */
  int mloc = numroc_(&n, &nb, &myrow, &zero, &nprow);
  int nloc = numroc_(&n, &nb, &mycol, &zero, &npcol);
  int lld = mloc > 0 ? mloc : 1, desc[9];
  double *local = calloc((size_t)lld * (size_t)(nloc > 0 ? nloc : 1), sizeof(double));
  int rc = local ? SM_OK : sm_fail(ctx, SM_ERR, "out of memory for ScaLAPACK blocks");
  rc = sm_agree(ctx, rc);

  /* factor: pdpotrf's info is the same on every process of the grid */
  if (rc == SM_OK) {
    descinit_(desc, &n, &n, &nb, &nb, &zero, &zero, &ictxt, &lld, &info);
    rc = info ? sm_fail_lapack(ctx, info, "descinit_", __FILE__, __LINE__) : SM_OK;
  }
  if (rc == SM_OK) {
    exchange_blocks(a, local, n, nb, mloc, nloc, myrow, mycol, nprow, npcol, 1);
    pdpotrf_("L", &n, local, &one, &one, desc, &info, 1);
    rc = info ? sm_fail_lapack(ctx, info, "pdpotrf_", __FILE__, __LINE__) : SM_OK;
  }
  Cblacs_gridexit(ictxt);
  Cfree_blacs_system_handle(handle);
  rc = sm_agree(ctx, rc);
  if (rc != SM_OK) {
    free(local);
    return rc;
  }

  /* reassemble: each entry of L lives on exactly one process, so the sum is exact */
  memset(a, 0, (size_t)n * n * sizeof(double));
  exchange_blocks(a, local, n, nb, mloc, nloc, myrow, mycol, nprow, npcol, 0);
  free(local);
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, a, n * n, MPI_DOUBLE, MPI_SUM, ctx->comm));
  return SM_OK;
}

int sm_cholesky(sm_ctx *ctx, double *a, int n, sm_factor_method method, int block_size) {
  if (method == SM_FACTOR_AUTO)
    method = n >= SCALAPACK_MIN_COLUMNS ? SM_FACTOR_SCALAPACK : SM_FACTOR_LAPACK;
  if (method == SM_FACTOR_SCALAPACK && n > 0)
    return cholesky_scalapack(ctx, a, n, block_size);
  return cholesky_lapack(ctx, a, n);
}
