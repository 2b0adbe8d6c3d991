/* Fuzz target: the FASTA reader and window cutter (htslib underneath) on one rank.
 *
 * Input: one byte of settings, then the FASTA text (or gzip bytes). Bits 0-1: window
 * (whole records, 7, 50 or 100 bases); bit 2: stride of half a window; bit 3: letters other
 * than ACGT replaced by random bases (else their windows skipped); bits 4-5: no holdout, a
 * seeded fifth of the windows, or the last tenth of each record; bit 6: the parts for
 * choosing the Markov order too. */
#include "fuzz_common.h"
#include "synthmpi/seq.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  return fuzz_init(argc, argv, "input.fa");
}

/* Every code is a base 0..3 and the offsets rise to the end of the codes. */
static void check_set(const sm_seqset *s) {
  for (int64_t i = 0; i < s->n; i++)
    if (s->offset[i + 1] < s->offset[i])
      abort();
  for (int64_t k = 0; s->n > 0 && k < s->offset[s->n]; k++)
    if (s->codes[k] > 3)
      abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || fuzz_write(data + 1, size - 1) != 0)
    return 0;
  static const int64_t windows[4] = {0, 7, 50, 100};
  static const sm_holdout_kind holdouts[4] = {SM_HOLDOUT_NONE, SM_HOLDOUT_FRACTION, SM_HOLDOUT_TAIL,
                                              SM_HOLDOUT_NONE};
  uint8_t f = data[0];
  sm_fasta_options o;
  memset(&o, 0, sizeof o);
  o.path = fuzz_get()->path;
  o.window = windows[f & 3];
  o.stride = (f >> 2) & 1 ? o.window / 2 : 0;
  o.non_acgt = (f >> 3) & 1 ? SM_NON_ACGT_RANDOM : SM_NON_ACGT_SKIP;
  o.seed = 7;
  o.holdout = holdouts[(f >> 4) & 3];
  o.fraction = o.holdout == SM_HOLDOUT_TAIL ? 0.1 : 0.2;
  o.split_seed = 11;

  /* read into the parts; whatever reads must hold bases only */
  sm_fasta_parts p;
  sm_fasta_stats st;
  memset(&p, 0, sizeof p);
  if (sm_fasta_read_parts(fuzz_ctx(), &o, (f >> 6) & 1 ? 0.1 : 0.0, &p, &st) == SM_OK) {
    check_set(&p.train);
    check_set(&p.holdout);
    check_set(&p.choose_fit);
    check_set(&p.choose_score);
  }
  sm_fasta_parts_free(&p);
  return 0;
}
