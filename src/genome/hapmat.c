/* Ownership of haplotype matrices and variant lists. */
#include <stdlib.h>
#include <string.h>

#include "synthmpi/genome.h"

static void free_strings(char **s, int64_t n) {
  if (!s)
    return;
  for (int64_t i = 0; i < n; i++)
    free(s[i]);
  free(s);
}

void sm_variants_free(sm_variants *v) {
  if (!v)
    return;
  free_strings(v->chrom, v->n);
  free_strings(v->id, v->n);
  free_strings(v->ref, v->n);
  free_strings(v->alt, v->n);
  free(v->pos);
  memset(v, 0, sizeof(*v));
}

void sm_hapmat_free(sm_hapmat *m) {
  if (!m)
    return;
  free_strings(m->row_id, m->n_rows);
  free(m->g);
  free(m->person);
  memset(m, 0, sizeof(*m));
}
