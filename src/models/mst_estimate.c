/* MST: a consistent tree model from the noisy marginals (all local arithmetic; every
 * rank holds the same measurements, so every rank computes the same model).
 *
 * The estimator, in three steps:
 *   1. Each attribute's 1-way counts: the inverse-variance weighted mean of its own
 *      noisy 1-way measurement (a merged bucket of m values has variance m var1) and the
 *      sums of the noisy 2-way measurements of the tree edges that touch it (variance
 *      n_other var2 per cell), projected onto the simplex {x >= 0, sum x = N} with N the
 *      public row count. This is the least-squares estimate of the 1-way marginal from
 *      every measurement that informs it, made non-negative.
 *   2. Each tree edge's noisy 2-way counts, projected onto the same simplex, then fitted
 *      by iterative proportional fitting to the two 1-way estimates of step 1 (a tiny
 *      share, 1e-6 N, of the independent table is added first so that every row and
 *      column can reach its target).
 *   3. The tree model: P(root) from its 1-way estimate and P(child | parent) from the
 *      edge tables. Because every edge table has exactly the 1-way estimates of its ends
 *      as margins, the tree distribution reproduces every edge table and every 1-way
 *      estimate: the model is consistent with all of its (post-processed) measurements.
 * Private-pgm's mirror descent finds the maximum-likelihood graphical model instead;
 * on a tree with one measurement per clique both reach a model whose cliques match
 * non-negative, mutually consistent versions of the measurements.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/mst.h"

/* IPF stops when every row and column sum is within this share of N of its target. */
#define IPF_TOLERANCE 1e-10
#define IPF_MAX_ITERATIONS 5000
/* Share of N spread as the independent table before IPF. */
#define IPF_FLOOR 1e-6

static int compare_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

int sm_mst_project_simplex(sm_ctx *ctx, double *v, int n, double total) {
  if (n <= 0)
    return SM_OK;
  double *u = sm_malloc(ctx, (size_t)n * sizeof(double));
  if (!u)
    return SM_ERR;

  /* Duchi et al. 2008: the threshold theta from the sorted values */
  memcpy(u, v, (size_t)n * sizeof(double));
  qsort(u, (size_t)n, sizeof(double), compare_desc);
  double cum = 0.0, theta = 0.0;
  for (int j = 0; j < n; j++) {
    cum += u[j];
    double t = (cum - total) / (j + 1);
    if (u[j] - t > 0)
      theta = t;
  }
  for (int j = 0; j < n; j++)
    v[j] = v[j] > theta ? v[j] - theta : 0.0;
  free(u);
  return SM_OK;
}

/* Add one measurement of attribute a's counts (cells of variance var) to the weighted
 * sums (local). */
static void accumulate(double *sum, double *weight, const double *y, int n, double var) {
  for (int i = 0; i < n; i++) {
    sum[i] += y[i] / var;
    weight[i] += 1.0 / var;
  }
}

/* Row (axis 0) or column (axis 1) sums of an (np, nc) table into out. */
static void table_sums(const double *t, int np, int nc, int axis, double *out) {
  memset(out, 0, (size_t)(axis ? nc : np) * sizeof(double));
  for (int i = 0; i < np; i++)
    for (int j = 0; j < nc; j++)
      out[axis ? j : i] += t[i * nc + j];
}

/* Step 1 for attribute j: marg (n_comp) from every measurement that informs it. */
static int one_way_estimate(sm_ctx *ctx, const mst_state *st, int j, const double *noisy1,
                            double var1, double var2, double *marg) {
  const mst_attr *a = &st->attrs[j];
  int n = a->n_comp;
  double *w = sm_calloc(ctx, (size_t)n, sizeof(double));
  double *y = sm_malloc(ctx, (size_t)n * sizeof(double));
  if (!w || !y) {
    free(w);
    free(y);
    return SM_ERR;
  }

  /* the 1-way measurement: cell c sums (member count) noisy values */
  memset(marg, 0, (size_t)n * sizeof(double));
  for (int c = 0; c < n; c++) {
    double members = a->member_start[c + 1] - a->member_start[c];
    accumulate(marg + c, w + c, noisy1 + c, 1, var1 * members);
  }

  /* the edges: to the parent (j is the child) and to each child (j is the parent) */
  for (int k = 0; k < st->n_attrs; k++) {
    int p = st->parent[k];
    if (k == j && p >= 0) {
      table_sums(st->noisy2[j], st->attrs[p].n_comp, n, 1, y);
      accumulate(marg, w, y, n, var2 * st->attrs[p].n_comp);
    } else if (p == j) {
      table_sums(st->noisy2[k], n, st->attrs[k].n_comp, 0, y);
      accumulate(marg, w, y, n, var2 * st->attrs[k].n_comp);
    }
  }
  for (int c = 0; c < n; c++)
    marg[c] /= w[c];
  free(w);
  free(y);
  return sm_mst_project_simplex(ctx, marg, n, (double)st->n_train);
}

