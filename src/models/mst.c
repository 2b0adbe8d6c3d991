/* MST (McKenna, Miklau, Sheldon 2021): differentially private marginals over a spanning
 * tree, under zCDP.
 *
 * Fit (collective). Every column needs a declared public domain: numeric [lo, hi] in
 * equal-width bins, categorical and boolean their declared dictionary; missing is one
 * more value of each attribute. The budget rho (from epsilon, delta) is spent in three
 * equal parts:
 *   1. every 1-way marginal with Gaussian noise, std sigma sqrt(k) for k marginals and
 *      sigma = sqrt(3 / (2 rho)); values whose noisy count is below 3 std are merged
 *      into one bucket (the compressed domain);
 *   2. each pair is scored by the L1 distance between its true 2-way marginal and the
 *      product of the estimated 1-way marginals; r - 1 exponential-mechanism draws pick a
 *      spanning tree (private Kruskal). Adding or removing one row changes one count by
 *      1 and the estimate not at all (it comes from released measurements), so the score
 *      has sensitivity 1, as in the MST paper; each draw has rho_i = eps_i^2 / 8;
 *   3. the tree's 2-way marginals with Gaussian noise, std sigma sqrt(r - 1).
 * Counts are made per rank and summed with MPI_Allreduce; rank 0 draws all noise and
 * every private choice and broadcasts the results, so every rank holds the same model.
 * The estimator is described in mst_estimate.c.
 */
#include "models/mst.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "synthmpi/privacy.h"

static const sm_param_desc mst_params[] = {
    {"reproducible_seed", SM_PARAM_INT, "1", 0, 9007199254740992.0, NULL,
     "seed of the noise and choices when privacy.reproducible is set (tests only)"},
    {"bins", SM_PARAM_INT, "32", 1, 65536, NULL,
     "equal-width bins of a numeric column's declared domain (integers: at most one per value)"},
    {"compress_threshold", SM_PARAM_REAL, "3", 0, 1000, NULL,
     "values with a noisy count below this many noise std are merged into one bucket"},
};
#define N_PARAMS ((int)(sizeof mst_params / sizeof mst_params[0]))

/* The privacy settings in force for one fit. */
typedef struct mst_privacy {
  double epsilon, delta, rho;
  int reproducible;
  uint64_t seed;
} mst_privacy;

/* ---- state -------------------------------------------------------------------------- */

static void attr_free(mst_attr *a) {
  free(a->comp_of);
  free(a->noisy);
  free(a->member);
  free(a->member_start);
  free(a->member_u);
  free(a->value_base);
  free(a->value_n);
}

void sm_mst_free(void *state) {
  mst_state *st = state;
  if (!st)
    return;
  for (int j = 0; j < st->n_attrs; j++) {
    if (st->attrs)
      attr_free(&st->attrs[j]);
    if (st->joint)
      free(st->joint[j]);
    if (st->noisy2)
      free(st->noisy2[j]);
    if (st->alias && st->alias[j]) {
      free(st->alias[j][0].keep);
      free(st->alias[j][0].alias);
      free(st->alias[j]);
    }
  }
  free(st->attrs);
  free(st->parent);
  free(st->order);
  free(st->joint);
  free(st->noisy2);
  free(st->alias);
  sm_ledger_free(&st->ledger);
  free(st);
}

mst_state *sm_mst_state_alloc(sm_ctx *ctx, int n_attrs) {
  mst_state *st = sm_calloc(ctx, 1, sizeof *st);
  if (!st)
    return NULL;
  size_t n = (size_t)(n_attrs > 0 ? n_attrs : 1);
  st->n_attrs = n_attrs;
  st->attrs = sm_calloc(ctx, n, sizeof *st->attrs);
  st->parent = sm_calloc(ctx, n, sizeof *st->parent);
  st->order = sm_calloc(ctx, n, sizeof *st->order);
  st->joint = sm_calloc(ctx, n, sizeof *st->joint);
  st->noisy2 = sm_calloc(ctx, n, sizeof *st->noisy2);
  st->alias = sm_calloc(ctx, n, sizeof *st->alias);
  if (!st->attrs || !st->parent || !st->order || !st->joint || !st->noisy2 || !st->alias) {
    sm_mst_free(st);
    return NULL;
  }
  return st;
}

