/* synthmpi export: write a release in another format (CSV; VCF for genotype releases; FASTA
 * for sequence releases). */
#include <string.h>

#include "cli/cli.h"
#include "genome/genome_internal.h"
#include "synthmpi/release.h"
#include "synthmpi/seq.h"

int sm_cmd_export(sm_ctx *ctx, const sm_cli_args *args) {
  int seq = 0;
  SM_TRY(sm_seq_is_release(ctx, args->target, &seq));
  const char *format = args->format ? args->format : seq ? "fasta" : "csv";
  if (seq || strcmp(format, "fasta") == 0) {
    if (strcmp(format, "fasta") != 0 || !seq)
      return sm_fail(ctx, SM_EINPUT, "export: %s exports as %s only (--format %s)", args->target,
                     seq ? "FASTA" : "CSV", seq ? "fasta" : "csv");
    return sm_seq_export_fasta(ctx, args->target, args->output);
  }
  if (strcmp(format, "csv") != 0 && strcmp(format, "vcf") != 0)
    return sm_fail(ctx, SM_EINPUT, "export: unknown format '%s' (known: csv, vcf, fasta)", format);
  if (!args->output)
    return sm_fail(ctx, SM_EINPUT, "export: --output FILE is required");
  if (strcmp(format, "vcf") == 0)
    return sm_genome_export_vcf(ctx, args->target, args->output);
  return sm_release_export_csv(ctx, args->target, args->output);
}
