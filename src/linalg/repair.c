/* Repair of an estimated correlation matrix to a positive definite one. */
#include "synthmpi/linalg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/lapack.h"

/* Rounds of clip-and-rescale; the second round only mends rescaling's small drift. */
#define REPAIR_ROUNDS 8

/* Eigen-decomposition of the symmetric a (left intact): w ascending, v row k = vector k. */
static int eigen(sm_ctx *ctx, const double *a, int n, double *w, double *v) {
  int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
  double work_query = 0;
  memcpy(v, a, (size_t)n * n * sizeof(double));

  /* workspace query, then the decomposition (column-major view of v is a^T = a) */
  SM_LAPACK_CHECK(
      ctx, dsyevd_("V", "L", &n, v, &n, w, &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1),
      info);
  lwork = (int)work_query;
  liwork = iwork_query;
  double *work = sm_malloc(ctx, (size_t)lwork * sizeof(double));
  int *iwork = sm_malloc(ctx, (size_t)liwork * sizeof(int));
  if (work && iwork)
    dsyevd_("V", "L", &n, v, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
  free(work);
  free(iwork);
  if (!work || !iwork)
    return SM_ERR;
  if (info != 0)
    return sm_fail_lapack(ctx, info, "dsyevd_", __FILE__, __LINE__);
  return SM_OK;
}

/* When an eigenvalue of a is below trigger: a = V^T diag(w) V with w clipped at min_eig,
 * then scaled to unit diagonal; else a is left as it is. *clipped counts eigenvalues
 * below trigger. */
static int clip_round(sm_ctx *ctx, double *a, int n, double min_eig, double trigger, double *w,
                      double *v, double *scaled, int *clipped) {
  SM_TRY(eigen(ctx, a, n, w, v));
  *clipped = 0;
  for (int k = 0; k < n; k++)
    *clipped += w[k] < trigger;
  if (*clipped == 0)
    return SM_OK;

  /* clip and rebuild: scaled = diag(w) V, a = V^T scaled */
  for (int k = 0; k < n; k++) {
    if (w[k] < min_eig)
      w[k] = min_eig;
    for (int i = 0; i < n; i++)
      scaled[(size_t)k * n + i] = w[k] * v[(size_t)k * n + i];
  }
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, n, 1.0, v, n, scaled, n, 0.0, a, n);

  /* back to unit diagonal, exactly symmetric */
  for (int i = 0; i < n; i++)
    w[i] = 1.0 / sqrt(a[(size_t)i * n + i]);
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < i; j++) {
      double c = 0.5 * (a[(size_t)i * n + j] + a[(size_t)j * n + i]) * w[i] * w[j];
      a[(size_t)i * n + j] = a[(size_t)j * n + i] = c;
    }
    a[(size_t)i * n + i] = 1.0;
  }
  return SM_OK;
}

int sm_repair_correlation(sm_ctx *ctx, double *a, int n, double min_eig) {
  if (n <= 0)
    return 0;
  for (size_t k = 0; k < (size_t)n * n; k++)
    if (!isfinite(a[k]))
      return -sm_fail(ctx, SM_ERR, "correlation matrix holds a non-finite value");
  double *w = sm_malloc(ctx, (size_t)n * sizeof(double));
  double *v = sm_malloc(ctx, (size_t)n * n * sizeof(double));
  double *scaled = sm_malloc(ctx, (size_t)n * n * sizeof(double));

  /* rescaling can pull an eigenvalue a hair under the floor: repeat until it holds */
  int first = -1, rc = (w && v && scaled) ? SM_OK : SM_ERR;
  for (int round = 0; rc == SM_OK && round < REPAIR_ROUNDS; round++) {
    int clipped = 0;
    double trigger = round == 0 ? min_eig : min_eig * (1.0 - 1e-9);
    rc = clip_round(ctx, a, n, min_eig, trigger, w, v, scaled, &clipped);
    if (first < 0)
      first = clipped;
    if (clipped == 0)
      break;
  }
  free(w);
  free(v);
  free(scaled);
  return rc == SM_OK ? first : -rc;
}
