/* Philox streams and normal distribution helpers. */
#include "synthmpi/rng.h"

#include "synthmpi/core.h"

#include <math.h>

#include <Random123/philox.h>

void sm_rng_init(sm_rng *r, uint64_t seed, uint32_t purpose, uint64_t index) {
  r->key[0] = (uint32_t)seed;
  r->key[1] = (uint32_t)(seed >> 32);
  r->ctr[0] = (uint32_t)index;
  r->ctr[1] = (uint32_t)(index >> 32);
  r->ctr[2] = purpose;
  r->ctr[3] = 0;
  r->avail = 0;
  r->has_spare = 0;
}

static void next_block(sm_rng *r) {
  philox4x32_ctr_t c = {{r->ctr[0], r->ctr[1], r->ctr[2], r->ctr[3]}};
  philox4x32_key_t k = {{r->key[0], r->key[1]}};
  philox4x32_ctr_t out = philox4x32(c, k);
  for (int i = 0; i < 4; i++)
    r->buf[i] = out.v[i];
  r->ctr[3]++;
  r->avail = 4;
}

uint32_t sm_rng_u32(sm_rng *r) {
  if (r->avail == 0)
    next_block(r);
  return r->buf[4 - r->avail--];
}

double sm_rng_uniform(sm_rng *r) {
  uint64_t hi = sm_rng_u32(r), lo = sm_rng_u32(r);
  uint64_t bits = ((hi << 32) | lo) >> 11;
  return ((double)bits + 0.5) * 0x1.0p-53;
}

double sm_rng_normal(sm_rng *r) {
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  double u1 = sm_rng_uniform(r), u2 = sm_rng_uniform(r);
  double radius = sqrt(-2.0 * log(u1)), angle = 2.0 * M_PI * u2;
  r->spare = radius * sin(angle);
  r->has_spare = 1;
  return radius * cos(angle);
}

double sm_norm_cdf(double z) {
  return 0.5 * erfc(-z / M_SQRT2);
}

/* Acklam's rational approximation of the normal quantile (relative error below 1.2e-9):
 * one rational function in the centre, another in sqrt(-2 log tail) in both tails. */
static const double acklam_a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                  -2.759285104469687e+02, 1.383577518672690e+02,
                                  -3.066479806614716e+01, 2.506628277459239e+00};
static const double acklam_b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                  -1.556989798598866e+02, 6.680131188771972e+01,
                                  -1.328068155288572e+01};
static const double acklam_c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                  -2.400758277161838e+00, -2.549732539343734e+00,
                                  4.374664141464968e+00,  2.938163982698783e+00};
static const double acklam_d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                  2.445134137142996e+00, 3.754408661907416e+00};
#define ACKLAM_P_LOW 0.02425

