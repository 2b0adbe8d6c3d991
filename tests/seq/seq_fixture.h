/* Shared pieces of the sequence tests: a slow FASTA reference and small file writers. */
#ifndef SYNTHMPI_TEST_SEQ_FIXTURE_H
#define SYNTHMPI_TEST_SEQ_FIXTURE_H

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthmpi/seq.h"

/* The records of a plain FASTA file, upper-cased, as NUL-terminated strings (slow and
 * simple: the reference the reader is checked against). */
typedef struct ref_fasta {
  int n;
  char **seq;
} ref_fasta;

static inline void ref_fasta_read(const char *path, ref_fasta *r) {
  FILE *f = fopen(path, "r");
  char line[1 << 16];
  size_t cap = 0, len = 0;
  memset(r, 0, sizeof(*r));
  while (f && fgets(line, sizeof line, f)) {
    if (line[0] == '>') {
      r->seq = realloc(r->seq, (size_t)(r->n + 1) * sizeof(char *));
      r->seq[r->n++] = calloc(1, 1);
      cap = 1, len = 0;
      continue;
    }
    for (char *p = line; *p; p++) {
      if (isspace((unsigned char)*p))
        continue;
      if (len + 2 > cap)
        r->seq[r->n - 1] = realloc(r->seq[r->n - 1], cap = 2 * cap + 2);
      r->seq[r->n - 1][len++] = (char)toupper((unsigned char)*p);
      r->seq[r->n - 1][len] = '\0';
    }
  }
  if (f)
    fclose(f);
}

static inline void ref_fasta_free(ref_fasta *r) {
  for (int i = 0; i < r->n; i++)
    free(r->seq[i]);
  free(r->seq);
}

static inline int ref_code(char c) {
  const char *p = strchr("ACGT", c);
  return p && c ? (int)(p - "ACGT") : SM_BASE_OTHER;
}

/* Rank 0 writes text to path; every rank waits for it. */
static inline void write_file(const char *path, const char *text) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

/* This rank's block of the given code strings as a sequence set (global numbering). */
static inline void seqset_from(sm_seqset *s, char **seqs, int n, int rank, int size) {
  int64_t lo, hi, bases = 0;
  sm_partition(n, size, rank, &lo, &hi);
  memset(s, 0, sizeof(*s));
  s->n = hi - lo, s->n_total = n, s->first = lo;
  s->offset = calloc((size_t)(hi - lo + 1), sizeof(int64_t));
  for (int64_t i = lo; i < hi; i++)
    bases += (int64_t)strlen(seqs[i]);
  s->codes = malloc((size_t)bases + 1);
  for (int64_t i = lo; i < hi; i++) {
    int64_t len = (int64_t)strlen(seqs[i]);
    for (int64_t p = 0; p < len; p++)
      s->codes[s->offset[i - lo] + p] = (uint8_t)ref_code(seqs[i][p]);
    s->offset[i - lo + 1] = s->offset[i - lo] + len;
  }
}

#endif
