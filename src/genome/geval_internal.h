/* Private: the pieces of the genomic evaluation (sm_genome_evaluate).
 *
 * Allele frequencies come from every row through one allreduce of integer counts. The
 * quadratic metrics run on a seeded sample of at most max_rows rows of each set, gathered
 * to every rank in global row order. Work on the sample is split over ranks but every
 * reduction is of integers (counts, Hamming distances, fixed-point sums), so the figures
 * are bit for bit the same whatever the number of ranks.
 */
#ifndef SYNTHMPI_GENOME_GEVAL_INTERNAL_H
#define SYNTHMPI_GENOME_GEVAL_INTERNAL_H

#include <stdint.h>

#include "synthmpi/genome.h"

/* Hardware popcount where the compiler can pick it at run time (x86-64 ifunc). */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define SM_GEVAL_POPCNT __attribute__((target_clones("popcnt", "default")))
#endif
#endif
#ifndef SM_GEVAL_POPCNT
#define SM_GEVAL_POPCNT
#endif

/* Sets, used to key their samples apart. */
enum { SM_GEVAL_TRAIN = 0, SM_GEVAL_HOLDOUT = 1, SM_GEVAL_SYNTH = 2, SM_GEVAL_SETS = 3 };

/* Append "; why" to the reason text of out (bounded, first reasons kept). */
void sm_geval_reason(sm_genome_metrics *out, const char *why);

/* ---- allele counts (geval_freq.c) ---- */

/* Integer allele counts of one set over all its rows (after the allreduce). */
typedef struct sm_geval_counts {
  int64_t n_rows; /* rows of the set on all ranks */
  int64_t *alt;   /* (n_vars) alternate alleles seen */
  int64_t *calls; /* (n_vars) rows with a call (not missing) */
} sm_geval_counts;

/* Local: check that m holds only 0/1 (0..2 when ploidy_coded) or SM_ALLELE_MISSING and
 * add its alt and call counts into alt and calls. SM_EINPUT names the first bad value. */
int sm_geval_count_local(sm_ctx *ctx, const sm_hapmat *m, int64_t n_vars, int64_t *alt,
                         int64_t *calls);

/* Alternate-allele frequency of variant v, NaN without calls. */
double sm_geval_freq(const sm_geval_counts *c, int64_t v, int ploidy);

/* Pearson correlation of the frequencies of a and b over variants called in both; NaN
 * with fewer than 2 such variants or no spread in either. */
double sm_geval_freq_corr(const sm_geval_counts *a, const sm_geval_counts *b, int64_t n_vars,
                          int ploidy);

/* Fill value (0, or 1 / 2 when ploidy_coded) of missing calls: the major allele of c. */
void sm_geval_major(const sm_geval_counts *c, int64_t n_vars, int ploidy, uint8_t *major);

/* ---- the seeded sample (geval_sample.c) ---- */

/* Rows of one set gathered to every rank, in global row order. */
typedef struct sm_geval_sample {
  int64_t n_rows;
  int64_t n_vars;
  uint8_t *g;    /* (n_rows * n_vars) as in sm_hapmat */
  uint64_t *key; /* (n_rows) the seeded key that chose the row: smaller keys first */
  int64_t *row;  /* (n_rows) global row index */
} sm_geval_sample;

/* Collective. The rows of m (NULL: none on this rank) whose seeded keys are among the
 * max_rows smallest of the set (max_rows <= 0: all rows), gathered to every rank. The
 * choice depends on (seed, set, global row index) only. Free with sm_geval_sample_free. */
int sm_geval_sample_gather(sm_ctx *ctx, const sm_hapmat *m, int64_t n_vars, int64_t max_rows,
                           uint64_t seed, int set, sm_geval_sample *out);
void sm_geval_sample_free(sm_geval_sample *s);

/* The n rows of s with the smallest keys (n <= s->n_rows), as indices into s in global row
 * order. The caller frees the array. */
