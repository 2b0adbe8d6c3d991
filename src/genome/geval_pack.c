/* Rows packed into bit planes, so a Hamming distance is XOR and popcount over words. */
#include <stdlib.h>
#include <string.h>

#include "genome/geval_internal.h"

void sm_geval_packed_free(sm_geval_packed *p) {
  if (!p)
    return;
  free(p->bits);
  memset(p, 0, sizeof(*p));
}

/* Set the bits of one row: plane 0 for value >= 1, plane 1 for value == 2. */
static void pack_row(const uint8_t *g, int64_t n_vars, const uint8_t *major, int64_t words,
                     int planes, uint64_t *bits) {
  for (int64_t v = 0; v < n_vars; v++) {
    uint8_t x = g[v] == SM_ALLELE_MISSING ? major[v] : g[v];
    uint64_t bit = (uint64_t)1 << (v & 63);
    if (x >= 1)
      bits[v >> 6] |= bit;
    if (planes > 1 && x == 2)
      bits[words + (v >> 6)] |= bit;
  }
}

int sm_geval_pack_rows(sm_ctx *ctx, const sm_geval_sample *s, const int64_t *idx, int64_t n,
                       const uint8_t *major, int planes, sm_geval_packed *out) {
  memset(out, 0, sizeof(*out));
  out->n_rows = n;
  out->words = (s->n_vars + 63) / 64;
  out->planes = planes;

  /* zeroed, so bits past the last variant stay equal in every row */
  int64_t stride = out->words * planes;
  out->bits = sm_calloc(ctx, (size_t)(n > 0 ? n : 1) * (size_t)stride, sizeof(uint64_t));
  if (!out->bits)
    return SM_ERR;
  for (int64_t i = 0; i < n; i++) {
    int64_t r = idx ? idx[i] : i;
    pack_row(s->g + r * s->n_vars, s->n_vars, major, out->words, planes, out->bits + i * stride);
  }
  return SM_OK;
}
