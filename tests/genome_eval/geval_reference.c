/* Slow references for the genomic metrics. */
#include "geval_reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_called(uint8_t x) {
  return x != SM_ALLELE_MISSING;
}

double ref_freq(const gmat *m, int64_t j) {
  double sum = 0, calls = 0;
  for (int64_t i = 0; i < m->n; i++) {
    uint8_t x = m->g[i * m->v + j];
    if (is_called(x))
      sum += x, calls += 1;
  }
  return calls > 0 ? sum / (calls * (m->coded ? 2 : 1)) : NAN;
}

double ref_freq_corr(const gmat *a, const gmat *b) {
  double *fa = malloc((size_t)a->v * sizeof(double)), *fb = malloc((size_t)a->v * sizeof(double));
  int64_t n = 0;
  for (int64_t j = 0; j < a->v; j++) {
    double x = ref_freq(a, j), y = ref_freq(b, j);
    if (!isnan(x) && !isnan(y))
      fa[n] = x, fb[n] = y, n++;
  }

  /* textbook Pearson: means, then centred moments */
  double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
  for (int64_t k = 0; k < n; k++)
    ma += fa[k] / n, mb += fb[k] / n;
  for (int64_t k = 0; k < n; k++) {
    saa += (fa[k] - ma) * (fa[k] - ma);
    sbb += (fb[k] - mb) * (fb[k] - mb);
    sab += (fa[k] - ma) * (fb[k] - mb);
  }
  free(fa);
  free(fb);
  return n >= 2 && saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

double ref_r2(const gmat *m, int64_t i, int64_t j) {
  double n = 0, mx = 0, my = 0;
  for (int64_t r = 0; r < m->n; r++) {
    uint8_t x = m->g[r * m->v + i], y = m->g[r * m->v + j];
    if (is_called(x) && is_called(y))
      n += 1, mx += x, my += y;
  }
  if (n < 2)
    return NAN;
  mx /= n, my /= n;
  double sxx = 0, syy = 0, sxy = 0;
  for (int64_t r = 0; r < m->n; r++) {
    uint8_t x = m->g[r * m->v + i], y = m->g[r * m->v + j];
    if (!is_called(x) || !is_called(y))
      continue;
    sxx += (x - mx) * (x - mx);
    syy += (y - my) * (y - my);
    sxy += (x - mx) * (y - my);
  }
  return sxx > 0 && syy > 0 ? sxy * sxy / (sxx * syy) : NAN;
}

/* Whether variants i and j pair up for LD; their distance in *d. */
static int ld_pair(const sm_variants *vars, int64_t i, int64_t j, int64_t max_dist, int64_t *d) {
  if (vars->chrom && strcmp(vars->chrom[i], vars->chrom[j]) != 0)
    return 0;
  *d = llabs(vars->pos[i] - vars->pos[j]);
  return max_dist <= 0 || *d <= max_dist;
}

void ref_ld(const sm_variants *vars, const gmat *real, const gmat *synth, int64_t max_dist,
            int bins, sm_genome_metrics *out) {
  int64_t v = vars->n, d = 0, widest = 0;
  for (int64_t i = 0; i < v; i++)
    for (int64_t j = i + 1; j < v; j++)
      if (ld_pair(vars, i, j, max_dist, &d) && d > widest)
        widest = d;
  double span = max_dist > 0 ? (double)max_dist : (widest > 0 ? (double)widest : 1.0);

  /* every pair, straight into the bins */
  double diff = 0, *sr = calloc((size_t)bins, sizeof(double)),
         *ss = calloc((size_t)bins, sizeof(double));
  int64_t pairs = 0, *nr = calloc((size_t)bins, sizeof(int64_t)),
          *ns = calloc((size_t)bins, sizeof(int64_t));
  for (int64_t i = 0; i < v; i++)
    for (int64_t j = i + 1; j < v; j++) {
      if (!ld_pair(vars, i, j, max_dist, &d))
        continue;
      double a = ref_r2(real, i, j), b = ref_r2(synth, i, j);
      int bin = (int)floor((double)d * bins / span);
      bin = bin < bins ? bin : bins - 1;
      if (!isnan(a))
        sr[bin] += a, nr[bin]++;
      if (!isnan(b))
        ss[bin] += b, ns[bin]++;
      if (!isnan(a) && !isnan(b))
        diff += fabs(a - b), pairs++;
    }

  /* figures */
  out->ld_pairs = pairs;
  out->ld_r2_mean_abs_diff = pairs > 0 ? diff / pairs : NAN;
  out->ld_bins = bins;
  out->ld_bin_edges = malloc((size_t)(bins + 1) * sizeof(double));
  out->ld_decay_real = malloc((size_t)bins * sizeof(double));
  out->ld_decay_synth = malloc((size_t)bins * sizeof(double));
  for (int b = 0; b <= bins; b++)
    out->ld_bin_edges[b] = span * b / bins;
  for (int b = 0; b < bins; b++) {
    out->ld_decay_real[b] = nr[b] ? sr[b] / nr[b] : NAN;
    out->ld_decay_synth[b] = ns[b] ? ss[b] / ns[b] : NAN;
  }
  free(sr), free(ss), free(nr), free(ns);
}

void ref_major(const gmat *m, uint8_t *major) {
  for (int64_t j = 0; j < m->v; j++)
    major[j] = ref_freq(m, j) > 0.5 ? (m->coded ? 2 : 1) : 0;
}

int64_t ref_hamming(const gmat *a, int64_t i, const gmat *b, int64_t k, const uint8_t *major) {
  int64_t d = 0;
  for (int64_t j = 0; j < a->v; j++) {
    uint8_t x = a->g[i * a->v + j], y = b->g[k * b->v + j];
    x = is_called(x) ? x : major[j];
    y = is_called(y) ? y : major[j];
    d += x != y;
  }
  return d;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Values of sorted s (n) at most x. */
static int64_t count_at_most(const double *s, int64_t n, double x) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (s[mid] <= x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

double ref_wasserstein(const double *u, int64_t nu, const double *w, int64_t nw) {
  double *su = malloc((size_t)nu * sizeof(double)), *sw = malloc((size_t)nw * sizeof(double));
  double *all = malloc((size_t)(nu + nw) * sizeof(double));
  memcpy(su, u, (size_t)nu * sizeof(double));
  memcpy(sw, w, (size_t)nw * sizeof(double));
  memcpy(all, u, (size_t)nu * sizeof(double));
  memcpy(all + nu, w, (size_t)nw * sizeof(double));
  qsort(su, (size_t)nu, sizeof(double), cmp_double);
  qsort(sw, (size_t)nw, sizeof(double), cmp_double);
  qsort(all, (size_t)(nu + nw), sizeof(double), cmp_double);

  /* between consecutive values both CDFs are flat */
  double area = 0;
  for (int64_t k = 0; k + 1 < nu + nw; k++) {
    double fu = (double)count_at_most(su, nu, all[k]) / nu;
    double fw = (double)count_at_most(sw, nw, all[k]) / nw;
    area += fabs(fu - fw) * (all[k + 1] - all[k]);
  }
  free(su), free(sw), free(all);
  return area;
}

/* Distances of all pairs i < k within a (b NULL) or across a and b, as doubles. */
static double *all_distances(const gmat *a, const gmat *b, const uint8_t *major, int64_t *n) {
  int64_t cap = b ? a->n * b->n : a->n * (a->n - 1) / 2, m = 0;
  double *d = malloc((size_t)(cap > 0 ? cap : 1) * sizeof(double));
  for (int64_t i = 0; i < a->n; i++)
    for (int64_t k = b ? 0 : i + 1; k < (b ? b->n : a->n); k++)
      d[m++] = (double)ref_hamming(a, i, b ? b : a, k, major);
  *n = m;
  return d;
}

static double mean_of(const double *x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += x[i];
  return n > 0 ? s / n : NAN;
}

void ref_pairdist(const gmat *real, const gmat *synth, const uint8_t *major,
                  sm_genome_metrics *out) {
  int64_t nr, ns, nc;
  double *dr = all_distances(real, NULL, major, &nr);
  double *ds = all_distances(synth, NULL, major, &ns);
  double *dc = all_distances(real, synth, major, &nc);
  out->pairdist_real_mean = mean_of(dr, nr);
  out->pairdist_synth_mean = mean_of(ds, ns);
  out->pairdist_cross_mean = mean_of(dc, nc);
  out->pairdist_wasserstein = nr && ns ? ref_wasserstein(dr, nr, ds, ns) : NAN;
  free(dr), free(ds), free(dc);
}

/* Distance from row i of a to its nearest row of b, skipping row `skip` of b (-1: none). */
static int64_t nearest(const gmat *a, int64_t i, const gmat *b, int64_t skip,
                       const uint8_t *major) {
  int64_t best = INT64_MAX;
  for (int64_t k = 0; k < b->n; k++) {
    int64_t d = k == skip ? INT64_MAX : ref_hamming(a, i, b, k, major);
    best = d < best ? d : best;
  }
  return best;
}

double ref_aats(const gmat *real, const gmat *synth, const uint8_t *major) {
  int64_t n = real->n, real_far = 0, synth_far = 0;
  for (int64_t i = 0; i < n; i++) {
    real_far += nearest(real, i, synth, -1, major) > nearest(real, i, real, i, major);
    synth_far += nearest(synth, i, real, -1, major) > nearest(synth, i, synth, i, major);
  }
  return 0.5 * ((double)real_far / n + (double)synth_far / n);
}

void ref_jacobi(double *a, int n, double *eig) {
  for (int sweep = 0; sweep < 100; sweep++) {
    double off = 0, all = 0;
    for (int p = 0; p < n; p++)
      for (int q = 0; q < n; q++)
        all += a[p * n + q] * a[p * n + q], off += p != q ? a[p * n + q] * a[p * n + q] : 0;
    if (off <= 1e-28 * all)
      break;

    /* one rotation per off-diagonal entry, zeroing it */
    for (int p = 0; p < n; p++)
      for (int q = p + 1; q < n; q++) {
        double apq = a[p * n + q];
        if (apq == 0)
          continue;
        double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
        double c = 1 / sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; k++) {
          double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq, a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; k++) {
          double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk, a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  for (int i = 0; i < n; i++)
    eig[i] = -a[i * n + i];
  qsort(eig, (size_t)n, sizeof(double), cmp_double);
  for (int i = 0; i < n; i++)
    eig[i] = -eig[i];
}

void ref_pca(const gmat *real, const gmat *synth, const double *mean, int k, double *explained) {
  int64_t n = real->n + synth->n, v = real->v;
  double *x = malloc((size_t)(n * v) * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    const gmat *m = i < real->n ? real : synth;
    int64_t r = i < real->n ? i : i - real->n;
    for (int64_t j = 0; j < v; j++) {
      uint8_t g = m->g[r * v + j];
      x[i * v + j] = is_called(g) ? g - mean[j] : 0.0;
    }
  }

  /* the smaller of X^T X and X X^T, entry by entry */
  int dim = (int)(n < v ? n : v), by_var = dim == v;
  double *a = malloc((size_t)dim * dim * sizeof(double)), *eig = malloc(dim * sizeof(double));
  double trace = 0;
  for (int p = 0; p < dim; p++)
    for (int q = 0; q < dim; q++) {
      double s = 0;
      for (int64_t t = 0; t < (by_var ? n : v); t++)
        s += by_var ? x[t * v + p] * x[t * v + q] : x[p * v + t] * x[q * v + t];
      a[p * dim + q] = s;
      trace += p == q ? s : 0;
    }
  ref_jacobi(a, dim, eig);
  for (int c = 0; c < k; c++)
    explained[c] = c < dim && trace > 0 ? fmax(eig[c], 0) / trace : NAN;
  free(x), free(a), free(eig);
}
