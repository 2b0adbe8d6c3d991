/* Linkage disequilibrium: r^2 of variant pairs close on one chromosome, in the real and the
 * synthetic sample, compared pair by pair and as a decay curve over distance.
 *
 * Each variant becomes bit columns over the sample rows (called, value >= 1, value == 2),
 * so the pairwise-complete sums of a pair are popcounts. Pairs are dealt to ranks by their
 * first variant; r^2 sums are kept in fixed point (2^-32) so they add up to the same
 * integers in any order, whatever the number of ranks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genome/geval_internal.h"

#define LD_FIXED 4294967296.0 /* 2^32: fixed-point scale of r^2 sums */

/* A sample's variants as bit columns over its rows. */
typedef struct ld_columns {
  int64_t words;  /* 64-bit words per plane */
  int planes;     /* 2 (called, value >= 1), 3 with value == 2 for genotypes */
  uint64_t *bits; /* (n_vars, planes, words) */
} ld_columns;

/* Pairwise-complete sums of two variants over the rows called in both. */
typedef struct pair_sums {
  int64_t n, sx, sy, sxx, syy, sxy;
} pair_sums;

/* Variants in chromosome and position order, and each one's window of partners. */
typedef struct ld_pairs_plan {
  int64_t *order; /* (n_vars) variant indices sorted by (chromosome, position, index) */
  int64_t *end;   /* (n_vars) partners of order[a] are order[a+1 .. end[a]) */
  int64_t pairs;  /* total pairs */
  double span;    /* base-pair range of the decay curve */
} ld_pairs_plan;

double sm_geval_r2(int64_t n, int64_t sx, int64_t sy, int64_t sxx, int64_t syy, int64_t sxy) {
  double vx = (double)(n * sxx - sx * sx), vy = (double)(n * syy - sy * sy);
  if (n < 2 || vx <= 0 || vy <= 0)
    return NAN;
  double num = (double)(n * sxy - sx * sy);
  return num * num / (vx * vy);
}

/* Bit columns of the sample s. */
static int columns_build(sm_ctx *ctx, const sm_geval_sample *s, int genotypes, ld_columns *c) {
  c->words = (s->n_rows + 63) / 64;
  c->planes = genotypes ? 3 : 2;
  size_t per_var = (size_t)c->planes * (size_t)c->words;
  c->bits = sm_calloc(ctx, (size_t)(s->n_vars > 0 ? s->n_vars : 1) * per_var, sizeof(uint64_t));
  if (!c->bits)
    return SM_ERR;
  for (int64_t i = 0; i < s->n_rows; i++) {
    const uint8_t *g = s->g + i * s->n_vars;
    uint64_t bit = (uint64_t)1 << (i & 63);
    for (int64_t v = 0; v < s->n_vars; v++) {
      uint64_t *col = c->bits + (size_t)v * per_var + (i >> 6);
      if (g[v] == SM_ALLELE_MISSING)
        continue;
      col[0] |= bit;
      if (g[v] >= 1)
        col[c->words] |= bit;
      if (g[v] == 2)
        col[2 * c->words] |= bit;
    }
  }
  return SM_OK;
}

/* Sums of variants i and j of c. */
SM_GEVAL_POPCNT
static pair_sums pair_sums_of(const ld_columns *c, int64_t i, int64_t j) {
  int64_t w = c->words, per_var = c->planes * w;
  const uint64_t *mi = c->bits + i * per_var, *mj = c->bits + j * per_var;
  const uint64_t *ai = mi + w, *aj = mj + w;
  pair_sums s = {0, 0, 0, 0, 0, 0};
  for (int64_t k = 0; k < w; k++) {
    s.n += __builtin_popcountll(mi[k] & mj[k]);
    s.sx += __builtin_popcountll(ai[k] & mj[k]);
    s.sy += __builtin_popcountll(aj[k] & mi[k]);
    s.sxy += __builtin_popcountll(ai[k] & aj[k]);
  }
  s.sxx = s.sx, s.syy = s.sy;
  if (c->planes < 3)
    return s;

  /* genotypes: a 2 adds 1 more to the value and 3 more to its square */
  const uint64_t *bi = ai + w, *bj = aj + w;
  for (int64_t k = 0; k < w; k++) {
    int64_t x2 = __builtin_popcountll(bi[k] & mj[k]), y2 = __builtin_popcountll(bj[k] & mi[k]);
    s.sx += x2, s.sxx += 3 * x2;
    s.sy += y2, s.syy += 3 * y2;
    s.sxy += __builtin_popcountll(ai[k] & bj[k]) + __builtin_popcountll(bi[k] & aj[k]) +
             __builtin_popcountll(bi[k] & bj[k]);
  }
  return s;
}

