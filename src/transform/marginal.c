/* Marginals as piecewise inverse CDFs, their summaries, and fast normal-score maps. */
#include "transform/marginal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthmpi/rng.h"

/* Normal CDF grid: z in [-PHI_Z_MAX, PHI_Z_MAX], PHI_STEPS_PER_UNIT points per unit. */
#define PHI_Z_MAX 8.5
#define PHI_STEPS_PER_UNIT 64
/* Lookup tables on u: between 256 and 2^20 buckets, about two per segment. */
#define LOOKUP_MIN_BITS 8
#define LOOKUP_MAX_BITS 20
/* The largest double below 1. */
#define U_BELOW_ONE 0x1.fffffffffffffp-1

static int compare_wpoint(const void *a, const void *b) {
  double x = ((const sm_wpoint *)a)->value, y = ((const sm_wpoint *)b)->value;
  return (x > y) - (x < y);
}

int64_t sm_wpoints_merge(sm_wpoint *p, int64_t n) {
  if (n <= 0)
    return 0;
  qsort(p, (size_t)n, sizeof *p, compare_wpoint);

  /* weights are integral, so their sums do not depend on the order of equal values */
  int64_t m = 0;
  for (int64_t k = 1; k < n; k++) {
    if (p[k].value == p[m].value) {
      p[m].weight += p[k].weight;
      p[m].atom = (p[m].atom != 0 || p[k].atom != 0) ? 1.0 : 0.0;
    } else {
      p[++m] = p[k];
    }
  }
  return m + 1;
}

/* Emit points a..b as one: itself when alone, else their weighted median as a stretch. */
static void flush_bucket(const sm_wpoint *p, int64_t a, int64_t b, double weight, sm_wpoint *out,
                         int64_t *m) {
  if (a < 0 || b < a)
    return;
  if (a == b) {
    out[(*m)++] = p[a];
    return;
  }
  double cum = 0;
  int64_t t = a;
  for (; t < b; t++) {
    cum += p[t].weight;
    if (cum >= 0.5 * weight)
      break;
  }
  out[(*m)++] = (sm_wpoint){p[t].value, weight, 0.0};
}

int64_t sm_wpoints_compress(const sm_wpoint *p, int64_t n, double total, int64_t max_points,
                            sm_wpoint *out) {
  double heavy = total / (double)max_points, bucket = 0;
  int64_t m = 0, start = -1;
  for (int64_t k = 0; k < n; k++) {
    /* the ends and heavy atoms are kept as they are */
    if (k == 0 || k == n - 1 || (p[k].atom != 0 && p[k].weight >= heavy)) {
      flush_bucket(p, start, k - 1, bucket, out, &m);
      out[m++] = p[k];
      start = -1;
      continue;
    }

    /* everything else fills buckets of about total / max_points */
    if (start < 0) {
      start = k;
      bucket = 0;
    }
    bucket += p[k].weight;
    if (bucket >= heavy) {
      flush_bucket(p, start, k, bucket, out, &m);
      start = -1;
    }
  }
  return m;
}

/* Growing segment list used while building. */
typedef struct segment_list {
  int n;
  double *bound, *lo, *hi;
} segment_list;

static void push_segment(segment_list *s, double start, double end, double lo, double hi) {
  if (!(end > start))
    return;
  s->bound[s->n] = start;
  s->lo[s->n] = lo;
  s->hi[s->n] = hi;
  s->n++;
  s->bound[s->n] = end;
}

/* Fill the segments from sorted points; see sm_marginal_from_points. */
static void build_segments(segment_list *s, const sm_wpoint *p, int64_t n, double total,
                           double heavy, int exact) {
  double cum = 0, prev_value = 0, prev_u = 0;
  for (int64_t k = 0; k < n; k++) {
    double v = p[k].value, below = cum / total;
    cum += p[k].weight;
    double at = k == n - 1 ? 1.0 : cum / total;

    /* an atom: a jump of the CDF, sampled as the exact value */
    if (exact || n == 1 || (p[k].atom != 0 && p[k].weight >= heavy)) {
      if (k > 0)
        push_segment(s, prev_u, below, prev_value, v);
      push_segment(s, below, at, v, v);
      prev_value = v;
      prev_u = at;
      continue;
    }

    /* a summary point: the CDF passes the middle of its step, linear in between */
    double mid = k == 0 ? 0.0 : k == n - 1 ? 1.0 : 0.5 * (below + at);
    if (k > 0)
      push_segment(s, prev_u, mid, prev_value, v);
    prev_value = v;
    prev_u = mid;
  }
}

int sm_marginal_from_points(sm_ctx *ctx, sm_marginal *m, const sm_wpoint *p, int64_t n, int exact,
                            int64_t max_points) {
  memset(m, 0, sizeof *m);
  if (n <= 0)
    return SM_OK;
  double total = 0;
  for (int64_t k = 0; k < n; k++)
    total += p[k].weight;

  /* at most two segments per point */
  segment_list s = {0, NULL, NULL, NULL};
  s.bound = sm_malloc(ctx, (size_t)(2 * n + 1) * sizeof(double));
  s.lo = sm_malloc(ctx, (size_t)(2 * n) * sizeof(double));
  s.hi = sm_malloc(ctx, (size_t)(2 * n) * sizeof(double));
  int rc = (s.bound && s.lo && s.hi) ? SM_OK : SM_ERR;
  if (rc == SM_OK) {
    build_segments(&s, p, n, total, total / (double)max_points, exact);
    s.bound[s.n] = 1.0;
    rc = sm_marginal_from_segments(ctx, m, s.n, s.bound, s.lo, s.hi);
  }
  free(s.bound);
  free(s.lo);
  free(s.hi);
  return rc;
}

