/* Fidelity and classifier metrics on plain arrays (SDMetrics and scikit-learn meanings). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int compare_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Copy the non-missing values of x into a new sorted array; *m is its length. NULL when
 * out of memory. */
static double *sorted_present(const double *x, int64_t n, int64_t *m) {
  double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  if (!v)
    return NULL;
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++)
    if (!isnan(x[i]))
      v[k++] = x[i];
  qsort(v, (size_t)k, sizeof(double), compare_double);
  *m = k;
  return v;
}

double sm_eval_ks_complement(const double *real, int64_t nr, const double *syn, int64_t ns) {
  int64_t m = 0, k = 0;
  double *a = sorted_present(real, nr, &m);
  double *b = sorted_present(syn, ns, &k);
  double d = NAN;
  if (!a || !b || m == 0 || k == 0)
    goto done;

  /* walk both sorted samples; compare the ECDFs after each distinct value */
  d = 0.0;
  int64_t i = 0, j = 0;
  while (i < m && j < k) {
    double x = a[i] < b[j] ? a[i] : b[j];
    while (i < m && a[i] == x)
      i++;
    while (j < k && b[j] == x)
      j++;
    double gap = fabs((double)i / (double)m - (double)j / (double)k);
    if (gap > d)
      d = gap;
  }
  d = 1.0 - d;

done:
  free(a);
  free(b);
  return d;
}

/* Count the codes of x (missing dropped) into counts[n_categories]; returns the total. */
static int64_t count_codes(const double *x, int64_t n, int n_categories, int64_t *counts) {
  int64_t total = 0;
  memset(counts, 0, (size_t)n_categories * sizeof(int64_t));
  for (int64_t i = 0; i < n; i++) {
    if (isnan(x[i]))
      continue;
    counts[(int64_t)x[i]]++;
    total++;
  }
  return total;
}

double sm_eval_tv_complement(const double *real, int64_t nr, const double *syn, int64_t ns,
                             int n_categories) {
  int64_t *cr = malloc((size_t)(n_categories + 1) * sizeof(int64_t));
  int64_t *cs = malloc((size_t)(n_categories + 1) * sizeof(int64_t));
  double score = NAN;
  if (!cr || !cs)
    goto done;

  /* frequencies over the shared dictionary; a category absent from one set counts 0 */
  int64_t tr = count_codes(real, nr, n_categories, cr);
  int64_t ts = count_codes(syn, ns, n_categories, cs);
  if (tr == 0 || ts == 0)
    goto done;
  double tv = 0.0;
  for (int c = 0; c < n_categories; c++)
    tv += fabs((double)cr[c] / (double)tr - (double)cs[c] / (double)ts);
  score = 1.0 - 0.5 * tv;

done:
  free(cr);
  free(cs);
  return score;
}

/* Pearson's r over rows where both values are present (two passes); NaN if undefined. */
static double pearson(const double *x, const double *y, int64_t n) {
  double sx = 0.0, sy = 0.0;
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(x[i]) || isnan(y[i]))
      continue;
    sx += x[i];
    sy += y[i];
    m++;
  }
  if (m < 2)
    return NAN;

  /* centred sums */
  double mx = sx / (double)m, my = sy / (double)m;
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(x[i]) || isnan(y[i]))
      continue;
    double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx <= 0.0 || syy <= 0.0)
    return NAN;
  double r = sxy / sqrt(sxx * syy);
  return r > 1.0 ? 1.0 : (r < -1.0 ? -1.0 : r);
}

double sm_eval_correlation_similarity(const double *ra, const double *rb, int64_t nr,
                                      const double *sa, const double *sb, int64_t ns) {
  double r_real = pearson(ra, rb, nr);
  double r_syn = pearson(sa, sb, ns);
  return 1.0 - fabs(r_real - r_syn) / 2.0;
}

/* Sorted cell keys (code_a << 32 | code_b) of the complete rows; *m is their count. */
static int64_t *cell_keys(const double *a, const double *b, int64_t n, int64_t *m) {
  int64_t *keys = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
  if (!keys)
    return NULL;
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++)
    if (!isnan(a[i]) && !isnan(b[i]))
      keys[k++] = ((int64_t)a[i] << 32) | (int64_t)b[i];
  qsort(keys, (size_t)k, sizeof(int64_t), compare_i64);
  *m = k;
  return keys;
}

