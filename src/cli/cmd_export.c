/* synthmpi export: write a release in another format (CSV). */
#include <string.h>

#include "cli/cli.h"
#include "genome/genome_internal.h"
#include "synthmpi/release.h"

int sm_cmd_export(sm_ctx *ctx, const sm_cli_args *args) {
  const char *format = args->format ? args->format : "csv";
  if (strcmp(format, "csv") != 0 && strcmp(format, "vcf") != 0)
    return sm_fail(ctx, SM_EINPUT, "export: unknown format '%s' (known: csv, vcf)", format);
  if (!args->output)
    return sm_fail(ctx, SM_EINPUT, "export: --output FILE is required");
  if (strcmp(format, "vcf") == 0)
    return sm_genome_export_vcf(ctx, args->target, args->output);
  return sm_release_export_csv(ctx, args->target, args->output);
}