int sm_mst_value_index(const mst_attr *a, double x) {
  int last = a->n_values - 1;
  if (isnan(x))
    return last;
  if (sm_coltype_is_discrete((sm_coltype)a->type))
    return (int)x;
  if (!(a->width > 0))
    return 0;
  double b = floor((x - a->lo) / a->width);
  return b < 0 ? 0 : b >= last ? last - 1 : (int)b;
}

/* ---- settings and domains ----------------------------------------------------------- */

/* The privacy section's budget: MST is a private model and runs only with one. */
static int resolve_privacy(sm_ctx *ctx, const sm_params *p, const sm_fit_options *opt,
                           mst_privacy *out) {
  const sm_privacy_spec *ps = opt ? opt->privacy : NULL;
  memset(out, 0, sizeof *out);
  if (!ps || !ps->enabled)
    return sm_fail(ctx, SM_EINPUT,
                   "model mst is private: the experiment needs a privacy section "
                   "(privacy: {epsilon: ..., delta: ...})");
  out->epsilon = ps->epsilon;
  out->delta = ps->delta;
  out->reproducible = ps->reproducible;
  out->seed = (uint64_t)sm_params_num(p, "reproducible_seed");
  return sm_zcdp_rho(ctx, out->epsilon, out->delta, &out->rho);
}

/* SM_EINPUT naming every column without a declared domain (local; the schema is the
 * same on every rank). */
static int check_domains(sm_ctx *ctx, const sm_schema *s) {
  char list[SM_MSG_MAX / 2] = "";
  size_t at = 0;
  int missing = 0;
  for (int j = 0; j < s->n_cols; j++) {
    const sm_column *c = &s->cols[j];
    int ok = c->has_domain && c->type != SM_COL_DATETIME &&
             (!sm_coltype_is_discrete(c->type) || c->n_categories > 0);
    if (ok)
      continue;
    missing++;
    if (at < sizeof list)
      at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", missing > 1 ? ", " : "", c->name);
  }
  if (missing == 0)
    return SM_OK;
  return sm_fail(ctx, SM_EINPUT,
                 "mst needs a declared domain for every column (categories, or [lo, hi] for "
                 "numbers; datetimes are not supported); %d without: %s",
                 missing, list);
}

/* An attribute's domain from its column: bins or categories, then missing. */
static void attr_domain(mst_attr *a, const sm_column *c, int bins) {
  a->type = c->type;
  if (sm_coltype_is_discrete(c->type)) {
    a->n_values = c->n_categories + 1;
    return;
  }

  /* integers: bins over [lo, hi + 1), never more bins than values */
  double span = c->hi - c->lo;
  if (c->type == SM_COL_INTEGER) {
    span += 1.0;
    if (span < bins)
      bins = (int)span;
  }
  a->lo = c->lo;
  a->width = span > 0 ? span / bins : 0.0;
  a->n_values = (span > 0 ? bins : 1) + 1;
}

/* Domain indices of every rank-local row, codes[j] (n_rows) for attribute j. */
static int encode_rows(sm_ctx *ctx, const mst_state *st, const sm_table *t, int **codes) {
  for (int j = 0; j < st->n_attrs; j++) {
    codes[j] = sm_malloc(ctx, (size_t)(t->n_rows > 0 ? t->n_rows : 1) * sizeof(int));
    if (!codes[j])
      return SM_ERR;
    const mst_attr *a = &st->attrs[j];
    for (int64_t r = 0; r < t->n_rows; r++) {
      double x = t->values[j][r];
      int discrete = sm_coltype_is_discrete((sm_coltype)a->type);
      if (discrete && !isnan(x) && !(x >= 0 && x < a->n_values - 1 && x == floor(x)))
        return sm_fail(ctx, SM_EINPUT, "column %s: code %g outside its %d categories",
                       t->schema.cols[j].name, x, a->n_values - 1);
      codes[j][r] = sm_mst_value_index(a, x);
    }
  }
  return SM_OK;
}

/* ---- noise, drawn once ---------------------------------------------------------------- */

/* Collective: rank 0 adds N(0, std^2) to each of v (n) and every rank receives rank 0's
 * result, so the noise is drawn once whatever the number of ranks. */
