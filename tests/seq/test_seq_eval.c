/* Sequence metrics at 1, 2 and 3 ranks: k-mer counts and Jensen-Shannon divergence
 * against direct formulas, and longest matches (both strands) against brute force. */
#include "seq/seq_internal.h"
#include "seq_fixture.h"
#include "synthmpi/rng.h"
#include "test_util.h"

static sm_ctx ctx;

static void test_jsd(void) {
  double a[2] = {1, 0}, b[2] = {0, 3}, c[4] = {1, 2, 3, 4}, d[4] = {4, 3, 2, 1};
  CHECK_CLOSE(sm_seq_jsd(a, b, 2), 1.0, 1e-15);
  CHECK_CLOSE(sm_seq_jsd(c, c, 4), 0.0, 1e-15);

  /* direct: H(M) - (H(P) + H(Q)) / 2, with natural logs */
  double p[4], q[4], hp = 0, hq = 0, hm = 0;
  for (int i = 0; i < 4; i++) {
    p[i] = c[i] / 10, q[i] = d[i] / 10;
    double m = (p[i] + q[i]) / 2;
    hp -= p[i] * log(p[i]), hq -= q[i] * log(q[i]), hm -= m * log(m);
  }
  double want = (hm - (hp + hq) / 2) / log(2);
  printf("jsd %.15f, reference %.15f\n", sm_seq_jsd(c, d, 4), want);
  CHECK_CLOSE(sm_seq_jsd(c, d, 4), want, 1e-14);
}

static char *random_seq(sm_rng *g, int len) {
  char *s = calloc((size_t)len + 1, 1);
  for (int i = 0; i < len; i++)
    s[i] = "ACGT"[sm_rng_u32(g) >> 30];
  return s;
}

static char complement(char c) {
  return "TGCA"[ref_code(c)];
}

/* Brute force: the longest common substring of q and any ref or its reverse complement. */
static int brute_longest(char **ref, int n, const char *q) {
  int best = 0, lq = (int)strlen(q);
  for (int r = 0; r < n; r++) {
    int lr = (int)strlen(ref[r]);
    char *rc = calloc((size_t)lr + 1, 1);
    for (int i = 0; i < lr; i++)
      rc[i] = complement(ref[r][lr - 1 - i]);
    for (int strand = 0; strand < 2; strand++) {
      const char *t = strand ? rc : ref[r];
      for (int i = 0; i < lq; i++)
        for (int j = 0; j < lr; j++) {
          int l = 0;
          while (i + l < lq && j + l < lr && q[i + l] == t[j + l])
            l++;
          best = l > best ? l : best;
        }
    }
    free(rc);
  }
  return best;
}

static void test_kmers_and_matches(void) {
  sm_rng g;
  sm_rng_init(&g, 4, SM_STREAM_TEST, 0);
  char *ref[5], *qs[7];
  for (int i = 0; i < 5; i++)
    ref[i] = random_seq(&g, 300);
  for (int i = 0; i < 7; i++)
    qs[i] = random_seq(&g, 200);
  /* planted copies: forward, reverse complement, across the end of a reference */
  memcpy(qs[1] + 50, ref[2] + 100, 40);
  for (int i = 0; i < 60; i++)
    qs[2][10 + i] = complement(ref[3][200 - i]);
  memcpy(qs[3], ref[4] + 270, 30);
  memcpy(qs[3] + 30, ref[0], 25);

  sm_seqset rs, qset;
  seqset_from(&rs, ref, 5, ctx.rank, ctx.size);
  seqset_from(&qset, qs, 7, ctx.rank, ctx.size);
  sm_seq_index *x = NULL;
  CHECK(sm_seq_index_build(&ctx, &rs, &x) == SM_OK);
  int bad = 0;
  for (int64_t i = 0; i < qset.n && x; i++) {
    int64_t got = sm_seq_index_longest(x, qset.codes + qset.offset[i], 200);
    int want = brute_longest(ref, 5, qs[qset.first + i]);
    if (got != want)
      fprintf(stderr, "query %lld: longest match %lld, brute force %d\n",
              (long long)(qset.first + i), (long long)got, want);
    bad += got != want;
  }
  CHECK(bad == 0);
  sm_seq_index_free(x);

  /* k-mer counts against a direct count over all references */
  for (int k = 1; k <= 6; k++) {
    double *c = calloc((size_t)1 << (2 * k), sizeof(double));
    CHECK(sm_seq_kmer_counts(&ctx, &rs, k, c) == SM_OK);
    int diff = 0;
    for (int t = 0; t < 30; t++) {
      int r = t % 5, p = (int)(sm_rng_u32(&g) % (300 - k + 1));
      uint64_t key = 0;
      for (int q = 0; q < k; q++)
        key = (key << 2) | (uint64_t)ref_code(ref[r][p + q]);
      double want = 0;
      for (int rr = 0; rr < 5; rr++)
        for (int pp = 0; pp + k <= 300; pp++) {
          uint64_t kk = 0;
          for (int q = 0; q < k; q++)
            kk = (kk << 2) | (uint64_t)ref_code(ref[rr][pp + q]);
          want += kk == key;
        }
      diff += c[key] != want;
    }
    CHECK(diff == 0);
    free(c);
  }
  sm_seqset_free(&rs);
  sm_seqset_free(&qset);
  for (int i = 0; i < 5; i++)
    free(ref[i]);
  for (int i = 0; i < 7; i++)
    free(qs[i]);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  if (ctx.rank == 0)
    test_jsd();
  test_kmers_and_matches();
  sm_ctx_free(&ctx);
  return test_finish();
}
