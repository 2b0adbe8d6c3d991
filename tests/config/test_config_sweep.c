/* sweep: the points of a two-key sweep against nested loops (the stated row-major order),
 * a --set override of a point, and the refused forms, loaded at several rank counts. */
#include <stdio.h>
#include <string.h>

#include "config_files.h"
#include "synthmpi/config.h"
#include "test_util.h"

#define PATH_LEN 4096
#define BASE                                                                                       \
  "version: 1\n"                                                                                   \
  "data: {path: in.csv, columns: [{name: a, type: integer}]}\n"                                    \
  "model: {kind: gaussian_copula}\n"

/* every point's values equal those of nested loops, first key outermost */
static void check_points(sm_ctx *ctx, const char *path) {
  sm_experiment e;
  CHECK(sm_experiment_load(ctx, path, 0, NULL, &e) == SM_OK);
  CHECK(e.sweep.n_keys == 2 && e.sweep.n_points == 6);
  CHECK(!strcmp(e.sweep.keys[0], "sampling.seed") &&
        !strcmp(e.sweep.keys[1], "model.factorization"));
  const char *seeds[] = {"1", "2", "3"}, *kinds[] = {"lapack", "scalapack"};
  int64_t p = 0;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++, p++) {
      const char *s = sm_sweep_value(&e.sweep, p, 0), *k = sm_sweep_value(&e.sweep, p, 1);
      if (!s || !k || strcmp(s, seeds[i]) || strcmp(k, kinds[j])) {
        printf("point %lld: got %s %s, want %s %s\n", (long long)p, s ? s : "(null)",
               k ? k : "(null)", seeds[i], kinds[j]);
        CHECK(0);
      }
    }
  CHECK(sm_sweep_value(&e.sweep, 6, 0) == NULL && sm_sweep_value(&e.sweep, -1, 0) == NULL);
  sm_experiment_free(&e);

  /* a point applied as --set gives the experiment its values */
  char *sets[] = {"sampling.seed=3", "model.factorization=scalapack"};
  CHECK(sm_experiment_load(ctx, path, 2, sets, &e) == SM_OK);
  CHECK(e.sampling.seed == 3 && strstr(e.resolved, "factorization: \"scalapack\""));
  sm_experiment_free(&e);
}

static void expect_refused(sm_ctx *ctx, const char *dir, const char *name, const char *sweep,
                           const char *want) {
  char path[PATH_LEN], text[1024];
  snprintf(text, sizeof text, BASE "%s", sweep);
  tmp_file_write(dir, name, text, path, sizeof path);
  sm_experiment e;
  int rc = sm_experiment_load(ctx, path, 0, NULL, &e);
  if (rc != SM_EINPUT || !strstr(ctx->msg, want)) {
    printf("%s: rc %d, message '%s', want 2 and '%s'\n", name, rc, ctx->msg, want);
    CHECK(0);
  }
  if (rc == SM_OK)
    sm_experiment_free(&e);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  char dir[1024], path[PATH_LEN];
  if (tmp_dir_make(dir, sizeof dir) != 0)
    MPI_Abort(MPI_COMM_WORLD, 1);

  /* without a sweep: one point */
  tmp_file_write(dir, "plain.yaml", BASE, path, sizeof path);
  sm_experiment e;
  CHECK(sm_experiment_load(&ctx, path, 0, NULL, &e) == SM_OK);
  CHECK(e.sweep.n_keys == 0 && e.sweep.n_points == 1);
  sm_experiment_free(&e);

  tmp_file_write(dir, "sweep.yaml",
                 BASE "sweep:\n  sampling.seed: [1, 2, 3]\n"
                      "  model.factorization: [lapack, scalapack]\n",
                 path, sizeof path);
  check_points(&ctx, path);

  expect_refused(&ctx, dir, "scalar.yaml", "sweep: {sampling.seed: 4}\n", "non-empty list");
  expect_refused(&ctx, dir, "empty.yaml", "sweep: {sampling.seed: []}\n", "non-empty list");
  expect_refused(&ctx, dir, "name.yaml", "sweep: {name: [a, b]}\n", "not a setting");
  expect_refused(&ctx, dir, "dots.yaml", "sweep: {sampling..seed: [1]}\n", "not a setting");
  expect_refused(&ctx, dir, "space.yaml", "sweep: {sampling.seed: [\"1 2\"]}\n", "without spaces");
  expect_refused(&ctx, dir, "nested.yaml", "sweep: {sampling.seed: [[1]]}\n", "without spaces");
  expect_refused(&ctx, dir, "list.yaml", "sweep: [1, 2]\n", "sweep");

  tmp_dir_remove(dir);
  sm_ctx_free(&ctx);
  return test_finish();
}
