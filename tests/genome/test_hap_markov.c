/* hap_markov: transition counts against a slow reference (explicit look-back), the smoothed
 * probabilities against a direct recursion, sampling that depends only on (seed, row), and
 * the private fit's noise and ledger. At 1, 2 and 3 ranks: the counts are allreduced. */
#include <string.h>

#include "genome/genome_internal.h"
#include "synthmpi/privacy.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define ROWS 301
#define VARS 40
#define ORDER 3

/* Global row i of the test matrix: correlated alleles along the row, 3 % missing. */
static void make_row(int64_t i, int A, uint8_t *g) {
  sm_rng r;
  sm_rng_init(&r, 7, SM_STREAM_TEST, (uint64_t)i);
  int prev = 0;
  for (int j = 0; j < VARS; j++) {
    double u = sm_rng_uniform(&r);
    int a = u < 0.7 ? prev : (int)(sm_rng_u32(&r) % (uint32_t)A);
    g[j] = sm_rng_uniform(&r) < 0.03 ? SM_ALLELE_MISSING : (uint8_t)a;
    prev = a;
  }
}

/* This rank's block of the test matrix. */
static void make_matrix(sm_ctx *ctx, int A, sm_hapmat *m) {
  int64_t lo, hi;
  sm_partition(ROWS, ctx->size, ctx->rank, &lo, &hi);
  memset(m, 0, sizeof(*m));
  m->n_rows = hi - lo, m->n_vars = VARS, m->ploidy_coded = A == 3;
  m->g = malloc((size_t)((hi - lo) * VARS + 1));
  m->person = calloc((size_t)(hi - lo + 1), sizeof(int64_t));
  for (int64_t i = lo; i < hi; i++)
    make_row(i, A, m->g + (i - lo) * VARS), m->person[i - lo] = i;
}

/* Slow reference: count[j][c][a] with the context read back digit by digit. */
static void reference_counts(int A, double *ref, const sm_hap_markov *m) {
  uint8_t g[VARS];
  for (int64_t i = 0; i < ROWS; i++) {
    make_row(i, A, g);
    for (int j = 0; j < VARS; j++) {
      /* a missing value is not counted, and reads as 0 in later contexts */
      int k = j < ORDER ? j : ORDER;
      int64_t c = 0, place = 1;
      for (int d = 1; d <= k; d++, place *= A)
        c += g[j - d] != SM_ALLELE_MISSING ? g[j - d] * place : 0;
      if (g[j] != SM_ALLELE_MISSING)
        ref[(m->offset[j] + c) * A + g[j]] += 1;
    }
  }
}

/* Direct recursion for p(a | the `level` most recent values of context c) at variant j. */
static double reference_prob(const sm_hap_markov *m, int j, int64_t c, int level, int a) {
  int A = m->alphabet;
  int64_t mod = 1;
  for (int d = 0; d < level; d++)
    mod *= A;
  double n_a = 0, n = 0;
  for (int64_t x = 0; x < m->offset[j + 1] - m->offset[j]; x++)
    if (x % mod == c % mod)
      for (int b = 0; b < A; b++) {
        double v = m->counts[(m->offset[j] + x) * A + b];
        v = v > 0 ? v : 0;
        n += v;
        n_a += b == a ? v : 0;
      }
  double prior = level == 0 ? 1.0 / A : reference_prob(m, j, c, level - 1, a);
  return (n_a + m->alpha * prior) / (n + m->alpha);
}

static void test_counts(sm_ctx *ctx, int A) {
  sm_hapmat train;
  make_matrix(ctx, A, &train);
  sm_hap_markov_spec spec = {.order = ORDER, .alpha = 1.5};
  sm_hap_markov m;
  CHECK(sm_hap_markov_fit(ctx, &spec, &train, &m) == SM_OK);
  CHECK(m.alphabet == A);
  int64_t cells = m.offset[VARS] * A;
  double *ref = calloc((size_t)cells, sizeof(double)), worst = 0, pworst = 0;
  reference_counts(A, ref, &m);
  for (int64_t i = 0; i < cells; i++)
    worst = fabs(m.counts[i] - ref[i]) > worst ? fabs(m.counts[i] - ref[i]) : worst;
  CHECK_CLOSE(worst, 0.0, 0.0);

  /* every context's first cumulative threshold against the recursion (tol: 2^-32 + fp) */
  for (int j = 0; j < VARS; j++)
    for (int64_t c = 0; c < m.offset[j + 1] - m.offset[j]; c++) {
      int k = j < ORDER ? j : ORDER;
      double p = reference_prob(&m, j, c, k, 0);
      double t = m.thresh[(m.offset[j] + c) * (A - 1)] / 4294967296.0;
      pworst = fabs(p - t) > pworst ? fabs(p - t) : pworst;
    }
  CHECK_CLOSE(pworst, 0.0, 1e-9);
  if (ctx->rank == 0)
    printf("alphabet %d: counts max diff %g, probability max diff %.3g\n", A, worst, pworst);
  free(ref);
  sm_hap_markov_free(&m);
  sm_hapmat_free(&train);
}

