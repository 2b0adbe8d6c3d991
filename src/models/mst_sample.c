/* MST: ancestral sampling along the rooted tree.
 *
 * Row i reads 32-bit words of its own Philox stream (seed, SM_STREAM_SAMPLE, i), so a
 * row's values depend on nothing but the seed and i. Each attribute has fixed word
 * slots: one word picks the compressed value from the alias table of the parent's
 * value; an attribute with a merged bucket has one more to pick a domain value by the
 * noisy 1-way shares; a numeric one has one more for a value inside the bin. The words
 * are sm_rng's stream, made here for a batch of rows at once (the Philox rounds of many
 * rows run side by side), and the batch is sampled one attribute at a time.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <Random123/philox.h>

#include "models/mst.h"
#include "synthmpi/rng.h"

/* Rows per batch of Philox blocks. */
#define BATCH_ROWS 128

/* Where an attribute's words sit among a row's words: the alias draw at slot, the
 * merged bucket's draw next (when it has one of several values), then the numeric value. */
typedef struct attr_slots {
  int alias, merged, value; /* word index, -1 when not used */
} attr_slots;

/* Fixed word slots of every attribute; returns the words per row. */
static int word_slots(const mst_state *st, attr_slots *slot) {
  int w = 0;
  for (int j = 0; j < st->n_attrs; j++) {
    const mst_attr *a = &st->attrs[j];
    int merged = 0;
    for (int c = 0; c < a->n_comp; c++)
      merged |= a->member_start[c + 1] - a->member_start[c] > 1;
    slot[j].alias = w++;
    slot[j].merged = merged ? w++ : -1;
    slot[j].value = sm_coltype_is_discrete((sm_coltype)a->type) ? -1 : w++;
  }
  return w;
}

/* Philox4x32-10 of block b for rows [row, row + m), m <= BATCH_ROWS, into words (m, 4
 * blocks) at word 4 b: the stream of sm_rng (seed, SM_STREAM_SAMPLE, row), i.e. Random123's
 * philox4x32 written over arrays of rows so that the compiler runs the rounds of several
 * rows side by side on vector units. */
static void philox_block(uint64_t seed, int64_t row, int m, uint32_t b, int stride,
                         uint32_t *words) {
  uint32_t c0[BATCH_ROWS], c1[BATCH_ROWS], c2[BATCH_ROWS], c3[BATCH_ROWS];
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int r = 0; r < m; r++) {
    uint64_t i = (uint64_t)(row + r);
    c0[r] = (uint32_t)i, c1[r] = (uint32_t)(i >> 32), c2[r] = SM_STREAM_SAMPLE, c3[r] = b;
  }

  /* ten rounds, the key bumped between rounds */
  for (int round = 0; round < 10; round++) {
    for (int r = 0; r < m; r++) {
      uint64_t p0 = (uint64_t)PHILOX_M4x32_0 * c0[r], p1 = (uint64_t)PHILOX_M4x32_1 * c2[r];
      uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[r] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3[r] ^ k1;
      c1[r] = (uint32_t)p1, c3[r] = (uint32_t)p0, c0[r] = n0, c2[r] = n2;
    }
    k0 += PHILOX_W32_0, k1 += PHILOX_W32_1;
  }
  for (int r = 0; r < m; r++) {
    uint32_t *w = words + (size_t)r * stride + 4 * b;
    w[0] = c0[r], w[1] = c1[r], w[2] = c2[r], w[3] = c3[r];
  }
}

/* Every block a row may use, for rows [row, row + m). */
static void fill_words(uint64_t seed, int64_t row, int m, int blocks, uint32_t *words) {
  for (int b = 0; b < blocks; b++)
    philox_block(seed, row, m, (uint32_t)b, 4 * blocks, words);
}

/* One draw from an alias table over n values (keep, alias: (n)). The choice between v and
 * its alias is made with a mask, not a branch: the branch would go either way at random. */
