/* The privacy ledger: every mechanism that touched real data in a private run, with what it
 * spent. It travels with the fitted model (model file, checkpoint) into the release, where
 * `synthmpi inspect` shows it.
 *
 * Unit of privacy: one person. In a table that is one row; in genomic data both haplotypes
 * of one individual. The number of rows is treated as public. */
#ifndef SYNTHMPI_LEDGER_H
#define SYNTHMPI_LEDGER_H

#include <stdint.h>

#include "synthmpi/core.h"

typedef struct sm_ledger_entry {
  char mechanism[64];      /* e.g. "dp-sgd", "mst-1way", "mst-select", "mst-2way" */
  char accountant[16];     /* "rdp", "prv" or "zcdp" */
  double sample_rate;      /* DP-SGD q; 1 for mechanisms on the whole data */
  double noise_multiplier; /* sigma relative to the sensitivity (0 when not Gaussian) */
  int64_t steps;           /* compositions (DP-SGD steps, marginals measured, draws) */
  double rho;              /* zCDP spent (zcdp entries), else 0 */
  double epsilon;          /* epsilon spent at delta (the accountant's guaranteed bound) */
  double delta;
  char note[128]; /* free text: what was measured */
} sm_ledger_entry;

typedef struct sm_ledger {
  int n, cap;
  sm_ledger_entry *entries; /* (n) */
  double epsilon_budget;    /* from the experiment */
  double delta;             /* target delta of the run */
  double epsilon_total;     /* spent by the whole run (as composed by its accountant) */
  int reproducible;         /* seeded test-only randomness: NOT a private release */
} sm_ledger;

int sm_ledger_add(sm_ctx *ctx, sm_ledger *l, const sm_ledger_entry *e);
void sm_ledger_free(sm_ledger *l);
/* JSON text (malloc'd) with the unit of privacy, totals, the reproducible flag and entries. */
char *sm_ledger_to_json(const sm_ledger *l);
/* Parse the JSON written by sm_ledger_to_json; SM_EINPUT on malformed text. */
int sm_ledger_from_json(sm_ctx *ctx, const char *json, sm_ledger *l);

/* Randomness that differential privacy relies on (Poisson sampling, noise, private
 * selection): the operating system's secure generator (getrandom), never a seed from the
 * experiment. In reproducible mode (tests only) a Philox stream keyed by `seed` is used
 * instead and the ledger says the release is not private. */
typedef struct sm_dp_rng {
  int reproducible;
  uint64_t seed;    /* reproducible mode only */
  uint64_t counter; /* draws so far (reproducible mode) */
} sm_dp_rng;

void sm_dp_rng_init(sm_dp_rng *r, int reproducible, uint64_t seed);
/* Uniform on (0, 1), 53 bits; returns SM_ERR (with message) if the OS generator fails. */
int sm_dp_uniform(sm_ctx *ctx, sm_dp_rng *r, double *u);
/* Standard normal. */
int sm_dp_normal(sm_ctx *ctx, sm_dp_rng *r, double *z);

#endif
