/* Failures of the release writer and readers: the right status on every rank, the target
 * untouched, and no partial file left behind. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "io/io.h"
#include "synthmpi/release.h"
#include "test_util.h"
#include "testmodel.h"

/* Write a small release; fail_row >= 0 makes the model fail there. */
static int try_write(sm_ctx *ctx, const char *path, uint64_t seed, int overwrite,
                     int64_t fail_row) {
  sm_model m;
  sm_experiment e;
  test_model_make(&m, 1.0, fail_row);
  test_experiment(&e, 5003, seed, 500, 1);
  e.sampling.overwrite = overwrite;
  int rc = sm_release_write(ctx, &e, &m, path);
  if (rc != SM_OK && ctx->rank == 0)
    printf("  (expected) %s\n", ctx->msg);
  test_experiment_free(&e);
  sm_model_free(&m);
  return rc;
}

/* Every rank must hold the same status. */
static void check_same(const sm_ctx *ctx, int rc) {
  int lo = rc, hi = rc;
  MPI_Allreduce(&rc, &lo, 1, MPI_INT, MPI_MIN, ctx->comm);
  MPI_Allreduce(&rc, &hi, 1, MPI_INT, MPI_MAX, ctx->comm);
  CHECK(lo == hi);
}

static int rank0_exists(const sm_ctx *ctx, const char *path) {
  int e = ctx->rank == 0 ? test_exists(path) : 0;
  MPI_Bcast(&e, 1, MPI_INT, 0, ctx->comm);
  return e;
}

/* An existing release is kept unless overwrite is set. */
static void test_overwrite(sm_ctx *ctx, const char *dir) {
  const char *path = test_path(0, dir, "rel.h5");
  CHECK(try_write(ctx, path, 1, 0, -1) == SM_OK);
  uint64_t before = ctx->rank == 0 ? test_file_hash(path) : 0;
  int rc = try_write(ctx, path, 2, 0, -1);
  check_same(ctx, rc);
  CHECK(rc == SM_EINPUT);
  CHECK(strstr(ctx->msg, "exists (set sampling.overwrite: true") != NULL);
  if (ctx->rank == 0)
    CHECK(test_file_hash(path) == before);
  CHECK(!rank0_exists(ctx, test_path(1, dir, "rel.h5.partial")));

  /* with overwrite the new release replaces it */
  CHECK(try_write(ctx, path, 2, 1, -1) == SM_OK);
  if (ctx->rank == 0)
    CHECK(test_file_hash(path) != before);
}

/* Paths that cannot be written: SM_EINPUT naming the directory, nothing created. */
static void test_unwritable(sm_ctx *ctx, const char *dir) {
  const char *file = test_path(0, dir, "file.txt");
  if (ctx->rank == 0) {
    FILE *f = fopen(file, "w");
    fputs("not a directory\n", f);
    fclose(f);
  }
  MPI_Barrier(ctx->comm);
  char path[4200];
  snprintf(path, sizeof path, "%s/sub/out.h5", file);
  int rc = try_write(ctx, path, 1, 0, -1);
  check_same(ctx, rc);
  CHECK(rc == SM_EINPUT);
  CHECK(strstr(ctx->msg, "file.txt") != NULL);
  snprintf(path, sizeof path, "%s/sub", file);
  CHECK(!rank0_exists(ctx, path));

  /* /proc does not take new files, even from root */
  rc = try_write(ctx, "/proc/synthmpi-io-test/out.h5", 1, 0, -1);
  check_same(ctx, rc);
  CHECK(rc == SM_EINPUT);
  CHECK(!rank0_exists(ctx, "/proc/synthmpi-io-test"));
  rc = try_write(ctx, "/proc/synthmpi-io-test.h5", 1, 0, -1);
  check_same(ctx, rc);
  CHECK(rc == SM_EINPUT);
  CHECK(strstr(ctx->msg, "/proc: the output directory is not writable") != NULL);

  /* a missing directory is created */
  const char *nested = test_path(1, dir, "a/b/c/out.h5");
  CHECK(try_write(ctx, nested, 1, 0, -1) == SM_OK);
  CHECK(rank0_exists(ctx, nested));
}