/* Slopes and the lookup table: bucket t holds the first segment ending after t / T. */
static void index_segments(sm_marginal *m) {
  int bits = m->lookup_bits;
  for (int s = 0; s < m->n_segments; s++) {
    double width = m->bound[s + 1] - m->bound[s];
    int flat = m->hi[s] == m->lo[s] || isnan(m->lo[s]) || !(width > 0);
    m->slope[s] = flat ? 0.0 : (m->hi[s] - m->lo[s]) / width;
  }

  int s = 0, buckets = 1 << bits;
  for (int t = 0; t < buckets; t++) {
    double u = ldexp((double)t, -bits);
    while (s + 1 < m->n_segments && m->bound[s + 1] <= u)
      s++;
    m->lookup[t] = s;
  }
}

int sm_marginal_from_segments(sm_ctx *ctx, sm_marginal *m, int n_segments, const double *bound,
                              const double *lo, const double *hi) {
  memset(m, 0, sizeof *m);
  if (n_segments <= 0)
    return SM_OK;
  size_t n = (size_t)n_segments;
  m->n_segments = n_segments;
  m->lookup_bits = LOOKUP_MIN_BITS;
  while (m->lookup_bits < LOOKUP_MAX_BITS && (1 << m->lookup_bits) < 2 * n_segments)
    m->lookup_bits++;
  m->bound = sm_malloc(ctx, (n + 1) * sizeof(double));
  m->lo = sm_malloc(ctx, n * sizeof(double));
  m->hi = sm_malloc(ctx, n * sizeof(double));
  m->slope = sm_malloc(ctx, n * sizeof(double));
  m->lookup = sm_malloc(ctx, ((size_t)1 << m->lookup_bits) * sizeof(int32_t));
  if (!m->bound || !m->lo || !m->hi || !m->slope || !m->lookup) {
    sm_marginal_free(m);
    return SM_ERR;
  }
  memcpy(m->bound, bound, (n + 1) * sizeof(double));
  memcpy(m->lo, lo, n * sizeof(double));
  memcpy(m->hi, hi, n * sizeof(double));
  index_segments(m);
  return SM_OK;
}

void sm_marginal_free(sm_marginal *m) {
  if (!m)
    return;
  free(m->bound);
  free(m->lo);
  free(m->hi);
  free(m->slope);
  free(m->lookup);
  memset(m, 0, sizeof *m);
}

void sm_marginal_step(const sm_marginal *m, double x, double *u_lo, double *u_hi) {
  /* last segment starting at or below x (segments of numeric columns are in value order) */
  int a = 0, b = m->n_segments - 1;
  if (b < 0 || x < m->lo[0]) {
    *u_lo = *u_hi = 0.0;
    return;
  }
  while (a < b) {
    int mid = a + (b - a + 1) / 2;
    if (m->lo[mid] <= x)
      a = mid;
    else
      b = mid - 1;
  }

  /* an atom at x comes before the stretch that leaves x */
  if (a > 0 && m->lo[a - 1] == x && m->slope[a - 1] == 0.0)
    a--;
  double start = m->bound[a], end = m->bound[a + 1];
  if (m->slope[a] == 0.0) {
    *u_lo = start;
    *u_hi = end;
  } else {
    double t = x >= m->hi[a] ? 1.0 : (x - m->lo[a]) / (m->hi[a] - m->lo[a]);
    *u_lo = *u_hi = start + t * (end - start);
  }
}

int sm_phi_table_init(sm_ctx *ctx, sm_phi_table *t) {
  t->step_inv = PHI_STEPS_PER_UNIT;
  t->n = (int)(2 * PHI_Z_MAX * PHI_STEPS_PER_UNIT) + 2;
  t->cdf = sm_malloc(ctx, (size_t)t->n * sizeof(double));
  t->pdf = sm_malloc(ctx, (size_t)t->n * sizeof(double));
  if (!t->cdf || !t->pdf)
    return SM_ERR;
  for (int i = 0; i < t->n; i++) {
    double z = -PHI_Z_MAX + i / t->step_inv;
    t->cdf[i] = sm_norm_cdf(z);
    t->pdf[i] = exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
  }
  return SM_OK;
}

void sm_phi_table_free(sm_phi_table *t) {
  if (!t)
    return;
  free(t->cdf);
  free(t->pdf);
  t->cdf = t->pdf = NULL;
}

/* Phi(z) by cubic Hermite interpolation between grid points; 0 or 1 beyond the grid. */
static inline double phi_eval(const sm_phi_table *t, double z) {
  double x = (z + PHI_Z_MAX) * t->step_inv;
  if (!(x > 0))
    return 0.0;
  if (x >= t->n - 1)
    return 1.0;
  int i = (int)x;
  double s = x - i, h = 1.0 / t->step_inv, s2 = s * s, s3 = s2 * s;
  return (2 * s3 - 3 * s2 + 1) * t->cdf[i] + (s3 - 2 * s2 + s) * h * t->pdf[i] +
         (3 * s2 - 2 * s3) * t->cdf[i + 1] + (s3 - s2) * h * t->pdf[i + 1];
}

void sm_marginal_sample(const sm_marginal *m, const sm_phi_table *phi, const double *z, int stride,
                        int64_t n, double *out) {
  int bits = m->lookup_bits, last = m->n_segments - 1;
  double buckets = ldexp(1.0, bits);
  for (int64_t r = 0; r < n; r++) {
    double u = phi_eval(phi, z[r * stride]);
    if (u >= 1.0)
      u = U_BELOW_ONE;

    /* bucket of u, then forward to the segment that holds it */
    int s = m->lookup[(int)(u * buckets)];
    while (s < last && m->bound[s + 1] <= u)
      s++;
    out[r] = m->lo[s] + (u - m->bound[s]) * m->slope[s];
  }
}
