/* Allele counts of one set, their frequencies and correlation, and the major allele. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "genome/geval_internal.h"

void sm_geval_reason(sm_genome_metrics *out, const char *why) {
  size_t len = strlen(out->reason);
  size_t room = sizeof(out->reason) - len;
  if (len == 0)
    snprintf(out->reason, room, "%s", why);
  else if (room > 3)
    snprintf(out->reason + len, room, "; %s", why);
}

int sm_geval_count_local(sm_ctx *ctx, const sm_hapmat *m, int64_t n_vars, int64_t *alt,
                         int64_t *calls) {
  if (!m)
    return SM_OK;
  int top = m->ploidy_coded ? 2 : 1;

  /* one pass: check each value, count alleles and calls */
  for (int64_t i = 0; i < m->n_rows; i++) {
    const uint8_t *g = m->g + i * n_vars;
    for (int64_t v = 0; v < n_vars; v++) {
      if (g[v] == SM_ALLELE_MISSING)
        continue;
      if (g[v] > top)
        return sm_fail(ctx, SM_EINPUT,
                       "genome evaluation: allele %d at local row %lld, variant %lld "
                       "(expected 0..%d or missing)",
                       g[v], (long long)i, (long long)v, top);
      alt[v] += g[v];
      calls[v]++;
    }
  }
  return SM_OK;
}

double sm_geval_freq(const sm_geval_counts *c, int64_t v, int ploidy) {
  if (c->calls[v] == 0)
    return NAN;
  return (double)c->alt[v] / ((double)ploidy * (double)c->calls[v]);
}

double sm_geval_freq_corr(const sm_geval_counts *a, const sm_geval_counts *b, int64_t n_vars,
                          int ploidy) {
  /* means over the variants called in both */
  double sa = 0, sb = 0;
  int64_t n = 0;
  for (int64_t v = 0; v < n_vars; v++) {
    if (a->calls[v] == 0 || b->calls[v] == 0)
      continue;
    sa += sm_geval_freq(a, v, ploidy);
    sb += sm_geval_freq(b, v, ploidy);
    n++;
  }
  if (n < 2)
    return NAN;
  double ma = sa / (double)n, mb = sb / (double)n;

  /* centred sums of squares and products */
  double saa = 0, sbb = 0, sab = 0;
  for (int64_t v = 0; v < n_vars; v++) {
    if (a->calls[v] == 0 || b->calls[v] == 0)
      continue;
    double da = sm_geval_freq(a, v, ploidy) - ma, db = sm_geval_freq(b, v, ploidy) - mb;
    saa += da * da;
    sbb += db * db;
    sab += da * db;
  }
  if (saa <= 0 || sbb <= 0)
    return NAN;
  return sab / sqrt(saa * sbb);
}

void sm_geval_major(const sm_geval_counts *c, int64_t n_vars, int ploidy, uint8_t *major) {
  for (int64_t v = 0; v < n_vars; v++) {
    double f = sm_geval_freq(c, v, ploidy);
    major[v] = (uint8_t)(f > 0.5 ? ploidy : 0);
  }
}
