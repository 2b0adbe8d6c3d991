/* Parameter buffers: reservation, aligned allocation, the gradient allreduce, checksums and
 * initialisation from Philox streams. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthmpi/nn.h"
#include "synthmpi/rng.h"

/* Every reservation starts on a 16-float (64-byte) boundary. */
#define NN_ALIGN_FLOATS 16

size_t sm_nn_reserve(sm_nn_params *p, size_t n) {
  size_t off = (p->n + NN_ALIGN_FLOATS - 1) / NN_ALIGN_FLOATS * NN_ALIGN_FLOATS;
  p->n = off + n;
  return off;
}

/* One zeroed 64-byte aligned block of n floats (at least one), or NULL. */
static float *aligned_floats(size_t n) {
  void *mem = NULL;
  size_t bytes = (n ? n : 1) * sizeof(float);
  if (posix_memalign(&mem, 64, bytes) != 0)
    return NULL;
  memset(mem, 0, bytes);
  return mem;
}

int sm_nn_params_alloc(sm_ctx *ctx, sm_nn_params *p) {
  p->value = aligned_floats(p->n);
  p->grad = aligned_floats(p->n);
  if (!p->value || !p->grad) {
    sm_nn_params_free(p);
    return sm_fail(ctx, SM_ERR, "out of memory allocating %zu network parameters", p->n);
  }
  return SM_OK;
}

void sm_nn_params_free(sm_nn_params *p) {
  if (!p)
    return;
  free(p->value);
  free(p->grad);
  p->value = NULL;
  p->grad = NULL;
}

void sm_nn_zero_grad(sm_nn_params *p) {
  if (p->grad)
    memset(p->grad, 0, p->n * sizeof(float));
}

/* Collective: every rank holds the same n, so the size check fails on all ranks or none. */
int sm_nn_allreduce_grad(sm_ctx *ctx, sm_nn_params *p, float scale) {
  if (p->n > (size_t)INT_MAX)
    return sm_fail(ctx, SM_ERR, "gradient buffer of %zu floats is too large for one allreduce",
                   p->n);

  /* one allreduce over the whole buffer */
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, p->grad, (int)p->n, MPI_FLOAT, MPI_SUM, ctx->comm));

  /* mean over the global batch (or whatever the caller's factor is) */
  for (size_t i = 0; i < p->n; i++)
    p->grad[i] *= scale;
  return SM_OK;
}

/* Sum of hash(index, bit pattern): the same values at the same places give the same sum,
 * whatever order the terms are added in. */
uint64_t sm_nn_checksum(const sm_nn_params *p) {
  uint64_t sum = 0;
  for (size_t i = 0; i < p->n; i++) {
    uint32_t bits;
    memcpy(&bits, &p->value[i], sizeof bits);
    sum += sm_hash64(((uint64_t)i << 32) ^ bits ^ 0x9e3779b97f4a7c15ULL);
  }
  return sum;
}

void sm_nn_init_uniform(sm_nn_params *p, size_t off, size_t n, float bound, uint64_t seed) {
  for (size_t k = 0; k < n; k++) {
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_NN_INIT, off + k);
    double u = sm_rng_uniform(&rng);
    p->value[off + k] = (float)((2.0 * u - 1.0) * bound);
  }
}

float sm_nn_xavier_bound(int fan_in, int fan_out, float gain) {
  return gain * (float)sqrt(6.0 / (double)(fan_in + fan_out));
}

float sm_nn_kaiming_bound(int fan_in, float gain) {
  return gain * (float)sqrt(3.0 / (double)fan_in);
}