/* A model failing on one rank: every rank fails, no file and no partial file remain. */
static void test_model_failure(sm_ctx *ctx, const char *dir) {
  const char *path = test_path(0, dir, "failed.h5");
  int rc = try_write(ctx, path, 1, 0, 4999);
  check_same(ctx, rc);
  CHECK(rc == SM_ERR);
  CHECK(strstr(ctx->msg, "asked to fail at row 4999") != NULL);
  CHECK(!rank0_exists(ctx, path));
  CHECK(!rank0_exists(ctx, test_path(1, dir, "failed.h5.partial")));

  /* a column name HDF5 cannot hold is refused before any work */
  sm_model m;
  sm_experiment e;
  test_model_make(&m, 1.0, -1);
  test_experiment(&e, 10, 1, 5, 0);
  free(m.schema.cols[0].name);
  m.schema.cols[0].name = sm_strdup("a/b");
  const char *slash = test_path(2, dir, "slash.h5");
  rc = sm_release_write(ctx, &e, &m, slash);
  CHECK(rc == SM_EINPUT);
  CHECK(!rank0_exists(ctx, slash));
  test_experiment_free(&e);
  sm_model_free(&m);
}

/* Readers refuse what is not a finished release. */
static void test_not_a_release(sm_ctx *ctx, const char *dir) {
  sm_table t;
  const char *rel = test_path(0, dir, "rel.h5");
  const char *partial = test_path(1, dir, "copy.h5.partial");
  if (ctx->rank == 0) {
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", rel, partial);
    CHECK(system(cmd) == 0);
  }
  MPI_Barrier(ctx->comm);
  CHECK(sm_release_read(ctx, partial, &t) == SM_EINPUT);
  CHECK(strstr(ctx->msg, ".partial") != NULL);
  CHECK(sm_release_read(ctx, test_path(2, dir, "file.txt"), &t) == SM_EINPUT);
  CHECK(sm_release_read(ctx, test_path(2, dir, "missing.h5"), &t) == SM_EINPUT);

  /* a model file is not a release, and a release is not a model file */
  sm_model m, loaded;
  test_model_make(&m, 1.0, -1);
  const char *model = test_path(3, dir, "model.h5");
  CHECK(sm_model_save(ctx, &m, NULL, model) == SM_OK);
  CHECK(sm_release_read(ctx, model, &t) == SM_EINPUT);
  CHECK(sm_model_load(ctx, rel, &loaded) == SM_EINPUT);
  CHECK(strstr(ctx->msg, "not a synthmpi model file") != NULL);

  /* a kind the registry does not know */
  CHECK(sm_model_load(ctx, model, &loaded) == SM_EINPUT);
  CHECK(strstr(ctx->msg, "io_test_model") != NULL);

  /* a state its model cannot read: the model's message, after the file's name */
  hid_t f = sm_h5_open(ctx, model, 1);
  CHECK(H5Ldelete(f, "model/scale", H5P_DEFAULT) >= 0);
  H5Fclose(f);
  CHECK(sm_model_load_ops(ctx, model, &test_model_ops, &loaded) != SM_OK);
  if (ctx->rank == 0)
    printf("unreadable state: %s\n", ctx->msg);
  CHECK(strncmp(ctx->msg, model, strlen(model)) == 0 && strstr(ctx->msg, "scale") != NULL);
  sm_model_free(&m);
}

int main(int argc, char **argv) {
  sm_ctx ctx;
  char *dir = test_io_begin(&argc, &argv, &ctx);
  CHECK(dir != NULL);

  test_overwrite(&ctx, dir);
  test_unwritable(&ctx, dir);
  test_model_failure(&ctx, dir);
  test_not_a_release(&ctx, dir);

  test_io_end(&ctx, dir);
  return test_finish();
}
