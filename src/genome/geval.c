/* The genomic evaluation: allele frequencies from every row, then LD, PCA, pairwise
 * distances and AATS on a seeded sample of each set (see geval_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genome/geval_internal.h"

void sm_genome_metrics_free(sm_genome_metrics *m) {
  if (!m)
    return;
  free(m->ld_bin_edges);
  free(m->ld_decay_real);
  free(m->ld_decay_synth);
  free(m->pca_explained);
  memset(m, 0, sizeof(*m));
}

/* Every figure NaN until it is computed. */
static void metrics_init(sm_genome_metrics *out) {
  memset(out, 0, sizeof(*out));
  out->af_corr_train = out->af_corr_holdout = NAN;
  out->ld_r2_mean_abs_diff = NAN;
  out->pairdist_real_mean = out->pairdist_synth_mean = NAN;
  out->pairdist_cross_mean = out->pairdist_wasserstein = NAN;
  out->aats_train = out->aats_holdout = out->aats_privacy_loss = NAN;
}

/* Local: one set's shape against the variants. */
static int check_set(sm_ctx *ctx, const char *name, const sm_hapmat *m, int64_t n_vars) {
  if (!m || m->n_rows == 0)
    return SM_OK;
  if (m->n_rows < 0 || !m->g)
    return sm_fail(ctx, SM_EINPUT, "genome evaluation: %s rows without alleles", name);
  if (m->n_vars != n_vars)
    return sm_fail(ctx, SM_EINPUT, "genome evaluation: %s rows have %lld variants, not %lld", name,
                   (long long)m->n_vars, (long long)n_vars);
  return SM_OK;
}

/* Local: the options and the three sets. */
static int check_args(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_variants *vars,
                      const sm_hapmat *train, const sm_hapmat *holdout, const sm_hapmat *synth) {
  if (!spec || !vars || !train || !synth)
    return sm_fail(ctx, SM_EINPUT,
                   "genome evaluation: options, variants, training and "
                   "synthetic rows are required");
  if (vars->n < 1)
    return sm_fail(ctx, SM_EINPUT, "genome evaluation: no variants");
  if (spec->ld_bins < 1 || spec->pca_components < 0 || spec->ld_max_dist < 0)
    return sm_fail(ctx, SM_EINPUT,
                   "genome evaluation: ld_bins must be at least 1, "
                   "pca_components and ld_max_dist at least 0");
  if (spec->plot_path && spec->pca_components < 2)
    return sm_fail(ctx, SM_EINPUT, "genome evaluation: the PCA plot needs pca_components >= 2");
  SM_TRY(check_set(ctx, "training", train, vars->n));
  SM_TRY(check_set(ctx, "held-out", holdout, vars->n));
  return check_set(ctx, "synthetic", synth, vars->n);
}

/* Collective: whether rows are genotypes, agreed by every non-empty set on every rank,
 * and the same variant count everywhere. */
static int agree_ploidy(sm_ctx *ctx, const sm_hapmat *const sets[SM_GEVAL_SETS], int64_t n_vars,
                        int *ploidy_coded) {
  /* minima of (coded, -coded, variants, -variants, -rows seen): maxima come negated */
  int64_t m[5] = {1, 0, n_vars, -n_vars, 0};
  for (int s = 0; s < SM_GEVAL_SETS; s++)
    if (sets[s] && sets[s]->n_rows > 0) {
      m[0] = sets[s]->ploidy_coded && m[0];
      m[1] = -(sets[s]->ploidy_coded || m[1]);
      m[4] = -1;
    }
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, m, 5, MPI_INT64_T, MPI_MIN, ctx->comm));

  /* all coded or none; one variant count */
  if (m[2] != -m[3])
    return sm_fail(ctx, SM_EINPUT, "genome evaluation: ranks disagree on the variant count");
  if (m[4] < 0 && m[0] != -m[1])
    return sm_fail(ctx, SM_EINPUT, "genome evaluation: the sets mix haplotypes and genotypes");
  *ploidy_coded = m[4] < 0 && m[0];
  return SM_OK;
}

/* Everything the steps share, freed together. */
typedef struct geval_run {
  int64_t n_vars;
  int ploidy;                            /* 1 haplotypes, 2 genotypes */
  int64_t *counts;                       /* (3, 2, n_vars) alt, calls per set */
  sm_geval_counts set[SM_GEVAL_SETS];    /* views into counts */
  sm_geval_sample sample[SM_GEVAL_SETS]; /* the seeded samples */
  uint8_t *major;                        /* (n_vars) fill of missing calls for distances */
  double *mean;                          /* (n_vars) training mean, centre of the PCA */
} geval_run;

static void geval_run_free(geval_run *r) {
  for (int s = 0; s < SM_GEVAL_SETS; s++)
    sm_geval_sample_free(&r->sample[s]);
  free(r->counts);
  free(r->major);
  free(r->mean);
}

