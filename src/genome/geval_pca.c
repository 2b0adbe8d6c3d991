/* PCA of real and synthetic rows stacked: centred by the training means (a missing call
 * sits at the mean), then the top eigenpairs of the variants' scatter matrix X^T X, or of
 * the rows' Gram matrix X X^T when there are more variants than rows (same eigenvalues,
 * smaller problem). Rank 0 computes and broadcasts; the sample is the same on every rank.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genome/geval_internal.h"
#include "linalg/lapack.h"

/* The stacked, centred matrix and what comes out of its decomposition. */
typedef struct pca_work {
  int n, v, dim; /* rows, variants, order of the decomposed matrix: min(n, v) */
  int top;       /* eigenpairs wanted: min(components, dim) */
  double *x;     /* (n, v) centred rows: real, then synthetic */
  double *a;     /* (dim, dim) X^T X or X X^T, destroyed by the solver */
  double *w;     /* (dim) eigenvalues, ascending (the first top are set) */
  double *z;     /* (top, dim) eigenvectors, one per row */
  double *score; /* (2, n) PC1 and PC2 of every row */
  double trace;  /* total variance: trace of a */
} pca_work;

static void pca_work_free(pca_work *p) {
  free(p->x);
  free(p->a);
  free(p->w);
  free(p->z);
  free(p->score);
}

/* Rows of s into x from row `at`, centred; a missing call becomes 0 (the mean). */
static void centre_rows(const sm_geval_sample *s, const double *mean, int64_t at, double *x) {
  for (int64_t i = 0; i < s->n_rows; i++) {
    const uint8_t *g = s->g + i * s->n_vars;
    double *row = x + (at + i) * s->n_vars;
    for (int64_t v = 0; v < s->n_vars; v++)
      row[v] = g[v] == SM_ALLELE_MISSING ? 0.0 : (double)g[v] - mean[v];
  }
}

/* The top eigenpairs of p->a (lower triangle in LAPACK's column-major view). */
static int top_eigen(sm_ctx *ctx, pca_work *p) {
  int n = p->dim, il = n - p->top + 1, iu = n, found = 0, info = 0;
  double vl = 0, vu = 0, abstol = 0, work_query = 0;
  int lwork = -1, liwork = -1, iwork_query = 0;
  int *isuppz = sm_malloc(ctx, 2 * (size_t)p->top * sizeof(int));
  if (!isuppz)
    return SM_ERR;

  /* workspace query, then the decomposition */
  dsyevr_("V", "I", "L", &n, p->a, &n, &vl, &vu, &il, &iu, &abstol, &found, p->w, p->z, &n, isuppz,
          &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1, 1);
  lwork = (int)work_query;
  liwork = iwork_query;
  double *work = info == 0 ? sm_malloc(ctx, (size_t)lwork * sizeof(double)) : NULL;
  int *iwork = info == 0 ? sm_malloc(ctx, (size_t)liwork * sizeof(int)) : NULL;
  if (work && iwork)
    dsyevr_("V", "I", "L", &n, p->a, &n, &vl, &vu, &il, &iu, &abstol, &found, p->w, p->z, &n,
            isuppz, work, &lwork, iwork, &liwork, &info, 1, 1, 1);
  free(work);
  free(iwork);
  free(isuppz);
  if (info != 0)
    return sm_fail_lapack(ctx, info, "dsyevr_", __FILE__, __LINE__);
  if (!work || !iwork)
    return SM_ERR;
  return found == p->top ? SM_OK
                         : sm_fail(ctx, SM_ERR, "dsyevr_ found %d of %d eigenpairs", found, p->top);
}

/* Scores of component c (0: largest) for every row, sign fixed so that the largest
 * |score| is positive. */
static void component_scores(const pca_work *p, int c, double *score) {
  const double *z = p->z + (size_t)(p->top - 1 - c) * p->dim;
  if (p->dim == p->v)
    cblas_dgemv(CblasRowMajor, CblasNoTrans, p->n, p->v, 1.0, p->x, p->v, z, 1, 0.0, score, 1);
  else
    for (int i = 0; i < p->n; i++)
      score[i] = z[i] * sqrt(fmax(p->w[p->top - 1 - c], 0.0));

  /* a deterministic sign */
  int big = 0;
  for (int i = 1; i < p->n; i++)
    if (fabs(score[i]) > fabs(score[big]))
      big = i;
  if (score[big] < 0)
    for (int i = 0; i < p->n; i++)
      score[i] = -score[i];
}

