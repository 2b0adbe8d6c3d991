/* Metric kernels against slow references, on random and hand-made values. */
#include <math.h>
#include <stdlib.h>

#include "eval/eval_internal.h"
#include "eval_reference.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define TOL 1e-12

/* Random values with ties (quarter steps) and about 10 % missing. */
static void fill_numeric(sm_rng *g, double *x, int n, double shift) {
  for (int i = 0; i < n; i++)
    x[i] = sm_rng_uniform(g) < 0.1 ? NAN : round((sm_rng_normal(g) + shift) * 4.0) / 4.0;
}

/* Random codes in [lo, hi) with about 10 % missing. */
static void fill_codes(sm_rng *g, double *x, int n, int lo, int hi) {
  for (int i = 0; i < n; i++)
    x[i] = sm_rng_uniform(g) < 0.1 ? NAN : lo + (int)(sm_rng_uniform(g) * (hi - lo));
}

static void test_random(uint64_t seed) {
  enum { NR = 211, NS = 157 };
  double ra[NR], rb[NR], sa[NS], sb[NS], rc[NR], sc[NS], rd[NR], sd[NS];
  sm_rng g;
  sm_rng_init(&g, seed, SM_STREAM_TEST, 0);
  fill_numeric(&g, ra, NR, 0.0);
  fill_numeric(&g, sa, NS, 0.3);
  for (int i = 0; i < NR; i++)
    rb[i] = isnan(ra[i]) ? 1.0 : ra[i] * 0.7 + sm_rng_normal(&g);
  for (int i = 0; i < NS; i++)
    sb[i] = sm_rng_uniform(&g) < 0.1 ? NAN : sm_rng_normal(&g);

  /* categories: 0 never in the real set, 4 never in the synthetic set */
  fill_codes(&g, rc, NR, 1, 5);
  fill_codes(&g, sc, NS, 0, 4);
  fill_codes(&g, rd, NR, 0, 3);
  fill_codes(&g, sd, NS, 0, 3);

  /* shapes */
  double got = sm_eval_ks_complement(ra, NR, sa, NS);
  CHECK_CLOSE(got, ref_ks_complement(ra, NR, sa, NS), TOL);
  CHECK(got < 1.0);
  got = sm_eval_tv_complement(rc, NR, sc, NS, 5);
  CHECK_CLOSE(got, ref_tv_complement(rc, NR, sc, NS, 5), TOL);
  CHECK(got < 1.0);

  /* pairs */
  got = sm_eval_correlation_similarity(ra, rb, NR, sa, sb, NS);
  CHECK_CLOSE(got, ref_correlation_similarity(ra, rb, NR, sa, sb, NS), TOL);
  got = sm_eval_contingency_similarity(rc, rd, NR, sc, sd, NS);
  CHECK_CLOSE(got, ref_contingency(rc, rd, NR, sc, sd, NS, 5, 3), TOL);

  /* numeric x categorical: binned over the real column's range */
  double br[NR], bs[NS], qr[NR], qs[NS];
  sm_eval_bin(rb, NR, rb, NR, br);
  sm_eval_bin(rb, NR, sb, NS, bs);
  ref_bin(rb, NR, rb, NR, qr);
  ref_bin(rb, NR, sb, NS, qs);
  int same = 1;
  for (int i = 0; i < NR; i++)
    same &= (isnan(br[i]) && isnan(qr[i])) || br[i] == qr[i];
  for (int i = 0; i < NS; i++)
    same &= (isnan(bs[i]) && isnan(qs[i])) || bs[i] == qs[i];
  CHECK(same);
  got = sm_eval_contingency_similarity(br, rc, NR, bs, sc, NS);
  CHECK_CLOSE(got, ref_contingency(qr, rc, NR, qs, sc, NS, 10, 5), TOL);

  /* a set against itself scores exactly 1 */
  CHECK(sm_eval_ks_complement(ra, NR, ra, NR) == 1.0);
  CHECK(sm_eval_tv_complement(rc, NR, rc, NR, 5) == 1.0);
  CHECK(sm_eval_correlation_similarity(ra, rb, NR, ra, rb, NR) == 1.0);
  CHECK(sm_eval_contingency_similarity(rc, rd, NR, rc, rd, NR) == 1.0);
}

