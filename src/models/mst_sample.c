/* MST: ancestral sampling along the rooted tree.
 *
 * Row i draws 32-bit words from its own Philox stream (seed, SM_STREAM_SAMPLE, i), so a
 * row's values depend on nothing but the seed and i. For each attribute in tree order:
 * one word picks the compressed value from the alias table of its parent's value; a
 * merged bucket takes one more word to pick a domain value by the noisy 1-way shares;
 * a numeric bin takes one more for a value inside the bin. The Philox blocks are made
 * here (the same function as sm_rng) so that the hot loop has no calls.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <Random123/philox.h>

#include "models/mst.h"
#include "synthmpi/rng.h"

/* A row's stream: 4 words per Philox block. */
typedef struct row_stream {
  philox4x32_key_t key;
  philox4x32_ctr_t ctr;
  philox4x32_ctr_t out;
  int avail;
} row_stream;

static inline void stream_init(row_stream *s, uint64_t seed, uint64_t row) {
  s->key.v[0] = (uint32_t)seed;
  s->key.v[1] = (uint32_t)(seed >> 32);
  s->ctr.v[0] = (uint32_t)row;
  s->ctr.v[1] = (uint32_t)(row >> 32);
  s->ctr.v[2] = SM_STREAM_SAMPLE;
  s->ctr.v[3] = 0;
  s->avail = 0;
}

static inline uint32_t stream_u32(row_stream *s) {
  if (s->avail == 0) {
    s->out = philox4x32(s->ctr, s->key);
    s->ctr.v[3]++;
    s->avail = 4;
  }
  return s->out.v[4 - s->avail--];
}

/* One draw from an alias table over n values. */
static inline int alias_draw(const mst_alias *t, int n, uint32_t word) {
  uint64_t x = (uint64_t)word * (uint64_t)n;
  int v = (int)(x >> 32);
  return (uint32_t)x < t->keep[v] ? v : t->alias[v];
}

/* The domain value of compressed value c (a merged bucket draws a member). */
static inline int decompress(const mst_attr *a, int c, row_stream *s) {
  int lo = a->member_start[c], hi = a->member_start[c + 1];
  if (hi - lo == 1)
    return a->member[lo];
  uint32_t u = stream_u32(s);
  for (int i = lo; i < hi - 1; i++)
    if (u <= a->member_u[i])
      return a->member[i];
  return a->member[hi - 1];
}

/* The column value of domain value v: NaN (missing), a code, or a value in its bin. */
static inline double column_value(const mst_attr *a, int v, row_stream *s) {
  if (v == a->n_values - 1)
    return NAN;
  if (a->type == SM_COL_CATEGORICAL || a->type == SM_COL_BOOLEAN)
    return (double)v;
  double u = ((double)stream_u32(s) + 0.5) * 0x1.0p-32;
  if (a->type != SM_COL_INTEGER)
    return a->lo + ((double)v + u) * a->width;

  /* integers: uniform over the whole numbers whose bin is v */
  double first = ceil(v * a->width), end = ceil((v + 1) * a->width);
  double x = a->lo + first + floor(u * (end - first));
  return x < a->lo + end - 1 ? x : a->lo + end - 1;
}

int sm_mst_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, sm_table *out) {
  const mst_state *st = state;
  int r = st->n_attrs;
  if (out->schema.n_cols != r)
    return sm_fail(ctx, SM_EINPUT, "sample: table has %d columns, the model %d", out->schema.n_cols,
                   r);
  int *comp = sm_malloc(ctx, (size_t)(r > 0 ? r : 1) * sizeof(int));
  if (!comp)
    return SM_ERR;

  /* one row at a time, attributes in tree order (parents first) */
  for (int64_t i = 0; i < out->n_rows; i++) {
    row_stream s;
    stream_init(&s, seed, (uint64_t)(row0 + i));
    for (int k = 0; k < r; k++) {
      int j = st->order[k], p = st->parent[j];
      const mst_attr *a = &st->attrs[j];
      const mst_alias *t = st->alias[j] + (p >= 0 ? comp[p] : 0);
      comp[j] = alias_draw(t, a->n_comp, stream_u32(&s));
      out->values[j][i] = column_value(a, decompress(a, comp[j], &s), &s);
    }
  }
  free(comp);
  return SM_OK;
}
