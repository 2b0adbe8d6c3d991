/* Counter-based random streams (Philox4x32-10 from Random123) and normal helpers.
 *
 * A stream is keyed by (seed, purpose, index): index is normally a global row index,
 * so what row i draws depends only on the seed and i, never on the rank that draws it.
 * Streams with different purposes or indices never overlap.
 */
#ifndef SYNTHMPI_RNG_H
#define SYNTHMPI_RNG_H

#include <stdint.h>

/* Purposes: one per independent use of randomness in the program. */
enum sm_stream_purpose {
  SM_STREAM_SAMPLE = 1,     /* model sampling, per release row */
  SM_STREAM_MISSING = 2,    /* missing-value decisions, per release row */
  SM_STREAM_HOLDOUT = 3,    /* holdout split, per input row */
  SM_STREAM_FIT = 4,        /* randomness used while fitting, per input row */
  SM_STREAM_EVAL = 5,       /* evaluation subsampling, per row */
  SM_STREAM_NN_INIT = 6,    /* network initialisation, per parameter index */
  SM_STREAM_NN_BATCH = 7,   /* which rows form each training batch */
  SM_STREAM_NN_NOISE = 8,   /* per-row training noise (reparameterisation, Gumbel) */
  SM_STREAM_NN_DROPOUT = 9, /* dropout masks, per row */
  SM_STREAM_ENCODE = 10,    /* mode choice of mode-specific normalisation, per row */
  SM_STREAM_DECODE = 11,    /* decoding noise, per release row */
  SM_STREAM_TEST = 99       /* tests only */
};

typedef struct sm_rng {
  uint32_t key[2]; /* seed */
  uint32_t ctr[4]; /* index lo, index hi, purpose, block */
  uint32_t buf[4]; /* current output block */
  int avail;       /* unread words in buf */
  int has_spare;   /* Box-Muller spare normal is valid */
  double spare;
} sm_rng;

/* Start the stream (seed, purpose, index) at its first block. */
void sm_rng_init(sm_rng *r, uint64_t seed, uint32_t purpose, uint64_t index);

uint32_t sm_rng_u32(sm_rng *r);
/* Uniform on the open interval (0, 1), 53 random bits. */
double sm_rng_uniform(sm_rng *r);
/* Standard normal (Box-Muller, pairs cached). */
double sm_rng_normal(sm_rng *r);

/* Standard normal CDF and its inverse (|error| < 1e-15 after one Halley step). */
double sm_norm_cdf(double z);
double sm_norm_quantile(double p);
/* Fast standard normal quantile of a 32-bit draw: u = (x + 0.5) / 2^32 (the same rational
 * approximation without the refinement, relative error below 1.2e-9). */
double sm_normal_from_u32(uint32_t x);
/* out[i] = sm_normal_from_u32(next draw of r) for i < n, the same values as n calls, in a
 * loop the compiler can vectorise. */
void sm_rng_normals(sm_rng *r, float *out, int n);

/* 64-bit mix of a value (splitmix64 finaliser), for hashing seeds and names. */
uint64_t sm_hash64(uint64_t x);

#endif