static int add_noise_once(sm_ctx *ctx, sm_dp_rng *rng, double *v, int64_t n, double std) {
  int rc = SM_OK;
  for (int64_t i = 0; ctx->rank == 0 && rc == SM_OK && i < n; i++) {
    double z = 0.0;
    rc = sm_dp_normal(ctx, rng, &z);
    v[i] += std * z;
  }
  SM_TRY(sm_agree(ctx, rc));
  SM_MPI_CHECK(ctx, MPI_Bcast(v, (int)n, MPI_DOUBLE, 0, ctx->comm));
  return SM_OK;
}

/* Collective: v (n) summed over ranks, then noise as in add_noise_once. */
static int noisy_sum(sm_ctx *ctx, sm_dp_rng *rng, double *v, int64_t n, double std) {
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, ctx->comm));
  return add_noise_once(ctx, rng, v, n, std);
}

/* ---- phase 1: 1-way marginals and compression ------------------------------------------ */

/* Merge the values of a whose noisy count is below threshold into one bucket (placed
 * last); the noisy compressed counts are written to comp (n_comp). Local. */
static int compress_attr(sm_ctx *ctx, mst_attr *a, double threshold, double **comp) {
  int kept = 0, merged = 0;
  a->comp_of = sm_malloc(ctx, (size_t)a->n_values * sizeof(int));
  *comp = sm_calloc(ctx, (size_t)a->n_values, sizeof(double));
  if (!a->comp_of || !*comp)
    return SM_ERR;
  for (int v = 0; v < a->n_values; v++) {
    if (a->noisy[v] >= threshold)
      a->comp_of[v] = kept++;
    else
      merged++;
  }
  for (int v = 0; v < a->n_values; v++)
    if (a->noisy[v] < threshold)
      a->comp_of[v] = kept;
  a->n_comp = kept + (merged > 0);
  for (int v = 0; v < a->n_values; v++)
    (*comp)[a->comp_of[v]] += a->noisy[v];
  return sm_mst_attr_members(ctx, a);
}

/* Collective: noisy 1-way counts of every attribute, then the compressed domains. */
static int measure_one_way(sm_ctx *ctx, mst_state *st, int **codes, int64_t n_rows, sm_dp_rng *rng,
                           double std, double threshold, double **comp) {
  int64_t total = 0;
  for (int j = 0; j < st->n_attrs; j++)
    total += st->attrs[j].n_values;
  double *all = sm_calloc(ctx, (size_t)total, sizeof(double));
  SM_TRY(sm_agree(ctx, all ? SM_OK : SM_ERR));

  /* local counts, one block per attribute */
  for (int j = 0, off = 0; j < st->n_attrs; off += st->attrs[j].n_values, j++)
    for (int64_t r = 0; r < n_rows; r++)
      all[off + codes[j][r]] += 1.0;
  int rc = noisy_sum(ctx, rng, all, total, std);

  /* split back and compress */
  for (int j = 0, off = 0; rc == SM_OK && j < st->n_attrs; off += st->attrs[j].n_values, j++) {
    mst_attr *a = &st->attrs[j];
    a->noisy = sm_malloc(ctx, (size_t)a->n_values * sizeof(double));
    if (!a->noisy) {
      rc = SM_ERR;
      break;
    }
    memcpy(a->noisy, all + off, (size_t)a->n_values * sizeof(double));
    rc = compress_attr(ctx, a, threshold * std, &comp[j]);
  }
  free(all);
  return sm_agree(ctx, rc);
}

/* ---- phase 2: scores and the private spanning tree ------------------------------------- */

/* Index of pair (a, b), a < b, among the r (r - 1) / 2 pairs. */
static int64_t pair_index(int r, int a, int b) {
  return (int64_t)a * (2 * r - a - 1) / 2 + (b - a - 1);
}

/* Collective: the true 2-way counts of every pair on the compressed domains, pairs in
 * pair_index order, each (n_comp[a], n_comp[b]) row-major; *offset (n_pairs + 1). */
