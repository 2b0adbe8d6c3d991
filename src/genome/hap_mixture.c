/* A mixture of hap_markov chains, fitted by EM.
 *
 * Variants spread over the genome (the 805-SNP set) are nearly independent given a
 * haplotype's ancestry, and a single chain along the genome cannot hold ancestry: its
 * haplotypes look like averages of everyone. A latent class per haplotype (row) can. EM:
 *   E: responsibilities r(i, k) ∝ w_k P_k(row i), from the current tables;
 *   M: each component's counts are the r-weighted transition counts, its weight the sum
 *      of r; tables as for one chain.
 * Responsibilities are rounded to multiples of 1/65536 and summed as 64-bit integers, so
 * the allreduced counts, and the whole fit, are the same at every rank count. The start is
 * a random hard assignment: row k of person p draws from stream (seed, SM_STREAM_FIT, p). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genome/genome_internal.h"
#include "synthmpi/rng.h"

#define QUANTUM 65536.0

/* Local. The starting responsibilities: one random component per row. */
static void initial_assignment(const sm_hap_markov *m, const sm_hapmat *t, uint64_t seed,
                               double *resp) {
  int K = m->components;
  sm_rng r;
  for (int64_t i = 0; i < t->n_rows; i++) {
    if (i == 0 || t->person[i] != t->person[i - 1])
      sm_rng_init(&r, seed, SM_STREAM_FIT, (uint64_t)t->person[i]);
    int k = (int)(sm_rng_u32(&r) % (uint32_t)K);
    for (int c = 0; c < K; c++)
      resp[i * K + c] = c == k;
  }
}

/* Collective. M step: quantised weighted counts and weights, allreduced exactly, then the
 * tables. acc is scratch of components * cells * alphabet + components integers. */
static int m_step(sm_ctx *ctx, sm_hap_markov *m, const sm_hapmat *t, const double *resp,
                  int64_t *acc) {
  int K = m->components, A = m->alphabet;
  int64_t block = m->cells * A, n = K * block + K;
  memset(acc, 0, (size_t)n * sizeof(int64_t));
  for (int64_t i = 0; i < t->n_rows; i++)
    for (int k = 0; k < K; k++) {
      int64_t q = llround(resp[i * K + k] * QUANTUM);
      if (q == 0)
        continue;
      acc[K * block + k] += q;

      /* the row's transitions in integer quanta (the walk of sm_hap_markov_count_row) */
      int64_t c = 0, *cnt = acc + k * block;
      const uint8_t *g = t->g + i * t->n_vars;
      for (int64_t j = 0; j < m->n_vars; j++) {
        int a = g[j];
        int64_t nc = j + 1 < m->n_vars ? m->offset[j + 2] - m->offset[j + 1] : 1;
        if (a < A)
          cnt[(m->offset[j] + c) * A + a] += q;
        else
          a = 0;
        c = (c * A + a) % nc;
      }
    }
  if (n > INT32_MAX)
    return sm_fail(ctx, SM_EINPUT, "model.components %d: %lld counts exceed one reduction", K,
                   (long long)n);
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, acc, (int)n, MPI_INT64_T, MPI_SUM, ctx->comm));
  for (int64_t x = 0; x < K * block; x++)
    m->counts[x] = (double)acc[x] / QUANTUM;
  for (int k = 0; k < K; k++)
    m->weights[k] = (double)acc[K * block + k] / QUANTUM;
  return sm_hap_markov_tables(ctx, m);
}

/* Local. E step: responsibilities from the tables; returns this rank's log-likelihood. */
static double e_step(const sm_hap_markov *m, const sm_hapmat *t, double *resp) {
  int K = m->components;
  double total = 0, wsum = 0;
  for (int k = 0; k < K; k++)
    wsum += m->weights[k];
  for (int64_t i = 0; i < t->n_rows; i++) {
    double *r = resp + i * K, best = -INFINITY, z = 0;
    for (int k = 0; k < K; k++) {
      double w = m->weights[k] > 0 ? m->weights[k] / wsum : 1e-300;
      r[k] = log(w) + sm_hap_markov_loglik(m, k, t->g + i * t->n_vars);
      best = r[k] > best ? r[k] : best;
    }
    for (int k = 0; k < K; k++)
      z += (r[k] = exp(r[k] - best));
    for (int k = 0; k < K; k++)
      r[k] /= z;
    total += best + log(z);
  }
  return total;
}

/* Collective. The E step on every rank; *ll is the total log-likelihood. */
static int e_step_all(sm_ctx *ctx, const sm_hap_markov *m, const sm_hapmat *t, double *resp,
                      double *ll) {
  double local = e_step(m, t, resp);
  SM_MPI_CHECK(ctx, MPI_Allreduce(&local, ll, 1, MPI_DOUBLE, MPI_SUM, ctx->comm));
  return SM_OK;
}

int sm_hap_mixture_fit(sm_ctx *ctx, const sm_hap_markov_spec *spec, const sm_hapmat *train,
                       sm_hap_markov *m) {
  int K = m->components;
  size_t rows = (size_t)(train->n_rows > 0 ? train->n_rows : 1);
  double *resp = sm_malloc(ctx, rows * (size_t)K * sizeof(double));
  int64_t *acc = sm_malloc(ctx, (size_t)(K * m->cells * m->alphabet + K) * sizeof(int64_t));
  int rc = sm_agree(ctx, resp && acc ? SM_OK : SM_ERR);

  /* a random start, then E and M steps; the last M step leaves the fitted tables */
  if (rc == SM_OK)
    initial_assignment(m, train, spec->seed, resp);
  if (rc == SM_OK)
    rc = sm_agree(ctx, m_step(ctx, m, train, resp, acc));
  double ll = 0;
  for (int it = 0; it < spec->em_iterations && rc == SM_OK; it++) {
    rc = sm_agree(ctx, e_step_all(ctx, m, train, resp, &ll));
    if (rc == SM_OK)
      rc = sm_agree(ctx, m_step(ctx, m, train, resp, acc));
    if (rc == SM_OK && (it + 1) % 10 == 0)
      sm_log(ctx, SM_LOG_INFO, "hap_markov EM: iteration %d, log-likelihood %.6g", it + 1, ll);
  }
  free(resp);
  free(acc);
  return rc;
}
