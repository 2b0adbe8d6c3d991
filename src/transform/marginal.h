/* Private: one column's marginal distribution as a piecewise inverse CDF, its mergeable
 * summaries, and the normal-score maps between values and standard normals.
 *
 * The inverse CDF cuts [0, 1) into segments: u with bound[s] <= u < bound[s + 1] maps to
 * lo[s] + (u - bound[s]) * slope[s]. An atom is a segment of slope 0 (an exact value, a
 * category code, or NaN for "missing"); a sketched stretch of values is a sloped one.
 */
#ifndef SYNTHMPI_TRANSFORM_MARGINAL_H
#define SYNTHMPI_TRANSFORM_MARGINAL_H

#include <stdint.h>

#include "synthmpi/core.h"

/* A weighted point of a summary. Three doubles so summaries travel as MPI_DOUBLE. */
typedef struct sm_wpoint {
  double value;
  double weight; /* rows at (or summarised by) this value; integral */
  double atom;   /* 1: the weight is all at this one value; 0: it stands for a stretch */
} sm_wpoint;

typedef struct sm_marginal {
  int n_segments;
  double *bound;   /* (n_segments + 1) bound[0] = 0, bound[n_segments] = 1 */
  double *lo;      /* (n_segments) value where the segment starts */
  double *hi;      /* (n_segments) value where it ends (= lo for an atom) */
  double *slope;   /* (n_segments) (hi - lo) / width */
  int lookup_bits; /* the lookup table has 1 << lookup_bits buckets */
  int32_t *lookup; /* (1 << lookup_bits) first segment reaching into each bucket of u */
} sm_marginal;

/* Sort points by value and combine equal values (weights add, atom if any is). Returns
 * the new count. */
int64_t sm_wpoints_merge(sm_wpoint *p, int64_t n);

/* Compress sorted, distinct points of total weight `total` to about max_points: atoms
 * of weight >= total / max_points stay exact, the ends stay, the rest are bucketed at
 * their weighted medians. Writes into out (capacity 3 * max_points + 2); returns count. */
int64_t sm_wpoints_compress(const sm_wpoint *p, int64_t n, double total, int64_t max_points,
                            sm_wpoint *out);

/* Build the inverse CDF from sorted, distinct points. exact: every point is an atom
 * (the empirical distribution); else atoms of weight >= total / max_points stay atoms
 * and the rest are joined by linear interpolation. */
int sm_marginal_from_points(sm_ctx *ctx, sm_marginal *m, const sm_wpoint *p, int64_t n, int exact,
                            int64_t max_points);

/* Build from given segments (copied); used for categories and when loading. */
int sm_marginal_from_segments(sm_ctx *ctx, sm_marginal *m, int n_segments, const double *bound,
                              const double *lo, const double *hi);

void sm_marginal_free(sm_marginal *m);

/* The step [*u_lo, *u_hi) of the CDF that value x falls on: an atom's whole segment, or
 * one point (u_lo = u_hi) on a sloped segment. */
void sm_marginal_step(const sm_marginal *m, double x, double *u_lo, double *u_hi);

/* Standard normal CDF by cubic Hermite interpolation on a grid (|error| < 1e-9). */
typedef struct sm_phi_table {
  double step_inv; /* grid points per unit of z */
  int n;           /* grid points */
  double *cdf;     /* (n) Phi at each grid point */
  double *pdf;     /* (n) phi at each grid point */
} sm_phi_table;

int sm_phi_table_init(sm_ctx *ctx, sm_phi_table *t);
void sm_phi_table_free(sm_phi_table *t);

/* out[r] = inverse CDF of Phi(z[r * stride]) for r < n. */
void sm_marginal_sample(const sm_marginal *m, const sm_phi_table *phi, const double *z, int stride,
                        int64_t n, double *out);

#endif
