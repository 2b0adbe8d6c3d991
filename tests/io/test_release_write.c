/* The release writer: the data on disk are the model's values, byte for byte, whatever
 * the number of ranks, the chunking or the compression. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "synthmpi/release.h"
#include "test_util.h"
#include "testmodel.h"

#define SEED 20240611ULL
#define SCALE 3.0
/* Checksum of the 100003-row release at SEED, recorded from a one-rank run: every rank
 * count must reproduce it (it changes only if the test model or Philox changes). */
#define RECORDED_CHECKSUM 0x820c48070b194279ULL

/* Write a release of rows with the given layout; returns the writer's status. */
static int write_release(sm_ctx *ctx, const char *path, int64_t rows, int64_t chunk,
                         int compression) {
  sm_model m;
  sm_experiment e;
  test_model_make(&m, SCALE, -1);
  test_experiment(&e, rows, SEED, chunk, compression);
  int rc = sm_release_write(ctx, &e, &m, path);
  if (rc != SM_OK)
    sm_report_error(ctx);
  test_experiment_free(&e);
  sm_model_free(&m);
  return rc;
}

/* Rank 0 reads the file serially and compares with the model; returns the checksum. */
static uint64_t check_serial(const sm_ctx *ctx, const char *path, int64_t rows) {
  uint64_t sum = 0;
  if (ctx->rank == 0) {
    long bad = test_check_release(path, SEED, rows, SCALE, &sum);
    printf("%s: %lld rows, %ld mismatches, checksum %016llx\n", path, (long long)rows, bad,
           (unsigned long long)sum);
    CHECK(bad == 0);
    char partial[4200];
    snprintf(partial, sizeof partial, "%s.partial", path);
    CHECK(!test_exists(partial));
  }
  MPI_Bcast(&sum, 1, MPI_UINT64_T, 0, ctx->comm);
  return sum;
}

/* The root attributes say what was written and by how many ranks. */
static void check_attributes(sm_ctx *ctx, const char *path, int64_t rows, int ranks) {
  hid_t f = sm_h5_open(ctx, path, 0);
  CHECK(f >= 0);
  char *format = NULL, *model = NULL, *schema = NULL;
  int64_t got_rows = -1, got_ranks = -1, seed = 0, version = 0;
  CHECK(sm_h5_get_attr_str(ctx, f, "format", &format) == SM_OK);
  CHECK(format && strcmp(format, "synthmpi-release") == 0);
  CHECK(sm_h5_get_attr_str(ctx, f, "model", &model) == SM_OK);
  CHECK(model && strcmp(model, "io_test_model") == 0);
  CHECK(sm_h5_get_attr_str(ctx, f, "schema", &schema) == SM_OK);
  CHECK(schema && strstr(schema, "\"price, usd\""));
  CHECK(sm_h5_get_attr_i64(ctx, f, "rows", &got_rows) == SM_OK && got_rows == rows);
  CHECK(sm_h5_get_attr_i64(ctx, f, "ranks", &got_ranks) == SM_OK && got_ranks == ranks);
  CHECK(sm_h5_get_attr_i64(ctx, f, "seed", &seed) == SM_OK && (uint64_t)seed == SEED);
  CHECK(sm_h5_get_attr_i64(ctx, f, "format_version", &version) == SM_OK && version == 1);
  free(format);
  free(model);
  free(schema);
  H5Fclose(f);
}

/* A communicator of all ranks but the last (all ranks when there is one). */
static int make_smaller(sm_ctx *ctx, sm_ctx *sub) {
  int color = (ctx->size == 1 || ctx->rank < ctx->size - 1) ? 0 : MPI_UNDEFINED;
  MPI_Comm comm;
  MPI_Comm_split(ctx->comm, color, ctx->rank, &comm);
  if (comm == MPI_COMM_NULL)
    return 0;
  sm_ctx_init(sub, comm);
  MPI_Comm_free(&comm);
  return 1;
}

int main(int argc, char **argv) {
  sm_ctx ctx;
  char *dir = test_io_begin(&argc, &argv, &ctx);
  CHECK(dir != NULL);

  /* an odd number of rows, compressed, chunks that do not divide the blocks */
  const int64_t rows = 100003;
  const char *big = test_path(0, dir, "release.h5");
  CHECK(write_release(&ctx, big, rows, 4096, 1) == SM_OK);
  uint64_t reference = check_serial(&ctx, big, rows);
  CHECK(reference == RECORDED_CHECKSUM);
  check_attributes(&ctx, big, rows, ctx.size);

  /* the same data uncompressed with other chunks */
  const char *plain = test_path(1, dir, "plain.h5");
  CHECK(write_release(&ctx, plain, rows, 1000, 0) == SM_OK);
  CHECK(check_serial(&ctx, plain, rows) == reference);

  /* and written by one rank fewer */
  sm_ctx sub;
  const char *fewer = test_path(2, dir, "fewer.h5");
  if (make_smaller(&ctx, &sub)) {
    CHECK(write_release(&sub, fewer, rows, 4096, 1) == SM_OK);
    check_attributes(&sub, fewer, rows, sub.size);
    sm_ctx_free(&sub);
  }
  MPI_Barrier(ctx.comm);
  CHECK(check_serial(&ctx, fewer, rows) == reference);

  /* fewer rows than ranks, and an empty release that is still a valid file */
  const char *tiny = test_path(0, dir, "tiny.h5");
  CHECK(write_release(&ctx, tiny, 2, 4096, 1) == SM_OK);
  check_serial(&ctx, tiny, 2);
  const char *empty = test_path(1, dir, "empty.h5");
  CHECK(write_release(&ctx, empty, 0, 4096, 1) == SM_OK);
  check_serial(&ctx, empty, 0);
  check_attributes(&ctx, empty, 0, ctx.size);
  sm_table t;
  int rc = sm_release_read(&ctx, empty, &t);
  if (rc != SM_OK)
    sm_report_error(&ctx);
  CHECK(rc == SM_OK);
  CHECK(t.n_rows == 0 && t.n_rows_total == 0 && t.schema.n_cols == TEST_COLS);
  sm_table_free(&t);

  test_io_end(&ctx, dir);
  return test_finish();
}
