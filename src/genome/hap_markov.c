/* hap_markov: an order-k Markov chain along the variants of a haplotype (or genotype)
 * matrix.
 *
 * Variant j's value depends on the previous k_j = min(order, j) values, its context,
 * numbered with the most recent value in the lowest base-A digit (A = 2 alleles, or 3
 * genotype values). The fit measures only the order-k transition counts (allreduced over
 * ranks; in a private run once, with noise). Lower-order counts are sums of them, and each
 * order's probabilities are smoothed towards the next lower one:
 *   p_0(a) = (n(a) + alpha / A) / (n + alpha)
 *   p_m(a | c) = (n(c, a) + alpha p_{m-1}(a | c mod A^(m-1))) / (n(c) + alpha)
 * so unseen contexts fall back on shorter ones, and everything after the counts is
 * post-processing (no further privacy cost). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genome/genome_internal.h"
#include "models/models.h"
#include "synthmpi/privacy.h"
#include "synthmpi/rng.h"

#define MAX_ORDER 16
#define TWO32 4294967296.0

static const sm_param_desc hap_markov_params[] = {
    {"order", SM_PARAM_INT, "8", 0, MAX_ORDER, NULL,
     "previous variants a value depends on (contexts: 2^order per variant)"},
    {"alpha", SM_PARAM_REAL, "1", 0, 1e9, NULL,
     "additive smoothing of each context towards the next shorter context"},
    {"noise", SM_PARAM_STRING, "gaussian", 0, 0, "gaussian|laplace",
     "private runs: Gaussian (zCDP) or Laplace (pure DP) noise on the counts"},
    {"components", SM_PARAM_INT, "1", 1, 64, NULL,
     "latent haplotype classes: a mixture of chains fitted by EM (1: one chain)"},
    {"em_iterations", SM_PARAM_INT, "30", 1, 10000, NULL, "EM iterations of a mixture"},
    {"seed", SM_PARAM_INT, "1", 0, 9007199254740992.0, NULL,
     "initial assignment of rows to mixture components"},
    {"reproducible_seed", SM_PARAM_INT, "1", 0, 9007199254740992.0, NULL,
     "seed of the noise when privacy.reproducible is set (tests only)"},
};
#define N_PARAMS ((int)(sizeof hap_markov_params / sizeof hap_markov_params[0]))

/* ---- the table of contexts ------------------------------------------------------------ */

static int64_t ipow(int64_t a, int k) {
  int64_t r = 1;
  while (k-- > 0)
    r *= a;
  return r;
}

/* Contexts of variant j. */
static int64_t n_contexts(const sm_hap_markov *m, int64_t j) {
  return m->offset[j + 1] - m->offset[j];
}

int sm_hap_markov_alloc(sm_ctx *ctx, sm_hap_markov *m, int64_t n_vars) {
  m->n_vars = n_vars;
  m->components = m->components > 0 ? m->components : 1;
  m->offset = sm_calloc(ctx, (size_t)n_vars + 1, sizeof(int64_t));
  if (!m->offset)
    return SM_ERR;
  for (int64_t j = 0; j < n_vars; j++)
    m->offset[j + 1] = m->offset[j] + ipow(m->alphabet, (int)(j < m->order ? j : m->order));
  m->cells = m->offset[n_vars];
  size_t n = (size_t)(m->components * m->cells * m->alphabet + 1);
  m->counts = sm_calloc(ctx, n, sizeof(double));
  m->weights = sm_calloc(ctx, (size_t)m->components, sizeof(double));
  return m->counts && m->weights ? SM_OK : SM_ERR;
}

void sm_hap_markov_free(sm_hap_markov *m) {
  if (!m)
    return;
  free(m->offset);
  free(m->counts);
  free(m->weights);
  free(m->logp);
  free(m->thresh);
  free(m->pick);
  sm_ledger_free(&m->ledger);
  memset(m, 0, sizeof(*m));
}

/* ---- counts --------------------------------------------------------------------------- */