static inline int alias_draw(const uint32_t *keep, const int *alias, int n, uint32_t word) {
  uint64_t x = (uint64_t)word * (uint64_t)n;
  int v = (int)(x >> 32), other = alias[v];
  int kept = -(int)((uint32_t)x < keep[v]); /* all ones when v is kept */
  return other ^ ((v ^ other) & kept);
}

/* The domain value of compressed value c (a merged bucket draws a member with u). */
static inline int decompress(const mst_attr *a, int c, uint32_t u) {
  int lo = a->member_start[c], hi = a->member_start[c + 1];
  for (int i = lo; i < hi - 1; i++)
    if (u <= a->member_u[i])
      return a->member[i];
  return a->member[hi - 1];
}

/* The column value of domain value v: NaN (missing), a code, or a value in its bin. */
static inline double column_value(const mst_attr *a, int v, uint32_t word) {
  if (v == a->n_values - 1)
    return NAN;
  if (a->type == SM_COL_CATEGORICAL || a->type == SM_COL_BOOLEAN)
    return (double)v;
  if (a->type == SM_COL_INTEGER)
    return a->value_base[v] + (double)(((uint64_t)word * a->value_n[v]) >> 32);
  return a->value_base[v] + ((double)word + 0.5) * 0x1.0p-32 * a->width;
}

/* Attribute j for the m rows of a batch: its compressed values into comp_j (m) from the
 * parent's comp_p (NULL for the root), its column values into v (m). */
static void sample_attr(const mst_state *st, int j, const attr_slots *slot, const uint32_t *words,
                        int stride, int m, const int *comp_p, int *comp_j, double *v) {
  const mst_attr *a = &st->attrs[j];
  const uint32_t *keep = st->alias[j][0].keep;
  const int *alias = st->alias[j][0].alias;
  int nc = a->n_comp;

  /* the compressed value given the parent's */
  for (int i = 0; i < m; i++) {
    size_t t = comp_p ? (size_t)comp_p[i] * nc : 0;
    comp_j[i] = alias_draw(keep + t, alias + t, nc, words[(size_t)i * stride + slot->alias]);
  }

  /* its domain value and the column value */
  for (int i = 0; i < m; i++) {
    const uint32_t *w = words + (size_t)i * stride;
    int c = comp_j[i];
    int d = slot->merged < 0 ? a->member[a->member_start[c]] : decompress(a, c, w[slot->merged]);
    v[i] = column_value(a, d, slot->value < 0 ? 0 : w[slot->value]);
  }
}

int sm_mst_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, sm_table *out) {
  const mst_state *st = state;
  int r = st->n_attrs;
  if (out->schema.n_cols != r)
    return sm_fail(ctx, SM_EINPUT, "sample: table has %d columns, the model %d", out->schema.n_cols,
                   r);
  size_t n = (size_t)(r > 0 ? r : 1);
  attr_slots *slot = sm_malloc(ctx, n * sizeof *slot);
  int *comp = sm_malloc(ctx, n * BATCH_ROWS * sizeof(int));
  int blocks = slot ? (word_slots(st, slot) + 3) / 4 : 0, stride = 4 * blocks;
  uint32_t *words = sm_malloc(ctx, (size_t)BATCH_ROWS * (stride > 0 ? stride : 1) * 4);
  int rc = slot && comp && words ? SM_OK : SM_ERR;

  /* a batch of rows' words, then the attributes over the batch, parents first */
  for (int64_t i0 = 0; rc == SM_OK && i0 < out->n_rows; i0 += BATCH_ROWS) {
    int m = out->n_rows - i0 < BATCH_ROWS ? (int)(out->n_rows - i0) : BATCH_ROWS;
    fill_words(seed, row0 + i0, m, blocks, words);
    for (int k = 0; k < r; k++) {
      int j = st->order[k], p = st->parent[j];
      const int *comp_p = p >= 0 ? comp + (size_t)p * BATCH_ROWS : NULL;
      sample_attr(st, j, &slot[j], words, stride, m, comp_p, comp + (size_t)j * BATCH_ROWS,
                  out->values[j] + i0);
    }
  }
  free(slot);
  free(comp);
  free(words);
  return rc;
}
