/* The real Adult files: row counts, inferred types, dictionaries and every value compared
 * with a plain serial parse done by each rank in the test itself. */
#include "csv_fixture.h"
#include "test_util.h"

#include <ctype.h>

#define ADULT_COLS 15

static const char *const adult_names[ADULT_COLS] = {"age",
                                                    "workclass",
                                                    "fnlwgt",
                                                    "education",
                                                    "education-num",
                                                    "marital-status",
                                                    "occupation",
                                                    "relationship",
                                                    "race",
                                                    "sex",
                                                    "capital-gain",
                                                    "capital-loss",
                                                    "hours-per-week",
                                                    "native-country",
                                                    "income"};

/* The reference: every cell of the file as text, "?" and blanks as NULL. */
typedef struct reference {
  int64_t n_rows;
  char **cells; /* (n_rows, ADULT_COLS) */
} reference;

static char *trimmed_copy(const char *s, size_t n) {
  while (n > 0 && isspace((unsigned char)*s))
    s++, n--;
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  char *c = malloc(n + 1);
  memcpy(c, s, n);
  c[n] = '\0';
  return c;
}

/* Plain fgets/strchr parse (Adult has no quotes); strips a trailing '.' of the label. */
static reference reference_parse(const char *path, int skip, int strip_dot) {
  reference r = {0, NULL};
  FILE *f = fopen(path, "r");
  char line[4096];
  int64_t cap = 0;
  for (int lineno = 0; f && fgets(line, sizeof line, f); lineno++) {
    size_t len = strcspn(line, "\r\n");
    if (lineno < skip || len == 0)
      continue;
    line[len] = '\0';
    if (r.n_rows == cap) {
      cap = cap ? 2 * cap : 4096;
      r.cells = realloc(r.cells, (size_t)(cap * ADULT_COLS) * sizeof(char *));
    }
    const char *s = line;
    for (int j = 0; j < ADULT_COLS; j++) {
      const char *e = strchr(s, ',');
      size_t n = e ? (size_t)(e - s) : strlen(s);
      char *cell = trimmed_copy(s, n);
      if (strip_dot && j == ADULT_COLS - 1 && n > 0 && cell[strlen(cell) - 1] == '.')
        cell[strlen(cell) - 1] = '\0';
      if (strcmp(cell, "?") == 0 || !*cell) {
        free(cell);
        cell = NULL;
      }
      r.cells[r.n_rows * ADULT_COLS + j] = cell;
      s = e ? e + 1 : s + n;
    }
    r.n_rows++;
  }
  if (f)
    fclose(f);
  return r;
}

static void reference_free(reference *r) {
  for (int64_t i = 0; i < r->n_rows * ADULT_COLS; i++)
    free(r->cells[i]);
  free(r->cells);
}

static sm_source_spec adult_spec(const char *path, sm_column_spec *cols) {
  sm_source_spec s = fixture_spec(path);
  s.header = 0;
  s.n_columns = ADULT_COLS;
  s.columns = cols;
  for (int j = 0; j < ADULT_COLS; j++)
    cols[j] = fixture_column(adult_names[j], -1);
  return s;
}

/* Expected value of a reference cell under the table's schema. */
static double expected_value(const sm_column *c, const char *cell) {
  if (!cell)
    return NAN;
  if (sm_coltype_is_discrete(c->type))
    return sm_column_find_category(c, cell);
  return strtod(cell, NULL);
}

/* Every value in global row order equals the reference's; returns mismatches. */
static int64_t compare_with_reference(const sm_table *t, const reference *ref) {
  int rank = 0;
  int64_t bad = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int j = 0; j < ADULT_COLS; j++) {
    int offsets_ok = 0;
    double *all = fixture_gather(t, j, &offsets_ok);
    if (rank != 0)
      continue;
    CHECK(offsets_ok);
    for (int64_t i = 0; i < ref->n_rows && i < t->n_rows_total; i++) {
      double want = expected_value(&t->schema.cols[j], ref->cells[i * ADULT_COLS + j]);
      int same = (isnan(want) && isnan(all[i])) || want == all[i];
      if (!same && bad++ < 5)
        fprintf(stderr, "row %lld column %s: got %g, want %g\n", (long long)i, adult_names[j],
                all[i], want);
    }
    free(all);
  }
  return bad;
}

