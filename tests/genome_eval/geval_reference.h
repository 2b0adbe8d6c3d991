/* Slow, obviously correct references for the genomic metrics (tests only): plain loops
 * over bytes in float64, no bit packing, no sampling, one process. */
#ifndef SYNTHMPI_TEST_GEVAL_REFERENCE_H
#define SYNTHMPI_TEST_GEVAL_REFERENCE_H

#include <stdint.h>

#include "synthmpi/genome.h"

/* A whole set on one process: rows x variants, row-major, as in sm_hapmat. */
typedef struct gmat {
  int64_t n, v;
  int coded; /* genotypes 0/1/2 */
  uint8_t *g;
} gmat;

/* Alternate-allele frequency of variant j (missing skipped), NaN without calls. */
double ref_freq(const gmat *m, int64_t j);

/* Pearson correlation of the frequencies of a and b over variants called in both. */
double ref_freq_corr(const gmat *a, const gmat *b);

/* r^2 of variants i and j over rows called at both (means first, then moments). */
double ref_r2(const gmat *m, int64_t i, int64_t j);

/* LD figures of real vs synth into out (allocates the curve): every pair i < j on one
 * chromosome within max_dist (0: any distance). */
void ref_ld(const sm_variants *vars, const gmat *real, const gmat *synth, int64_t max_dist,
            int bins, sm_genome_metrics *out);

/* Major allele (0, or 1 / 2 for genotypes) of every variant of m. */
void ref_major(const gmat *m, uint8_t *major);

/* Sites where row i of a and row k of b differ, missing calls taken as major. */
int64_t ref_hamming(const gmat *a, int64_t i, const gmat *b, int64_t k, const uint8_t *major);

/* Pairwise-distance figures of real vs synth into out. */
void ref_pairdist(const gmat *real, const gmat *synth, const uint8_t *major,
                  sm_genome_metrics *out);

/* 1-D Wasserstein distance of two samples (the area between their empirical CDFs). */
double ref_wasserstein(const double *u, int64_t nu, const double *w, int64_t nw);

/* AATS of equal-size sets real and synth by brute-force nearest neighbours. */
double ref_aats(const gmat *real, const gmat *synth, const uint8_t *major);

/* Explained-variance shares of the top k components of real and synth stacked, centred
 * by mean (missing calls at the mean), by Jacobi rotations (NaN past the rank). */
void ref_pca(const gmat *real, const gmat *synth, const double *mean, int k, double *explained);

/* Eigenvalues of the symmetric n x n matrix a (destroyed), descending, by cyclic Jacobi
 * rotations. */
void ref_jacobi(double *a, int n, double *eig);

#endif
