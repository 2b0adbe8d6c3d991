/* synthmpi: the program's entry point. */
#include <stdio.h>

#include "synthmpi/core.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  int rc = sm_ctx_init(&ctx, MPI_COMM_WORLD);
  sm_log(&ctx, SM_LOG_INFO, "synthmpi %s", SM_VERSION);
  sm_ctx_free(&ctx);
  MPI_Finalize();
  return rc;
}