static double pair_r2(const ld_columns *c, int64_t i, int64_t j) {
  pair_sums s = pair_sums_of(c, i, j);
  return sm_geval_r2(s.n, s.sx, s.sy, s.sxx, s.syy, s.sxy);
}

/* Sort of variant indices by (chromosome, position, index). */
typedef struct variant_ref {
  const char *chrom;
  int64_t pos, index;
} variant_ref;

static int variant_cmp(const void *a, const void *b) {
  const variant_ref *x = a, *y = b;
  int c = strcmp(x->chrom, y->chrom);
  if (c != 0)
    return c;
  if (x->pos != y->pos)
    return x->pos < y->pos ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

/* The pairs: variants sorted, and for each the end of its window of partners. */
static int plan_pairs(sm_ctx *ctx, const sm_variants *vars, int64_t max_dist, ld_pairs_plan *p) {
  int64_t n = vars->n;
  variant_ref *ref = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(variant_ref));
  p->order = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(int64_t));
  p->end = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(int64_t));
  if (!ref || !p->order || !p->end) {
    free(ref);
    return SM_ERR;
  }

  /* sorted by chromosome and position */
  for (int64_t v = 0; v < n; v++)
    ref[v] = (variant_ref){vars->chrom ? vars->chrom[v] : "", vars->pos[v], v};
  qsort(ref, (size_t)n, sizeof(variant_ref), variant_cmp);

  /* two pointers: a window's end only moves forward */
  int64_t e = 0, widest = 0;
  p->pairs = 0;
  for (int64_t a = 0; a < n; a++) {
    p->order[a] = ref[a].index;
    if (e < a + 1)
      e = a + 1;
    while (e < n && strcmp(ref[e].chrom, ref[a].chrom) == 0 &&
           (max_dist <= 0 || ref[e].pos - ref[a].pos <= max_dist))
      e++;
    p->end[a] = e;
    p->pairs += e - a - 1;
    if (e > a + 1 && ref[e - 1].pos - ref[a].pos > widest)
      widest = ref[e - 1].pos - ref[a].pos;
  }
  p->span = (double)(max_dist > 0 ? max_dist : (widest > 0 ? widest : 1));
  free(ref);
  return SM_OK;
}

/* Fixed-point sums, reduced over ranks: [0] sum |diff|, [1] pairs with both r^2, then per
 * bin: real sum, real pairs, synthetic sum, synthetic pairs. */
static void ld_accumulate(const ld_columns *real, const ld_columns *synth, int64_t i, int64_t j,
                          double dist, const ld_pairs_plan *p, int bins, int64_t *acc) {
  double rr = pair_r2(real, i, j), rs = pair_r2(synth, i, j);
  int b = (int)(dist * bins / p->span);
  int64_t *bin = acc + 2 + 4 * (b < bins ? b : bins - 1);
  if (!isnan(rr))
    bin[0] += llround(rr * LD_FIXED), bin[1]++;
  if (!isnan(rs))
    bin[2] += llround(rs * LD_FIXED), bin[3]++;
  if (!isnan(rr) && !isnan(rs))
    acc[0] += llround(fabs(rr - rs) * LD_FIXED), acc[1]++;
}

/* Collective: this rank's share of the pairs, then the sums of all ranks. */
static int ld_sums(sm_ctx *ctx, const sm_variants *vars, const ld_columns *real,
                   const ld_columns *synth, const ld_pairs_plan *p, int bins, int64_t *acc) {
  for (int64_t a = ctx->rank; a < vars->n; a += ctx->size) {
    int64_t i = p->order[a];
    for (int64_t b = a + 1; b < p->end[a]; b++) {
      int64_t j = p->order[b];
      double dist = (double)llabs(vars->pos[j] - vars->pos[i]);
      ld_accumulate(real, synth, i, j, dist, p, bins, acc);
    }
  }
  SM_MPI_CHECK(ctx,
               MPI_Allreduce(MPI_IN_PLACE, acc, 2 + 4 * bins, MPI_INT64_T, MPI_SUM, ctx->comm));
  return SM_OK;
}