static int count_pairs(sm_ctx *ctx, const mst_state *st, int **codes, int64_t n_rows,
                       double **counts, int64_t **offset) {
  int r = st->n_attrs;
  int64_t n_pairs = (int64_t)r * (r - 1) / 2, total = 0;
  *offset = sm_malloc(ctx, (size_t)(n_pairs + 1) * sizeof(int64_t));
  SM_TRY(sm_agree(ctx, *offset ? SM_OK : SM_ERR));
  for (int a = 0; a < r; a++)
    for (int b = a + 1; b < r; b++) {
      (*offset)[pair_index(r, a, b)] = total;
      total += (int64_t)st->attrs[a].n_comp * st->attrs[b].n_comp;
    }
  (*offset)[n_pairs] = total;
  *counts = sm_calloc(ctx, (size_t)(total > 0 ? total : 1), sizeof(double));
  SM_TRY(sm_agree(ctx, *counts ? SM_OK : SM_ERR));

  /* local counts, then the sum over ranks (exact: integers below 2^53) */
  for (int a = 0; a < r; a++)
    for (int b = a + 1; b < r; b++) {
      double *c = *counts + (*offset)[pair_index(r, a, b)];
      int nb = st->attrs[b].n_comp;
      for (int64_t i = 0; i < n_rows; i++)
        c[codes[a][i] * nb + codes[b][i]] += 1.0;
    }
  if (total > 0)
    SM_MPI_CHECK(ctx,
                 MPI_Allreduce(MPI_IN_PLACE, *counts, (int)total, MPI_DOUBLE, MPI_SUM, ctx->comm));
  return SM_OK;
}

/* L1 distance of every pair's counts from the product of the projected 1-way estimates
 * p1[a] (counts summing to n): the selection scores (local). */
static void pair_scores(const mst_state *st, double **p1, const double *counts,
                        const int64_t *offset, double n, double *score) {
  int r = st->n_attrs;
  for (int a = 0; a < r; a++)
    for (int b = a + 1; b < r; b++) {
      int64_t k = pair_index(r, a, b);
      const double *c = counts + offset[k];
      int na = st->attrs[a].n_comp, nb = st->attrs[b].n_comp;
      double s = 0.0;
      for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
          s += fabs(c[i * nb + j] - p1[a][i] * p1[b][j] / n);
      score[k] = s;
    }
}

/* Union-find root with path halving. */
static int find_root(int *up, int x) {
  while (up[x] != x)
    x = up[x] = up[up[x]];
  return x;
}

/* One exponential-mechanism draw over the pairs that join two components: probability
 * proportional to exp(eps (score - max) / 2) (score sensitivity 1). Rank 0 only. */
static int draw_edge(sm_ctx *ctx, sm_dp_rng *rng, int r, const double *score, int *up, double eps,
                     int *edge) {
  double best = -INFINITY, total = 0.0, u = 0.0;
  for (int a = 0; a < r; a++)
    for (int b = a + 1; b < r; b++)
      if (find_root(up, a) != find_root(up, b) && score[pair_index(r, a, b)] > best)
        best = score[pair_index(r, a, b)];
  for (int a = 0; a < r; a++)
    for (int b = a + 1; b < r; b++)
      if (find_root(up, a) != find_root(up, b))
        total += exp(0.5 * eps * (score[pair_index(r, a, b)] - best));
  SM_TRY(sm_dp_uniform(ctx, rng, &u));

  /* inverse CDF; the last candidate takes any rounding remainder */
  double cum = 0.0, target = u * total;
  for (int a = 0; a < r; a++)
    for (int b = a + 1; b < r; b++) {
      if (find_root(up, a) == find_root(up, b))
        continue;
      cum += exp(0.5 * eps * (score[pair_index(r, a, b)] - best));
      edge[0] = a, edge[1] = b;
      if (cum >= target)
        return SM_OK;
    }
  return SM_OK;
}

/* Collective: r - 1 private draws (rank 0) forming a spanning tree; edges (r - 1, 2)
 * broadcast to every rank. */
static int select_tree(sm_ctx *ctx, sm_dp_rng *rng, int r, const double *score, double eps,
                       int *edges) {
  int *up = sm_malloc(ctx, (size_t)r * sizeof(int));
  int rc = up ? SM_OK : SM_ERR;
  for (int a = 0; rc == SM_OK && a < r; a++)
    up[a] = a;
  for (int i = 0; ctx->rank == 0 && rc == SM_OK && i < r - 1; i++) {
    rc = draw_edge(ctx, rng, r, score, up, eps, edges + 2 * i);
    up[find_root(up, edges[2 * i])] = find_root(up, edges[2 * i + 1]);
  }
  free(up);
  SM_TRY(sm_agree(ctx, rc));
  if (r > 1)
    SM_MPI_CHECK(ctx, MPI_Bcast(edges, 2 * (r - 1), MPI_INT, 0, ctx->comm));
  return SM_OK;
}

