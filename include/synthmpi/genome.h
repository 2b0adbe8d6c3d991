/* Haplotype matrices, their variants, and the genomic metrics that compare real and
 * synthetic haplotypes.
 *
 * The unit of privacy and of every train/held-out split is the person: both haplotypes of
 * an individual are kept together. Alleles are 0 (reference) or 1 (alternate); unphased
 * genotypes are stored as 0/1/2 alternate-allele counts; SM_ALLELE_MISSING marks a missing
 * call.
 */
#ifndef SYNTHMPI_GENOME_H
#define SYNTHMPI_GENOME_H

#include <stdint.h>

#include "synthmpi/core.h"

#define SM_ALLELE_MISSING 255

/* The variants (columns) of a haplotype matrix. */
typedef struct sm_variants {
  int64_t n;
  char **chrom; /* (n) chromosome name, e.g. "22" */
  int64_t *pos; /* (n) 1-based position */
  char **id;    /* (n) variant id, e.g. "rs123" or "1:1243896_C_T" */
  char **ref;   /* (n) reference allele */
  char **alt;   /* (n) alternate allele */
} sm_variants;

/* Rows are haplotypes (or genotypes when ploidy_coded), columns variants, row-major. */
typedef struct sm_hapmat {
  int64_t n_rows;
  int64_t n_vars;
  uint8_t *g;       /* (n_rows * n_vars) 0/1, 0/1/2 when ploidy_coded, or SM_ALLELE_MISSING */
  int ploidy_coded; /* 1: rows are unphased genotypes (alternate-allele counts 0..2) */
  int64_t *person;  /* (n_rows) global person index: the rows of one person share it */
  char **row_id;    /* (n_rows) haplotype or sample id, or NULL when not kept */
} sm_hapmat;

void sm_variants_free(sm_variants *v);
void sm_hapmat_free(sm_hapmat *m);

/* Options of the genomic evaluation. */
typedef struct sm_genome_eval_spec {
  uint64_t seed;         /* which rows when subsampling, and the AATS sets */
  int64_t max_rows;      /* rows of each set used by the quadratic metrics (<= 0: all) */
  int64_t ld_max_dist;   /* largest base-pair distance between variant pairs for LD (0: all) */
  int ld_bins;           /* distance bins of the r^2 decay curve */
  int pca_components;    /* principal components kept (at least 2 for the plot) */
  const char *plot_path; /* SVG of PC1/PC2 of real and synthetic rows, or NULL for none */
} sm_genome_eval_spec;

/* Figures of one genomic evaluation. A figure that cannot be computed is NaN with a reason. */
typedef struct sm_genome_metrics {
  double af_corr_train;       /* Pearson correlation of alternate-allele frequencies */
  double af_corr_holdout;     /* against held-out rows (NaN without) */
  double ld_r2_mean_abs_diff; /* mean |r^2_real - r^2_synth| over variant pairs considered */
  int64_t ld_pairs;           /* variant pairs considered */
  int ld_bins;
  double *ld_bin_edges;        /* (ld_bins + 1) base-pair distance edges */
  double *ld_decay_real;       /* (ld_bins) mean r^2 of real pairs in each bin (NaN if empty) */
  double *ld_decay_synth;      /* (ld_bins) same for synthetic */
  double pairdist_real_mean;   /* mean pairwise Hamming distance within real rows */
  double pairdist_synth_mean;  /* within synthetic rows */
  double pairdist_cross_mean;  /* between real and synthetic rows */
  double pairdist_wasserstein; /* 1-D Wasserstein distance, real vs synthetic within-set */
  double aats_train;           /* nearest-neighbour adversarial accuracy vs training rows */
  double aats_holdout;         /* vs held-out rows (NaN without) */
  double aats_privacy_loss;    /* aats_holdout - aats_train */
  int64_t aats_rows;           /* equal-size sets used for AATS */
  int pca_components;
  double *pca_explained; /* (pca_components) share of variance of each component */
  char reason[256];      /* why a figure is NaN, or empty */
} sm_genome_metrics;

/* Collective: every rank passes its own rows of train, holdout (may have 0 rows, or be
 * NULL) and synth, all over the same variants; every rank gets every figure, and the
 * figures do not depend on the number of ranks. Rank 0 writes the plot when asked. */
int sm_genome_evaluate(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_variants *vars,
                       const sm_hapmat *train, const sm_hapmat *holdout, const sm_hapmat *synth,
                       sm_genome_metrics *out);
void sm_genome_metrics_free(sm_genome_metrics *m);

#endif
