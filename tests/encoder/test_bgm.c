/* The distributed variational Gaussian mixture on a mixture with known components:
 * recovery of the components, independence of the rank count, and agreement with a plain
 * serial version of the same updates written here. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthmpi/rng.h"
#include "test_util.h"
#include "transform/bgm.h"

#define N_VALUES 20000
#define K 10
#define FIT_TOL 1e-9 /* relative, rank counts and the serial reference */

/* Value i of 0.3 N(-5, 1) + 0.7 N(10, 2^2), from its own stream. */
static double mixture_value(int64_t i) {
  sm_rng r;
  sm_rng_init(&r, 2024, SM_STREAM_TEST, (uint64_t)i);
  double u = sm_rng_uniform(&r), z = sm_rng_normal(&r);
  return u < 0.3 ? -5 + z : 10 + 2 * z;
}

/* ---- the serial reference: every value on one process, resp stored (n, K) ---------- */

typedef struct ref_fit {
  double alpha[K], beta[K], mp[K], dof[K], mean[K], cov[K];
  double mean_prior, cov_prior;
  int iterations, converged;
} ref_fit;

/* Digamma by recurrence to x >= 20 and four terms of the asymptotic series. */
static double ref_digamma(double x) {
  double acc = 0;
  for (; x < 20; x += 1)
    acc -= 1 / x;
  double x2 = x * x;
  return acc + log(x) - 1 / (2 * x) - 1 / (12 * x2) + 1 / (120 * x2 * x2) -
         1 / (252 * x2 * x2 * x2);
}

/* Hard start: the value's histogram bin goes to the component of the bin's middle. */
static void ref_init(const double *x, int64_t n, double *resp) {
  double lo = x[0], hi = x[0];
  for (int64_t i = 0; i < n; i++) {
    lo = fmin(lo, x[i]);
    hi = fmax(hi, x[i]);
  }
  int64_t *count = calloc(SM_BGM_INIT_BINS, sizeof(int64_t));
  int *bin = malloc((size_t)n * sizeof(int)), comp[SM_BGM_INIT_BINS];
  for (int64_t i = 0; i < n; i++) {
    int b = hi > lo ? (int)((x[i] - lo) / (hi - lo) * SM_BGM_INIT_BINS) : 0;
    bin[i] = b >= SM_BGM_INIT_BINS ? SM_BGM_INIT_BINS - 1 : b;
    count[bin[i]]++;
  }
  int64_t before = 0;
  for (int b = 0; b < SM_BGM_INIT_BINS; b++) {
    int c = (int)(K * (before + count[b] / 2.0) / n);
    comp[b] = c > K - 1 ? K - 1 : c;
    before += count[b];
  }
  memset(resp, 0, (size_t)n * K * sizeof(double));
  for (int64_t i = 0; i < n; i++)
    resp[i * K + comp[bin[i]]] = 1;
  free(count);
  free(bin);
}

/* M-step as scikit-learn writes it: two-pass moments per component. */
static void ref_mstep(ref_fit *f, const double *x, int64_t n, const double *resp) {
  for (int k = 0; k < K; k++) {
    double nk = 10 * DBL_EPSILON, sx = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) {
      nk += resp[i * K + k];
      sx += resp[i * K + k] * x[i];
    }
    double xk = sx / nk;
    for (int64_t i = 0; i < n; i++)
      ss += resp[i * K + k] * (x[i] - xk) * (x[i] - xk);
    double sk = ss / nk + 1e-6, later = 0;
    for (int j = k + 1; j < K; j++) {
      double nj = 10 * DBL_EPSILON;
      for (int64_t i = 0; i < n; i++)
        nj += resp[i * K + j];
      later += nj;
    }
    f->alpha[k] = 1 + nk;
    f->beta[k] = 1e-3 + later;
    f->mp[k] = 1 + nk;
    f->mean[k] = (f->mean_prior + nk * xk) / f->mp[k];
    f->dof[k] = 1 + nk;
    double d = xk - f->mean_prior;
    f->cov[k] = (f->cov_prior + nk * sk + nk / f->mp[k] * d * d) / f->dof[k];
  }
}