int64_t *sm_geval_sample_first(sm_ctx *ctx, const sm_geval_sample *s, int64_t n);

/* ---- bit-packed rows for Hamming distances (geval_pack.c) ---- */

/* Rows packed one bit per site and plane: plane 0 holds value >= 1, plane 1 (genotypes
 * only) value == 2, so two rows differ at a site exactly when a plane bit differs. */
typedef struct sm_geval_packed {
  int64_t n_rows;
  int64_t words;  /* 64-bit words per plane */
  int planes;     /* 1 for haplotypes, 2 for genotypes */
  uint64_t *bits; /* (n_rows * planes * words) */
} sm_geval_packed;

/* Pack rows idx[0..n) of s (idx NULL: all rows in order), missing calls replaced by
 * major[v]. Free with sm_geval_packed_free. */
int sm_geval_pack_rows(sm_ctx *ctx, const sm_geval_sample *s, const int64_t *idx, int64_t n,
                       const uint8_t *major, int planes, sm_geval_packed *out);
void sm_geval_packed_free(sm_geval_packed *p);

/* ---- pairwise distances and AATS (geval_dist.c) ---- */

/* Collective. Over the pairs i < j of a (b NULL) or all pairs (i in a, j in b): add each
 * distance d to hist[d] (hist NULL: none; n_vars + 1 entries) and keep each row's nearest
 * distance in near_a / near_b (NULL: not wanted). Results are reduced over ranks. */
int sm_geval_pairs(sm_ctx *ctx, const sm_geval_packed *a, const sm_geval_packed *b, int64_t n_vars,
                   int64_t *hist, int64_t *near_a, int64_t *near_b);

/* AATS from nearest distances of equal-size sets of n rows: 0.5 * (share of real rows
 * nearer to another real row than to any synthetic one, strictly, + the same for
 * synthetic rows). */
double sm_geval_aats(const int64_t *real_real, const int64_t *real_synth,
                     const int64_t *synth_synth, const int64_t *synth_real, int64_t n);

/* Collective: histograms of the whole samples, their means and Wasserstein distance, and
 * AATS vs train and vs holdout (hold may have no rows), each on equal-size sets: the
 * min(real, synthetic) rows with the smallest sample keys of each, into out. */
int sm_geval_distances(sm_ctx *ctx, const sm_geval_sample *train, const sm_geval_sample *hold,
                       const sm_geval_sample *synth, const uint8_t *major, int planes,
                       sm_genome_metrics *out);

/* ---- linkage disequilibrium (geval_ld.c) ---- */

/* Collective: r^2 of variant pairs within ld_max_dist on one chromosome, in the train and
 * synthetic samples: mean |difference| and the decay curve, into out (bins allocated). */
int sm_geval_ld(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_variants *vars,
                const sm_geval_sample *real, const sm_geval_sample *synth, int ploidy_coded,
                sm_genome_metrics *out);

/* r^2 from the pairwise-complete sums of two variants (n rows called in both); NaN when
 * either is constant over those rows. */
double sm_geval_r2(int64_t n, int64_t sx, int64_t sy, int64_t sxx, int64_t syy, int64_t sxy);

/* ---- PCA and its plot (geval_pca.c, geval_plot.c) ---- */

/* Collective: PCA of the train and synthetic samples stacked, centred by the training
 * means (missing calls at the mean); explained shares into out, plot by rank 0. */
int sm_geval_pca(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_geval_sample *real,
                 const sm_geval_sample *synth, const double *mean, sm_genome_metrics *out);

/* Local: SVG scatter of PC1 (x) against PC2 (y) for n_real real rows then n_synth
 * synthetic rows, written beside path and renamed into place. */
int sm_geval_plot(sm_ctx *ctx, const char *path, const double *x, const double *y, int64_t n_real,
                  int64_t n_synth, const double *explained);

#endif
