/* Fuzz target: the VCF reader (htslib underneath) on one rank.
 *
 * Input: one byte of settings, then the VCF text (or gzip bytes). Bit 0: impute missing
 * calls, bit 1: skip multi-allelic sites (else refuse them). A body that does not start
 * with '#' gets a fixed header of three samples in front, so slices from the middle of a
 * real file reach the record parser rather than stopping at a missing header. */
#include "fuzz_common.h"
#include "genome/genome_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  return fuzz_init(argc, argv, "input.vcf");
}

static const char header[] = "##fileformat=VCFv4.2\n"
                             "##contig=<ID=1>\n##contig=<ID=2>\n##contig=<ID=20>\n"
                             "##contig=<ID=22>\n"
                             "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
                             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb\tc\n";

/* The input file: the body, behind the fixed header when it has none of its own. */
static int write_input(const uint8_t *body, size_t size) {
  int own = size > 0 && (body[0] == '#' || body[0] == 0x1f);
  FILE *f = fopen(fuzz_get()->path, "wb");
  if (!f)
    return -1;
  int ok = own || fputs(header, f) >= 0;
  ok = ok && (size == 0 || fwrite(body, 1, size, f) == size);
  return fclose(f) == 0 && ok ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || write_input(data + 1, size - 1) != 0)
    return 0;
  static char vcf[] = "vcf";
  sm_source_spec s;
  memset(&s, 0, sizeof s);
  s.path = fuzz_get()->path;
  s.format = vcf;
  s.impute_missing = data[0] & 1;
  s.skip_multiallelic = (data[0] >> 1) & 1;

  /* read; alleles must be 0/1 (0..2 for genotypes) or missing */
  sm_hapmat m;
  sm_variants v;
  memset(&m, 0, sizeof m);
  memset(&v, 0, sizeof v);
  if (sm_vcf_read(fuzz_ctx(), &s, &m, &v) == SM_OK) {
    int top = m.ploidy_coded ? 2 : 1;
    for (int64_t i = 0; i < m.n_rows * m.n_vars; i++)
      if (m.g[i] > top && m.g[i] != SM_ALLELE_MISSING)
        abort();
    if (m.n_vars != v.n)
      abort();
  }
  sm_hapmat_free(&m);
  sm_variants_free(&v);
  return 0;
}