/* ---- phase 3: the tree, rooted, and its noisy 2-way marginals --------------------------- */

/* Root the tree at attribute 0: parent and breadth-first order (local). */
static int root_tree(sm_ctx *ctx, mst_state *st, const int *edges) {
  int r = st->n_attrs, head = 0, tail = 0;
  for (int j = 0; j < r; j++)
    st->parent[j] = -2;
  st->parent[0] = -1;
  st->order[tail++] = 0;
  while (head < tail) {
    int p = st->order[head++];
    for (int e = 0; e < r - 1; e++) {
      int a = edges[2 * e], b = edges[2 * e + 1];
      int c = a == p ? b : b == p ? a : -1;
      if (c >= 0 && st->parent[c] == -2) {
        st->parent[c] = p;
        st->order[tail++] = c;
      }
    }
  }
  if (tail != r)
    return sm_fail(ctx, SM_ERR, "mst: the selected edges do not span the attributes");
  return SM_OK;
}

/* Collective: noisy (parent, child) counts of every tree edge, from the true pair counts. */
static int measure_edges(sm_ctx *ctx, mst_state *st, const double *counts, const int64_t *offset,
                         sm_dp_rng *rng, double std) {
  int r = st->n_attrs;
  for (int k = 1; k < r; k++) {
    int c = st->order[k], p = st->parent[c];
    int np = st->attrs[p].n_comp, nc = st->attrs[c].n_comp;
    double *m = sm_malloc(ctx, (size_t)np * nc * sizeof(double));
    SM_TRY(sm_agree(ctx, m ? SM_OK : SM_ERR));
    st->noisy2[c] = m;

    /* the pair is stored (min, max): transpose when the parent comes second */
    const double *t = counts + offset[pair_index(r, p < c ? p : c, p < c ? c : p)];
    for (int i = 0; i < np; i++)
      for (int j = 0; j < nc; j++)
        m[i * nc + j] = p < c ? t[i * nc + j] : t[j * np + i];

    /* the true counts are summed over ranks already */
    SM_TRY(add_noise_once(ctx, rng, m, (int64_t)np * nc, std));
  }
  return SM_OK;
}

/* ---- the ledger ------------------------------------------------------------------------- */

static int ledger_entry(sm_ctx *ctx, sm_ledger *l, const char *mechanism, double rho, int64_t steps,
                        double noise, double delta, const char *note) {
  sm_ledger_entry e;
  memset(&e, 0, sizeof e);
  snprintf(e.mechanism, sizeof e.mechanism, "%s", mechanism);
  snprintf(e.accountant, sizeof e.accountant, "zcdp");
  snprintf(e.note, sizeof e.note, "%s", note);
  e.sample_rate = 1.0;
  e.noise_multiplier = noise;
  e.steps = steps;
  e.rho = rho;
  e.delta = delta;
  SM_TRY(sm_zcdp_epsilon(ctx, rho, delta, &e.epsilon));
  return sm_ledger_add(ctx, l, &e);
}

/* The three phases' entries and the totals (epsilon of the summed rho). */
static int record_spending(sm_ctx *ctx, sm_ledger *l, const mst_privacy *pv, int r, double sigma,
                           double eps_draw) {
  char note[128];
  double part = pv->rho / 3.0;
  snprintf(note, sizeof note, "%d one-way marginals, noise std %.4g", r, sigma * sqrt(r));
  SM_TRY(ledger_entry(ctx, l, "mst-1way", part, r, sigma * sqrt(r), pv->delta, note));
  if (r > 1) {
    snprintf(note, sizeof note,
             "private Kruskal: %d exponential draws, epsilon %.4g each, "
             "L1 score sensitivity 1",
             r - 1, eps_draw);
    SM_TRY(ledger_entry(ctx, l, "mst-select", part, r - 1, 0.0, pv->delta, note));
    snprintf(note, sizeof note, "%d two-way marginals of the tree, noise std %.4g", r - 1,
             sigma * sqrt(r - 1));
    SM_TRY(ledger_entry(ctx, l, "mst-2way", part, r - 1, sigma * sqrt(r - 1), pv->delta, note));
  }

  /* totals over every zCDP entry of the ledger */
  double rho = 0.0;
  for (int i = 0; i < l->n; i++)
    rho += strcmp(l->entries[i].accountant, "zcdp") == 0 ? l->entries[i].rho : 0.0;
  l->epsilon_budget = pv->epsilon;
  l->delta = pv->delta;
  l->reproducible = pv->reproducible;
  return sm_zcdp_epsilon(ctx, rho, pv->delta, &l->epsilon_total);
}

