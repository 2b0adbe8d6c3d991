/* Longest exact matches against the training sequences: a suffix array of every training
 * sequence and its reverse complement, each followed by a separator that no query holds,
 * so a match never runs from one sequence into the next. */
#include <stdlib.h>
#include <string.h>

#include "seq/seq_internal.h"

#define SEPARATOR 4

struct sm_seq_index {
  uint8_t *text; /* (n) both strands of every sequence, separated */
  int64_t *sa;   /* (n) suffix start positions, in lexicographic order */
  int64_t n;
};

/* Prefix doubling: rank[i] orders suffixes by their first h symbols; sort by the pair
 * (rank[i], rank[i + h]) until every rank is distinct. */
typedef struct suffix_key {
  int64_t a, b, pos;
} suffix_key;

static int cmp_key(const void *x, const void *y) {
  const suffix_key *p = x, *q = y;
  if (p->a != q->a)
    return p->a < q->a ? -1 : 1;
  if (p->b != q->b)
    return p->b < q->b ? -1 : 1;
  return 0;
}

/* Local. The suffix array of text[0..n) into sa (n entries). */
static int build_sa(sm_ctx *ctx, const uint8_t *text, int64_t n, int64_t *sa) {
  suffix_key *k = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(suffix_key));
  int64_t *rank = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(int64_t));
  if (!k || !rank) {
    free(k);
    free(rank);
    return SM_ERR;
  }
  for (int64_t i = 0; i < n; i++)
    rank[i] = text[i];
  for (int64_t h = 1;; h *= 2) {
    /* sort by (rank of the first h, rank of the next h; -1 past the end) */
    for (int64_t i = 0; i < n; i++)
      k[i] = (suffix_key){rank[i], i + h < n ? rank[i + h] : -1, i};
    qsort(k, (size_t)n, sizeof(suffix_key), cmp_key);

    /* new ranks; done when all differ */
    int64_t r = 0;
    for (int64_t i = 0; i < n; i++) {
      if (i > 0 && cmp_key(&k[i - 1], &k[i]) != 0)
        r++;
      rank[k[i].pos] = r;
    }
    if (r == n - 1 || n == 0)
      break;
  }
  for (int64_t i = 0; i < n; i++)
    sa[i] = k[i].pos;
  free(k);
  free(rank);
  return SM_OK;
}

/* Local. Both strands of each sequence of s, separated, into text; returns its length. */
static int64_t both_strands(const sm_seqset *s, uint8_t *text) {
  int64_t t = 0;
  for (int64_t i = 0; i < s->n; i++) {
    const uint8_t *c = s->codes + s->offset[i];
    int64_t len = s->offset[i + 1] - s->offset[i];
    memcpy(text + t, c, (size_t)len);
    t += len;
    text[t++] = SEPARATOR;
    for (int64_t p = len - 1; p >= 0; p--)
      text[t++] = (uint8_t)(3 - c[p]);
    text[t++] = SEPARATOR;
  }
  return t;
}

int sm_seq_index_build(sm_ctx *ctx, const sm_seqset *ref, sm_seq_index **out) {
  sm_seqset all;
  *out = NULL;
  SM_TRY(sm_seq_allgather(ctx, ref, &all));
  int64_t bases = all.n ? all.offset[all.n] : 0, n = 2 * bases + 2 * all.n;
  sm_seq_index *x = sm_calloc(ctx, 1, sizeof(sm_seq_index));
  if (x) {
    x->text = sm_malloc(ctx, (size_t)(n > 0 ? n : 1));
    x->sa = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(int64_t));
  }
  int rc = x && x->text && x->sa ? SM_OK : SM_ERR;
  if (rc == SM_OK) {
    x->n = both_strands(&all, x->text);
    rc = build_sa(ctx, x->text, x->n, x->sa);
  }
  sm_seqset_free(&all);
  rc = sm_agree(ctx, rc);
  if (rc != SM_OK) {
    sm_seq_index_free(x);
    return rc;
  }
  *out = x;
  return SM_OK;
}

void sm_seq_index_free(sm_seq_index *x) {
  if (!x)
    return;
  free(x->text);
  free(x->sa);
  free(x);
}

/* Common prefix of q[0..len) and the text's suffix at pos; *less: the suffix sorts
 * before q (a prefix of q sorts before it). */
static int64_t common(const sm_seq_index *x, int64_t pos, const uint8_t *q, int64_t len,
                      int *less) {
  int64_t l = 0;
  while (l < len && pos + l < x->n && x->text[pos + l] == q[l])
    l++;
  if (l == len)
    *less = 0;
  else
    *less = pos + l >= x->n || x->text[pos + l] < q[l];
  return l;
}

/* The longest prefix of q[0..len) that occurs in the text: the suffixes that sort next to
 * q share the longest prefix with it. */
static int64_t longest_prefix(const sm_seq_index *x, const uint8_t *q, int64_t len) {
  int64_t lo = 0, hi = x->n;
  int less;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    common(x, x->sa[mid], q, len, &less);
    if (less)
      lo = mid + 1;
    else
      hi = mid;
  }
  int64_t best = 0;
  if (lo < x->n)
    best = common(x, x->sa[lo], q, len, &less);
  if (lo > 0) {
    int64_t l = common(x, x->sa[lo - 1], q, len, &less);
    best = l > best ? l : best;
  }
  return best;
}

int64_t sm_seq_index_longest(const sm_seq_index *x, const uint8_t *q, int64_t len) {
  int64_t best = 0;
  for (int64_t i = 0; i + best < len; i++) {
    int64_t l = longest_prefix(x, q + i, len - i);
    best = l > best ? l : best;
  }
  return best;
}