/* Hand-made values whose scores are known by hand. */
static void test_hand_made(void) {
  /* KS: real {1,2,3,4}, synthetic {3,4,5,6,NaN}: at x=2 the ECDFs are 1/2 and 0 */
  double r[] = {4, 1, 3, 2}, s[] = {3, NAN, 6, 5, 4};
  CHECK_CLOSE(sm_eval_ks_complement(r, 4, s, 5), 0.5, TOL);

  /* TV: real codes {0,0,1,NaN}, synthetic {1,1,2}: p = (2/3,1/3,0) vs (0,2/3,1/3) */
  double rc[] = {0, 0, 1, NAN}, sc[] = {1, 1, 2};
  CHECK_CLOSE(sm_eval_tv_complement(rc, 4, sc, 3, 3), 1.0 - 0.5 * (4.0 / 3.0), TOL);

  /* correlation: perfectly increasing vs perfectly decreasing gives 0 */
  double x[] = {1, 2, 3}, up[] = {2, 4, 6}, down[] = {6, 4, 2};
  CHECK_CLOSE(sm_eval_correlation_similarity(x, up, 3, x, down, 3), 0.0, TOL);

  /* bins over [0, 10]: width 1, an edge value opens its bin, outside values clip */
  double real[] = {0, 10, 5}, v[] = {-5, 0, 3.5, 4, 9.99, 10, 42, NAN}, codes[8];
  double want[] = {0, 0, 3, 4, 9, 9, 9, NAN};
  sm_eval_bin(real, 3, v, 8, codes);
  for (int i = 0; i < 8; i++)
    CHECK((isnan(want[i]) && isnan(codes[i])) || codes[i] == want[i]);

  /* a constant real column puts everything in one bin, as numpy widens the range */
  double flat[] = {7, 7}, w[] = {6, 7, 8}, wc[3];
  sm_eval_bin(flat, 2, w, 3, wc);
  CHECK(wc[0] == 0 && wc[1] == 5 && wc[2] == 9);

  /* undefined scores are NaN, not a crash */
  double none[] = {NAN, NAN};
  CHECK(isnan(sm_eval_ks_complement(r, 4, none, 2)));
  CHECK(isnan(sm_eval_tv_complement(none, 2, rc, 4, 3)));
}

/* AUC by counting every (positive, negative) pair, ties counting one half. */
static double brute_auc(const double *p, const int *y, int n) {
  double wins = 0.0, pairs = 0.0;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++) {
      if (!y[i] || y[j])
        continue;
      wins += p[i] > p[j] ? 1.0 : (p[i] == p[j] ? 0.5 : 0.0);
      pairs += 1.0;
    }
  }
  return wins / pairs;
}

static void test_classifier_metrics(void) {
  enum { N = 300 };
  double p[N];
  int y[N];
  sm_rng g;
  sm_rng_init(&g, 5, SM_STREAM_TEST, 1);
  for (int i = 0; i < N; i++) {
    y[i] = sm_rng_uniform(&g) < 0.4;
    p[i] = round((sm_rng_uniform(&g) + 0.3 * y[i]) * 10.0) / 10.0; /* many ties */
  }
  double got = sm_eval_roc_auc(p, y, N), want = brute_auc(p, y, N);
  CHECK_CLOSE(got, want, TOL);
  printf("AUC %.12f (pair count %.12f)\n", got, want);

  /* hand count: truth 1 1 1 0 0 0 0, pred 1 1 0 1 0 0 0
   * class 1: tp 2 fp 1 fn 1 -> F1 4/6; class 0: tp 3 fp 1 fn 1 -> F1 6/8 */
  int t[] = {1, 1, 1, 0, 0, 0, 0}, q[] = {1, 1, 0, 1, 0, 0, 0};
  CHECK_CLOSE(sm_eval_macro_f1(t, q, 7, 2), 0.5 * (4.0 / 6.0 + 6.0 / 8.0), TOL);

  /* hand-made AUC: scores 0.1 0.4 0.35 0.8, labels 0 0 1 1 -> 3 of 4 pairs */
  double hs[] = {0.1, 0.4, 0.35, 0.8};
  int hy[] = {0, 0, 1, 1};
  CHECK_CLOSE(sm_eval_roc_auc(hs, hy, 4), 0.75, TOL);
  int one[] = {1, 1, 1, 1};
  CHECK(isnan(sm_eval_roc_auc(hs, one, 4)));
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  for (uint64_t seed = 1; seed <= 5; seed++)
    test_random(seed);
  test_hand_made();
  test_classifier_metrics();
  return test_finish();
}