/* Rank 0: build, decompose, share of variance of each component, and the plot. */
static int pca_local(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_geval_sample *real,
                     const sm_geval_sample *synth, const double *mean, pca_work *p,
                     double *explained) {
  size_t d = (size_t)p->dim;
  p->x = sm_malloc(ctx, (size_t)p->n * (size_t)p->v * sizeof(double));
  p->a = sm_malloc(ctx, d * d * sizeof(double));
  p->w = sm_calloc(ctx, d, sizeof(double));
  p->z = sm_calloc(ctx, (size_t)p->top * d, sizeof(double));
  p->score = sm_malloc(ctx, 2 * (size_t)p->n * sizeof(double));
  if (!p->x || !p->a || !p->w || !p->z || !p->score)
    return SM_ERR;

  /* the scatter matrix of the smaller side (upper in rows = lower for LAPACK) */
  centre_rows(real, mean, 0, p->x);
  centre_rows(synth, mean, real->n_rows, p->x);
  int by_variant = p->dim == p->v;
  cblas_dsyrk(CblasRowMajor, CblasUpper, by_variant ? CblasTrans : CblasNoTrans, p->dim,
              by_variant ? p->n : p->v, 1.0, p->x, p->v, 0.0, p->a, p->dim);
  p->trace = 0;
  for (size_t i = 0; i < d; i++)
    p->trace += p->a[i * d + i];
  if (!(p->trace > 0))
    return SM_OK;

  /* eigenpairs, shares, and the plot of the first two */
  SM_TRY(top_eigen(ctx, p));
  for (int c = 0; c < p->top; c++)
    explained[c] = fmax(p->w[p->top - 1 - c], 0.0) / p->trace;
  if (!spec->plot_path || p->top < 2)
    return SM_OK;
  component_scores(p, 0, p->score);
  component_scores(p, 1, p->score + p->n);
  return sm_geval_plot(ctx, spec->plot_path, p->score, p->score + p->n, real->n_rows, synth->n_rows,
                       explained);
}

/* Reasons for components that could not be computed (same on every rank). */
static void pca_reasons(const sm_genome_eval_spec *spec, int dim, const double *explained,
                        sm_genome_metrics *out) {
  char why[128];
  if (dim < spec->pca_components) {
    snprintf(why, sizeof why, "PCA: only %d components (fewer stacked rows or variants)", dim);
    sm_geval_reason(out, why);
  }
  if (spec->pca_components > 0 && isnan(explained[0]))
    sm_geval_reason(out, "PCA: no variance in the stacked rows");
  if (spec->plot_path && (dim < 2 || isnan(explained[0])))
    sm_geval_reason(out, "PCA plot not written: fewer than 2 components");
}

int sm_geval_pca(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_geval_sample *real,
                 const sm_geval_sample *synth, const double *mean, sm_genome_metrics *out) {
  int k = spec->pca_components;
  out->pca_components = k;
  out->pca_explained = sm_malloc(ctx, (size_t)(k > 0 ? k : 1) * sizeof(double));
  SM_TRY(sm_agree(ctx, out->pca_explained ? SM_OK : SM_ERR));
  for (int c = 0; c < k; c++)
    out->pca_explained[c] = NAN;
  if (k == 0)
    return SM_OK;

  /* rank 0 decomposes the stacked sample */
  pca_work p;
  memset(&p, 0, sizeof(p));
  p.n = (int)(real->n_rows + synth->n_rows);
  p.v = (int)real->n_vars;
  p.dim = p.n < p.v ? p.n : p.v;
  p.top = k < p.dim ? k : p.dim;
  int rc = SM_OK;
  if (ctx->rank == 0 && p.top > 0)
    rc = pca_local(ctx, spec, real, synth, mean, &p, out->pca_explained);
  pca_work_free(&p);

  /* every rank gets the shares */
  SM_TRY(sm_agree(ctx, rc));
  SM_MPI_CHECK(ctx, MPI_Bcast(out->pca_explained, k, MPI_DOUBLE, 0, ctx->comm));
  pca_reasons(spec, p.dim, out->pca_explained, out);
  return SM_OK;
}
