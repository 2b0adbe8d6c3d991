/* The 1-D variational Bayesian Gaussian mixture (scikit-learn's BayesianGaussianMixture,
 * Dirichlet-process weight prior) with allreduced sufficient statistics.
 *
 * Priors as scikit-learn's defaults in one dimension: mean prior = the data mean, mean
 * precision prior = 1, degrees of freedom prior = 1, covariance prior = the data variance
 * (n - 1 denominator, as numpy.cov). The values are fitted about their global mean (the
 * updates are shift-equivariant), and each E-step takes its moments about the components'
 * current means, so the second moments lose no precision to cancellation.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "transform/bgm.h"

#define K_MAX SM_MAX_MODES
#define STAT_LEN (3 * K_MAX + 1) /* resp sums, first, second moments; then sum r log r */
#define LOG_2PI 1.8378770664093454836

/* The variational posterior of k components, on values taken about `shift`. */
typedef struct bgm_post {
  int k;
  double shift;                     /* global mean: the fit sees x - shift */
  double cov_prior;                 /* covariance prior (the mean prior is 0) */
  double concentration;             /* weight concentration prior */
  double alpha[K_MAX], beta[K_MAX]; /* stick-breaking Beta posteriors */
  double mean_precision[K_MAX], dof[K_MAX];
  double mean[K_MAX], cov[K_MAX]; /* posterior means (about shift), covariances */
  double log_const[K_MAX];        /* constant part of each weighted log probability */
  double centre[K_MAX];           /* the next E-step's moments are taken about these */
} bgm_post;

double sm_bgm_digamma(double x) {
  double r = 0;

  /* recurrence up to x >= 10, then the asymptotic series */
  while (x < 10) {
    r -= 1 / x;
    x += 1;
  }
  double f = 1 / (x * x);
  double series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
  return r + log(x) - 0.5 / x - series;
}

/* Collective. Count, range, mean and sample variance of the present values. */
static int summarise(sm_ctx *ctx, const double *v, int64_t n, sm_bgm_summary *s, double *var) {
  double acc[2] = {0, 0}, ext[2] = {-INFINITY, -INFINITY};

  /* count and sum; the range as two maxima */
  for (int64_t r = 0; r < n; r++) {
    if (isnan(v[r]))
      continue;
    acc[0] += 1;
    acc[1] += v[r];
    ext[0] = fmax(ext[0], -v[r]);
    ext[1] = fmax(ext[1], v[r]);
  }
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, acc, 2, MPI_DOUBLE, MPI_SUM, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, ext, 2, MPI_DOUBLE, MPI_MAX, ctx->comm));
  s->n = (int64_t)acc[0];
  s->mean = s->n > 0 ? acc[1] / acc[0] : 0;
  s->lo = s->n > 0 ? -ext[0] : 0;
  s->hi = s->n > 0 ? ext[1] : 0;

  /* squared deviations from the global mean */
  double ss = 0;
  for (int64_t r = 0; r < n; r++)
    if (!isnan(v[r]))
      ss += (v[r] - s->mean) * (v[r] - s->mean);
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, &ss, 1, MPI_DOUBLE, MPI_SUM, ctx->comm));
  *var = s->n > 1 ? ss / (double)(s->n - 1) : 0;
  return SM_OK;
}

/* The histogram bin of x over the global range. */
static int bin_of(double x, const sm_bgm_summary *s) {
  if (!(s->hi > s->lo))
    return 0;
  int b = (int)((x - s->lo) / (s->hi - s->lo) * SM_BGM_INIT_BINS);
  return b < 0 ? 0 : b >= SM_BGM_INIT_BINS ? SM_BGM_INIT_BINS - 1 : b;
}

/* Collective. The initial component of every bin, from the allreduced histogram. */
static int init_bins(sm_ctx *ctx, const double *v, int64_t n, const sm_bgm_summary *s, int k,
                     unsigned char *comp) {
  int64_t hist[SM_BGM_INIT_BINS] = {0};

  /* global histogram */
  for (int64_t r = 0; r < n; r++)
    if (!isnan(v[r]))
      hist[bin_of(v[r], s)]++;
  SM_MPI_CHECK(
      ctx, MPI_Allreduce(MPI_IN_PLACE, hist, SM_BGM_INIT_BINS, MPI_INT64_T, MPI_SUM, ctx->comm));

  /* each bin to the component whose quantile interval holds the bin's middle */
  int64_t below = 0;
  for (int b = 0; b < SM_BGM_INIT_BINS; b++) {
    double mid = (double)below + 0.5 * (double)hist[b];
    int c = (int)(k * mid / (double)s->n);
    comp[b] = (unsigned char)(c < k - 1 ? c : k - 1);
    below += hist[b];
  }
  return SM_OK;
}

