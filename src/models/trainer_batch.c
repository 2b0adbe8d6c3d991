/* Batches of data-parallel training: a keyed permutation of the global rows per epoch and
 * each rank's share of every global batch. No rank stores the permutation: a position is
 * mapped to its row when it is needed. */
#include <stdint.h>

#include "models/trainer.h"
#include "synthmpi/rng.h"

void sm_permutation_init(sm_permutation *p, uint64_t n, uint64_t seed, uint32_t purpose,
                         uint64_t epoch) {
  /* the smallest even bit count covering n (at least 2): the domain is below 4n */
  int bits = 2;
  while (bits < 64 && (UINT64_C(1) << bits) < n)
    bits += 2;
  p->n = n;
  p->half_bits = bits / 2;
  p->mask = (UINT64_C(1) << p->half_bits) - 1;

  /* one 64-bit round key per round from the epoch's stream */
  sm_rng rng;
  sm_rng_init(&rng, seed, purpose, epoch);
  for (int r = 0; r < 4; r++) {
    uint64_t hi = sm_rng_u32(&rng);
    p->key[r] = hi << 32 | sm_rng_u32(&rng);
  }
}

/* One pass of the Feistel network over the full power-of-two domain (a bijection). */
static uint64_t feistel(const sm_permutation *p, uint64_t x) {
  uint64_t left = x >> p->half_bits, right = x & p->mask;
  for (int r = 0; r < 4; r++) {
    uint64_t f = sm_hash64(right ^ p->key[r]) & p->mask;
    uint64_t next = left ^ f;
    left = right;
    right = next;
  }
  return left << p->half_bits | right;
}

uint64_t sm_permutation_apply(const sm_permutation *p, uint64_t i) {
  /* cycle-walking: repeat until the value falls back into [0, n); ends because i < n
   * lies on a cycle of the bijection that must return to [0, n) */
  uint64_t x = feistel(p, i);
  while (x >= p->n)
    x = feistel(p, x);
  return x;
}

int64_t sm_batches_per_epoch(int64_t n_rows, int64_t batch_size) {
  return batch_size > 0 ? (n_rows + batch_size - 1) / batch_size : 0;
}

int64_t sm_batch_rows(const sm_permutation *p, int64_t batch_size, int64_t step, int64_t row_offset,
                      int64_t n_local, int64_t *rows, int64_t *global_rows) {
  int64_t n = (int64_t)p->n, first = step * batch_size;
  int64_t last = first + batch_size < n ? first + batch_size : n;
  int64_t m = 0;
  for (int64_t pos = first; pos < last; pos++) {
    int64_t g = (int64_t)sm_permutation_apply(p, (uint64_t)pos);
    if (g >= row_offset && g < row_offset + n_local)
      rows[m++] = g - row_offset;
  }
  *global_rows = last > first ? last - first : 0;
  return m;
}

int64_t sm_batch_share(const sm_permutation *p, int64_t batch_size, int64_t step, int rank,
                       int ranks, int64_t *rows, int64_t *global_rows) {
  int64_t n = (int64_t)p->n, first = step * batch_size;
  int64_t last = first + batch_size < n ? first + batch_size : n;
  int64_t count = last > first ? last - first : 0;
  int64_t lo = first + count * rank / ranks, hi = first + count * (rank + 1) / ranks;
  for (int64_t pos = lo; pos < hi; pos++)
    rows[pos - lo] = (int64_t)sm_permutation_apply(p, (uint64_t)pos);
  *global_rows = count;
  return hi - lo;
}