/* The figures from the reduced sums. */
static void ld_figures(const int64_t *acc, const ld_pairs_plan *p, int bins,
                       sm_genome_metrics *out) {
  out->ld_pairs = acc[1];
  out->ld_r2_mean_abs_diff = acc[1] > 0 ? (double)acc[0] / LD_FIXED / (double)acc[1] : NAN;
  if (acc[1] == 0)
    sm_geval_reason(out, "LD: no variant pairs within ld_max_dist polymorphic in both sets");
  for (int b = 0; b <= bins; b++)
    out->ld_bin_edges[b] = p->span * b / bins;
  for (int b = 0; b < bins; b++) {
    const int64_t *bin = acc + 2 + 4 * b;
    out->ld_decay_real[b] = bin[1] > 0 ? (double)bin[0] / LD_FIXED / (double)bin[1] : NAN;
    out->ld_decay_synth[b] = bin[3] > 0 ? (double)bin[2] / LD_FIXED / (double)bin[3] : NAN;
  }
}

/* Collective: room for the curve in out (NaN-filled) and the local work buffers. */
static int ld_alloc(sm_ctx *ctx, int bins, sm_genome_metrics *out, int64_t **acc) {
  out->ld_bins = bins;
  out->ld_bin_edges = sm_malloc(ctx, (size_t)(bins + 1) * sizeof(double));
  out->ld_decay_real = sm_malloc(ctx, (size_t)bins * sizeof(double));
  out->ld_decay_synth = sm_malloc(ctx, (size_t)bins * sizeof(double));
  *acc = sm_calloc(ctx, 2 + 4 * (size_t)bins, sizeof(int64_t));
  int ok = out->ld_bin_edges && out->ld_decay_real && out->ld_decay_synth && *acc;
  for (int b = 0; ok && b <= bins; b++) {
    out->ld_bin_edges[b] = NAN;
    if (b < bins)
      out->ld_decay_real[b] = out->ld_decay_synth[b] = NAN;
  }
  return sm_agree(ctx, ok ? SM_OK : SM_ERR);
}

int sm_geval_ld(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_variants *vars,
                const sm_geval_sample *real, const sm_geval_sample *synth, int ploidy_coded,
                sm_genome_metrics *out) {
  int64_t *acc = NULL;
  out->ld_r2_mean_abs_diff = NAN;
  int rc = ld_alloc(ctx, spec->ld_bins, out, &acc);
  if (rc == SM_OK && !vars->pos) {
    sm_geval_reason(out, "LD: variant positions unknown");
    free(acc);
    return SM_OK;
  }

  /* the pairs, and both samples as bit columns */
  ld_pairs_plan plan = {NULL, NULL, 0, 1};
  ld_columns cols_real = {0, 0, NULL}, cols_synth = {0, 0, NULL};
  if (rc == SM_OK) {
    int local = plan_pairs(ctx, vars, spec->ld_max_dist, &plan);
    if (local == SM_OK)
      local = columns_build(ctx, real, ploidy_coded, &cols_real);
    if (local == SM_OK)
      local = columns_build(ctx, synth, ploidy_coded, &cols_synth);
    rc = sm_agree(ctx, local);
  }
  if (rc == SM_OK && plan.pairs >= ((int64_t)1 << 31))
    rc = sm_agree(ctx, sm_fail(ctx, SM_EINPUT,
                               "LD: %lld variant pairs within ld_max_dist is too many (lower it)",
                               (long long)plan.pairs));

  /* r^2 of every pair, summed over ranks */
  if (rc == SM_OK)
    rc = ld_sums(ctx, vars, &cols_real, &cols_synth, &plan, spec->ld_bins, acc);
  if (rc == SM_OK)
    ld_figures(acc, &plan, spec->ld_bins, out);
  free(cols_real.bits);
  free(cols_synth.bits);
  free(plan.order);
  free(plan.end);
  free(acc);
  return rc;
}
