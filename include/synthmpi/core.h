/* synthmpi core: run context, status codes, rank-0 logging and failure agreement.
 *
 * Every function that can fail returns an sm_status and leaves a message in the
 * context (sm_fail). Ranks agree on failure at phase boundaries with sm_agree, which
 * hands the first failing rank's message to every rank, so rank 0 can print one line.
 */
#ifndef SYNTHMPI_CORE_H
#define SYNTHMPI_CORE_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#define SM_VERSION "0.1.0"
#define SM_MSG_MAX 1024

/* Before a hot numeric function: GCC builds it also for AVX2 and AVX-512 and picks the
 * widest the CPU runs, once, at load time. ISO C mode contracts no a * b + c into an FMA
 * and no loop reorders a sum, so every version gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SM_VECTOR_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define SM_VECTOR_CLONES
#endif

/* On a helper of such a function: inlined into each version, so it is built for each. */
#if defined(__GNUC__)
#define SM_INLINE_CLONE static inline __attribute__((always_inline))
#else
#define SM_INLINE_CLONE static inline
#endif

/* Exit codes of the program, also used as status codes inside it. */
typedef enum sm_status {
  SM_OK = 0,          /* done */
  SM_ERR = 1,         /* anything else: library failure, I/O error, bug */
  SM_EINPUT = 2,      /* bad input data or configuration */
  SM_EBUDGET = 3,     /* refused by a privacy budget */
  SM_EINTERRUPTED = 4 /* stopped by a signal after writing a checkpoint: run again to resume */
} sm_status;

/* Log levels: numeric, larger is chattier. */
enum { SM_LOG_ERROR = 0, SM_LOG_WARN = 1, SM_LOG_INFO = 2, SM_LOG_DEBUG = 3 };

/* The run context: one per process, passed to every function. No globals. */
typedef struct sm_ctx {
  MPI_Comm comm;        /* communicator of the job (a duplicate, owned) */
  int rank;             /* rank in comm */
  int size;             /* ranks in comm */
  int log_level;        /* SM_LOG_* */
  int is_tty;           /* stderr is a terminal (progress bars allowed) */
  double t_start;       /* MPI_Wtime at init, for log timestamps */
  sm_status status;     /* last failure recorded on this rank */
  char msg[SM_MSG_MAX]; /* last failure message on this rank */
} sm_ctx;

/* Set up the context on a duplicate of comm; sets MPI_ERRORS_RETURN on it. */
int sm_ctx_init(sm_ctx *ctx, MPI_Comm comm);
void sm_ctx_free(sm_ctx *ctx);

/* Rank-0 log line "synthmpi: ..." at the given level (no newline needed). */
void sm_log(const sm_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Log from any rank (for errors that only this rank can see), prefixed with the rank. */
void sm_log_any(const sm_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record a failure on this rank and return the status (convenience for `return`). */
int sm_fail(sm_ctx *ctx, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Collective: combine the local status of every rank. If any rank failed, every rank
 * returns the status of the lowest failing rank and holds its message in ctx->msg.
 * Returns SM_OK when all ranks succeeded. */
int sm_agree(sm_ctx *ctx, int local_status);

/* Print ctx->msg on rank 0 as "synthmpi: error: <msg>" (collective-free). */
void sm_report_error(const sm_ctx *ctx);

/* Record an MPI failure with file, line and the library's own words. */
int sm_fail_mpi(sm_ctx *ctx, int mpi_rc, const char *call, const char *file, int line);

/* The check macro for MPI calls: on failure record and return SM_ERR. */
#define SM_MPI_CHECK(ctx, call)                                                                    \
  do {                                                                                             \
    int sm_mpi_rc_ = (call);                                                                       \
    if (sm_mpi_rc_ != MPI_SUCCESS)                                                                 \
      return sm_fail_mpi((ctx), sm_mpi_rc_, #call, __FILE__, __LINE__);                            \
  } while (0)

/* Propagate a status: return it when it is not SM_OK. */
#define SM_TRY(expr)                                                                               \
  do {                                                                                             \
    int sm_try_rc_ = (expr);                                                                       \
    if (sm_try_rc_ != SM_OK)                                                                       \
      return sm_try_rc_;                                                                           \
  } while (0)

/* Allocation that records a failure instead of returning NULL silently. */
void *sm_malloc(sm_ctx *ctx, size_t bytes);
void *sm_calloc(sm_ctx *ctx, size_t n, size_t size);
char *sm_strdup(const char *s);

/* Block partition of n items over size ranks: rank r owns [lo, hi). */
void sm_partition(int64_t n, int size, int rank, int64_t *lo, int64_t *hi);

/* Seconds since ctx init. */
double sm_elapsed(const sm_ctx *ctx);

#endif
