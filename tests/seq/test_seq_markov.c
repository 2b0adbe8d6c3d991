/* The Markov model at 1, 2 and 3 ranks against slow references: counts, Witten-Bell
 * probabilities, held-out bits per base; dense and sparse storage agree; bad orders. */
#include "seq/seq_internal.h"
#include "seq_fixture.h"
#include "synthmpi/rng.h"
#include "test_util.h"

static sm_ctx ctx;

/* Slow: occurrences of the (j+1)-mer key in every sequence. */
static int64_t ref_count(char **seqs, int n, int j, uint64_t key) {
  int64_t c = 0;
  for (int i = 0; i < n; i++) {
    int64_t len = (int64_t)strlen(seqs[i]);
    for (int64_t p = j; p < len; p++) {
      uint64_t k = 0;
      for (int64_t q = p - j; q <= p; q++)
        k = (k << 2) | (uint64_t)ref_code(seqs[i][q]);
      c += k == key;
    }
  }
  return c;
}

/* Slow Witten-Bell: recursion over orders with counts from ref_count. */
static void ref_predict(char **seqs, int n, int k, const uint8_t *hist, int64_t len, double p[4]) {
  p[0] = p[1] = p[2] = p[3] = 0.25;
  int top = len < k ? (int)len : k;
  for (int i = 0; i <= top; i++) {
    uint64_t h = 0;
    for (int64_t q = len - i; q < len; q++)
      h = (h << 2) | hist[q];
    int64_t c[4], total = 0;
    int distinct = 0;
    for (int x = 0; x < 4; x++) {
      c[x] = ref_count(seqs, n, i, h * 4 + (uint64_t)x);
      total += c[x];
      distinct += c[x] > 0;
    }
    for (int x = 0; x < 4 && total > 0; x++)
      p[x] = ((double)c[x] + distinct * p[x]) / (double)(total + distinct);
  }
}

/* Training data small enough for the slow reference: windows of lambda. */
static void small_set(char **out, int n, int len) {
  ref_fasta r;
  ref_fasta_read(test_data("dna/lambda_virus.fa"), &r);
  for (int i = 0; i < n; i++) {
    out[i] = calloc((size_t)len + 1, 1);
    memcpy(out[i], r.seq[0] + 3000 * i, (size_t)len);
  }
  ref_fasta_free(&r);
}

static void test_counts_and_probabilities(int64_t dense_limit) {
  char *seqs[6];
  small_set(seqs, 6, 400);
  sm_seqset s;
  seqset_from(&s, seqs, 6, ctx.rank, ctx.size);
  sm_markov_options o = {.order = 12, .dense_limit = dense_limit};
  sm_markov *m = NULL;
  CHECK(sm_markov_fit(&ctx, &o, &s, &m) == SM_OK);
  if (!m)
    return;

  /* counts of every order at keys seen in the data and at random keys */
  int bad = 0;
  sm_rng g;
  sm_rng_init(&g, 11, SM_STREAM_TEST, 0);
  for (int j = 0; j <= 12; j++)
    for (int t = 0; t < 20; t++) {
      uint64_t key = 0;
      int p = (int)(sm_rng_u32(&g) % (400 - 13));
      for (int q = p; q <= p + j; q++)
        key = (key << 2) | (uint64_t)ref_code(seqs[t % 6][q]);
      if (t % 2)
        key = ((uint64_t)sm_rng_u32(&g) << 20 ^ sm_rng_u32(&g)) & ((1ULL << (2 * j + 2)) - 1);
      bad += sm_markov_count(m, j, key) != ref_count(seqs, 6, j, key);
    }
  CHECK(bad == 0);

  /* smoothed distributions: against the slow recursion, positive, summing to 1 */
  double max_diff = 0, max_sum_err = 0, min_p = 1;
  for (int t = 0; t < 40; t++) {
    uint8_t hist[16];
    int64_t len = t % 16;
    for (int64_t q = 0; q < len; q++)
      hist[q] = (uint8_t)(t < 20 ? ref_code(seqs[1][100 + q]) : (int)(sm_rng_u32(&g) >> 30));
    double p[4], want[4];
    sm_markov_predict(m, hist, len, p);
    ref_predict(seqs, 6, 12, hist, len, want);
    double sum = 0;
    for (int x = 0; x < 4; x++) {
      sum += p[x];
      max_diff = fmax(max_diff, fabs(p[x] - want[x]));
      min_p = fmin(min_p, p[x]);
    }
    max_sum_err = fmax(max_sum_err, fabs(sum - 1));
  }
  int dense = 0;
  while (dense < 12 && sm_markov_is_dense(m, dense + 1))
    dense++;
  if (ctx.rank == 0)
    printf("dense limit %lld: orders 0..%d dense; max |p - ref| %.3g, max |sum - 1| %.3g, "
           "min p %.3g\n",
           (long long)dense_limit, dense, max_diff, max_sum_err, min_p);
  CHECK(dense_limit != 16 || dense == 1);
  CHECK_CLOSE(max_diff, 0, 1e-12);
  CHECK_CLOSE(max_sum_err, 0, 1e-12);
  CHECK(min_p > 0);
  sm_markov_free(m);
  sm_seqset_free(&s);
  for (int i = 0; i < 6; i++)
    free(seqs[i]);
}

