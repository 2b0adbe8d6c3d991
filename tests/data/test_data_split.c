/* Holdout split by global row index, value formatting and the schema log. */
#include "csv_fixture.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define N_ROWS 1000

/* A table of N_ROWS rows: id and a category, read from a file written here. */
static int read_ids(sm_ctx *ctx, const char *dir, sm_table *t) {
  static char text[32 * N_ROWS];
  int at = snprintf(text, sizeof text, "id,kind\n");
  for (int i = 0; i < N_ROWS; i++)
    at += snprintf(text + at, sizeof text - (size_t)at, "%d,%s\n", i, i % 3 ? "b" : "a");
  sm_source_spec src = fixture_spec(fixture_write(dir, "ids.csv", text, (size_t)at));
  int rc = sm_read_source(ctx, &src, NULL, t);
  if (rc != SM_OK)
    fprintf(stderr, "%s\n", ctx->msg);
  return rc;
}

/* The rule written out again: row i is held out when its draw is below the fraction. */
static int reference_held(uint64_t seed, int64_t i, double fraction) {
  sm_rng r;
  sm_rng_init(&r, seed, SM_STREAM_HOLDOUT, (uint64_t)i);
  return sm_rng_uniform(&r) < fraction;
}

/* Ids of each part, gathered in global order, are exactly the reference's. */
static void check_split(const sm_table *train, const sm_table *hold, uint64_t seed,
                        double fraction) {
  int ok_train = 0, ok_hold = 0, rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  CHECK(train->n_rows_total + hold->n_rows_total == N_ROWS);
  double *a = fixture_gather(train, 0, &ok_train), *b = fixture_gather(hold, 0, &ok_hold);
  int64_t ia = 0, ib = 0, bad = 0;
  for (int64_t i = 0; rank == 0 && i < N_ROWS; i++) {
    int held = reference_held(seed, i, fraction);
    if (held)
      bad += ib >= hold->n_rows_total || b[ib++] != (double)i;
    else
      bad += ia >= train->n_rows_total || a[ia++] != (double)i;
  }
  if (rank == 0) {
    CHECK(ok_train && ok_hold);
    CHECK(bad == 0);
    CHECK(ia == train->n_rows_total && ib == hold->n_rows_total);
  }
  free(a);
  free(b);
}

static void test_split(sm_ctx *ctx, const char *dir) {
  sm_table all, train, hold;
  if (read_ids(ctx, dir, &all) != SM_OK) {
    CHECK(0);
    return;
  }

  /* 30 %: the exact rows of the reference, a plausible count (5 sigma), schema kept */
  CHECK(sm_split_fraction(ctx, &all, 0.3, 42, &train, &hold) == SM_OK);
  check_split(&train, &hold, 42, 0.3);
  double sigma = sqrt(N_ROWS * 0.3 * 0.7);
  CHECK_CLOSE((double)hold.n_rows_total, 0.3 * N_ROWS, 5 * sigma);
  CHECK(hold.schema.cols[1].n_categories == 2);
  CHECK(strcmp(hold.schema.cols[1].categories[1], "b") == 0);
  ctx->log_level = SM_LOG_INFO;
  sm_schema_log(ctx, &train.schema);
  ctx->log_level = SM_LOG_WARN;
  sm_table_free(&train);
  sm_table_free(&hold);

  /* the edges: nothing or everything held out; a fraction outside [0, 1] */
  CHECK(sm_split_fraction(ctx, &all, 0, 7, &train, &hold) == SM_OK);
  CHECK(hold.n_rows_total == 0 && train.n_rows_total == N_ROWS);
  check_split(&train, &hold, 7, 0);
  sm_table_free(&train);
  sm_table_free(&hold);
  CHECK(sm_split_fraction(ctx, &all, 1, 7, &train, &hold) == SM_OK);
  CHECK(hold.n_rows_total == N_ROWS && train.n_rows_total == 0);
  sm_table_free(&train);
  sm_table_free(&hold);
  CHECK(sm_split_fraction(ctx, &all, 1.5, 7, &train, &hold) == SM_EINPUT);
  sm_table_free(&all);
}

static void check_text(const sm_column *c, double v, const char *want) {
  char buf[128];
  int n = sm_format_value(c, v, buf, sizeof buf);
  if (strcmp(buf, want) != 0 || n != (int)strlen(want))
    fprintf(stderr, "format %.17g: got \"%s\" (%d), want \"%s\"\n", v, buf, n, want);
  CHECK(strcmp(buf, want) == 0 && n == (int)strlen(want));
}

static void test_format(void) {
  char *cats[] = {"a", "b c"};
  sm_column cont = {.name = "x", .type = SM_COL_CONTINUOUS};
  sm_column integer = {.name = "n", .type = SM_COL_INTEGER};
  sm_column cat = {.name = "c", .type = SM_COL_CATEGORICAL, .n_categories = 2, .categories = cats};
  sm_column date = {.name = "d", .type = SM_COL_DATETIME, .datetime_format = "%Y%m%d %H%M"};
  check_text(&cont, 0.1, "0.1");
  check_text(&cont, -0.5, "-0.5");
  check_text(&cont, 1e300, "1e+300");
  check_text(&cont, NAN, "");
  check_text(&integer, 42, "42");
  check_text(&integer, -7, "-7");
  check_text(&integer, 1e15, "1000000000000000");
  check_text(&cat, 1, "b c");
  check_text(&cat, 2, "");
  check_text(&date, 19531.0 * 86400 + 3600, "20230623 0100");

  /* continuous text reads back as the same double, over many magnitudes */
  sm_rng r;
  sm_rng_init(&r, 5, SM_STREAM_TEST, 0);
  int64_t bad = 0;
  for (int i = 0; i < 10000; i++) {
    double v = sm_rng_normal(&r) * pow(10, (int)(sm_rng_uniform(&r) * 60) - 30);
    char buf[64];
    sm_format_value(&cont, v, buf, sizeof buf);
    bad += strtod(buf, NULL) != v;
  }
  CHECK(bad == 0);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_WARN;
  char dir[256];
  fixture_tempdir(dir, sizeof dir);
  CHECK(dir[0] != '\0');
  if (dir[0]) {
    test_split(&ctx, dir);
    const char *const names[] = {"ids.csv"};
    fixture_cleanup(dir, names, 1);
  }
  test_format();
  sm_ctx_free(&ctx);
  return test_finish();
}