/* Every present value is counted. A missing value (SM_ALLELE_MISSING) is not, and the
 * contexts after it read it as the reference allele (0, which does not depend on the data),
 * so a sparse call set still gives every variant the counts of all its calls. */
void sm_hap_markov_count_row(const sm_hap_markov *m, const uint8_t *g, double *counts, double w) {
  int64_t c = 0;
  int A = m->alphabet;
  for (int64_t j = 0; j < m->n_vars; j++) {
    int a = g[j];
    if (a < A)
      counts[(m->offset[j] + c) * A + a] += w;
    else
      a = 0;
    if (j + 1 < m->n_vars)
      c = (c * A + a) % n_contexts(m, j + 1);
  }
}

double sm_hap_markov_loglik(const sm_hap_markov *m, int k, const uint8_t *g) {
  const double *lp = m->logp + k * m->cells * m->alphabet;
  int64_t c = 0;
  int A = m->alphabet;
  double ll = 0;
  for (int64_t j = 0; j < m->n_vars; j++) {
    int a = g[j];
    if (a < A)
      ll += lp[(m->offset[j] + c) * A + a];
    else
      a = 0;
    if (j + 1 < m->n_vars)
      c = (c * A + a) % n_contexts(m, j + 1);
  }
  return ll;
}

/* Local. A Laplace draw of scale b from the privacy generator. */
static int laplace(sm_ctx *ctx, sm_dp_rng *r, double b, double *x) {
  double u;
  SM_TRY(sm_dp_uniform(ctx, r, &u));
  u -= 0.5;
  *x = -b * (u < 0 ? -1.0 : 1.0) * log(1 - 2 * fabs(u));
  return SM_OK;
}

/* Local. The noise scale that spends the run's budget, and the ledger entry. One person
 * adds at most rows_per_person to one cell of each variant: L1 sensitivity
 * rows * n_vars, L2 rows * sqrt(n_vars) (add/remove-one-person neighbours). */
static int plan_noise(sm_ctx *ctx, const sm_hap_markov_spec *spec, const sm_hap_markov *m,
                      double *scale, sm_ledger_entry *e) {
  const sm_privacy_spec *p = spec->privacy;
  double rows = m->ploidy_coded ? 1 : 2, n = (double)m->n_vars;
  memset(e, 0, sizeof(*e));
  snprintf(e->mechanism, sizeof e->mechanism, "hap-markov-counts");
  snprintf(e->accountant, sizeof e->accountant, "zcdp");
  e->sample_rate = 1;
  e->steps = 1;
  e->delta = p->delta;
  if (spec->laplace) {
    *scale = rows * n / p->epsilon;
    e->rho = p->epsilon * p->epsilon / 2;
    e->epsilon = p->epsilon;
    snprintf(e->note, sizeof e->note, "order-%d counts, Laplace b=%.4g, L1 sensitivity %.0f",
             m->order, *scale, rows * n);
    return SM_OK;
  }
  double rho = 0, l2 = rows * sqrt(n);
  SM_TRY(sm_zcdp_rho(ctx, p->epsilon, p->delta, &rho));
  *scale = l2 / sqrt(2 * rho);
  e->noise_multiplier = *scale / l2;
  e->rho = sm_zcdp_gaussian(l2, *scale);
  SM_TRY(sm_zcdp_epsilon(ctx, e->rho, p->delta, &e->epsilon));
  snprintf(e->note, sizeof e->note, "order-%d counts, Gaussian sigma=%.4g, L2 sensitivity %.4g",
           m->order, *scale, l2);
  return SM_OK;
}