/* Sampling: rows depend on (seed, row) only; frequencies follow the model. */
static void test_sampling(sm_ctx *ctx) {
  sm_hapmat train;
  make_matrix(ctx, 2, &train);
  sm_hap_markov_spec spec = {.order = ORDER, .alpha = 1};
  sm_hap_markov m;
  CHECK(sm_hap_markov_fit(ctx, &spec, &train, &m) == SM_OK);
  uint8_t *a = malloc(100 * VARS), *b = malloc(100 * VARS);
  sm_hap_markov_sample(&m, 99, 1000, 100, a);
  sm_hap_markov_sample(&m, 99, 1000, 37, b);
  sm_hap_markov_sample(&m, 99, 1037, 63, b + 37 * VARS);
  CHECK(memcmp(a, b, 100 * VARS) == 0);

  /* P(allele 0 at variant 0) within 5 standard errors over 20000 rows */
  int64_t n = 20000, zeros = 0;
  uint8_t *s = malloc((size_t)n * VARS);
  sm_hap_markov_sample(&m, 5, 0, n, s);
  for (int64_t i = 0; i < n; i++)
    zeros += s[i * VARS] == 0;
  double p = m.thresh[0] / 4294967296.0, se = sqrt(p * (1 - p) / (double)n);
  CHECK_CLOSE((double)zeros / (double)n, p, 5 * se);
  free(a), free(b), free(s);
  sm_hap_markov_free(&m);
  sm_hapmat_free(&train);
}

/* The private fit: Gaussian noise of the planned std on every cell, the same on every rank,
 * one zCDP ledger entry within the budget. */
static void test_private(sm_ctx *ctx) {
  sm_hapmat train;
  make_matrix(ctx, 2, &train);
  sm_privacy_spec priv = {.enabled = 1, .epsilon = 1, .delta = 1e-6, .reproducible = 1};
  sm_hap_markov_spec exact = {.order = ORDER, .alpha = 1};
  sm_hap_markov_spec spec = {.order = ORDER, .alpha = 1, .privacy = &priv, .reproducible_seed = 3};
  sm_hap_markov m0, m;
  CHECK(sm_hap_markov_fit(ctx, &exact, &train, &m0) == SM_OK);
  CHECK(sm_hap_markov_fit(ctx, &spec, &train, &m) == SM_OK);
  CHECK(m.ledger.n == 1);
  CHECK(strcmp(m.ledger.entries[0].accountant, "zcdp") == 0);
  CHECK(m.ledger.epsilon_total <= 1 + 1e-6 && m.ledger.epsilon_total > 0.9);

  /* the noise std against sigma = L2 / sqrt(2 rho), L2 = 2 sqrt(VARS) */
  int64_t cells = m.offset[VARS] * 2;
  double ss = 0, rho = 0, sum = 0, lo, hi;
  for (int64_t i = 0; i < cells; i++)
    ss += (m.counts[i] - m0.counts[i]) * (m.counts[i] - m0.counts[i]), sum += m.counts[i];
  sm_zcdp_rho(ctx, 1, 1e-6, &rho);
  double sigma = 2 * sqrt((double)VARS) / sqrt(2 * rho), got = sqrt(ss / (double)cells);
  CHECK_CLOSE(got / sigma, 1.0, 0.15);
  CHECK_CLOSE(m.ledger.entries[0].rho, rho, 1e-9 * rho);
  MPI_Allreduce(&sum, &lo, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&sum, &hi, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  CHECK(lo == hi);
  if (ctx->rank == 0)
    printf("private: noise std %.3f, planned %.3f over %lld cells\n", got, sigma, (long long)cells);
  sm_hap_markov_free(&m0);
  sm_hap_markov_free(&m);
  sm_hapmat_free(&train);
}

/* The mixture: the fit on this job's ranks equals a one-rank fit of all rows on rank 0,
 * exactly (quantised responsibilities summed as integers). */
static void test_mixture(sm_ctx *ctx) {
  sm_hapmat train;
  make_matrix(ctx, 2, &train);
  sm_hap_markov_spec spec = {
      .order = 2, .alpha = 1, .components = 3, .em_iterations = 8, .seed = 4};
  sm_hap_markov m;
  CHECK(sm_hap_markov_fit(ctx, &spec, &train, &m) == SM_OK);
  double wsum = 0;
  for (int k = 0; k < 3; k++)
    wsum += m.weights[k];
  CHECK_CLOSE(wsum, ROWS, 1e-3);

  /* the reference: every row on one rank */
  if (ctx->rank == 0) {
    sm_ctx self;
    sm_ctx_init(&self, MPI_COMM_SELF);
    sm_hapmat all;
    make_matrix(&self, 2, &all);
    sm_hap_markov ref;
    CHECK(sm_hap_markov_fit(&self, &spec, &all, &ref) == SM_OK);
    int64_t n = 3 * m.cells * 2, differ = 0;
    for (int64_t i = 0; i < n; i++)
      differ += m.counts[i] != ref.counts[i];
    for (int k = 0; k < 3; k++)
      differ += m.weights[k] != ref.weights[k];
    CHECK(differ == 0);
    printf("mixture: weights %.2f %.2f %.2f, %lld cells differ from the one-rank fit\n",
           m.weights[0], m.weights[1], m.weights[2], (long long)differ);
    sm_hap_markov_free(&ref);
    sm_hapmat_free(&all);
    sm_ctx_free(&self);
  }

  /* a private mixture is refused */
  sm_privacy_spec priv = {.enabled = 1, .epsilon = 1, .delta = 1e-6, .reproducible = 1};
  spec.privacy = &priv;
  sm_hap_markov refused;
  CHECK(sm_hap_markov_fit(ctx, &spec, &train, &refused) == SM_EINPUT);
  sm_hap_markov_free(&refused);
  sm_hap_markov_free(&m);
  sm_hapmat_free(&train);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  test_counts(&ctx, 2);
  test_counts(&ctx, 3);
  test_sampling(&ctx);
  test_private(&ctx);
  test_mixture(&ctx);
  sm_ctx_free(&ctx);
  return test_finish();
}