/* Weighted log probability of x under component k. */
static double ref_log_prob(const ref_fit *f, int k, double x) {
  double logw = ref_digamma(f->alpha[k]) - ref_digamma(f->alpha[k] + f->beta[k]);
  for (int j = 0; j < k; j++)
    logw += ref_digamma(f->beta[j]) - ref_digamma(f->alpha[j] + f->beta[j]);
  double prec_chol = 1 / sqrt(f->cov[k]), y = (x - f->mean[k]) * prec_chol;
  double gauss = -0.5 * (log(2 * M_PI) + y * y) + log(prec_chol) - 0.5 * log(f->dof[k]);
  return logw + gauss + 0.5 * (log(2.0) + ref_digamma(0.5 * f->dof[k]) - 1 / f->mp[k]);
}

/* E-step; returns sum resp log resp. */
static double ref_estep(const ref_fit *f, const double *x, int64_t n, double *resp) {
  double ent = 0;
  for (int64_t i = 0; i < n; i++) {
    double lp[K], top = -INFINITY, z = 0;
    for (int k = 0; k < K; k++) {
      lp[k] = ref_log_prob(f, k, x[i]);
      top = fmax(top, lp[k]);
    }
    for (int k = 0; k < K; k++)
      z += exp(lp[k] - top);
    for (int k = 0; k < K; k++) {
      double lr = lp[k] - top - log(z);
      resp[i * K + k] = exp(lr);
      ent += resp[i * K + k] * lr;
    }
  }
  return ent;
}

static double ref_lower_bound(const ref_fit *f, double ent) {
  double lb = -ent;
  for (int k = 0; k < K; k++) {
    double ldpc = log(1 / sqrt(f->cov[k])) - 0.5 * log(f->dof[k]);
    lb += f->dof[k] * ldpc + f->dof[k] * 0.5 * log(2.0) + lgamma(0.5 * f->dof[k]);
    lb += lgamma(f->alpha[k]) + lgamma(f->beta[k]) - lgamma(f->alpha[k] + f->beta[k]);
    lb -= 0.5 * log(f->mp[k]);
  }
  return lb;
}

/* The whole serial fit, then the kept modes (weight > 0.005) into out. */
static void ref_bgm(const double *x, int64_t n, sm_bgm *out) {
  ref_fit f;
  double *resp = malloc((size_t)n * K * sizeof(double)), s = 0, ss = 0, lb = -INFINITY;
  memset(&f, 0, sizeof f);
  for (int64_t i = 0; i < n; i++)
    s += x[i];
  f.mean_prior = s / n;
  for (int64_t i = 0; i < n; i++)
    ss += (x[i] - f.mean_prior) * (x[i] - f.mean_prior);
  f.cov_prior = ss / (n - 1);
  ref_init(x, n, resp);
  ref_mstep(&f, x, n, resp);
  for (int it = 1; it <= 100; it++) {
    double ent = ref_estep(&f, x, n, resp);
    ref_mstep(&f, x, n, resp);
    double next = ref_lower_bound(&f, ent), change = (next - lb) / n;
    lb = next;
    f.iterations = it;
    if (fabs(change) < 1e-3) {
      f.converged = 1;
      break;
    }
  }

  /* stick-breaking weights */
  double w[K], rest = 1, total = 0;
  for (int k = 0; k < K; k++) {
    w[k] = f.alpha[k] / (f.alpha[k] + f.beta[k]) * rest;
    rest *= f.beta[k] / (f.alpha[k] + f.beta[k]);
    total += w[k];
  }
  memset(out, 0, sizeof *out);
  for (int k = 0; k < K; k++) {
    if (w[k] / total <= 0.005)
      continue;
    out->weight[out->n_modes] = w[k] / total;
    out->mean[out->n_modes] = f.mean[k];
    out->std[out->n_modes++] = sqrt(f.cov[k]);
  }
  out->iterations = f.iterations;
  out->converged = f.converged;
  free(resp);
}

/* ---- checks ------------------------------------------------------------------------ */

static double rel(double a, double b) {
  double s = fmax(fabs(a), fabs(b));
  return s > 0 ? fabs(a - b) / s : 0;
}

/* Largest relative difference of weights, means and stds; modes and iterations equal. */
static double compare_fits(const sm_bgm *a, const sm_bgm *b, const char *label) {
  double d = 0;
  CHECK(a->n_modes == b->n_modes);
  CHECK(a->iterations == b->iterations);
  for (int k = 0; k < a->n_modes && k < b->n_modes; k++)
    d = fmax(d, fmax(rel(a->weight[k], b->weight[k]),
                     fmax(rel(a->mean[k], b->mean[k]), rel(a->std[k], b->std[k]))));
  printf("%s: modes %d/%d iterations %d/%d max relative difference %.3g (tol %.0g)\n", label,
         a->n_modes, b->n_modes, a->iterations, b->iterations, d, FIT_TOL);
  CHECK(d <= FIT_TOL);
  return d;
}