/* Local (rank 0). Noise on every count cell; *e is the ledger entry. */
static int add_noise(sm_ctx *ctx, const sm_hap_markov_spec *spec, sm_hap_markov *m,
                     sm_ledger_entry *e) {
  const sm_privacy_spec *p = spec->privacy;
  double scale = 0;
  SM_TRY(plan_noise(ctx, spec, m, &scale, e));
  sm_dp_rng r;
  sm_dp_rng_init(&r, p->reproducible, spec->reproducible_seed);
  int64_t cells = m->offset[m->n_vars] * m->alphabet;
  for (int64_t i = 0; i < cells; i++) {
    double z = 0;
    if (spec->laplace)
      SM_TRY(laplace(ctx, &r, scale, &z));
    else
      SM_TRY(sm_dp_normal(ctx, &r, &z));
    m->counts[i] += spec->laplace ? z : z * scale;
  }
  return SM_OK;
}

/* Collective. The noise drawn on rank 0; the noisy counts and the ledger on every rank. */
static int private_counts(sm_ctx *ctx, const sm_hap_markov_spec *spec, sm_hap_markov *m) {
  const sm_privacy_spec *p = spec->privacy;
  sm_ledger_entry e;
  memset(&e, 0, sizeof e);
  int rc = ctx->rank == 0 ? add_noise(ctx, spec, m, &e) : SM_OK;
  SM_TRY(sm_agree(ctx, rc));
  int64_t cells = m->offset[m->n_vars] * m->alphabet;
  SM_MPI_CHECK(ctx, MPI_Bcast(m->counts, (int)cells, MPI_DOUBLE, 0, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, 0, ctx->comm));

  /* one mechanism: its epsilon is the run's */
  m->ledger.epsilon_budget = p->epsilon;
  m->ledger.delta = p->delta;
  m->ledger.reproducible = p->reproducible;
  m->ledger.epsilon_total = e.epsilon;
  return sm_ledger_add(ctx, &m->ledger, &e);
}

int sm_hap_markov_fit(sm_ctx *ctx, const sm_hap_markov_spec *spec, const sm_hapmat *train,
                      sm_hap_markov *m) {
  memset(m, 0, sizeof(*m));
  m->order = spec->order;
  m->alpha = spec->alpha;
  m->components = spec->components > 0 ? spec->components : 1;
  if (m->components > 1 && spec->privacy)
    return sm_fail(ctx, SM_EINPUT,
                   "model.components %d: a mixture reads the data at every EM iteration and is "
                   "not available in private runs (use components: 1)",
                   m->components);
  m->ploidy_coded = train->ploidy_coded;
  m->alphabet = train->ploidy_coded ? 3 : 2;
  double need =
      (double)ipow(m->alphabet, m->order) * m->alphabet * m->components * (double)train->n_vars;
  if (need > (double)INT32_MAX)
    return sm_fail(ctx, SM_EINPUT,
                   "model.order %d with %d component%s: %.3g counts over %lld variants are too "
                   "many (at most 2^31); lower the order",
                   m->order, m->components, m->components == 1 ? "" : "s", need,
                   (long long)train->n_vars);
  SM_TRY(sm_agree(ctx, sm_hap_markov_alloc(ctx, m, train->n_vars)));
  if (m->components > 1)
    return sm_hap_mixture_fit(ctx, spec, train, m);

  /* local counts, summed over ranks */
  for (int64_t i = 0; i < train->n_rows; i++)
    sm_hap_markov_count_row(m, train->g + i * train->n_vars, m->counts, 1);
  m->weights[0] = 1;
  int64_t cells = m->cells * m->alphabet;
  if (cells > INT32_MAX)
    return sm_fail(ctx, SM_EINPUT, "model.order %d: %lld counts exceed one reduction", m->order,
                   (long long)cells);
  SM_MPI_CHECK(ctx,
               MPI_Allreduce(MPI_IN_PLACE, m->counts, (int)cells, MPI_DOUBLE, MPI_SUM, ctx->comm));

  /* noise once for the whole job, then the tables */
  if (spec->privacy)
    SM_TRY(private_counts(ctx, spec, m));
  return sm_agree(ctx, sm_hap_markov_tables(ctx, m));
}

/* ---- sampling tables ------------------------------------------------------------------ */

