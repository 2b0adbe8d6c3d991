/* Run context, logging and failure agreement. */
#include "synthmpi/core.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

/* Flush float32 denormals to zero (x86 FTZ and DAZ) on the calling thread. As training
 * converges, Adam's second moments and small gradients underflow into denormals, which
 * the FPU handles about a hundred times slower: a TVAE epoch then takes ten times longer.
 * Only values below 1.2e-38 change, the same way on every rank. */
static void flush_denormals(void) {
#if defined(__SSE__)
  _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
}

int sm_ctx_init(sm_ctx *ctx, MPI_Comm comm) {
  flush_denormals();
  memset(ctx, 0, sizeof(*ctx));
  ctx->log_level = SM_LOG_INFO;
  ctx->is_tty = isatty(STDERR_FILENO);

  /* errors come back as codes so the check macros can report them */
  if (MPI_Comm_dup(comm, &ctx->comm) != MPI_SUCCESS)
    return SM_ERR;
  MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(ctx->comm, &ctx->rank);
  MPI_Comm_size(ctx->comm, &ctx->size);
  ctx->t_start = MPI_Wtime();

  /* SYNTHMPI_LOG overrides the default level (0..3) */
  const char *env = getenv("SYNTHMPI_LOG");
  if (env && *env >= '0' && *env <= '3')
    ctx->log_level = *env - '0';
  return SM_OK;
}

void sm_ctx_free(sm_ctx *ctx) {
  if (ctx->comm != MPI_COMM_NULL && ctx->comm != 0)
    MPI_Comm_free(&ctx->comm);
}

static void log_line(const char *prefix, const char *fmt, va_list ap) {
  char line[2 * SM_MSG_MAX];
  int n = snprintf(line, sizeof line, "synthmpi: %s", prefix);
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);

  /* one write per line so ranks' lines do not interleave mid-line */
  size_t len = strlen(line);
  if (len + 1 < sizeof line) {
    line[len++] = '\n';
    line[len] = '\0';
  }
  fputs(line, stderr);
  fflush(stderr);
}

void sm_log(const sm_ctx *ctx, int level, const char *fmt, ...) {
  if (ctx->rank != 0 || level > ctx->log_level)
    return;
  va_list ap;
  va_start(ap, fmt);
  log_line(level == SM_LOG_WARN ? "warning: " : "", fmt, ap);
  va_end(ap);
}

void sm_log_any(const sm_ctx *ctx, const char *fmt, ...) {
  char prefix[32];
  snprintf(prefix, sizeof prefix, "[rank %d] ", ctx->rank);
  va_list ap;
  va_start(ap, fmt);
  log_line(prefix, fmt, ap);
  va_end(ap);
}

int sm_fail(sm_ctx *ctx, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
  va_end(ap);
  ctx->status = status;
  return status;
}

int sm_fail_mpi(sm_ctx *ctx, int mpi_rc, const char *call, const char *file, int line) {
  char words[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(mpi_rc, words, &len) != MPI_SUCCESS)
    snprintf(words, sizeof words, "MPI error %d", mpi_rc);
  return sm_fail(ctx, SM_ERR, "%s:%d: %s failed: %s", file, line, call, words);
}

int sm_agree(sm_ctx *ctx, int local_status) {
  /* the lowest failing rank speaks for the job */
  int mine = local_status != SM_OK ? ctx->rank : ctx->size;
  int speaker = ctx->size;
  if (MPI_Allreduce(&mine, &speaker, 1, MPI_INT, MPI_MIN, ctx->comm) != MPI_SUCCESS) {
    /* agreement itself failed: nothing collective can be trusted any more */
    fprintf(stderr, "synthmpi: [rank %d] error: failure agreement broke down\n", ctx->rank);
    MPI_Abort(MPI_COMM_WORLD, SM_ERR);
  }
  if (speaker == ctx->size)
    return SM_OK;

  /* hand the speaker's status and message to everyone */
  int status = local_status;
  MPI_Bcast(&status, 1, MPI_INT, speaker, ctx->comm);
  MPI_Bcast(ctx->msg, SM_MSG_MAX, MPI_CHAR, speaker, ctx->comm);
  ctx->status = status;
  return status;
}

void sm_report_error(const sm_ctx *ctx) {
  if (ctx->rank != 0)
    return;
  fprintf(stderr, "synthmpi: error: %s\n", ctx->msg[0] ? ctx->msg : "unknown failure");
  fflush(stderr);
}

void *sm_malloc(sm_ctx *ctx, size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p)
    sm_fail(ctx, SM_ERR, "out of memory allocating %zu bytes", bytes);
  return p;
}

void *sm_calloc(sm_ctx *ctx, size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    sm_fail(ctx, SM_ERR, "out of memory allocating %zu x %zu bytes", n, size);
  return p;
}

char *sm_strdup(const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p)
    memcpy(p, s, n);
  return p;
}

void sm_partition(int64_t n, int size, int rank, int64_t *lo, int64_t *hi) {
  /* first (n % size) ranks get one extra item */
  int64_t base = n / size, extra = n % size;
  *lo = rank * base + (rank < extra ? rank : extra);
  *hi = *lo + base + (rank < extra ? 1 : 0);
}

double sm_elapsed(const sm_ctx *ctx) {
  return MPI_Wtime() - ctx->t_start;
}
