/* Private: the genome pipeline's pieces. Readers of haplotype tables and VCF/BCF, the
 * person-level split, the haplotype Markov model, the genotype release, the VCF export.
 *
 * Every rank holds whole persons: the rows of one person (two haplotypes, or one genotype
 * row when ploidy_coded) are on one rank, in global person order, and every rank holds the
 * same sm_variants. */
#ifndef SYNTHMPI_GENOME_INTERNAL_H
#define SYNTHMPI_GENOME_INTERNAL_H

#include <hdf5.h>
#include <stdio.h>

#include "synthmpi/config.h"
#include "synthmpi/genome.h"
#include "synthmpi/ledger.h"

#define SM_GENOME_RELEASE_CONTENT "genotypes"
#define SM_HAP_MARKOV_KIND "hap_markov"

/* ---- readers (hapt.c, vcf_read.c) ----------------------------------------------------- */

/* Collective. A .hapt file (tag, id, one 0/1 allele per variant per line) with its
 * .legend (header, then id position a0 a1 per line). Each rank reads its byte range,
 * starting at a person's first row. Errors (SM_EINPUT) name file:line. */
int sm_hapt_read(sm_ctx *ctx, const char *hapt_path, const char *legend_path, sm_hapmat *out,
                 sm_variants *vars);

/* Collective. A VCF/BCF through htslib: phased files give two haplotype rows per sample,
 * unphased ones 0/1/2 genotype rows. An indexed BGZF file is read by variant ranges on every
 * rank and exchanged with MPI_Alltoallv; otherwise rank 0 reads and scatters. Each rank ends
 * with its block of samples over all variants. */
int sm_vcf_read(sm_ctx *ctx, const sm_source_spec *src, sm_hapmat *out, sm_variants *vars);

/* Collective. Dispatch on src->format ("hapt" or "vcf"). */
int sm_genome_read(sm_ctx *ctx, const sm_source_spec *src, sm_hapmat *out, sm_variants *vars);

/* ---- persons and matrices (split.c) --------------------------------------------------- */

/* Local. Split rows by person: person p is held out when the uniform of stream
 * (seed, SM_STREAM_HOLDOUT, p) is below fraction, so the split does not depend on the rank
 * count or on row positions. Both outputs are new matrices. */
int sm_hapmat_split(sm_ctx *ctx, const sm_hapmat *all, double fraction, uint64_t seed,
                    sm_hapmat *train, sm_hapmat *holdout);

/* Collective. Global row count. */
int sm_hapmat_rows_total(sm_ctx *ctx, const sm_hapmat *m, int64_t *total);

/* Collective. Broadcast rank 0's variants to every rank (vars is filled on the others). */
int sm_variants_bcast(sm_ctx *ctx, sm_variants *vars);

/* Collective. Every rank's variants, concatenated in rank order, on every rank. */
int sm_variants_allgather(sm_ctx *ctx, const sm_variants *local, sm_variants *out);

/* Local. Allocate n variants with empty fields. */
int sm_variants_alloc(sm_ctx *ctx, sm_variants *v, int64_t n);

/* ---- the haplotype Markov model (hap_markov.c) ---------------------------------------- */

/* An order-k Markov chain along the variants over an alphabet of 2 (alleles) or 3
 * (genotypes): the allele of variant j depends on the previous min(j, order) values. */
typedef struct sm_hap_markov {
  int order;        /* k */
  int alphabet;     /* 2, or 3 when ploidy_coded */
  int ploidy_coded; /* rows are genotypes */
  int components;   /* mixture components (latent haplotype classes); 1: a single chain */
  double alpha;     /* additive smoothing towards the next lower order */
  int64_t n_vars;
  int64_t cells;    /* contexts over all variants: offset[n_vars] */
  int64_t *offset;  /* (n_vars + 1) start of variant j's contexts */
  double *weights;  /* (components) mixture weights (counts of rows) */
  double *counts;   /* (components * cells * alphabet) counts[((k * cells) + offset[j] + c)
                     * A + a] of component k */
  double *logp;     /* (components * cells * alphabet) log probabilities, same layout */
  uint32_t *thresh; /* (components * cells * (alphabet - 1)) cumulative probabilities * 2^32 */
  uint32_t *pick;   /* (components) cumulative mixture weights * 2^32 */
  sm_ledger ledger; /* what the noise spent (empty when not private) */
} sm_hap_markov;

/* Options of a fit (from model.* and the privacy section). */
typedef struct sm_hap_markov_spec {
  int order;
  double alpha;
  int components;                 /* > 1: a mixture fitted by EM (not in private runs) */
  int em_iterations;              /* EM iterations of a mixture */
  uint64_t seed;                  /* the mixture's initial assignment */
  const sm_privacy_spec *privacy; /* NULL: exact counts */
  int laplace;                    /* private runs: Laplace noise (pure DP), else Gaussian */
  uint64_t reproducible_seed;     /* privacy.reproducible only */
} sm_hap_markov_spec;

/* Collective. Count transitions on the rank's rows, allreduce, add noise when private
 * (drawn on rank 0 and broadcast), then the sampling tables. Missing values are skipped
 * (a count needs the allele and its whole context). */
int sm_hap_markov_fit(sm_ctx *ctx, const sm_hap_markov_spec *spec, const sm_hapmat *train,
                      sm_hap_markov *m);