/* Local. Counts of orders 0..k of variant j: level m has A^m contexts of A values, summed
 * from level m + 1 (contexts that agree on the m most recent values). Negative noisy
 * counts are taken as 0. */
static void level_counts(const sm_hap_markov *m, const double *counts, int64_t j, int k,
                         double **lv) {
  int A = m->alphabet;
  int64_t top = ipow(A, k);
  for (int64_t i = 0; i < top * A; i++) {
    double x = counts[m->offset[j] * A + i];
    lv[k][i] = x > 0 ? x : 0;
  }
  for (int level = k - 1; level >= 0; level--) {
    int64_t n = ipow(A, level);
    memset(lv[level], 0, (size_t)(n * A) * sizeof(double));
    for (int64_t c = 0; c < n * A; c++)
      for (int a = 0; a < A; a++)
        lv[level][(c % n) * A + a] += lv[level + 1][c * A + a];
  }
}

/* Local. Turn level counts into smoothed probabilities in place, shortest first. */
static void level_probs(const sm_hap_markov *m, int k, double **lv) {
  int A = m->alphabet;
  for (int level = 0; level <= k; level++) {
    int64_t n = ipow(A, level), below = level > 0 ? ipow(A, level - 1) : 1;
    for (int64_t c = 0; c < n; c++) {
      double *p = lv[level] + c * A, total = 0;
      for (int a = 0; a < A; a++)
        total += p[a];
      for (int a = 0; a < A; a++) {
        double prior = level > 0 ? lv[level - 1][(c % below) * A + a] : 1.0 / A;
        double denom = total + m->alpha;
        p[a] = denom > 0 ? (p[a] + m->alpha * prior) / denom : 1.0 / A;
      }
    }
  }
}

/* Local. Cumulative thresholds of one context's probabilities, scaled to 2^32. */
static void thresholds(const double *p, int A, uint32_t *t) {
  double cum = 0;
  for (int a = 0; a < A - 1; a++) {
    cum += p[a];
    double x = floor(cum * TWO32);
    t[a] = x >= TWO32 ? UINT32_MAX : x <= 0 ? 0 : (uint32_t)x;
  }
}

/* Local. Thresholds and log probabilities of component k; lv is scratch for every order. */
static void component_tables(sm_hap_markov *m, int k, double **lv) {
  int A = m->alphabet;
  const double *counts = m->counts + k * m->cells * A;
  uint32_t *thresh = m->thresh + k * m->cells * (A - 1);
  double *logp = m->logp + k * m->cells * A;
  for (int64_t j = 0; j < m->n_vars; j++) {
    int order = (int)(j < m->order ? j : m->order);
    level_counts(m, counts, j, order, lv);
    level_probs(m, order, lv);
    for (int64_t c = 0; c < n_contexts(m, j); c++) {
      const double *p = lv[order] + c * A;
      thresholds(p, A, thresh + (m->offset[j] + c) * (A - 1));
      for (int a = 0; a < A; a++)
        logp[(m->offset[j] + c) * A + a] = log(p[a] > 1e-300 ? p[a] : 1e-300);
    }
  }
}

/* Local. Cumulative mixture weights (negative noisy weights taken as 0). */
static void pick_table(sm_hap_markov *m) {
  double total = 0, cum = 0;
  for (int k = 0; k < m->components; k++)
    total += m->weights[k] > 0 ? m->weights[k] : 0;
  for (int k = 0; k < m->components; k++) {
    cum += m->weights[k] > 0 ? m->weights[k] : 0;
    double x = total > 0 ? floor(cum / total * TWO32) : TWO32 * (k + 1) / m->components;
    m->pick[k] = k == m->components - 1 || x >= TWO32 ? UINT32_MAX : (uint32_t)x;
  }
}

