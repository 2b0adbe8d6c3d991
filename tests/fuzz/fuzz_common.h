/* Shared by the fuzz targets: MPI on one process, one context, and a scratch file that
 * each input is written to (the readers take paths).
 *
 * libFuzzer's entry points take no user pointer, so the harness keeps its context in one
 * static struct; the library itself has no such state. */
#ifndef SYNTHMPI_FUZZ_COMMON_H
#define SYNTHMPI_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synthmpi/core.h"

typedef struct fuzz_state {
  int ready;
  sm_ctx ctx;
  char dir[512];  /* scratch folder of this process */
  char path[640]; /* the input file in it */
} fuzz_state;

/* The harness's one state (see the file comment). */
static inline fuzz_state *fuzz_get(void) {
  static fuzz_state st;
  return &st;
}

static inline void fuzz_cleanup(void) {
  fuzz_state *st = fuzz_get();
  if (!st->ready)
    return;
  unlink(st->path);
  rmdir(st->dir);
  sm_ctx_free(&st->ctx);
  MPI_Finalize();
  st->ready = 0;
}

/* MPI as a singleton, a quiet context on MPI_COMM_SELF and a scratch folder named after
 * `file` (the input's file name, e.g. "input.csv"). Returns 0, or -1 when it cannot. */
static inline int fuzz_init(int *argc, char ***argv, const char *file) {
  fuzz_state *st = fuzz_get();
  if (st->ready)
    return 0;
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS)
    return -1;
  if (sm_ctx_init(&st->ctx, MPI_COMM_SELF) != SM_OK)
    return -1;
  st->ctx.log_level = SM_LOG_ERROR - 1; /* nothing: errors are the expected outcome */

  /* scratch folder under TMPDIR */
  const char *tmp = getenv("TMPDIR");
  snprintf(st->dir, sizeof st->dir, "%s/synthmpi-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(st->dir))
    return -1;
  snprintf(st->path, sizeof st->path, "%.500s/%.100s", st->dir, file);
  st->ready = 1;
  atexit(fuzz_cleanup);
  return 0;
}

/* Write the bytes to the scratch file. Returns 0, or -1 on a write failure. */
static inline int fuzz_write(const uint8_t *data, size_t size) {
  FILE *f = fopen(fuzz_get()->path, "wb");
  if (!f)
    return -1;
  size_t n = size > 0 ? fwrite(data, 1, size, f) : 0;
  return fclose(f) == 0 && n == size ? 0 : -1;
}

/* A clean context before each input: no failure carried over. */
static inline sm_ctx *fuzz_ctx(void) {
  sm_ctx *ctx = &fuzz_get()->ctx;
  ctx->status = SM_OK;
  ctx->msg[0] = '\0';
  return ctx;
}

#endif