/* The kept modes split at 2.5 into the two known components 0.3 N(-5, 1), 0.7 N(10, 2^2):
 * each side's total weight, pooled mean and pooled std (sampling error at 20k values is
 * far inside these tolerances; std_tol is relative: the covariance prior, the data variance
 * of about 56, adds about 56 / n_k to the variance of each mode of n_k values, which shows
 * when a component is split over several modes). */
static void check_components(const sm_bgm *b, const char *label, double std_tol) {
  double w[2] = {0, 0}, m1[2] = {0, 0}, m2[2] = {0, 0};
  printf("%s: modes %d, iterations %d, converged %d\n", label, b->n_modes, b->iterations,
         b->converged);
  for (int k = 0; k < b->n_modes; k++) {
    int side = b->mean[k] > 2.5;
    printf("  w %.4f mean %.4f std %.4f\n", b->weight[k], b->mean[k], b->std[k]);
    w[side] += b->weight[k];
    m1[side] += b->weight[k] * b->mean[k];
    m2[side] += b->weight[k] * (b->std[k] * b->std[k] + b->mean[k] * b->mean[k]);
  }
  double want_w[2] = {0.3, 0.7}, want_mean[2] = {-5, 10}, want_std[2] = {1, 2};
  for (int side = 0; side < 2; side++) {
    CHECK(w[side] > 0);
    if (!(w[side] > 0))
      continue;
    double mean = m1[side] / w[side], std = sqrt(m2[side] / w[side] - mean * mean);
    printf("  component %d: weight %.4f mean %.4f std %.4f\n", side, w[side], mean, std);
    CHECK_CLOSE(w[side], want_w[side], 0.02);
    CHECK_CLOSE(mean, want_mean[side], 0.1);
    CHECK_CLOSE(std, want_std[side], std_tol * want_std[side]);
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx, self;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  sm_ctx_init(&self, MPI_COMM_SELF);
  sm_encoder_options opt;
  sm_encoder_default_options(&opt);

  /* every value on every rank; this rank's block for the distributed fit */
  double *all = malloc(N_VALUES * sizeof(double));
  for (int64_t i = 0; i < N_VALUES; i++)
    all[i] = mixture_value(i);
  int64_t lo, hi;
  sm_partition(N_VALUES, ctx.size, ctx.rank, &lo, &hi);

  /* distributed fit, the one-rank fit, the serial reference */
  sm_bgm dist, one, ref;
  sm_bgm_summary s1, s2;
  CHECK(sm_bgm_fit(&ctx, all + lo, hi - lo, &opt, &dist, &s1) == SM_OK);
  CHECK(sm_bgm_fit(&self, all, N_VALUES, &opt, &one, &s2) == SM_OK);
  CHECK(s1.n == N_VALUES && s1.lo == s2.lo && s1.hi == s2.hi);
  ref_bgm(all, N_VALUES, &ref);
  if (ctx.rank == 0) {
    check_components(&dist, "10 modes", 0.1);
    compare_fits(&dist, &one, "10 modes, ranks vs one rank");
    compare_fits(&dist, &ref, "10 modes, ranks vs serial reference");
    CHECK(dist.converged == ref.converged);
  }

  /* at most two modes: exactly the two components */
  opt.max_modes = 2;
  CHECK(sm_bgm_fit(&ctx, all + lo, hi - lo, &opt, &dist, &s1) == SM_OK);
  CHECK(sm_bgm_fit(&self, all, N_VALUES, &opt, &one, &s2) == SM_OK);
  if (ctx.rank == 0) {
    CHECK(dist.n_modes == 2);
    check_components(&dist, "2 modes", 0.05);
    compare_fits(&dist, &one, "2 modes, ranks vs one rank");
  }

  /* digamma against known values (psi(1e-3) from its series at 0) */
  CHECK_CLOSE(sm_bgm_digamma(1.0), -0.57721566490153286, 1e-13);
  CHECK_CLOSE(sm_bgm_digamma(0.5), -1.9635100260214235, 1e-13);
  CHECK_CLOSE(sm_bgm_digamma(1e-3), -1000.5755719318103, 1e-9);
  CHECK_CLOSE(sm_bgm_digamma(1e6), 13.815510057964275, 1e-12);

  free(all);
  sm_ctx_free(&self);
  sm_ctx_free(&ctx);
  return test_finish();
}
