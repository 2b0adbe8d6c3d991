/* Slow, obviously correct references for the evaluation metrics (tests only). */
#ifndef SYNTHMPI_TEST_EVAL_REFERENCE_H
#define SYNTHMPI_TEST_EVAL_REFERENCE_H

#include <math.h>
#include <stdint.h>

/* Values that are not missing. */
static int64_t ref_present(const double *v, int64_t n) {
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    m += !isnan(v[i]);
  return m;
}

/* KS statistic: both ECDFs evaluated at every observed point. */
static double ref_ks_complement(const double *r, int64_t nr, const double *s, int64_t ns) {
  int64_t mr = ref_present(r, nr), ms = ref_present(s, ns);
  if (mr == 0 || ms == 0)
    return NAN;
  double d = 0.0;
  for (int set = 0; set < 2; set++) {
    const double *pts = set ? s : r;
    int64_t np = set ? ns : nr;
    for (int64_t p = 0; p < np; p++) {
      if (isnan(pts[p]))
        continue;
      int64_t cr = 0, cs = 0;
      for (int64_t i = 0; i < nr; i++)
        cr += !isnan(r[i]) && r[i] <= pts[p];
      for (int64_t i = 0; i < ns; i++)
        cs += !isnan(s[i]) && s[i] <= pts[p];
      double gap = fabs((double)cr / mr - (double)cs / ms);
      d = gap > d ? gap : d;
    }
  }
  return 1.0 - d;
}

/* TV complement by counting each category in turn. */
static double ref_tv_complement(const double *r, int64_t nr, const double *s, int64_t ns, int k) {
  int64_t mr = ref_present(r, nr), ms = ref_present(s, ns);
  if (mr == 0 || ms == 0)
    return NAN;
  double tv = 0.0;
  for (int c = 0; c < k; c++) {
    int64_t cr = 0, cs = 0;
    for (int64_t i = 0; i < nr; i++)
      cr += r[i] == c;
    for (int64_t i = 0; i < ns; i++)
      cs += s[i] == c;
    tv += fabs((double)cr / mr - (double)cs / ms);
  }
  return 1.0 - 0.5 * tv;
}

/* Pearson's r in long double, two passes over complete rows. */
static double ref_pearson(const double *x, const double *y, int64_t n) {
  long double mx = 0, my = 0;
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (!isnan(x[i]) && !isnan(y[i]))
      mx += x[i], my += y[i], m++;
  mx /= m;
  my /= m;
  long double cxy = 0, cxx = 0, cyy = 0;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(x[i]) || isnan(y[i]))
      continue;
    cxy += (x[i] - mx) * (y[i] - my);
    cxx += (x[i] - mx) * (x[i] - mx);
    cyy += (y[i] - my) * (y[i] - my);
  }
  return (double)(cxy / sqrtl(cxx * cyy));
}

static double ref_correlation_similarity(const double *ra, const double *rb, int64_t nr,
                                         const double *sa, const double *sb, int64_t ns) {
  return 1.0 - fabs(ref_pearson(ra, rb, nr) - ref_pearson(sa, sb, ns)) / 2.0;
}

/* Contingency similarity by a nested loop over all ka x kb cells. */
static double ref_contingency(const double *ra, const double *rb, int64_t nr, const double *sa,
                              const double *sb, int64_t ns, int ka, int kb) {
  int64_t mr = 0, ms = 0;
  for (int64_t i = 0; i < nr; i++)
    mr += !isnan(ra[i]) && !isnan(rb[i]);
  for (int64_t i = 0; i < ns; i++)
    ms += !isnan(sa[i]) && !isnan(sb[i]);
  double tv = 0.0;
  for (int a = 0; a < ka; a++) {
    for (int b = 0; b < kb; b++) {
      int64_t cr = 0, cs = 0;
      for (int64_t i = 0; i < nr; i++)
        cr += ra[i] == a && rb[i] == b;
      for (int64_t i = 0; i < ns; i++)
        cs += sa[i] == a && sb[i] == b;
      tv += fabs((double)cr / mr - (double)cs / ms);
    }
  }
  return 1.0 - 0.5 * tv;
}

/* Ten equal-width bins over the real range by division, clipped to the end bins. */
static void ref_bin(const double *real, int64_t nr, const double *x, int64_t n, double *out) {
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < nr; i++)
    if (!isnan(real[i]))
      lo = fmin(lo, real[i]), hi = fmax(hi, real[i]);
  double w = (hi - lo) / 10.0;
  for (int64_t i = 0; i < n; i++) {
    double b = floor((x[i] - lo) / w);
    out[i] = isnan(x[i]) ? NAN : (b < 0 ? 0 : (b > 9 ? 9 : b));
  }
}

#endif
