/* synthmpi inspect: schema, provenance and size of a release or model file. */
#include <stdio.h>

#include "cli/cli.h"
#include "synthmpi/release.h"

int sm_cmd_inspect(sm_ctx *ctx, const sm_cli_args *args) {
  return sm_release_inspect(ctx, args->target, stdout);
}