double sm_eval_contingency_similarity(const double *ra, const double *rb, int64_t nr,
                                      const double *sa, const double *sb, int64_t ns) {
  int64_t m = 0, k = 0;
  int64_t *kr = cell_keys(ra, rb, nr, &m);
  int64_t *ks = cell_keys(sa, sb, ns, &k);
  double score = NAN;
  if (!kr || !ks || m == 0 || k == 0)
    goto done;

  /* merge the two sorted key lists cell by cell */
  double tv = 0.0;
  int64_t i = 0, j = 0;
  while (i < m || j < k) {
    int64_t cell = (j >= k || (i < m && kr[i] < ks[j])) ? kr[i] : ks[j];
    int64_t ci = 0, cj = 0;
    while (i < m && kr[i] == cell)
      i++, ci++;
    while (j < k && ks[j] == cell)
      j++, cj++;
    tv += fabs((double)ci / (double)m - (double)cj / (double)k);
  }
  score = 1.0 - 0.5 * tv;

done:
  free(kr);
  free(ks);
  return score;
}

void sm_eval_bin(const double *real, int64_t nr, const double *x, int64_t n, double *codes) {
  /* range of the real values (numpy widens an empty range by 0.5 each side) */
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < nr; i++) {
    if (isnan(real[i]))
      continue;
    lo = real[i] < lo ? real[i] : lo;
    hi = real[i] > hi ? real[i] : hi;
  }
  if (lo > hi)
    lo = hi = 0.0;
  if (lo == hi)
    lo -= 0.5, hi += 0.5;

  /* edges as numpy.linspace makes them; bin k holds edges[k] <= x < edges[k + 1] */
  double edges[SM_EVAL_BINS + 1];
  double step = (hi - lo) / SM_EVAL_BINS;
  for (int k = 0; k < SM_EVAL_BINS; k++)
    edges[k] = lo + k * step;
  edges[SM_EVAL_BINS] = hi;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(x[i])) {
      codes[i] = NAN;
      continue;
    }
    int bin = 0;
    while (bin + 1 < SM_EVAL_BINS && x[i] >= edges[bin + 1])
      bin++;
    codes[i] = bin;
  }
}

typedef struct scored {
  double score;
  int label;
} scored;

static int compare_scored(const void *a, const void *b) {
  return compare_double(&((const scored *)a)->score, &((const scored *)b)->score);
}

double sm_eval_roc_auc(const double *score, const int *label, int64_t n) {
  scored *s = malloc((size_t)(n > 0 ? n : 1) * sizeof(scored));
  if (!s)
    return NAN;
  for (int64_t i = 0; i < n; i++)
    s[i] = (scored){score[i], label[i] != 0};
  qsort(s, (size_t)n, sizeof(scored), compare_scored);

  /* Mann-Whitney: sum of the positives' ranks, tied runs sharing their average rank */
  double rank_sum = 0.0;
  int64_t n_pos = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i, pos = 0;
    while (j < n && s[j].score == s[i].score)
      pos += s[j++].label;
    rank_sum += (double)pos * (0.5 * (double)(i + 1 + j));
    n_pos += pos;
    i = j;
  }
  free(s);
  int64_t n_neg = n - n_pos;
  if (n_pos == 0 || n_neg == 0)
    return NAN;
  double u = rank_sum - 0.5 * (double)n_pos * (double)(n_pos + 1);
  return u / ((double)n_pos * (double)n_neg);
}

double sm_eval_macro_f1(const int *truth, const int *pred, int64_t n, int n_classes) {
  double sum = 0.0;
  int used = 0;
  for (int c = 0; c < n_classes; c++) {
    int64_t tp = 0, fp = 0, fn = 0;
    for (int64_t i = 0; i < n; i++) {
      tp += truth[i] == c && pred[i] == c;
      fp += truth[i] != c && pred[i] == c;
      fn += truth[i] == c && pred[i] != c;
    }

    /* classes seen in neither truth nor prediction do not count */
    if (tp + fp + fn == 0)
      continue;
    sum += 2.0 * (double)tp / (double)(2 * tp + fp + fn);
    used++;
  }
  return used ? sum / used : NAN;
}
