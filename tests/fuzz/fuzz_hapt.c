/* Fuzz target: the .hapt haplotype reader on one rank.
 *
 * Input: one byte of settings, then the .hapt file. The .legend beside it is written by the
 * harness with as many variants as the file's first row has alleles, give or take one
 * (settings bits 0-1: 0 or 1 exact, 2 one fewer, 3 one more), and with a malformed line
 * when bit 2 is set, so the reader's checks of the two files against each other are
 * reached as often as its parsing. */
#include "fuzz_common.h"
#include "genome/genome_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  return fuzz_init(argc, argv, "input.hapt");
}

/* Alleles on the first line: the fields after the tag and the id. */
static long first_row_alleles(const uint8_t *data, size_t size) {
  long fields = 0;
  int in_field = 0;
  for (size_t i = 0; i < size && data[i] != '\n'; i++) {
    int blank = data[i] == ' ' || data[i] == '\t' || data[i] == '\r';
    fields += !blank && !in_field;
    in_field = !blank;
  }
  return fields > 2 ? fields - 2 : 0;
}

/* The legend next to the input: header, then one "chr:pos_A_G pos A G" line per variant. */
static int write_legend(const char *path, long n, int bad_line) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fputs("id position a0 a1\n", f);
  for (long j = 0; j < n && j < 100000; j++) {
    if (bad_line && j == n / 2)
      fputs("broken\n", f);
    else
      fprintf(f, "1:%ld_A_G %ld A G\n", 1000 + 10 * j, 1000 + 10 * j);
  }
  return fclose(f) == 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || fuzz_write(data + 1, size - 1) != 0)
    return 0;
  static const long delta[4] = {0, 0, -1, 1};
  char legend[700];
  snprintf(legend, sizeof legend, "%.600s/input.legend", fuzz_get()->dir);
  long n = first_row_alleles(data + 1, size - 1) + delta[data[0] & 3];
  if (write_legend(legend, n > 0 ? n : 0, (data[0] >> 2) & 1) != 0)
    return 0;

  /* read; a table that reads is checked for the invariants the models rely on */
  sm_hapmat m;
  sm_variants v;
  memset(&m, 0, sizeof m);
  memset(&v, 0, sizeof v);
  if (sm_hapt_read(fuzz_ctx(), fuzz_get()->path, legend, &m, &v) == SM_OK) {
    for (int64_t i = 0; i < m.n_rows * m.n_vars; i++)
      if (m.g[i] > 1 && m.g[i] != SM_ALLELE_MISSING)
        abort();
    if (m.n_vars != v.n)
      abort();
  }
  sm_hapmat_free(&m);
  sm_variants_free(&v);
  unlink(legend);
  return 0;
}
