/* synthmpi inspect: schema, provenance and size of a release or model file. */
#include <stdio.h>

#include "cli/cli.h"
#include "genome/genome_internal.h"
#include "synthmpi/release.h"
#include "synthmpi/seq.h"

int sm_cmd_inspect(sm_ctx *ctx, const sm_cli_args *args) {
  int seq = 0;
  SM_TRY(sm_seq_is_release(ctx, args->target, &seq));
  if (seq)
    return sm_seq_inspect(ctx, args->target, stdout);
  int genome = 0;
  SM_TRY(sm_genome_file_kind(ctx, args->target, &genome));
  if (genome)
    return sm_genome_inspect(ctx, args->target, stdout);
  return sm_release_inspect(ctx, args->target, stdout);
}
