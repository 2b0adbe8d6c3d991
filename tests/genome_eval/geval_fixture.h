/* Fixture of the genomic-metrics tests: whole sets built the same on every rank, dealt
 * to ranks unevenly, evaluated over all ranks and on rank 0 alone, and figures compared. */
#ifndef SYNTHMPI_TEST_GEVAL_FIXTURE_H
#define SYNTHMPI_TEST_GEVAL_FIXTURE_H

#include "geval_reference.h"
#include "synthmpi/genome.h"

/* The three sets of one case; hold may have n == 0. */
typedef struct geval_case {
  const gmat *train, *hold, *synth;
  int empty_first; /* rank 0 gets no rows at all when there are several ranks */
} geval_case;

void gmat_alloc(gmat *m, int64_t n, int64_t v, int coded);
void gmat_free(gmat *m);

/* Rows rows[0..n) of m as a new set. */
void gmat_rows(const gmat *m, const int64_t *rows, int64_t n, gmat *out);

/* Seeded permutation of 0..n-1 (same on every rank). */
int64_t *fixture_permutation(int64_t n, uint64_t seed);

/* Rows [lo, hi) of n for this rank: shares grow with the rank (1, 2, 3, ...), or (0, 1,
 * 2, ...) when empty_first and there are several ranks. */
void fixture_range(int64_t n, int rank, int size, int empty_first, int64_t *lo, int64_t *hi);

/* Collective: evaluate the case with rows dealt to the ranks of ctx. */
int fixture_evaluate(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_variants *vars,
                     const geval_case *c, sm_genome_metrics *out);

/* Rank 0 only: the same evaluation on a one-rank communicator (other ranks: nothing). */
int fixture_evaluate_alone(const sm_genome_eval_spec *spec, const sm_variants *vars,
                           const geval_case *c, sm_genome_metrics *out);

/* Figures that differ in any bit (NaN equal to NaN), each printed. */
int fixture_differences(const sm_genome_metrics *a, const sm_genome_metrics *b);

/* Figures of got farther than tol from want (NaN must match NaN), each printed with its
 * difference; the largest difference in *max_diff. AATS, PCA and LD may be left out. */
enum { CMP_AF = 1, CMP_LD = 2, CMP_DIST = 4, CMP_AATS = 8, CMP_PCA = 16, CMP_ALL = 31 };
int fixture_mismatches(const sm_genome_metrics *got, const sm_genome_metrics *want, int what,
                       double tol, double *max_diff);

/* Rank 0: one line per figure. */
void fixture_print(const char *name, const sm_genome_metrics *m);

/* Files a and b hold the same bytes. */
int fixture_same_file(const char *a, const char *b);

#endif