/* Local. Statistics of the hard initial assignment (moments about 0). */
static void init_stats(const bgm_post *p, const double *v, int64_t n, const sm_bgm_summary *s,
                       const unsigned char *comp, double *st) {
  memset(st, 0, STAT_LEN * sizeof(double));
  for (int64_t r = 0; r < n; r++) {
    if (isnan(v[r]))
      continue;
    int c = comp[bin_of(v[r], s)];
    double d = v[r] - p->shift;
    st[c] += 1;
    st[K_MAX + c] += d;
    st[2 * K_MAX + c] += d * d;
  }
}

/* Local. E-step: responsibilities of every present value under the posterior p, summed
 * into st as (resp, moments about the centres, sum r log r). */
static void estep_stats(const bgm_post *p, const double *v, int64_t n, double *st) {
  memset(st, 0, STAT_LEN * sizeof(double));
  for (int64_t r = 0; r < n; r++) {
    if (isnan(v[r]))
      continue;
    double d = v[r] - p->shift, lp[K_MAX], top = -INFINITY, z = 0;

    /* weighted log probabilities and their log-sum-exp */
    for (int c = 0; c < p->k; c++) {
      double e = d - p->mean[c];
      lp[c] = p->log_const[c] - 0.5 * e * e / p->cov[c];
      top = fmax(top, lp[c]);
    }
    for (int c = 0; c < p->k; c++)
      z += exp(lp[c] - top);
    double lse = top + log(z);

    /* responsibilities into the sums */
    for (int c = 0; c < p->k; c++) {
      double lr = lp[c] - lse, resp = exp(lr), e = d - p->centre[c];
      st[c] += resp;
      st[K_MAX + c] += resp * e;
      st[2 * K_MAX + c] += resp * e * e;
      st[3 * K_MAX] += resp * lr;
    }
  }
}

/* Expected log weights of the stick-breaking prior. */
static void expected_log_weights(const bgm_post *p, double *out) {
  double run = 0;
  for (int c = 0; c < p->k; c++) {
    double dsum = sm_bgm_digamma(p->alpha[c] + p->beta[c]);
    out[c] = sm_bgm_digamma(p->alpha[c]) - dsum + run;
    run += sm_bgm_digamma(p->beta[c]) - dsum;
  }
}

/* M-step from the allreduced statistics st (moments about p->centre). */
static void mstep(bgm_post *p, const double *st) {
  double nk[K_MAX], xk[K_MAX], sk[K_MAX], tail = 0;

  /* component counts, means and variances (+ reg_covar) */
  for (int c = 0; c < p->k; c++) {
    nk[c] = st[c] + 10 * DBL_EPSILON;
    double e = st[K_MAX + c] / nk[c];
    double dev = st[2 * K_MAX + c] - 2 * e * st[K_MAX + c] + e * e * st[c];
    xk[c] = p->centre[c] + e;
    sk[c] = fmax(dev, 0) / nk[c] + SM_BGM_REG_COVAR;
  }

  /* stick-breaking Beta posteriors: beta counts the components after c */
  for (int c = p->k - 1; c >= 0; c--) {
    p->alpha[c] = 1 + nk[c];
    p->beta[c] = p->concentration + tail;
    tail += nk[c];
  }

  /* Gaussian-Wishart posterior (1-D), covariance normalised by the degrees of freedom */
  for (int c = 0; c < p->k; c++) {
    p->mean_precision[c] = 1 + nk[c];
    p->mean[c] = nk[c] * xk[c] / p->mean_precision[c];
    p->dof[c] = 1 + nk[c];
    double w = p->cov_prior + nk[c] * sk[c] + nk[c] / p->mean_precision[c] * xk[c] * xk[c];
    p->cov[c] = w / p->dof[c];
    p->centre[c] = p->mean[c];
  }

  /* the constant part of each component's weighted log probability */
  double lw[K_MAX];
  expected_log_weights(p, lw);
  for (int c = 0; c < p->k; c++) {
    double log_lambda = log(2.0) + sm_bgm_digamma(0.5 * p->dof[c]);
    p->log_const[c] = lw[c] - 0.5 * LOG_2PI - 0.5 * log(p->cov[c]) - 0.5 * log(p->dof[c]) +
                      0.5 * (log_lambda - 1 / p->mean_precision[c]);
  }
}

/* scikit-learn's lower bound (constants dropped) after an M-step; st holds the E-step's
 * sum of r log r. */
static double lower_bound(const bgm_post *p, const double *st) {
  double log_wishart = 0, log_norm_weight = 0, log_mp = 0;
  for (int c = 0; c < p->k; c++) {
    double ldpc = -0.5 * log(p->cov[c]) - 0.5 * log(p->dof[c]);
    log_wishart -= p->dof[c] * ldpc + p->dof[c] * 0.5 * log(2.0) + lgamma(0.5 * p->dof[c]);
    double betaln = lgamma(p->alpha[c]) + lgamma(p->beta[c]) - lgamma(p->alpha[c] + p->beta[c]);
    log_norm_weight -= betaln;
    log_mp += log(p->mean_precision[c]);
  }
  return -st[3 * K_MAX] - log_wishart - log_norm_weight - 0.5 * log_mp;
}

