/* The order-k Markov model of DNA: (j+1)-mer counts of every order j <= k, summed over
 * ranks, and interpolated Witten-Bell smoothing down to the uniform distribution:
 *
 *   P_j(x | h) = (c(h x) + u(h) P_{j-1}(x | h')) / (c(h) + u(h)),   P_{-1}(x) = 1/4,
 *
 * where h holds the last j bases, h' the last j - 1, c(h) the count of h followed by
 * any base and u(h) how many distinct bases followed h. An unseen context falls back to
 * the lower order, so every probability is positive and held-out perplexity finite.
 *
 * Orders whose 4^(j+1) table is small are dense: counts indexed by the (j+1)-mer and a
 * table of P_j built once. Larger orders keep the observed (j+1)-mers only, sorted, and
 * are summed over ranks by gathering every rank's pairs and merging them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seq/seq_internal.h"
#include "synthmpi/rng.h"

#define N_ORDERS (SM_SEQ_MAX_ORDER + 1)
/* Largest dense table by default (4^11 entries), and the smallest that is always dense. */
#define DENSE_MAX ((int64_t)1 << 22)
#define DENSE_MIN ((int64_t)1 << 12)
/* Fixed-point scale of summed bits, so sums do not depend on the order of addition. */
#define BITS_SCALE 16777216.0

struct sm_markov {
  int k;
  int dense[N_ORDERS];      /* order j stored dense */
  int64_t n[N_ORDERS];      /* entries: 4^(j+1) dense, observed (j+1)-mers sparse */
  int64_t *count[N_ORDERS]; /* (n[j]) counts */
  uint64_t *keys[N_ORDERS]; /* (n[j]) sparse: sorted (j+1)-mer keys; dense: NULL */
  double *prob[N_ORDERS];   /* (4^(j+1)) dense: P_j(x | h) at h * 4 + x; sparse: NULL */
};

/* A (key, count) pair of a sparse order. */
typedef struct kmer_count {
  uint64_t key;
  int64_t count;
} kmer_count;

