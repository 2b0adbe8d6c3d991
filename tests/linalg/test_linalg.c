/* sm_cholesky (LAPACK and ScaLAPACK) and sm_repair_correlation on every rank count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/lapack.h"
#include "synthmpi/linalg.h"
#include "synthmpi/rng.h"
#include "test_util.h"

/* The same random SPD matrix on every rank: B B^T / n + I. */
static void random_spd(double *a, int n, uint64_t seed) {
  double *b = malloc((size_t)n * n * sizeof(double));
  sm_rng rng;
  sm_rng_init(&rng, seed, SM_STREAM_TEST, (uint64_t)n);
  for (int k = 0; k < n * n; k++)
    b[k] = 2.0 * sm_rng_uniform(&rng) - 1.0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = i == j ? 1.0 : 0.0;
      for (int k = 0; k < n; k++)
        s += b[i * n + k] * b[j * n + k] / n;
      a[i * n + j] = s;
    }
  free(b);
}

/* Largest |L L^T - a| relative to max |a|, by a plain triple loop. */
static double reconstruction_error(const double *l, const double *a, int n) {
  double worst = 0, scale = 0;
  for (int k = 0; k < n * n; k++)
    scale = fmax(scale, fabs(a[k]));
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < n; k++)
        s += l[i * n + k] * l[j * n + k];
      worst = fmax(worst, fabs(s - a[i * n + j]));
    }
  return worst / scale;
}

static void check_cholesky(sm_ctx *ctx, int n, int block) {
  size_t bytes = (size_t)n * n * sizeof(double);
  double *a = malloc(bytes), *la = malloc(bytes), *ls = malloc(bytes);
  random_spd(a, n, 42);
  memcpy(la, a, bytes);
  memcpy(ls, a, bytes);
  CHECK(sm_cholesky(ctx, la, n, SM_FACTOR_LAPACK, block) == SM_OK);
  CHECK(sm_cholesky(ctx, ls, n, SM_FACTOR_SCALAPACK, block) == SM_OK);

  /* both factors agree, are lower triangular and reproduce a */
  double diff = 0, upper = 0, scale = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      diff = fmax(diff, fabs(la[i * n + j] - ls[i * n + j]));
      scale = fmax(scale, fabs(la[i * n + j]));
      if (j > i)
        upper = fmax(upper, fabs(la[i * n + j]) + fabs(ls[i * n + j]));
    }
  double err_lapack = reconstruction_error(la, a, n),
         err_scalapack = reconstruction_error(ls, a, n);
  if (ctx->rank == 0)
    printf("n=%3d nb=%2d: max|L_lapack - L_scalapack|/max|L| = %.3g, "
           "reconstruction %.3g / %.3g\n",
           n, block, diff / scale, err_lapack, err_scalapack);
  CHECK_CLOSE(diff / scale, 0.0, 1e-10);
  CHECK_CLOSE(upper, 0.0, 0.0);
  CHECK_CLOSE(err_lapack, 0.0, 1e-12);
  CHECK_CLOSE(err_scalapack, 0.0, 1e-12);
  free(a);
  free(la);
  free(ls);
}

/* A matrix that is not positive definite fails on every rank with a message. */
static void check_not_pd(sm_ctx *ctx, sm_factor_method method) {
  double a[9] = {1, 0.9, 0.9, 0.9, 1, -0.9, 0.9, -0.9, 1};
  ctx->msg[0] = '\0';
  int rc = sm_cholesky(ctx, a, 3, method, 2);
  CHECK(rc == SM_ERR);
  CHECK(strstr(ctx->msg, "not positive definite") != NULL);
  if (ctx->rank == 0)
    printf("not positive definite: %s\n", ctx->msg);
}

/* Eigenvalues of a symmetric matrix, ascending, by LAPACK. */
static void eigenvalues(const double *a, int n, double *w) {
  double *v = malloc((size_t)n * n * sizeof(double)), q = 0;
  int lwork = -1, liwork = -1, iq = 0, info = 0;
  memcpy(v, a, (size_t)n * n * sizeof(double));
  dsyevd_("N", "L", &n, v, &n, w, &q, &lwork, &iq, &liwork, &info, 1, 1);
  lwork = (int)q;
  liwork = iq;
  double *work = malloc((size_t)lwork * sizeof(double));
  int *iwork = malloc((size_t)liwork * sizeof(int));
  dsyevd_("N", "L", &n, v, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
  CHECK(info == 0);
  free(work);
  free(iwork);
  free(v);
}

static void check_repair(sm_ctx *ctx) {
  enum { N = 20 };
  double a[N * N], w[N], floor_eig = 1e-4;
  sm_rng rng;
  sm_rng_init(&rng, 7, SM_STREAM_TEST, 1000);
  for (int i = 0; i < N; i++) {
    a[i * N + i] = 1.0;
    for (int j = 0; j < i; j++)
      a[i * N + j] = a[j * N + i] = 1.8 * sm_rng_uniform(&rng) - 0.9;
  }
  eigenvalues(a, N, w);
  double before = w[0];
  int clipped = sm_repair_correlation(ctx, a, N, floor_eig);
  eigenvalues(a, N, w);

  /* unit diagonal, symmetric, no eigenvalue under the floor */
  double diag = 0, asym = 0;
  for (int i = 0; i < N; i++) {
    diag = fmax(diag, fabs(a[i * N + i] - 1.0));
    for (int j = 0; j < N; j++)
      asym = fmax(asym, fabs(a[i * N + j] - a[j * N + i]));
  }
  if (ctx->rank == 0)
    printf("repair: smallest eigenvalue %.4g -> %.6g (floor %g), %d clipped\n", before, w[0],
           floor_eig, clipped);
  CHECK(before < 0);
  CHECK(clipped > 0);
  CHECK(w[0] >= floor_eig * (1 - 1e-6));
  CHECK_CLOSE(diag, 0.0, 0.0);
  CHECK_CLOSE(asym, 0.0, 0.0);

  /* a valid correlation matrix is left as it is */
  double b[4] = {1, 0.5, 0.5, 1}, c[4];
  memcpy(c, b, sizeof b);
  CHECK(sm_repair_correlation(ctx, c, 2, floor_eig) == 0);
  CHECK(memcmp(b, c, sizeof b) == 0);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  static const int sizes[] = {1, 5, 40, 97};
  for (int i = 0; i < 4; i++) {
    check_cholesky(&ctx, sizes[i], 4);
    check_cholesky(&ctx, sizes[i], 32);
  }
  check_not_pd(&ctx, SM_FACTOR_LAPACK);
  check_not_pd(&ctx, SM_FACTOR_SCALAPACK);
  check_repair(&ctx);
  sm_ctx_free(&ctx);
  return test_finish();
}
