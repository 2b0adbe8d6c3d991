/* Single-thread SGEMM speed of OpenBLAS at the shapes of one TVAE training step.
 *
 * A TVAE step on a batch of 500 rows multiplies (500 x width) by (width x 128) in the
 * first encoder layer and (500 x 128) by (128 x 128) in the hidden layers; the backward
 * pass does the same work transposed (x^T dy for the weights, dy W^T for the inputs).
 * This program times cblas_sgemm at each of those shapes on one thread and prints
 * GFLOP/s (2 m n k per product), so the benchmark can set a model's achieved GFLOP/s
 * beside what the machine's BLAS does at the same sizes.
 *
 * usage: gemm_peak [WIDTH [SECONDS]]
 *   WIDTH    encoded input width of the first layer (default 157, Adult)
 *   SECONDS  time spent per shape, best of 5 rounds (default 0.5)
 * Output: one line per shape "shape M N K TRANS GFLOPS", then "peak_gflops: X" (the
 * best of the forward shapes).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BATCH = 500, HIDDEN = 128, ROUNDS = 5 };

/* one product C (m x n) = op(A) op(B), op(A) (m x k), op(B) (k x n) */
typedef struct gemm_shape {
  const char *name;
  int m, n, k;
  int trans_a, trans_b;
  int forward; /* counted in the peak */
} gemm_shape;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill(float *x, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    x[i] = (float)((seed >> 9) & 0xffff) / 65536.0f - 0.5f;
  }
}

static void gemm_once(const gemm_shape *s, const float *a, const float *b, float *c) {
  int lda = s->trans_a ? s->m : s->k;
  int ldb = s->trans_b ? s->k : s->n;
  cblas_sgemm(CblasRowMajor, s->trans_a ? CblasTrans : CblasNoTrans,
              s->trans_b ? CblasTrans : CblasNoTrans, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f,
              c, s->n);
}

/* Best GFLOP/s over ROUNDS rounds of about `seconds` / ROUNDS each; -1 on no memory. */
static double time_shape(const gemm_shape *s, double seconds) {
  size_t na = (size_t)s->m * (size_t)s->k, nb = (size_t)s->k * (size_t)s->n;
  float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
  float *c = malloc((size_t)s->m * (size_t)s->n * sizeof *c);
  double best = -1.0, flops = 2.0 * s->m * s->n * s->k;

  if (a && b && c) {
    /* warm caches and the library */
    fill(a, na, 1u);
    fill(b, nb, 2u);
    for (int i = 0; i < 10; i++)
      gemm_once(s, a, b, c);

    /* rounds: repeat until the round's share of time has passed */
    for (int r = 0; r < ROUNDS; r++) {
      long reps = 0;
      double t0 = now_seconds(), t = 0.0;
      while (t < seconds / ROUNDS) {
        gemm_once(s, a, b, c);
        reps++;
        t = now_seconds() - t0;
      }
      double g = flops * (double)reps / t / 1e9;
      best = g > best ? g : best;
    }
  }
  free(a);
  free(b);
  free(c);
  return best;
}

int main(int argc, char **argv) {
  int width = argc > 1 ? atoi(argv[1]) : 157;
  double seconds = argc > 2 ? atof(argv[2]) : 0.5;
  if (argc > 3 || width < 1 || !(seconds > 0.0)) {
    fprintf(stderr, "usage: gemm_peak [WIDTH [SECONDS]]\n");
    return 2;
  }
  gemm_shape shapes[] = {
      {"first_forward", BATCH, HIDDEN, width, 0, 0, 1},
      {"hidden_forward", BATCH, HIDDEN, HIDDEN, 0, 0, 1},
      {"first_weight_grad", width, HIDDEN, BATCH, 1, 0, 0},
      {"hidden_weight_grad", HIDDEN, HIDDEN, BATCH, 1, 0, 0},
      {"hidden_input_grad", BATCH, HIDDEN, HIDDEN, 0, 1, 0},
  };

  /* one thread: the benchmark compares single cores */
  openblas_set_num_threads(1);

  /* each shape, then the best forward figure */
  double peak = 0.0;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    const gemm_shape *s = &shapes[i];
    double g = time_shape(s, seconds);
    if (g < 0.0) {
      fprintf(stderr, "gemm_peak: out of memory\n");
      return 1;
    }
    printf("shape %s %d %d %d %s%s %.2f\n", s->name, s->m, s->n, s->k, s->trans_a ? "T" : "N",
           s->trans_b ? "T" : "N", g);
    if (s->forward && g > peak)
      peak = g;
  }
  printf("peak_gflops: %.2f\n", peak);
  return 0;
}