/* The key of the last `bases` bases (2 bits each). */
static uint64_t low_bases(uint64_t roll, int bases) {
  return bases == 0 ? 0 : roll & (((uint64_t)1 << (2 * bases)) - 1);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static int cmp_pair(const void *a, const void *b) {
  return cmp_u64(&((const kmer_count *)a)->key, &((const kmer_count *)b)->key);
}

void sm_markov_free(sm_markov *m) {
  if (!m)
    return;
  for (int j = 0; j < N_ORDERS; j++) {
    free(m->count[j]);
    free(m->keys[j]);
    free(m->prob[j]);
  }
  free(m);
}

int sm_markov_order(const sm_markov *m) {
  return m->k;
}

int sm_markov_is_dense(const sm_markov *m, int j) {
  return m->dense[j];
}

/* Index of the first sparse key >= key in order j. */
static int64_t lower_bound(const sm_markov *m, int j, uint64_t key) {
  int64_t lo = 0, hi = m->n[j];
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (m->keys[j][mid] < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

int64_t sm_markov_count(const sm_markov *m, int j, uint64_t key) {
  if (m->dense[j])
    return m->count[j][key];
  int64_t i = lower_bound(m, j, key);
  return i < m->n[j] && m->keys[j][i] == key ? m->count[j][i] : 0;
}

/* The counts of context h followed by each base, in order j. */
static void children(const sm_markov *m, int j, uint64_t h, int64_t c[4]) {
  if (m->dense[j]) {
    memcpy(c, m->count[j] + 4 * h, 4 * sizeof(int64_t));
    return;
  }
  memset(c, 0, 4 * sizeof(int64_t));
  for (int64_t i = lower_bound(m, j, 4 * h); i < m->n[j] && m->keys[j][i] < 4 * h + 4; i++)
    c[m->keys[j][i] & 3] = m->count[j][i];
}

/* One Witten-Bell step: p (the lower order) becomes order j's distribution after h. */
static void interpolate(const int64_t c[4], double p[4]) {
  int64_t total = c[0] + c[1] + c[2] + c[3];
  int distinct = (c[0] > 0) + (c[1] > 0) + (c[2] > 0) + (c[3] > 0);
  if (total == 0)
    return;
  for (int x = 0; x < 4; x++)
    p[x] = ((double)c[x] + distinct * p[x]) / (double)(total + distinct);
}

/* The distribution after hist[0..len) of the model truncated at order j. */
static void predict(const sm_markov *m, int j, const uint8_t *hist, int64_t len, double p[4]) {
  int top = len < j ? (int)len : j;
  uint64_t roll = 0;
  for (int64_t i = len - top; i < len; i++)
    roll = (roll << 2) | hist[i];

  /* the highest dense order's table, then the sparse orders above it */
  int d = top;
  while (!m->dense[d])
    d--;
  memcpy(p, m->prob[d] + 4 * low_bases(roll, d), 4 * sizeof(double));
  for (int i = d + 1; i <= top; i++) {
    int64_t c[4];
    children(m, i, low_bases(roll, i), c);
    interpolate(c, p);
  }
}

void sm_markov_predict(const sm_markov *m, const uint8_t *hist, int64_t len, double p[4]) {
  predict(m, m->k, hist, len, p);
}

/* Local. Count every (j+1)-mer of s: dense orders into their tables, sparse ones as keys
 * appended to keys[j] (sized for every base of s). */
static void count_local(sm_markov *m, const sm_seqset *s, uint64_t **keys, int64_t *n_keys) {
  for (int64_t q = 0; q < s->n; q++) {
    const uint8_t *c = s->codes + s->offset[q];
    int64_t len = s->offset[q + 1] - s->offset[q];
    uint64_t roll = 0;
    for (int64_t p = 0; p < len; p++) {
      roll = (roll << 2) | c[p];
      int top = p < m->k ? (int)p : m->k;
      for (int j = 0; j <= top; j++) {
        uint64_t key = low_bases(roll, j + 1);
        if (m->dense[j])
          m->count[j][key]++;
        else
          keys[j][n_keys[j]++] = key;
      }
    }
  }
}

/* Local. Sorted keys become distinct (key, count) pairs in place of pairs[0..*n). */
static int64_t run_lengths(const uint64_t *keys, int64_t n, kmer_count *pairs) {
  int64_t out = 0;
  for (int64_t i = 0; i < n; i++) {
    if (out > 0 && pairs[out - 1].key == keys[i])
      pairs[out - 1].count++;
    else
      pairs[out++] = (kmer_count){keys[i], 1};
  }
  return out;
}

/* Local. Merge gathered pairs (sorted again) into the order's keys and counts. */
static int store_pairs(sm_ctx *ctx, sm_markov *m, int j, kmer_count *all, int64_t n) {
  qsort(all, (size_t)n, sizeof(kmer_count), cmp_pair);
  int64_t out = 0;
  for (int64_t i = 0; i < n; i++) {
    if (out > 0 && all[out - 1].key == all[i].key)
      all[out - 1].count += all[i].count;
    else
      all[out++] = all[i];
  }
  m->n[j] = out;
  m->keys[j] = sm_malloc(ctx, (size_t)(out > 0 ? out : 1) * sizeof(uint64_t));
  m->count[j] = sm_malloc(ctx, (size_t)(out > 0 ? out : 1) * sizeof(int64_t));
  if (!m->keys[j] || !m->count[j])
    return SM_ERR;
  for (int64_t i = 0; i < out; i++)
    m->keys[j][i] = all[i].key, m->count[j][i] = all[i].count;
  return SM_OK;
}

/* Collective. Sum a sparse order over ranks: every rank gathers every rank's pairs (as
 * bytes) and merges them, so every rank holds the same sorted table. */
static int reduce_sparse(sm_ctx *ctx, sm_markov *m, int j, uint64_t *keys, int64_t n_keys) {
  qsort(keys, (size_t)n_keys, sizeof(uint64_t), cmp_u64);
  kmer_count *mine = sm_malloc(ctx, (size_t)(n_keys > 0 ? n_keys : 1) * sizeof(kmer_count));
  SM_TRY(sm_agree(ctx, mine ? SM_OK : SM_ERR));
  int64_t n_mine = run_lengths(keys, n_keys, mine);

  /* sizes, then the pairs of every rank */
  int *bytes = sm_calloc(ctx, (size_t)ctx->size, sizeof(int));
  int *displ = sm_calloc(ctx, (size_t)ctx->size, sizeof(int));
  int my_bytes = (int)(n_mine * (int64_t)sizeof(kmer_count)), rc = SM_OK;
  int64_t total = 0;
  rc = sm_agree(ctx, bytes && displ ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = MPI_Allgather(&my_bytes, 1, MPI_INT, bytes, 1, MPI_INT, ctx->comm) == MPI_SUCCESS
             ? SM_OK
             : sm_fail(ctx, SM_ERR, "MPI_Allgather of sparse count sizes failed");
  for (int r = 0; r < ctx->size && rc == SM_OK; r++) {
    displ[r] = (int)total;
    total += bytes[r];
  }
  if (rc == SM_OK && total > 0x7fffffff)
    rc = sm_fail(ctx, SM_EINPUT,
                 "order %d: %lld bytes of distinct %d-mers exceed one MPI "
                 "message; use a smaller model.order",
                 j, (long long)total, j + 1);
  kmer_count *all = rc == SM_OK ? sm_malloc(ctx, (size_t)(total > 0 ? total : 1)) : NULL;
  rc = sm_agree(ctx, rc == SM_OK && !all ? SM_ERR : rc);
  if (rc == SM_OK)
    rc = MPI_Allgatherv(mine, my_bytes, MPI_BYTE, all, bytes, displ, MPI_BYTE, ctx->comm) ==
                 MPI_SUCCESS
             ? SM_OK
             : sm_fail(ctx, SM_ERR, "MPI_Allgatherv of sparse counts failed");
  if (rc == SM_OK)
    rc = store_pairs(ctx, m, j, all, total / (int64_t)sizeof(kmer_count));
  free(mine);
  free(bytes);
  free(displ);
  free(all);
  return sm_agree(ctx, rc);
}

/* Local. The dense P_j tables, from order 0 up (dense orders are a prefix of 0..k). */
static int build_tables(sm_ctx *ctx, sm_markov *m) {
  for (int j = 0; j <= m->k && m->dense[j]; j++) {
    m->prob[j] = sm_malloc(ctx, (size_t)m->n[j] * sizeof(double));
    if (!m->prob[j])
      return SM_ERR;
    int64_t contexts = m->n[j] / 4, lower = contexts / 4;
    for (int64_t h = 0; h < contexts; h++) {
      double *p = m->prob[j] + 4 * h;
      if (j == 0)
        p[0] = p[1] = p[2] = p[3] = 0.25;
      else
        memcpy(p, m->prob[j - 1] + 4 * (h % lower), 4 * sizeof(double));
      interpolate(m->count[j] + 4 * h, p);
    }
  }
  return SM_OK;
}

/* Collective. Decide dense or sparse per order (the same on every rank: it depends on the
 * global base count only) and allocate the dense tables and sparse key buffers. */
static int allocate(sm_ctx *ctx, sm_markov *m, const sm_seqset *s, int64_t limit, uint64_t **keys) {
  int64_t total = 0, here = s->n ? s->offset[s->n] : 0;
  SM_TRY(sm_seqset_bases(ctx, s, &total));
  if (limit <= 0) {
    limit = 2 * total > DENSE_MIN ? 2 * total : DENSE_MIN;
    limit = limit < DENSE_MAX ? limit : DENSE_MAX;
  }
  int rc = SM_OK;
  for (int j = 0; j <= m->k && rc == SM_OK; j++) {
    int64_t size = (int64_t)1 << (2 * (j + 1));
    m->dense[j] = j == 0 || (j < 31 && size <= limit);
    if (m->dense[j]) {
      m->n[j] = size;
      m->count[j] = sm_calloc(ctx, (size_t)size, sizeof(int64_t));
      rc = m->count[j] ? SM_OK : SM_ERR;
    } else {
      keys[j] = sm_malloc(ctx, (size_t)(here > 0 ? here : 1) * sizeof(uint64_t));
      rc = keys[j] ? SM_OK : SM_ERR;
    }
  }
  return sm_agree(ctx, rc);
}

/* Collective. The model of order k on s. */
static int fit_order(sm_ctx *ctx, int k, int64_t dense_limit, const sm_seqset *s, sm_markov **out) {
  sm_markov *m = sm_calloc(ctx, 1, sizeof(sm_markov));
  uint64_t *keys[N_ORDERS] = {0};
  int64_t n_keys[N_ORDERS] = {0};
  SM_TRY(sm_agree(ctx, m ? SM_OK : SM_ERR));
  m->k = k;
  int rc = allocate(ctx, m, s, dense_limit, keys);

  /* count here, then sum over ranks order by order */
  if (rc == SM_OK)
    count_local(m, s, keys, n_keys);
  for (int j = 0; j <= k && rc == SM_OK; j++) {
    if (m->dense[j]) {
      int mrc =
          MPI_Allreduce(MPI_IN_PLACE, m->count[j], (int)m->n[j], MPI_INT64_T, MPI_SUM, ctx->comm);
      rc = mrc == MPI_SUCCESS ? SM_OK : sm_fail_mpi(ctx, mrc, "MPI_Allreduce", __FILE__, __LINE__);
    } else {
      rc = reduce_sparse(ctx, m, j, keys[j], n_keys[j]);
    }
  }
  if (rc == SM_OK)
    rc = sm_agree(ctx, build_tables(ctx, m));
  for (int j = 0; j < N_ORDERS; j++)
    free(keys[j]);
  if (rc != SM_OK) {
    sm_markov_free(m);
    return rc;
  }
  *out = m;
  return SM_OK;
}

int sm_markov_bits_per_base(sm_ctx *ctx, const sm_markov *m, int j, const sm_seqset *s,
                            double *bits) {
  /* fixed-point sums: the same total whatever the split over ranks */
  int64_t local[2] = {0, 0}, global[2];
  for (int64_t q = 0; q < s->n; q++) {
    const uint8_t *c = s->codes + s->offset[q];
    int64_t len = s->offset[q + 1] - s->offset[q];
    for (int64_t p = 0; p < len; p++) {
      double pr[4];
      predict(m, j, c, p, pr);
      local[0] += llround(-log2(pr[c[p]]) * BITS_SCALE);
    }
    local[1] += len;
  }
  SM_MPI_CHECK(ctx, MPI_Allreduce(local, global, 2, MPI_INT64_T, MPI_SUM, ctx->comm));
  *bits = global[1] > 0 ? (double)global[0] / BITS_SCALE / (double)global[1] : NAN;
  return SM_OK;
}

/* Collective. The order with the fewest held-out bits per base: counts up to max_order
 * from the given parts, or from the first part of each training sequence scored on the
 * rest of it. */
static int choose_order(sm_ctx *ctx, const sm_markov_options *opt, const sm_seqset *train,
                        int *best) {
  sm_seqset head = {0}, rest = {0};
  sm_markov *m = NULL;
  int given = opt->choose_fit && opt->choose_score && opt->choose_score->n_total > 0 &&
              opt->choose_fit->n_total > 0;
  int rc = given ? SM_OK
                 : sm_agree(ctx, sm_seq_split_tail(ctx, train, opt->validate_tail, &head, &rest));
  const sm_seqset *fit = given ? opt->choose_fit : &head,
                  *score = given ? opt->choose_score : &rest;
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO, "dna_markov: choosing the order on %lld sequences, scored on %lld%s",
           (long long)fit->n_total, (long long)score->n_total,
           given ? "" : " (the ends of the same sequences)");
  if (rc == SM_OK)
    rc = fit_order(ctx, opt->max_order, opt->dense_limit, fit, &m);
  double best_bits = INFINITY;
  *best = 0;
  for (int j = 0; j <= opt->max_order && rc == SM_OK; j++) {
    double bits = NAN;
    rc = sm_markov_bits_per_base(ctx, m, j, score, &bits);
    sm_log(ctx, SM_LOG_INFO, "dna_markov: order %2d: %.4f validation bits per base", j, bits);
    if (rc == SM_OK && bits < best_bits)
      best_bits = bits, *best = j;
  }
  if (rc == SM_OK && !isfinite(best_bits))
    rc = sm_fail(ctx, SM_EINPUT,
                 "choosing model.order: no validation bases (sequences too "
                 "short to hold back a share of each)");
  sm_markov_free(m);
  sm_seqset_free(&head);
  sm_seqset_free(&rest);
  return rc;
}

int sm_markov_fit(sm_ctx *ctx, const sm_markov_options *opt, const sm_seqset *train,
                  sm_markov **out) {
  *out = NULL;
  int k = opt->order;
  if (k > SM_SEQ_MAX_ORDER || k < -1 || opt->max_order < 0 || opt->max_order > SM_SEQ_MAX_ORDER)
    return sm_fail(ctx, SM_EINPUT, "model.order must be -1 (choose) or 0..%d, max_order 0..%d",
                   SM_SEQ_MAX_ORDER, SM_SEQ_MAX_ORDER);

  /* order -1: the one that predicts held-back training bases best */
  if (k < 0) {
    SM_TRY(choose_order(ctx, opt, train, &k));
    sm_log(ctx, SM_LOG_INFO, "dna_markov: chose order %d by validation bits per base", k);
  }
  return fit_order(ctx, k, opt->dense_limit, train, out);
}

void sm_markov_sample(const sm_markov *m, uint64_t seed, int64_t index, int64_t length,
                      uint8_t *out) {
  sm_rng g;
  sm_rng_init(&g, seed, SM_STREAM_SAMPLE, (uint64_t)index);
  for (int64_t p = 0; p < length; p++) {
    double pr[4];
    predict(m, m->k, out, p, pr);
    double u = sm_rng_uniform(&g), acc = pr[0];
    int x = 0;
    while (x < 3 && u >= acc)
      acc += pr[++x];
    out[p] = (uint8_t)x;
  }
}