/* Bits per base of held-out sequences against the slow reference, for orders 0..4. */
static void test_bits_per_base(void) {
  char *seqs[4], *held[2];
  small_set(seqs, 4, 300);
  ref_fasta r;
  ref_fasta_read(test_data("dna/lambda_virus.fa"), &r);
  for (int i = 0; i < 2; i++) {
    held[i] = calloc(201, 1);
    memcpy(held[i], r.seq[0] + 40000 + 1000 * i, 200);
  }
  ref_fasta_free(&r);
  sm_seqset s, h;
  seqset_from(&s, seqs, 4, ctx.rank, ctx.size);
  seqset_from(&h, held, 2, ctx.rank, ctx.size);
  sm_markov_options o = {.order = 4};
  sm_markov *m = NULL;
  CHECK(sm_markov_fit(&ctx, &o, &s, &m) == SM_OK);
  for (int j = 0; j <= 4 && m; j++) {
    double bits = 0, want = 0;
    int64_t n = 0;
    CHECK(sm_markov_bits_per_base(&ctx, m, j, &h, &bits) == SM_OK);
    for (int i = 0; i < 2; i++)
      for (int64_t p = 0; p < 200; p++, n++) {
        uint8_t hist[200];
        for (int64_t q = 0; q < p; q++)
          hist[q] = (uint8_t)ref_code(held[i][q]);
        double pr[4];
        ref_predict(seqs, 4, j, hist, p, pr);
        want -= log2(pr[ref_code(held[i][p])]);
      }
    want /= (double)n;
    if (ctx.rank == 0)
      printf("order %d: %.6f bits per base, reference %.6f\n", j, bits, want);
    CHECK_CLOSE(bits, want, 1e-6); /* fixed-point sums: 2^-24 bits per base */
  }
  sm_markov_free(m);
  sm_seqset_free(&s);
  sm_seqset_free(&h);
  for (int i = 0; i < 4; i++)
    free(seqs[i]);
  for (int i = 0; i < 2; i++)
    free(held[i]);
}

/* Order chosen on the real lambda windows is the same at every rank count, and sampling
 * depends on (seed, index) only. */
static void test_choose_and_sample(void) {
  sm_fasta_options fo = {.path = test_data("dna/lambda_virus.fa"),
                         .window = 1000,
                         .holdout = SM_HOLDOUT_TAIL,
                         .fraction = 0.1};
  sm_seqset t, h;
  sm_fasta_stats st;
  CHECK(sm_fasta_read(&ctx, &fo, &t, &h, &st) == SM_OK);
  sm_fasta_parts parts;
  CHECK(sm_fasta_read_parts(&ctx, &fo, 0.1, &parts, &st) == SM_OK);
  sm_markov_options o = {.order = -1,
                         .max_order = 8,
                         .validate_tail = 0.1,
                         .choose_fit = &parts.choose_fit,
                         .choose_score = &parts.choose_score};
  sm_markov *m = NULL;
  CHECK(sm_markov_fit(&ctx, &o, &t, &m) == SM_OK);
  int k = m ? sm_markov_order(m) : -1, k0 = k;
  MPI_Bcast(&k0, 1, MPI_INT, 0, MPI_COMM_WORLD);
  CHECK(k == k0 && k >= 1 && k <= 8);
  uint8_t a[500], b[500];
  if (m) {
    sm_markov_sample(m, 5, 123, 500, a);
    sm_markov_sample(m, 5, 123, 500, b);
    CHECK(memcmp(a, b, 500) == 0);
    sm_markov_sample(m, 5, 124, 500, b);
    CHECK(memcmp(a, b, 500) != 0);
  }
  if (ctx.rank == 0)
    printf("lambda: chose order %d\n", k);
  sm_markov_free(m);
  sm_seqset_free(&t);
  sm_seqset_free(&h);
  sm_fasta_parts_free(&parts);
}

static void test_bad_orders(void) {
  char *seqs[1] = {"ACGTACGTAA"};
  sm_seqset s;
  seqset_from(&s, seqs, 1, ctx.rank, ctx.size);
  sm_markov *m = NULL;
  sm_markov_options bad[] = {
      {.order = SM_SEQ_MAX_ORDER + 1}, {.order = -2}, {.order = -1, .max_order = 99}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(sm_markov_fit(&ctx, &bad[i], &s, &m) == SM_EINPUT);
    CHECK(m == NULL);
  }
  sm_seqset_free(&s);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  test_counts_and_probabilities(0);  /* dense to order 5, sparse above */
  test_counts_and_probabilities(16); /* sparse from order 2 */
  test_bits_per_base();
  test_choose_and_sample();
  test_bad_orders();
  sm_ctx_free(&ctx);
  return test_finish();
}