/* Collective: allele counts of every set over all rows, and the row totals. */
static int count_alleles(sm_ctx *ctx, const sm_hapmat *const sets[SM_GEVAL_SETS], geval_run *r) {
  int64_t v = r->n_vars, rows[SM_GEVAL_SETS];
  r->counts = sm_calloc(ctx, 2 * SM_GEVAL_SETS * (size_t)v, sizeof(int64_t));
  SM_TRY(sm_agree(ctx, r->counts ? SM_OK : SM_ERR));

  /* local counts, checked, then summed over ranks */
  int rc = SM_OK;
  for (int s = 0; s < SM_GEVAL_SETS; s++) {
    r->set[s].alt = r->counts + 2 * s * v;
    r->set[s].calls = r->counts + (2 * s + 1) * v;
    rows[s] = sets[s] ? sets[s]->n_rows : 0;
    if (rc == SM_OK)
      rc = sm_geval_count_local(ctx, sets[s], v, r->set[s].alt, r->set[s].calls);
  }
  SM_TRY(sm_agree(ctx, rc));
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, r->counts, (int)(2 * SM_GEVAL_SETS * v),
                                  MPI_INT64_T, MPI_SUM, ctx->comm));
  SM_MPI_CHECK(ctx,
               MPI_Allreduce(MPI_IN_PLACE, rows, SM_GEVAL_SETS, MPI_INT64_T, MPI_SUM, ctx->comm));
  for (int s = 0; s < SM_GEVAL_SETS; s++)
    r->set[s].n_rows = rows[s];
  if (rows[SM_GEVAL_TRAIN] == 0 || rows[SM_GEVAL_SYNTH] == 0)
    return sm_fail(ctx, SM_EINPUT, "genome evaluation: no %s rows on any rank",
                   rows[SM_GEVAL_TRAIN] == 0 ? "training" : "synthetic");
  return SM_OK;
}

/* Frequency correlations, the major allele and the training mean. */
static int frequency_figures(sm_ctx *ctx, geval_run *r, sm_genome_metrics *out) {
  const sm_geval_counts *c = r->set;
  out->af_corr_train =
      sm_geval_freq_corr(&c[SM_GEVAL_TRAIN], &c[SM_GEVAL_SYNTH], r->n_vars, r->ploidy);
  if (isnan(out->af_corr_train))
    sm_geval_reason(out, "allele-frequency correlation vs training undefined (no spread)");
  if (c[SM_GEVAL_HOLDOUT].n_rows > 0)
    out->af_corr_holdout =
        sm_geval_freq_corr(&c[SM_GEVAL_HOLDOUT], &c[SM_GEVAL_SYNTH], r->n_vars, r->ploidy);
  else
    sm_geval_reason(out, "no held-out rows: figures against them not computed");

  /* fills for missing calls */
  r->major = sm_malloc(ctx, (size_t)r->n_vars);
  r->mean = sm_malloc(ctx, (size_t)r->n_vars * sizeof(double));
  if (!r->major || !r->mean)
    return SM_ERR;
  sm_geval_major(&c[SM_GEVAL_TRAIN], r->n_vars, r->ploidy, r->major);
  for (int64_t v = 0; v < r->n_vars; v++) {
    double f = sm_geval_freq(&c[SM_GEVAL_TRAIN], v, r->ploidy);
    r->mean[v] = isnan(f) ? 0.0 : r->ploidy * f;
  }
  return SM_OK;
}

/* Collective: the seeded samples, then the metrics that run on them. */
static int sample_figures(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_variants *vars,
                          const sm_hapmat *const sets[SM_GEVAL_SETS], geval_run *r,
                          sm_genome_metrics *out) {
  for (int s = 0; s < SM_GEVAL_SETS; s++)
    SM_TRY(sm_geval_sample_gather(ctx, sets[s], r->n_vars, spec->max_rows, spec->seed, s,
                                  &r->sample[s]));
  sm_geval_sample *sm = r->sample;
  double t = sm_elapsed(ctx);
  SM_TRY(
      sm_geval_ld(ctx, spec, vars, &sm[SM_GEVAL_TRAIN], &sm[SM_GEVAL_SYNTH], r->ploidy == 2, out));
  sm_log(ctx, SM_LOG_DEBUG, "genome evaluation: LD over %lld pairs (%.2f s)",
         (long long)out->ld_pairs, sm_elapsed(ctx) - t);
  t = sm_elapsed(ctx);
  SM_TRY(sm_geval_pca(ctx, spec, &sm[SM_GEVAL_TRAIN], &sm[SM_GEVAL_SYNTH], r->mean, out));
  sm_log(ctx, SM_LOG_DEBUG, "genome evaluation: PCA (%.2f s)", sm_elapsed(ctx) - t);
  t = sm_elapsed(ctx);
  SM_TRY(sm_geval_distances(ctx, &sm[SM_GEVAL_TRAIN], &sm[SM_GEVAL_HOLDOUT], &sm[SM_GEVAL_SYNTH],
                            r->major, r->ploidy, out));
  sm_log(ctx, SM_LOG_DEBUG, "genome evaluation: distances and AATS on %lld rows (%.2f s)",
         (long long)out->aats_rows, sm_elapsed(ctx) - t);
  return SM_OK;
}

int sm_genome_evaluate(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_variants *vars,
                       const sm_hapmat *train, const sm_hapmat *holdout, const sm_hapmat *synth,
                       sm_genome_metrics *out) {
  metrics_init(out);
  SM_TRY(sm_agree(ctx, check_args(ctx, spec, vars, train, holdout, synth)));
  const sm_hapmat *const sets[SM_GEVAL_SETS] = {train, holdout, synth};
  geval_run r;
  memset(&r, 0, sizeof(r));
  r.n_vars = vars->n;

  /* frequencies from every row, the rest from the samples */
  int coded = 0;
  int rc = sm_agree(ctx, agree_ploidy(ctx, sets, vars->n, &coded));
  r.ploidy = coded ? 2 : 1;
  if (rc == SM_OK)
    rc = sm_agree(ctx, count_alleles(ctx, sets, &r));
  if (rc == SM_OK)
    rc = sm_agree(ctx, frequency_figures(ctx, &r, out));
  if (rc == SM_OK)
    rc = sample_figures(ctx, spec, vars, sets, &r, out);
  geval_run_free(&r);
  if (rc != SM_OK) {
    sm_genome_metrics_free(out);
    metrics_init(out);
  }
  return rc;
}