/* Scale the rows (axis 0) or columns (axis 1) of t to target; returns the largest
 * deviation of a sum from its target before scaling. */
static double ipf_scale(double *t, int np, int nc, int axis, const double *target, double *sums) {
  double worst = 0.0;
  table_sums(t, np, nc, axis, sums);
  for (int i = 0; i < np; i++)
    for (int j = 0; j < nc; j++) {
      int k = axis ? j : i;
      t[i * nc + j] *= sums[k] > 0 ? target[k] / sums[k] : 0.0;
    }
  for (int k = 0; k < (axis ? nc : np); k++)
    worst = fmax(worst, fabs(sums[k] - target[k]));
  return worst;
}

/* Step 2 for one edge: t (np, nc) fitted to the margins mp (np) and mc (nc). */
static int fit_edge(sm_ctx *ctx, double *t, int np, int nc, const double *mp, const double *mc,
                    double n) {
  SM_TRY(sm_mst_project_simplex(ctx, t, np * nc, n));
  double *sums = sm_malloc(ctx, (size_t)(np > nc ? np : nc) * sizeof(double));
  if (!sums)
    return SM_ERR;

  /* a little of the independent table, then alternate row and column scaling */
  for (int i = 0; i < np; i++)
    for (int j = 0; j < nc; j++)
      t[i * nc + j] += n > 0 ? IPF_FLOOR * mp[i] * mc[j] / n : 0.0;
  for (int it = 0; it < IPF_MAX_ITERATIONS; it++) {
    double rows = ipf_scale(t, np, nc, 0, mp, sums);
    double cols = ipf_scale(t, np, nc, 1, mc, sums);
    if (it > 0 && fmax(rows, cols) <= IPF_TOLERANCE * n)
      break;
  }
  free(sums);
  return SM_OK;
}

int sm_mst_estimate(sm_ctx *ctx, mst_state *st, double **noisy1, double var1, double var2) {
  int r = st->n_attrs;
  double n = (double)st->n_train;
  for (int j = 0; j < r; j++) {
    st->joint[j] = sm_malloc(ctx, (size_t)st->attrs[j].n_comp * sizeof(double));
    if (!st->joint[j])
      return SM_ERR;
  }

  /* step 1 into joint[j] for now: every attribute's 1-way estimate */
  for (int j = 0; j < r; j++)
    SM_TRY(one_way_estimate(ctx, st, j, noisy1[j], var1, var2, st->joint[j]));

  /* step 2, children last first so that a parent's 1-way estimate is still in place */
  for (int k = r - 1; k >= 1; k--) {
    int c = st->order[k], p = st->parent[c];
    int np = st->attrs[p].n_comp, nc = st->attrs[c].n_comp;
    double *t = sm_malloc(ctx, (size_t)np * nc * sizeof(double));
    if (!t)
      return SM_ERR;
    memcpy(t, st->noisy2[c], (size_t)np * nc * sizeof(double));
    int rc = fit_edge(ctx, t, np, nc, st->joint[p], st->joint[c], n);
    free(st->joint[c]);
    st->joint[c] = t;
    SM_TRY(rc);
  }
  return SM_OK;
}

/* ---- alias tables ----------------------------------------------------------------------- */

/* Vose's alias table of weights w (n, non-negative; all zero: uniform) into keep/alias. */
static int alias_build(sm_ctx *ctx, const double *w, int n, uint32_t *keep, int *alias) {
  double total = 0.0;
  for (int v = 0; v < n; v++)
    total += w[v];
  double *q = sm_malloc(ctx, (size_t)n * sizeof(double));
  int *small = sm_malloc(ctx, (size_t)n * sizeof(int)),
      *large = sm_malloc(ctx, (size_t)n * sizeof(int));
  int rc = q && small && large ? SM_OK : SM_ERR;

  /* scaled probabilities: mean 1 */
  int ns = 0, nl = 0;
  for (int v = 0; rc == SM_OK && v < n; v++) {
    q[v] = total > 0 ? w[v] * n / total : 1.0;
    alias[v] = v;
    if (q[v] < 1.0)
      small[ns++] = v;
    else
      large[nl++] = v;
  }

  /* pair each small value with a large one */
  while (rc == SM_OK && ns > 0 && nl > 0) {
    int s = small[--ns], l = large[nl - 1];
    keep[s] = (uint32_t)(q[s] * 4294967296.0);
    alias[s] = l;
    q[l] -= 1.0 - q[s];
    if (q[l] < 1.0) {
      nl--;
      small[ns++] = l;
    }
  }
  for (int i = 0; rc == SM_OK && i < nl; i++)
    keep[large[i]] = UINT32_MAX;
  for (int i = 0; rc == SM_OK && i < ns; i++)
    keep[small[i]] = UINT32_MAX; /* rounding leftovers keep themselves */
  free(q);
  free(small);
  free(large);
  return rc;
}