/* ---- fit -------------------------------------------------------------------------------- */

/* Working arrays of one fit. */
typedef struct mst_work {
  int **codes;     /* (n_attrs) (n_rows) domain, then compressed, indices */
  double **comp;   /* (n_attrs) noisy compressed 1-way counts */
  double **p1;     /* (n_attrs) their projections onto the simplex */
  double *pairs;   /* true compressed 2-way counts of every pair */
  int64_t *offset; /* (n_pairs + 1) */
  double *score;   /* (n_pairs) */
  int *edges;      /* (n_attrs - 1, 2) */
} mst_work;

static void work_free(mst_work *w, int n) {
  for (int j = 0; j < n; j++) {
    if (w->codes)
      free(w->codes[j]);
    if (w->comp)
      free(w->comp[j]);
    if (w->p1)
      free(w->p1[j]);
  }
  free(w->codes);
  free(w->comp);
  free(w->p1);
  free(w->pairs);
  free(w->offset);
  free(w->score);
  free(w->edges);
}

static int work_alloc(sm_ctx *ctx, mst_work *w, int n) {
  size_t m = (size_t)(n > 0 ? n : 1);
  memset(w, 0, sizeof *w);
  w->codes = sm_calloc(ctx, m, sizeof *w->codes);
  w->comp = sm_calloc(ctx, m, sizeof *w->comp);
  w->p1 = sm_calloc(ctx, m, sizeof *w->p1);
  w->score = sm_calloc(ctx, m * m, sizeof *w->score);
  w->edges = sm_calloc(ctx, 2 * m, sizeof *w->edges);
  return w->codes && w->comp && w->p1 && w->score && w->edges ? SM_OK : SM_ERR;
}

/* Projected 1-way estimates and the selection scores (local). */
static int score_pairs(sm_ctx *ctx, mst_state *st, mst_work *w) {
  for (int j = 0; j < st->n_attrs; j++) {
    int n = st->attrs[j].n_comp;
    w->p1[j] = sm_malloc(ctx, (size_t)n * sizeof(double));
    if (!w->p1[j])
      return SM_ERR;
    memcpy(w->p1[j], w->comp[j], (size_t)n * sizeof(double));
    SM_TRY(sm_mst_project_simplex(ctx, w->p1[j], n, (double)st->n_train));
  }
  pair_scores(st, w->p1, w->pairs, w->offset, (double)st->n_train, w->score);
  return SM_OK;
}

/* Recode domain indices to compressed ones, in place (local). */
static void compress_codes(const mst_state *st, int **codes, int64_t n_rows) {
  for (int j = 0; j < st->n_attrs; j++)
    for (int64_t r = 0; r < n_rows; r++)
      codes[j][r] = st->attrs[j].comp_of[codes[j][r]];
}

/* Collective: the three phases and the estimate, into st. */
static int fit_phases(sm_ctx *ctx, mst_state *st, const sm_table *t, const mst_privacy *pv,
                      double threshold, mst_work *w) {
  int r = st->n_attrs;
  double sigma = sqrt(3.0 / (2.0 * pv->rho));
  double eps_draw = r > 1 ? sqrt(8.0 * (pv->rho / 3.0) / (r - 1)) : 0.0;
  sm_dp_rng rng;
  sm_dp_rng_init(&rng, pv->reproducible, pv->seed);

  /* phase 1: 1-way marginals, compressed domains */
  SM_TRY(sm_agree(ctx, encode_rows(ctx, st, t, w->codes)));
  SM_TRY(measure_one_way(ctx, st, w->codes, t->n_rows, &rng, sigma * sqrt(r), threshold, w->comp));
  compress_codes(st, w->codes, t->n_rows);

  /* phase 2: scores of every pair, the tree by r - 1 private draws */
  SM_TRY(count_pairs(ctx, st, w->codes, t->n_rows, &w->pairs, &w->offset));
  SM_TRY(sm_agree(ctx, score_pairs(ctx, st, w)));
  SM_TRY(select_tree(ctx, &rng, r, w->score, eps_draw, w->edges));
  SM_TRY(sm_agree(ctx, root_tree(ctx, st, w->edges)));

  /* phase 3: the tree's 2-way marginals; then the model and what was spent */
  SM_TRY(measure_edges(ctx, st, w->pairs, w->offset, &rng, sigma * sqrt(r > 1 ? r - 1 : 1)));
  double var1 = sigma * sigma * r, var2 = sigma * sigma * (r > 1 ? r - 1 : 1);
  int rc = sm_mst_estimate(ctx, st, w->comp, var1, var2);
  if (rc == SM_OK)
    rc = sm_mst_build_alias(ctx, st);
  if (rc == SM_OK)
    rc = record_spending(ctx, &st->ledger, pv, r, sigma, eps_draw);
  return sm_agree(ctx, rc);
}