/* The fitted mixture: stick-breaking weights, modes above the threshold kept. */
static void finish(const bgm_post *p, double threshold, sm_bgm *out) {
  double w[K_MAX], stick = 1, total = 0;
  int best = 0;

  /* expected weights, normalised */
  for (int c = 0; c < p->k; c++) {
    double ab = p->alpha[c] + p->beta[c];
    w[c] = p->alpha[c] / ab * stick;
    stick *= p->beta[c] / ab;
    total += w[c];
  }
  for (int c = 0; c < p->k; c++) {
    w[c] /= total;
    best = w[c] > w[best] ? c : best;
  }

  /* keep the modes above the threshold (at least the heaviest) */
  int any = w[best] > threshold;
  out->n_modes = 0;
  for (int c = 0; c < p->k; c++) {
    if (any ? !(w[c] > threshold) : c != best)
      continue;
    int m = out->n_modes++;
    out->weight[m] = w[c];
    out->mean[m] = p->mean[c] + p->shift;
    out->std[m] = sqrt(p->cov[c]);
    out->resp_const[m] = p->log_const[c];
  }
}

/* One mode N(mean, 1) for a column without present values. */
static void single_mode(double mean, sm_bgm *out) {
  memset(out, 0, sizeof *out);
  out->n_modes = 1;
  out->weight[0] = 1;
  out->mean[0] = mean;
  out->std[0] = 1;
  out->converged = 1;
}

/* Collective. Initial statistics, then variational EM until the lower bound settles. */
static int iterate(sm_ctx *ctx, const double *v, int64_t n, const sm_bgm_summary *s,
                   const sm_encoder_options *opt, bgm_post *p, sm_bgm *out) {
  unsigned char comp[SM_BGM_INIT_BINS];
  double st[STAT_LEN], lb = -INFINITY;

  /* hard quantile assignment, then the first M-step from it */
  SM_TRY(init_bins(ctx, v, n, s, p->k, comp));
  init_stats(p, v, n, s, comp, st);
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, st, STAT_LEN, MPI_DOUBLE, MPI_SUM, ctx->comm));
  mstep(p, st);

  /* E-step sums allreduced, the same M-step everywhere */
  for (int it = 1; it <= opt->max_iter; it++) {
    estep_stats(p, v, n, st);
    SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, st, STAT_LEN, MPI_DOUBLE, MPI_SUM, ctx->comm));
    mstep(p, st);
    double next = lower_bound(p, st), change = (next - lb) / (double)s->n;
    lb = next;
    out->iterations = it;
    if (fabs(change) < opt->tol) {
      out->converged = 1;
      break;
    }
  }
  return SM_OK;
}

int sm_bgm_fit(sm_ctx *ctx, const double *v, int64_t n, const sm_encoder_options *opt, sm_bgm *out,
               sm_bgm_summary *sum) {
  double var = 0;
  SM_TRY(summarise(ctx, v, n, sum, &var));
  if (sum->n == 0) {
    single_mode(0, out);
    return SM_OK;
  }

  /* posterior on values about the global mean; priors from the global summary */
  bgm_post p;
  memset(&p, 0, sizeof p);
  memset(out, 0, sizeof *out);
  /* a constant column is one mode (empty components at its value would split it) */
  p.k = sum->hi > sum->lo ? opt->max_modes : 1;
  p.shift = sum->mean;
  p.cov_prior = var;
  p.concentration = opt->concentration;
  SM_TRY(iterate(ctx, v, n, sum, opt, &p, out));
  finish(&p, opt->weight_threshold, out);
  return SM_OK;
}

void sm_bgm_mode_probs(const sm_bgm *b, double x, double *p) {
  double top = -INFINITY, z = 0, total = 0;

  /* responsibilities over the kept modes */
  for (int k = 0; k < b->n_modes; k++) {
    double e = (x - b->mean[k]) / b->std[k];
    p[k] = b->resp_const[k] - 0.5 * e * e;
    top = fmax(top, p[k]);
  }
  for (int k = 0; k < b->n_modes; k++) {
    p[k] = exp(p[k] - top);
    z += p[k];
  }

  /* smoothed as the reference transformer does before drawing */
  for (int k = 0; k < b->n_modes; k++) {
    p[k] = p[k] / z + SM_BGM_SMOOTH;
    total += p[k];
  }
  for (int k = 0; k < b->n_modes; k++)
    p[k] /= total;
}
