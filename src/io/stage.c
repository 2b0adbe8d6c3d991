/* Files written beside their target as <path>.partial and renamed into place. */
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The directory part of path ("." when there is none); malloc'd. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    return sm_strdup(".");
  if (slash == path)
    return sm_strdup("/");
  char *dir = sm_strdup(path);
  if (dir)
    dir[slash - path] = '\0';
  return dir;
}

/* mkdir -p: create dir and its missing parents. Returns 0, or -1 with errno set. */
static int make_dirs(char *dir) {
  struct stat sb;
  if (stat(dir, &sb) == 0) {
    errno = S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
    return S_ISDIR(sb.st_mode) ? 0 : -1;
  }

  /* parents first, then this one (EEXIST: made meanwhile by someone else) */
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = '\0';
    int rc = make_dirs(dir);
    *slash = '/';
    if (rc != 0)
      return -1;
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return -1;
  return 0;
}

/* Rank 0's checks of the target path; the other ranks only agree. */
static int check_target(sm_ctx *ctx, const sm_stage *st, int overwrite) {
  struct stat sb;
  if (st->path[0] == '\0')
    return sm_fail(ctx, SM_EINPUT, "empty output path");
  if (stat(st->path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return sm_fail(ctx, SM_EINPUT, "%s is a directory", st->path);
  if (stat(st->path, &sb) == 0 && !overwrite)
    return sm_fail(ctx, SM_EINPUT, "%s exists (set sampling.overwrite: true to replace it)",
                   st->path);

  /* the directory: create it when missing */
  char *dir = dir_of(st->path);
  if (!dir)
    return sm_fail(ctx, SM_ERR, "out of memory");
  int rc = SM_OK;
  if (make_dirs(dir) != 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: cannot create the output directory (%s)", dir,
                 strerror(errno));

  /* writable: prove it by creating the partial file (a permission check is not enough);
   * a leftover partial is removed first and the new one made afresh, so a link planted
   * under that name cannot send the write outside the output directory */
  if (rc == SM_OK && unlink(st->partial) != 0 && errno != ENOENT)
    rc = sm_fail(ctx, SM_EINPUT, "%s: cannot remove the unfinished file (%s)", st->partial,
                 strerror(errno));
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
  int fd = rc == SM_OK ? open(st->partial, flags, 0666) : -1;
  if (rc == SM_OK && fd < 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: the output directory is not writable (%s)", dir,
                 strerror(errno));
  if (fd >= 0)
    close(fd);
  free(dir);
  return rc;
}

int sm_stage_begin(sm_ctx *ctx, const char *path, int overwrite, sm_stage *st) {
  memset(st, 0, sizeof(*st));
  int rc = SM_OK;

  /* names */
  size_t n = strlen(path);
  st->path = sm_strdup(path);
  st->partial = sm_malloc(ctx, n + sizeof ".partial");
  if (!st->path || !st->partial)
    rc = sm_fail(ctx, SM_ERR, "out of memory");
  else
    snprintf(st->partial, n + sizeof ".partial", "%s.partial", path);

  /* rank 0 looks at the file system; every rank learns the outcome */
  if (rc == SM_OK && ctx->rank == 0)
    rc = check_target(ctx, st, overwrite);
  return sm_agree(ctx, rc);
}

/* fsync a file or directory by path. Returns 0, or -1 with errno set. */
static int sync_path(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

/* Rank 0: make the finished file durable and put it in place. */
static int commit(sm_ctx *ctx, const sm_stage *st) {
  if (sync_path(st->partial) != 0)
    return sm_fail(ctx, SM_ERR, "%s: cannot sync to disk (%s)", st->partial, strerror(errno));
  if (rename(st->partial, st->path) != 0)
    return sm_fail(ctx, SM_ERR, "cannot rename %s to %s (%s)", st->partial, st->path,
                   strerror(errno));

  /* the rename itself is durable once the directory is synced */
  char *dir = dir_of(st->path);
  int rc = SM_OK;
  if (dir && sync_path(dir) != 0 && errno != EINVAL)
    rc = sm_fail(ctx, SM_ERR, "%s: cannot sync the directory (%s)", dir, strerror(errno));
  free(dir);
  return rc;
}

int sm_stage_finish(sm_ctx *ctx, const sm_stage *st, int local_status) {
  int rc = sm_agree(ctx, local_status);

  /* rank 0 renames; a failed rename is a failure of the whole write */
  if (rc == SM_OK) {
    int mine = ctx->rank == 0 ? commit(ctx, st) : SM_OK;
    rc = sm_agree(ctx, mine);
  }

  /* nothing partial survives a failure */
  if (rc != SM_OK && ctx->rank == 0 && st->partial)
    unlink(st->partial);
  return rc;
}

void sm_stage_free(sm_stage *st) {
  if (!st)
    return;
  free(st->path);
  free(st->partial);
  memset(st, 0, sizeof(*st));
}

int sm_io_now_utc(sm_ctx *ctx, char *buf, size_t size) {
  char now[32] = "";
  if (ctx->rank == 0) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  SM_MPI_CHECK(ctx, MPI_Bcast(now, (int)sizeof now, MPI_CHAR, 0, ctx->comm));
  snprintf(buf, size, "%s", now);
  return SM_OK;
}
