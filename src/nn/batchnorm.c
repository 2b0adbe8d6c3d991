/* Batch normalisation over features with PyTorch's semantics, its batch statistics taken over
 * the global batch (local sums allreduced), so any rank count gives the same result. */
#include <math.h>
#include <stdlib.h>

#include "synthmpi/nn.h"

int sm_batchnorm_reserve(sm_ctx *ctx, sm_batchnorm *bn, sm_nn_params *p, int features) {
  size_t f = (size_t)features;
  bn->features = features;
  bn->gamma = sm_nn_reserve(p, f);
  bn->beta = sm_nn_reserve(p, f);
  bn->momentum = 0.1;
  bn->eps = 1e-5;

  /* running statistics start at mean 0, variance 1; mean, inv_std and the reduction buffer
   * (2 features + 1 doubles, see bn_scratch) share one allocation owned by mean */
  bn->running_mean = sm_calloc(ctx, f, sizeof(double));
  bn->running_var = sm_calloc(ctx, f, sizeof(double));
  bn->mean = sm_calloc(ctx, 4 * f + 1, sizeof(double));
  bn->inv_std = bn->mean ? bn->mean + f : NULL;
  if (!bn->running_mean || !bn->running_var || !bn->mean) {
    sm_batchnorm_free(bn);
    return SM_ERR;
  }
  for (size_t j = 0; j < f; j++)
    bn->running_var[j] = 1.0;
  return SM_OK;
}

/* The reduction buffer of 2 features + 1 doubles behind mean and inv_std. */
static double *bn_scratch(const sm_batchnorm *bn) {
  return bn->mean + 2 * bn->features;
}

void sm_batchnorm_init(const sm_batchnorm *bn, sm_nn_params *p) {
  for (int j = 0; j < bn->features; j++) {
    p->value[bn->gamma + j] = 1.0f;
    p->value[bn->beta + j] = 0.0f;
  }
}

void sm_batchnorm_free(sm_batchnorm *bn) {
  if (!bn)
    return;
  free(bn->running_mean);
  free(bn->running_var);
  free(bn->mean); /* inv_std and the reduction buffer live in the same block */
  bn->running_mean = bn->running_var = bn->mean = bn->inv_std = NULL;
}

/* Collective: global mean and biased variance into bn->mean / bn->inv_std, and the running
 * statistics updated with the unbiased variance. */
static int global_statistics(sm_ctx *ctx, sm_batchnorm *bn, const float *x, int rows,
                             int64_t global_rows) {
  int f = bn->features;
  double *sums = bn_scratch(bn);

  /* local sums of x and x^2, and the local row count */
  for (int j = 0; j < 2 * f + 1; j++)
    sums[j] = 0;
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < f; j++) {
      double v = x[(size_t)r * f + j];
      sums[j] += v;
      sums[f + j] += v * v;
    }
  sums[2 * f] = rows;
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, sums, 2 * f + 1, MPI_DOUBLE, MPI_SUM, ctx->comm));

  /* every rank sees the same totals, so these checks agree */
  if (sums[2 * f] != (double)global_rows || global_rows < 1)
    return sm_fail(ctx, SM_ERR, "batch norm: ranks hold %.0f rows, global batch is %lld",
                   sums[2 * f], (long long)global_rows);

  /* batch statistics and the running averages */
  double n = (double)global_rows, m = bn->momentum;
  for (int j = 0; j < f; j++) {
    double mean = sums[j] / n;
    double var = fmax(sums[f + j] / n - mean * mean, 0.0);
    double unbiased = global_rows > 1 ? var * n / (n - 1.0) : var;
    bn->mean[j] = mean;
    bn->inv_std[j] = 1.0 / sqrt(var + bn->eps);
    bn->running_mean[j] = (1.0 - m) * bn->running_mean[j] + m * mean;
    bn->running_var[j] = (1.0 - m) * bn->running_var[j] + m * unbiased;
  }
  return SM_OK;
}

/* y = gamma (x - mean) inv_std + beta with per-feature mean and inv_std. */
static void normalise(float *y, const float *x, const double *mean, const double *inv_std,
                      const float *gamma, const float *beta, int rows, int f) {
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < f; j++) {
      size_t k = (size_t)r * f + j;
      y[k] = (float)(gamma[j] * (x[k] - mean[j]) * inv_std[j] + beta[j]);
    }
}

int sm_batchnorm_forward(sm_ctx *ctx, float *y, const float *x, sm_batchnorm *bn,
                         const sm_nn_params *p, int rows, int64_t global_rows, int training) {
  int f = bn->features;
  const float *gamma = p->value + bn->gamma, *beta = p->value + bn->beta;

  /* evaluation: running statistics, no communication */
  if (!training) {
    double *inv_std = bn_scratch(bn);
    for (int j = 0; j < f; j++)
      inv_std[j] = 1.0 / sqrt(bn->running_var[j] + bn->eps);
    normalise(y, x, bn->running_mean, inv_std, gamma, beta, rows, f);
    return SM_OK;
  }

  /* training: global batch statistics */
  SM_TRY(global_statistics(ctx, bn, x, rows, global_rows));
  normalise(y, x, bn->mean, bn->inv_std, gamma, beta, rows, f);
  return SM_OK;
}

/* Local sums of dy and dy * x_hat per feature into sums[0 .. f) and sums[f .. 2f). */
static void backward_sums(double *sums, const float *dy, const float *x, const sm_batchnorm *bn,
                          int rows) {
  int f = bn->features;
  for (int j = 0; j < 2 * f; j++)
    sums[j] = 0;
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < f; j++) {
      size_t k = (size_t)r * f + j;
      double xhat = (x[k] - bn->mean[j]) * bn->inv_std[j];
      sums[j] += dy[k];
      sums[f + j] += dy[k] * xhat;
    }
}

/* dbeta += sum dy and dgamma += sum dy x_hat over LOCAL rows (the gradient allreduce adds the
 * ranks later); dx needs the GLOBAL sums:
 * dx = gamma inv_std / N (N dy - sum dy - x_hat sum dy x_hat). */
int sm_batchnorm_backward(sm_ctx *ctx, float *dx, sm_nn_params *p, const float *dy, const float *x,
                          const sm_batchnorm *bn, int rows, int64_t global_rows) {
  int f = bn->features;
  const float *gamma = p->value + bn->gamma;
  double *sums = bn_scratch(bn);

  /* local sums give the parameter gradients */
  backward_sums(sums, dy, x, bn, rows);
  for (int j = 0; j < f; j++) {
    p->grad[bn->beta + j] += (float)sums[j];
    p->grad[bn->gamma + j] += (float)sums[f + j];
  }

  /* global sums give the input gradient */
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, sums, 2 * f, MPI_DOUBLE, MPI_SUM, ctx->comm));
  double n = (double)global_rows;
  for (int r = 0; dx && r < rows; r++)
    for (int j = 0; j < f; j++) {
      size_t k = (size_t)r * f + j;
      double xhat = (x[k] - bn->mean[j]) * bn->inv_std[j];
      double g = n * dy[k] - sums[j] - xhat * sums[f + j];
      dx[k] = (float)(gamma[j] * bn->inv_std[j] / n * g);
    }
  return SM_OK;
}