/* The centre, for p in [ACKLAM_P_LOW, 1 - ACKLAM_P_LOW]. */
static double acklam_centre(double p) {
  const double *a = acklam_a, *b = acklam_b;
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

/* The lower tail, from log(p) for p < ACKLAM_P_LOW (the upper tail is its mirror). */
static double acklam_lower_tail(double log_p) {
  const double *c = acklam_c, *d = acklam_d;
  double q = sqrt(-2.0 * log_p);
  return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
         ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
}

/* Acklam's approximation, refined by one Halley step. */
double sm_norm_quantile(double p) {
  if (p <= 0.0)
    return -INFINITY;
  if (p >= 1.0)
    return INFINITY;

  /* rational approximation in the tails and the centre */
  double x;
  if (p < ACKLAM_P_LOW)
    x = acklam_lower_tail(log(p));
  else if (p > 1.0 - ACKLAM_P_LOW)
    x = -acklam_lower_tail(log1p(-p));
  else
    x = acklam_centre(p);

  /* one Halley step against the exact CDF */
  double e = sm_norm_cdf(x) - p;
  double u = e * sqrt(2.0 * M_PI) * exp(0.5 * x * x);
  return x - u / (1.0 + 0.5 * x * u);
}

/* The quantile of a draw in either tail (p = (x + 0.5) / 2^32 outside the centre); the upper
 * tail taken exactly as 1 - p. */
static double tail_from_u32(uint32_t x, double p) {
  double tail = p < 0.5 ? p : ((double)(UINT32_MAX - x) + 0.5) * 0x1.0p-32;
  double g = acklam_lower_tail(log(tail));
  return p < 0.5 ? g : -g;
}

double sm_normal_from_u32(uint32_t x) {
  double p = ((double)x + 0.5) * 0x1.0p-32;
  if (p >= ACKLAM_P_LOW && p <= 1.0 - ACKLAM_P_LOW)
    return acklam_centre(p);
  return tail_from_u32(x, p);
}

/* Philox blocks per pass of sm_rng_normals (4 draws each). */
#define NORMALS_BLOCKS 16

/* Philox4x32-10 of the counters (ctr[0], ctr[1], ctr[2], first + b) for b < nb, the words
 * philox4x32 gives, block b into x[4 b .. 4 b + 4). The rounds run across the blocks, one
 * array per word, so the multiplies vectorise; always over NORMALS_BLOCKS counters, a fixed
 * count the compiler unrolls, of which the first nb are kept. */
SM_VECTOR_CLONES
static void philox_blocks(const sm_rng *r, uint32_t first, int nb, uint32_t *x) {
  uint64_t c0[NORMALS_BLOCKS], c1[NORMALS_BLOCKS], c2[NORMALS_BLOCKS], c3[NORMALS_BLOCKS];
  for (int b = 0; b < NORMALS_BLOCKS; b++) {
    c0[b] = r->ctr[0];
    c1[b] = r->ctr[1];
    c2[b] = r->ctr[2];
    c3[b] = (uint32_t)(first + (uint32_t)b);
  }

  /* ten rounds, the key bumped after each; each word kept in the low half of a 64-bit lane,
   * so the 32 x 32 -> 64-bit products need no shuffles */
  uint64_t k0 = r->key[0], k1 = r->key[1];
  for (int round = 0; round < PHILOX4x32_DEFAULT_ROUNDS; round++) {
    for (int b = 0; b < NORMALS_BLOCKS; b++) {
      uint64_t p0 = (uint64_t)PHILOX_M4x32_0 * c0[b], p1 = (uint64_t)PHILOX_M4x32_1 * c2[b];
      c0[b] = ((p1 >> 32) ^ c1[b] ^ k0) & 0xffffffffu;
      c1[b] = p1 & 0xffffffffu;
      c2[b] = ((p0 >> 32) ^ c3[b] ^ k1) & 0xffffffffu;
      c3[b] = p0 & 0xffffffffu;
    }
    k0 = (k0 + PHILOX_W32_0) & 0xffffffffu;
    k1 = (k1 + PHILOX_W32_1) & 0xffffffffu;
  }

  /* interleave the words back into stream order */
  for (int b = 0; b < nb; b++) {
    x[4 * b] = (uint32_t)c0[b];
    x[4 * b + 1] = (uint32_t)c1[b];
    x[4 * b + 2] = (uint32_t)c2[b];
    x[4 * b + 3] = (uint32_t)c3[b];
  }
}

/* out[i] = sm_normal_from_u32(x[i]) for i < n: the centre formula for every draw
 * (vectorised), then the few tails one by one. */
/* Whether draw x lies in a tail: p = (x + 0.5) / 2^32 outside the centre. */
static int in_tail(uint32_t x) {
  double p = ((double)x + 0.5) * 0x1.0p-32;
  return p < ACKLAM_P_LOW || p > 1.0 - ACKLAM_P_LOW;
}

/* The largest draw of the lower tail and the smallest of the upper one, so that a draw's
 * tail is found by comparing integers. */
static void tail_bounds(uint32_t *lo, uint32_t *hi) {
  uint32_t a = (uint32_t)(ACKLAM_P_LOW * 0x1.0p32), b = (uint32_t)((1.0 - ACKLAM_P_LOW) * 0x1.0p32);
  while (in_tail(a + 1))
    a++;
  while (!in_tail(a))
    a--;
  while (in_tail(b - 1))
    b--;
  while (!in_tail(b))
    b++;
  *lo = a;
  *hi = b;
}

SM_VECTOR_CLONES
static void normals_of_u32(float *out, const uint32_t *x, int n, uint32_t lo, uint32_t hi) {
  for (int i = 0; i < n; i++)
    out[i] = (float)acklam_centre(((double)x[i] + 0.5) * 0x1.0p-32);
  for (int i = 0; i < n; i++)
    if (x[i] <= lo || x[i] >= hi)
      out[i] = (float)tail_from_u32(x[i], ((double)x[i] + 0.5) * 0x1.0p-32);
}

SM_VECTOR_CLONES
void sm_rng_normals(sm_rng *r, float *out, int n) {
  int i = 0;
  for (; i < n && r->avail > 0; i++)
    out[i] = (float)sm_normal_from_u32(sm_rng_u32(r));

  /* whole blocks straight from their counters */
  uint32_t x[4 * NORMALS_BLOCKS], lo, hi;
  tail_bounds(&lo, &hi);
  while (n - i >= 4) {
    int nb = (n - i) / 4 < NORMALS_BLOCKS ? (n - i) / 4 : NORMALS_BLOCKS;
    philox_blocks(r, r->ctr[3], nb, x);
    r->ctr[3] += (uint32_t)nb;
    normals_of_u32(out + i, x, 4 * nb, lo, hi);
    i += 4 * nb;
  }

  /* a last partial block through the stream */
  for (; i < n; i++)
    out[i] = (float)sm_normal_from_u32(sm_rng_u32(r));
}

uint64_t sm_hash64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
