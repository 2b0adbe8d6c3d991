/* Not a test: SGEMM throughput of the linear layer's shapes, (500 x 157) x (157 x 128), as
 * the forward and both backward products run them. Run with OPENBLAS_NUM_THREADS=1 for the
 * single-threaded figure. */
#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { M = 500, K = 157, N = 128, REPS = 200 };

/* GFLOP/s of REPS products of the given shape. */
static double gflops(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const float *a,
                     int lda, const float *b, int ldb, float *c) {
  double t0 = MPI_Wtime();
  for (int i = 0; i < REPS; i++)
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
  return 2.0 * m * n * k * REPS / (MPI_Wtime() - t0) / 1e9;
}

int main(void) {
  float *x = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * K * N);
  float *y = malloc(sizeof(float) * M * N), *g = malloc(sizeof(float) * M * K);
  for (int i = 0; i < M * K; i++)
    x[i] = (float)(i % 17) / 17.0f;
  for (int i = 0; i < K * N; i++)
    w[i] = (float)(i % 13) / 13.0f;
  for (int i = 0; i < M * N; i++)
    y[i] = (float)(i % 11) / 11.0f;

  /* warm-up (first calls pay for thread and buffer setup) */
  (void)gflops(CblasNoTrans, CblasNoTrans, M, N, K, x, K, w, N, y);

  /* forward y = x W, weight gradient x^T dy, input gradient dy W^T */
  printf("forward  (%d x %d) x (%d x %d): %.1f GFLOP/s\n", M, K, K, N,
         gflops(CblasNoTrans, CblasNoTrans, M, N, K, x, K, w, N, y));
  printf("dW       (%d x %d) x (%d x %d): %.1f GFLOP/s\n", K, M, M, N,
         gflops(CblasTrans, CblasNoTrans, K, N, M, x, K, y, N, w));
  printf("dx       (%d x %d) x (%d x %d): %.1f GFLOP/s\n", M, N, N, K,
         gflops(CblasNoTrans, CblasTrans, M, K, N, y, N, w, N, g));
  free(x);
  free(w);
  free(y);
  free(g);
  return 0;
}