int sm_hap_markov_tables(sm_ctx *ctx, sm_hap_markov *m) {
  int A = m->alphabet;
  size_t n = (size_t)(m->components * m->cells);
  free(m->thresh), free(m->logp), free(m->pick);
  m->thresh = sm_malloc(ctx, (n * (size_t)(A - 1) + 1) * sizeof(uint32_t));
  m->logp = sm_malloc(ctx, (n * (size_t)A + 1) * sizeof(double));
  m->pick = sm_malloc(ctx, (size_t)m->components * sizeof(uint32_t));
  double *lv[MAX_ORDER + 1] = {0};
  int rc = m->thresh && m->logp && m->pick ? SM_OK : SM_ERR;
  for (int level = 0; level <= m->order && rc == SM_OK; level++)
    if (!(lv[level] = sm_malloc(ctx, (size_t)(ipow(A, level) * A) * sizeof(double))))
      rc = SM_ERR;

  /* per component and variant: counts of every order, probabilities, thresholds */
  for (int k = 0; k < m->components && rc == SM_OK; k++)
    component_tables(m, k, lv);
  if (rc == SM_OK)
    pick_table(m);
  for (int level = 0; level <= m->order; level++)
    free(lv[level]);
  return rc;
}

void sm_hap_markov_sample(const sm_hap_markov *m, uint64_t seed, int64_t row0, int64_t n,
                          uint8_t *g) {
  int A = m->alphabet;
  for (int64_t i = 0; i < n; i++) {
    sm_rng r;
    sm_rng_init(&r, seed, SM_STREAM_SAMPLE, (uint64_t)(row0 + i));
    uint8_t *row = g + i * m->n_vars;
    int64_t c = 0;

    /* a mixture first picks the row's component (one draw; none for a single chain) */
    int k = 0;
    if (m->components > 1) {
      uint32_t x = sm_rng_u32(&r);
      while (k < m->components - 1 && x >= m->pick[k])
        k++;
    }
    const uint32_t *thresh = m->thresh + k * m->cells * (A - 1);

    /* one 32-bit draw per variant against the context's cumulative thresholds */
    for (int64_t j = 0; j < m->n_vars; j++) {
      const uint32_t *t = thresh + (m->offset[j] + c) * (A - 1);
      uint32_t x = sm_rng_u32(&r);
      int a = 0;
      while (a < A - 1 && x >= t[a])
        a++;
      row[j] = (uint8_t)a;
      if (j + 1 < m->n_vars)
        c = (c * A + a) % n_contexts(m, j + 1);
    }
  }
}

/* ---- the registry entry --------------------------------------------------------------- */

static int table_fit(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                     const sm_table *train, void **state) {
  (void)spec, (void)opt, (void)train, (void)state;
  return sm_fail(ctx, SM_EINPUT,
                 "model hap_markov fits haplotypes: set data.format to hapt or vcf");
}

static int table_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0,
                        sm_table *out) {
  (void)state, (void)seed, (void)row0, (void)out;
  return sm_fail(ctx, SM_EINPUT, "model hap_markov samples haplotypes, not table rows");
}

static int table_save(sm_ctx *ctx, const void *state, int64_t group) {
  (void)state, (void)group;
  return sm_fail(ctx, SM_EINPUT, "model hap_markov is saved by the genome pipeline");
}

static int table_load(sm_ctx *ctx, int64_t group, void **state) {
  (void)group, (void)state;
  return sm_fail(ctx, SM_EINPUT, "a hap_markov model file is read by the genome pipeline");
}

static void table_free(void *state) {
  free(state);
}

/* Registered so that model.kind and its parameters are validated with the others; the
 * genome pipeline (data.format hapt or vcf) runs it, table data are refused. */
const sm_model_ops sm_model_hap_markov = {
    .kind = SM_HAP_MARKOV_KIND,
    .summary = "order-k Markov chain along the variants of haplotypes (data.format hapt, vcf)",
    .params = hap_markov_params,
    .n_params = N_PARAMS,
    .fit = table_fit,
    .sample = table_sample,
    .save = table_save,
    .load = table_load,
    .free_state = table_free,
};