/* Missing count and dictionary of column j agree with the reference. */
static void check_column(const sm_column *c, const reference *ref, int j) {
  int64_t missing = 0;
  for (int64_t i = 0; i < ref->n_rows; i++)
    missing += ref->cells[i * ADULT_COLS + j] == NULL;
  CHECK(c->n_missing == missing);
  for (int64_t i = 0; sm_coltype_is_discrete(c->type) && i < ref->n_rows; i++) {
    const char *cell = ref->cells[i * ADULT_COLS + j];
    if (cell && sm_column_find_category(c, cell) < 0) {
      fprintf(stderr, "column %s lacks category '%s'\n", c->name, cell);
      CHECK(0);
      break;
    }
  }
  for (int k = 1; k < c->n_categories; k++)
    CHECK(strcmp(c->categories[k - 1], c->categories[k]) < 0);
}

static void test_adult_data(sm_ctx *ctx, sm_table *data) {
  sm_column_spec cols[ADULT_COLS];
  const char *path = test_data("tabular/adult/adult.data");
  sm_source_spec src = adult_spec(path, cols);
  int rc = sm_read_source(ctx, &src, NULL, data);
  if (rc != SM_OK)
    fprintf(stderr, "adult.data: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  if (rc != SM_OK)
    return;

  /* shape and types */
  const sm_schema *s = &data->schema;
  CHECK(data->n_rows_total == 32561);
  CHECK(s->n_cols == ADULT_COLS);
  static const int integer_cols[] = {0, 2, 4, 10, 11, 12};
  for (int k = 0; k < 6; k++)
    CHECK(s->cols[integer_cols[k]].type == SM_COL_INTEGER);
  for (int j = 0; j < ADULT_COLS; j++)
    if (j != 0 && j != 2 && j != 4 && (j < 10 || j > 12))
      CHECK(s->cols[j].type == SM_COL_CATEGORICAL);
  CHECK(s->cols[1].n_categories == 8);
  CHECK(s->cols[14].n_categories == 2);
  CHECK(strcmp(s->cols[14].categories[0], "<=50K") == 0);
  CHECK(strcmp(s->cols[14].categories[1], ">50K") == 0);
  CHECK_CLOSE(s->cols[0].lo, 17, 0);
  CHECK_CLOSE(s->cols[0].hi, 90, 0);

  /* every value against the serial reference */
  reference ref = reference_parse(path, 0, 0);
  CHECK(ref.n_rows == 32561);
  for (int j = 0; j < ADULT_COLS; j++)
    check_column(&s->cols[j], &ref, j);
  int64_t bad = compare_with_reference(data, &ref);
  CHECK(bad == 0);
  reference_free(&ref);
}

static void test_adult_test(sm_ctx *ctx, const sm_table *data) {
  sm_column_spec cols[ADULT_COLS];
  const char *path = test_data("tabular/adult/adult.test");
  sm_source_spec src = adult_spec(path, cols);
  src.skip_lines = 1;
  cols[ADULT_COLS - 1].strip_suffix = ".";
  sm_table t;
  int rc = sm_read_source(ctx, &src, NULL, &t);
  if (rc != SM_OK)
    fprintf(stderr, "adult.test: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  if (rc != SM_OK)
    return;

  /* same labels as the training file, and every value as the reference reads it */
  CHECK(t.n_rows_total == 16281);
  const sm_column *inc = &t.schema.cols[ADULT_COLS - 1], *train_inc = &data->schema.cols[14];
  CHECK(inc->n_categories == train_inc->n_categories);
  for (int k = 0; k < inc->n_categories && k < train_inc->n_categories; k++)
    CHECK(strcmp(inc->categories[k], train_inc->categories[k]) == 0);
  reference ref = reference_parse(path, 1, 1);
  CHECK(ref.n_rows == 16281);
  CHECK(compare_with_reference(&t, &ref) == 0);
  sm_table_free(&t);

  /* against the training schema: the same rows, codes in the training dictionaries */
  rc = sm_read_source(ctx, &src, &data->schema, &t);
  CHECK(rc == SM_OK);
  if (rc == SM_OK) {
    CHECK(t.n_rows_total == 16281);
    CHECK(t.schema.cols[1].n_categories == 8);
    CHECK(compare_with_reference(&t, &ref) == 0);
  }
  sm_table_free(&t);
  reference_free(&ref);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_WARN;
  sm_table data;
  memset(&data, 0, sizeof data);
  test_adult_data(&ctx, &data);
  if (data.values)
    test_adult_test(&ctx, &data);
  sm_table_free(&data);
  sm_ctx_free(&ctx);
  return test_finish();
}