/* Local. Offsets, zeroed counts and weights for n_vars variants (order, alphabet and
 * components set). */
int sm_hap_markov_alloc(sm_ctx *ctx, sm_hap_markov *m, int64_t n_vars);

/* Local. Add weight w for each transition of row g to counts (one component's block). */
void sm_hap_markov_count_row(const sm_hap_markov *m, const uint8_t *g, double *counts, double w);

/* Local. Log-likelihood of row g under component k (missing values and their contexts
 * skipped, as in counting). */
double sm_hap_markov_loglik(const sm_hap_markov *m, int k, const uint8_t *g);

/* Collective (hap_mixture.c). Fit a mixture of m->components chains by EM: responsibilities
 * are quantised to 1/65536 and summed as integers, so the fit is exactly the same at any
 * rank count. */
int sm_hap_mixture_fit(sm_ctx *ctx, const sm_hap_markov_spec *spec, const sm_hapmat *train,
                       sm_hap_markov *m);

/* Local. The sampling tables from the counts (after load or fit). */
int sm_hap_markov_tables(sm_ctx *ctx, sm_hap_markov *m);

/* Local. Rows [row0, row0 + n) of a release into g (n * n_vars); row i depends on
 * (seed, i) only. */
void sm_hap_markov_sample(const sm_hap_markov *m, uint64_t seed, int64_t row0, int64_t n,
                          uint8_t *g);

void sm_hap_markov_free(sm_hap_markov *m);

/* Collective. Model file: format "synthmpi-model", kind hap_markov, the experiment, the
 * ledger, /variants and /hap_markov (settings and counts). */
int sm_hap_markov_save(sm_ctx *ctx, const sm_hap_markov *m, const sm_variants *vars,
                       const sm_experiment *e, const char *path);
int sm_hap_markov_load(sm_ctx *ctx, const char *path, sm_hap_markov *m, sm_variants *vars);

/* ---- the genotype release (release.c) ------------------------------------------------- */

/* What the release writer samples from: a fitted genome model behind one function. */
typedef struct sm_genome_sampler {
  const char *kind;        /* the model kind, recorded in the release */
  int ploidy_coded;        /* rows are genotypes */
  int64_t n_vars;          /* variants of a row */
  const sm_ledger *ledger; /* what the fit spent (empty when not private) */
  const void *model;       /* passed to sample */
  /* Local. Release rows [row0, row0 + n) into g (n * n_vars); row i depends on (seed, i)
   * only. */
  int (*sample)(sm_ctx *ctx, const void *model, uint64_t seed, int64_t row0, int64_t n, uint8_t *g);
} sm_genome_sampler;

/* hap_markov behind the sampler interface. */
sm_genome_sampler sm_hap_markov_sampler(const sm_hap_markov *m);

/* Collective. As sm_genome_release_write, from any genome model. */
int sm_genome_release_write_sampler(sm_ctx *ctx, const sm_experiment *e, const sm_genome_sampler *m,
                                    const sm_variants *vars, const char *path);

/* Collective. Sample e->sampling.rows rows (each rank its block, in chunks) and write
 * /genotypes and /variants to path, staged as path.partial. */
int sm_genome_release_write(sm_ctx *ctx, const sm_experiment *e, const sm_hap_markov *m,
                            const sm_variants *vars, const char *path);

/* Collective. The group /variants (chrom, pos, id, ref, alt), written by rank 0 inside
 * collective calls and read by every rank. */
int sm_genome_write_variants(sm_ctx *ctx, hid_t file, const sm_variants *v);
int sm_genome_read_variants(sm_ctx *ctx, hid_t file, sm_variants *v);

/* Collective. This rank's block of rows of a genotype release, and all its variants. */
int sm_genome_release_read(sm_ctx *ctx, const char *path, sm_hapmat *out, sm_variants *vars);

/* Collective. 1 when path is a synthmpi file holding /genotypes (release), /hap_markov or
 * /hap_vae (model), else 0 (also for unreadable files: the caller reports those). */
int sm_genome_file_kind(sm_ctx *ctx, const char *path, int *is_genome);

/* Collective. Print what a genotype release or haplotype model holds. */
int sm_genome_inspect(sm_ctx *ctx, const char *path, FILE *out);

/* Collective. bgzipped VCF with phased GT, consecutive haplotype pairs forming samples
 * (genotype releases: unphased 0/1/2 as 0/0, 0/1, 1/1), then a tabix index. */
int sm_genome_export_vcf(sm_ctx *ctx, const char *release, const char *vcf_path);

/* ---- the pipeline (pipeline.c) -------------------------------------------------------- */

/* 1 when the experiment's data are genomic (data.format hapt or vcf). */
int sm_genome_experiment(const sm_experiment *e);

/* Collective subcommands on a loaded experiment (resume is ignored: fits are one pass). */
int sm_genome_run(sm_ctx *ctx, sm_experiment *e);
int sm_genome_fit(sm_ctx *ctx, sm_experiment *e);
int sm_genome_sample(sm_ctx *ctx, sm_experiment *e, const char *model_path);
int sm_genome_eval(sm_ctx *ctx, sm_experiment *e, const char *release_path);
int sm_genome_check(sm_ctx *ctx, const sm_experiment *e);

#endif