/* Rank 0's summary of the fit. */
static void log_fit(const sm_ctx *ctx, const mst_state *st, const mst_privacy *pv) {
  int values = 0, comp = 0;
  for (int j = 0; j < st->n_attrs; j++) {
    values += st->attrs[j].n_values;
    comp += st->attrs[j].n_comp;
  }
  sm_log(ctx, SM_LOG_INFO,
         "mst: %d attributes, %d domain values compressed to %d, rho %.5g, epsilon %.4g at "
         "delta %g%s",
         st->n_attrs, values, comp, pv->rho, st->ledger.epsilon_total, pv->delta,
         pv->reproducible ? " (reproducible test mode: NOT private)" : "");
  for (int k = 1; k < st->n_attrs; k++) {
    int c = st->order[k];
    sm_log(ctx, SM_LOG_DEBUG, "mst: tree edge %d - %d", st->parent[c], c);
  }
}

/* Copy the fit's ledger entries and totals into the run's ledger. */
static int share_ledger(sm_ctx *ctx, const sm_ledger *mine, sm_ledger *run) {
  for (int i = 0; i < mine->n; i++)
    SM_TRY(sm_ledger_add(ctx, run, &mine->entries[i]));
  double rho = 0.0;
  for (int i = 0; i < run->n; i++)
    rho += strcmp(run->entries[i].accountant, "zcdp") == 0 ? run->entries[i].rho : 0.0;
  run->epsilon_budget = mine->epsilon_budget;
  run->delta = mine->delta;
  run->reproducible = mine->reproducible;
  return sm_zcdp_epsilon(ctx, rho, mine->delta, &run->epsilon_total);
}

static int mst_fit(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                   const sm_table *train, void **state) {
  const sm_params *p = &spec->params;
  int n = train->schema.n_cols;
  mst_privacy pv;

  /* settings and domains are checked before any count is made */
  SM_TRY(sm_agree(ctx, check_domains(ctx, &train->schema)));
  SM_TRY(sm_agree(ctx, resolve_privacy(ctx, p, opt, &pv)));
  mst_state *st = sm_mst_state_alloc(ctx, n);
  mst_work w;
  memset(&w, 0, sizeof w);
  int rc = sm_agree(ctx, st && work_alloc(ctx, &w, n) == SM_OK ? SM_OK : SM_ERR);
  if (rc == SM_OK) {
    st->n_train = train->n_rows_total;
    for (int j = 0; j < n; j++)
      attr_domain(&st->attrs[j], &train->schema.cols[j], (int)sm_params_num(p, "bins"));
    rc = fit_phases(ctx, st, train, &pv, sm_params_num(p, "compress_threshold"), &w);
  }
  if (rc == SM_OK && opt && opt->ledger)
    rc = sm_agree(ctx, share_ledger(ctx, &st->ledger, opt->ledger));
  work_free(&w, n);
  if (rc != SM_OK) {
    sm_mst_free(st);
    return rc;
  }
  log_fit(ctx, st, &pv);
  *state = st;
  return SM_OK;
}

const sm_model_ops sm_model_mst = {
    .kind = "mst",
    .summary = "MST: differentially private 1-way and tree 2-way marginals (zCDP)",
    .params = mst_params,
    .n_params = N_PARAMS,
    .fit = mst_fit,
    .sample = sm_mst_sample,
    .save = sm_mst_save,
    .load = sm_mst_load,
    .free_state = sm_mst_free,
    .private_fit = SM_MODEL_ZCDP,
};