/* Alias tables of attribute j: one per parent value (root: one). */
static int attr_alias(sm_ctx *ctx, mst_state *st, int j) {
  int p = st->parent[j], nc = st->attrs[j].n_comp, np = p >= 0 ? st->attrs[p].n_comp : 1;
  mst_alias *t = sm_calloc(ctx, (size_t)np, sizeof *t);
  uint32_t *keep = sm_malloc(ctx, (size_t)np * nc * sizeof(uint32_t));
  int *alias = sm_malloc(ctx, (size_t)np * nc * sizeof(int));
  if (!t || !keep || !alias) {
    free(t);
    free(keep);
    free(alias);
    return SM_ERR;
  }
  st->alias[j] = t;
  t[0].keep = keep, t[0].alias = alias;

  /* a parent value the model never takes falls back on the child's own marginal */
  double *row = sm_malloc(ctx, (size_t)nc * sizeof(double));
  int rc = row ? SM_OK : SM_ERR;
  for (int i = 0; rc == SM_OK && i < np; i++) {
    t[i].keep = keep + (size_t)i * nc, t[i].alias = alias + (size_t)i * nc;
    double sum = 0.0;
    for (int c = 0; c < nc; c++)
      sum += row[c] = st->joint[j][(size_t)i * nc + c];
    if (!(sum > 0) && p >= 0)
      table_sums(st->joint[j], np, nc, 1, row);
    rc = alias_build(ctx, row, nc, t[i].keep, t[i].alias);
  }
  free(row);
  return rc;
}

int sm_mst_build_alias(sm_ctx *ctx, mst_state *st) {
  for (int j = 0; j < st->n_attrs; j++)
    SM_TRY(attr_alias(ctx, st, j));
  return SM_OK;
}

/* Where each bin's values start, and (integers) how many whole numbers it holds: the
 * whole numbers lo + k with ceil(v width) <= k < ceil((v + 1) width) are those whose bin
 * is v. */
static int attr_bins(sm_ctx *ctx, mst_attr *a) {
  int n = a->n_values;
  a->value_base = sm_calloc(ctx, (size_t)n, sizeof(double));
  a->value_n = sm_calloc(ctx, (size_t)n, sizeof(uint32_t));
  if (!a->value_base || !a->value_n)
    return SM_ERR;
  for (int v = 0; v < n - 1 && !sm_coltype_is_discrete((sm_coltype)a->type); v++) {
    double first = ceil(v * a->width), end = ceil((v + 1) * a->width);
    int whole = a->type == SM_COL_INTEGER;
    a->value_base[v] = a->lo + (whole ? first : v * a->width);
    a->value_n[v] = whole && end > first ? (uint32_t)(end - first) : 1;
  }
  return SM_OK;
}

int sm_mst_attr_members(sm_ctx *ctx, mst_attr *a) {
  int n = a->n_values, k = a->n_comp;
  a->member = sm_malloc(ctx, (size_t)n * sizeof(int));
  a->member_start = sm_calloc(ctx, (size_t)k + 1, sizeof(int));
  a->member_u = sm_malloc(ctx, (size_t)n * sizeof(uint32_t));
  int rc = a->member && a->member_start && a->member_u ? attr_bins(ctx, a) : SM_ERR;

  /* runs of domain values by compressed value (counting sort) */
  for (int v = 0; rc == SM_OK && v < n; v++)
    a->member_start[a->comp_of[v] + 1]++;
  for (int c = 0; rc == SM_OK && c < k; c++)
    a->member_start[c + 1] += a->member_start[c];

  /* members in order, and each member's cumulative share of its run's noisy counts */
  for (int c = 0; rc == SM_OK && c < k; c++) {
    int at = a->member_start[c];
    double total = 0.0, cum = 0.0;
    for (int v = 0; v < n; v++)
      if (a->comp_of[v] == c) {
        a->member[at++] = v;
        total += fmax(a->noisy[v], 0.0);
      }
    int len = at - a->member_start[c];
    for (int i = a->member_start[c]; i < at; i++) {
      cum += total > 0 ? fmax(a->noisy[a->member[i]], 0.0) / total : 1.0 / len;
      a->member_u[i] = i == at - 1 ? UINT32_MAX : (uint32_t)fmin(cum * 4294967296.0, 4294967295.0);
    }
  }
  return rc;
}
