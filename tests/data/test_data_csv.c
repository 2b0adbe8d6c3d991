/* The CSV reader on small crafted files: quoting across rank boundaries, line ends, blank
 * lines, dictionaries, types, errors and their line numbers, at every rank count. */
#include "csv_fixture.h"
#include "test_util.h"

#include <stdarg.h>

static char dir[256];

/* Write text as t.csv and return its path. */
static const char *put(const char *text) {
  return fixture_write(dir, "t.csv", text, strlen(text));
}

/* Read expecting success; prints the message otherwise. */
static int read_ok(sm_ctx *ctx, const sm_source_spec *src, const sm_schema *fixed, sm_table *t) {
  int rc = sm_read_source(ctx, src, fixed, t);
  if (rc != SM_OK)
    fprintf(stderr, "unexpected failure: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  return rc == SM_OK;
}

/* Read expecting SM_EINPUT with a message containing the formatted text, on every rank. */
static void read_fails(sm_ctx *ctx, const sm_source_spec *src, const char *fmt, ...) {
  char want[SM_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(want, sizeof want, fmt, ap);
  va_end(ap);
  sm_table t;
  int rc = sm_read_source(ctx, src, NULL, &t);
  if (rc != SM_EINPUT || !strstr(ctx->msg, want))
    fprintf(stderr, "want error containing \"%s\", got %d \"%s\"\n", want, rc, ctx->msg);
  CHECK(rc == SM_EINPUT);
  CHECK(strstr(ctx->msg, want) != NULL);
  CHECK(fixture_same_everywhere(rc, ctx->msg));
  CHECK(t.values == NULL);
}

/* Text of the value of column j at global row i (gathered to rank 0; "" elsewhere). */
static void value_at(const sm_table *t, int j, int64_t i, char *buf, int size) {
  int ok = 0, rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  double *all = fixture_gather(t, j, &ok);
  buf[0] = '\0';
  if (rank == 0) {
    CHECK(ok);
    sm_format_value(&t->schema.cols[j], all[i], buf, size);
  }
  MPI_Bcast(buf, size, MPI_CHAR, 0, MPI_COMM_WORLD);
  free(all);
}

/* A file of n rows "i,text,tag" with row k's text spanning three lines. */
static int multiline_file(char *text, size_t size, int n, int k, int ragged) {
  int at = snprintf(text, size, "id,note,tag\n");
  for (int i = 0; i < n; i++) {
    if (i == k)
      at += snprintf(text + at, size - (size_t)at, "%d,\"two\nlines, \"\"quoted\"\"\n\",m\n", i);
    else if (i == ragged)
      at += snprintf(text + at, size - (size_t)at, "%d,short\n", i);
    else
      at += snprintf(text + at, size - (size_t)at, "%d,plain%d,t\n", i, i % 3);
  }
  return at;
}

/* Sweep a quoted field with newlines over every row, so that it straddles each rank's
 * range boundary at some position; ids and the field's text must come back whole. */
static void test_quoted_newlines(sm_ctx *ctx) {
  const int n = 12;
  char text[2048], got[256];
  for (int k = 0; k < n; k++) {
    multiline_file(text, sizeof text, n, k, -1);
    sm_source_spec src = fixture_spec(put(text));
    sm_table t;
    if (!read_ok(ctx, &src, NULL, &t))
      continue;
    CHECK(t.n_rows_total == n);
    int ok = 0;
    double *ids = fixture_gather(&t, 0, &ok);
    for (int i = 0; ids && i < n; i++)
      CHECK(ids[i] == i);
    free(ids);
    value_at(&t, 1, k, got, sizeof got);
    CHECK(strcmp(got, "two\nlines, \"quoted\"\n") == 0);
    value_at(&t, 2, k, got, sizeof got);
    CHECK(strcmp(got, "m") == 0);
    sm_table_free(&t);
  }
}

/* Ragged rows and unbalanced quotes after a multi-line field: the line numbers. */
static void test_error_lines(sm_ctx *ctx) {
  const int n = 12;
  char text[2048];
  for (int k = 0; k < n; k++) {
    /* row i starts on line 2 + i, two more after the multi-line row */
    int ragged = (k + 5) % n;
    multiline_file(text, sizeof text, n, k, ragged);
    sm_source_spec src = fixture_spec(put(text));
    int line = 2 + ragged + (ragged > k ? 2 : 0);
    read_fails(ctx, &src, "t.csv:%d: expected 3 fields, found 2", line);

    /* a quote opened on row k's line and never closed */
    int at = snprintf(text, sizeof text, "id,note,tag\n");
    for (int i = 0; i < n; i++)
      at += snprintf(text + at, sizeof text - (size_t)at, i == k ? "%d,\"open,t\n" : "%d,x,t\n", i);
    src = fixture_spec(put(text));
    read_fails(ctx, &src, "t.csv:%d: unbalanced quote", 2 + k);
  }
}

/* BOM, CRLF, blank lines (also at the end), doubled quotes, a delimiter inside quotes. */
static void test_line_ends(sm_ctx *ctx) {
  sm_source_spec src = fixture_spec(put("\xEF\xBB\xBFname,val\r\n\r\n\"a \"\"x\"\"\",1\r\n"
                                        "\r\nb,2\r\n\n\"c,d\" , 3\r\n\r\n\n"));
  sm_table t;
  if (!read_ok(ctx, &src, NULL, &t))
    return;
  const sm_column *name = &t.schema.cols[0];
  CHECK(t.n_rows_total == 3);
  CHECK(strcmp(name->name, "name") == 0);
  CHECK(strcmp(t.schema.cols[1].name, "val") == 0);
  CHECK(t.schema.cols[1].type == SM_COL_INTEGER);
  CHECK(name->n_categories == 3);
  CHECK(name->n_categories == 3 && strcmp(name->categories[0], "a \"x\"") == 0);
  CHECK(name->n_categories == 3 && strcmp(name->categories[2], "c,d") == 0);
  char got[64];
  value_at(&t, 1, 2, got, sizeof got);
  CHECK(strcmp(got, "3") == 0);
  sm_table_free(&t);
}

/* A category only the last row (the last rank) sees gets one code on every rank. */
static void test_category_on_last_rank(sm_ctx *ctx) {
  char text[2048];
  int at = snprintf(text, sizeof text, "i,cat\n");
  for (int i = 0; i < 29; i++)
    at += snprintf(text + at, sizeof text - (size_t)at, "%d,%s\n", i, i % 2 ? "mmm" : "aaa");
  snprintf(text + at, sizeof text - (size_t)at, "29,zzz\n");
  sm_source_spec src = fixture_spec(put(text));
  sm_table t;
  if (!read_ok(ctx, &src, NULL, &t))
    return;
  const sm_column *cat = &t.schema.cols[1];
  CHECK(cat->n_categories == 3);
  char joined[64] = "";
  for (int k = 0; k < cat->n_categories; k++)
    strncat(joined, cat->categories[k], sizeof joined - strlen(joined) - 1);
  CHECK(strcmp(joined, "aaammmzzz") == 0);
  CHECK(fixture_same_everywhere(0, joined));
  char got[64];
  value_at(&t, 1, 29, got, sizeof got);
  CHECK(strcmp(got, "zzz") == 0);
  sm_table_free(&t);
}

/* One data row whatever the number of ranks. */
static void test_one_row(sm_ctx *ctx) {
  sm_source_spec src = fixture_spec(put("x,y\n1,a\n"));
  sm_table t;
  if (!read_ok(ctx, &src, NULL, &t))
    return;
  int64_t sum = 0, n = t.n_rows;
  MPI_Allreduce(&n, &sum, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK(t.n_rows_total == 1 && sum == 1);
  CHECK(t.row_offset == (ctx->rank == 0 ? 0 : 1));
  CHECK(t.schema.cols[1].n_categories == 1);
  sm_table_free(&t);
}

/* Files without data rows, and no file at all. */
static void test_no_rows(sm_ctx *ctx) {
  sm_source_spec src = fixture_spec(put("x,y\n"));
  read_fails(ctx, &src, "%s: no data rows", src.path);
  src = fixture_spec(put("x,y"));
  read_fails(ctx, &src, "%s: no data rows", src.path);
  src = fixture_spec(put("x,y\n\n\r\n\n"));
  read_fails(ctx, &src, "%s: no data rows", src.path);
  src = fixture_spec(put(""));
  read_fails(ctx, &src, "%s: empty file", src.path);
  char missing[300];
  snprintf(missing, sizeof missing, "%s/absent.csv", dir);
  src = fixture_spec(missing);
  read_fails(ctx, &src, "%s: cannot open", missing);
}

/* Declared numeric columns: text, NaN and Inf are errors naming line and column. */
static void test_bad_numbers(sm_ctx *ctx) {
  char text[2048];
  int at = snprintf(text, sizeof text, "age,w\n");
  for (int i = 0; i < 20; i++)
    at += snprintf(text + at, sizeof text - (size_t)at, "%s,1\n", i == 15 ? "abc" : "42");
  sm_column_spec cols[1] = {fixture_column("age", SM_COL_INTEGER)};
  sm_source_spec src = fixture_spec(put(text));
  src.n_columns = 1;
  src.columns = cols;
  read_fails(ctx, &src, "t.csv:17: column 'age': 'abc' is not an integer");

  /* integers are held as doubles: 2^53 is exact and allowed, 2^53 + 1 is refused */
  src.path = (char *)put("age,w\n9007199254740992,1\n-9007199254740993,1\n");
  read_fails(ctx, &src, "t.csv:3: column 'age': '-9007199254740993' is not an integer between");

  /* NaN and infinity in a declared continuous column; 1e300 is fine */
  cols[0] = fixture_column("x", SM_COL_CONTINUOUS);
  src = fixture_spec(put("x\n1.5\n1e300\nnan\n"));
  src.n_columns = 1;
  src.columns = cols;
  read_fails(ctx, &src, "t.csv:4: column 'x': 'nan' is not a finite number");
  src.path = (char *)put("x\n1.5\n-inf\n1e300\n");
  read_fails(ctx, &src, "t.csv:3: column 'x': '-inf' is not a finite number");
  src.path = (char *)put("x\n1.5\n1e300\n");
  sm_table t;
  if (read_ok(ctx, &src, NULL, &t)) {
    CHECK(t.schema.cols[0].hi == 1e300);
    sm_table_free(&t);
  }
}

/* Types inferred across ranks; missing tokens; an all-missing column is refused (no model
 * can be fitted to it). */
static void test_inference(sm_ctx *ctx) {
  sm_source_spec src = fixture_spec(put("i,c,k,m\n1,2.5,a,?\n-2,1e300,1,\n+3,4,b,?\n"
                                        "007,-0.5,2,?\n5,nan,3,\n"));
  sm_table t;
  read_fails(ctx, &src, "%s:1: column 'm' has no values (all 5 rows are missing)", src.path);
  src.path = (char *)put("i,c,k,m\n1,2.5,a,?\n-2,1e300,1,\n+3,4,b,?\n"
                         "007,-0.5,2,?\n5,nan,3,x\n");
  if (!read_ok(ctx, &src, NULL, &t))
    return;
  const sm_column *c = t.schema.cols;
  CHECK(c[0].type == SM_COL_INTEGER);
  CHECK_CLOSE(c[0].lo, -2, 0);
  CHECK_CLOSE(c[0].hi, 7, 0);
  CHECK(c[1].type == SM_COL_CATEGORICAL); /* "nan" is text, not a number */
  CHECK(c[1].n_categories == 5);
  CHECK(c[2].type == SM_COL_CATEGORICAL && c[2].n_categories == 5);
  CHECK(c[3].type == SM_COL_CATEGORICAL && c[3].n_categories == 1);
  CHECK(c[3].n_missing == 4);
  sm_table_free(&t);

  /* numbers with a decimal point or exponent are continuous */
  src.path = (char *)put("c\n2.5\n1e300\n4\n-0.5\n");
  if (read_ok(ctx, &src, NULL, &t)) {
    CHECK(t.schema.cols[0].type == SM_COL_CONTINUOUS);
    CHECK_CLOSE(t.schema.cols[0].lo, -0.5, 0);
    CHECK(t.schema.cols[0].hi == 1e300);
    sm_table_free(&t);
  }
}

/* Datetimes parsed with the declared format, as seconds since the epoch (UTC). */
static void test_dates(sm_ctx *ctx) {
  sm_column_spec cols[2] = {fixture_column("d", SM_COL_DATETIME),
                            fixture_column("t", SM_COL_DATETIME)};
  cols[0].format = "%Y%m%d";
  cols[1].format = "%Y-%m-%d %H:%M:%S";
  sm_source_spec src = fixture_spec(put("d,t\n20230623,2023-06-23 12:30:05\n"
                                        "19700101,1970-01-01 00:00:00\n"));
  src.n_columns = 2;
  src.columns = cols;
  sm_table t;
  char got[64];
  if (read_ok(ctx, &src, NULL, &t)) {
    /* 2023-06-23 is day 19531 of the epoch */
    CHECK_CLOSE(t.schema.cols[0].hi, 19531.0 * 86400, 0);
    CHECK_CLOSE(t.schema.cols[0].lo, 0, 0);
    CHECK_CLOSE(t.schema.cols[1].hi, 19531.0 * 86400 + 12 * 3600 + 30 * 60 + 5, 0);
    value_at(&t, 0, 0, got, sizeof got);
    CHECK(strcmp(got, "20230623") == 0);
    value_at(&t, 1, 0, got, sizeof got);
    CHECK(strcmp(got, "2023-06-23 12:30:05") == 0);
    sm_table_free(&t);
  }
  src.path = (char *)put("d,t\n20230623,2023-06-23 12:30:05\n2023-06-24,2023-06-23 12:30:05\n");
  read_fails(ctx, &src, "t.csv:3: column 'd': '2023-06-24' does not match");
}

/* Booleans in any spelling; the dictionary is false, true. */
static void test_booleans(sm_ctx *ctx) {
  sm_column_spec cols[1] = {fixture_column("b", SM_COL_BOOLEAN)};
  sm_source_spec src = fixture_spec(put("b\ntrue\nFalse\nYES\nno\nT\nf\n1\n0\n"));
  src.n_columns = 1;
  src.columns = cols;
  sm_table t;
  if (read_ok(ctx, &src, NULL, &t)) {
    const sm_column *b = &t.schema.cols[0];
    CHECK(b->n_categories == 2 && strcmp(b->categories[0], "false") == 0 &&
          strcmp(b->categories[1], "true") == 0);
    int ok = 0;
    double *v = fixture_gather(&t, 0, &ok);
    for (int i = 0; v && i < 8; i++)
      CHECK(v[i] == (i % 2 ? 0 : 1));
    free(v);
    sm_table_free(&t);
  }
  src.path = (char *)put("b\ntrue\nmaybe\n");
  read_fails(ctx, &src, "t.csv:3: column 'b': 'maybe' is not a boolean");
}

/* Declared domains, value mapping, and a holdout read against a training schema. */
static void test_domains_and_mapping(sm_ctx *ctx) {
  sm_column_spec cols[2] = {fixture_column("n", SM_COL_INTEGER),
                            fixture_column("s", SM_COL_CATEGORICAL)};
  char *domain[] = {"female", "male", "other"}, *from[] = {"M", "F"}, *to[] = {"male", "female"};
  cols[0].has_domain = 1, cols[0].lo = 0, cols[0].hi = 10;
  cols[1].n_domain_categories = 3, cols[1].domain_categories = domain;
  cols[1].strip_suffix = ".", cols[1].n_replace = 2;
  cols[1].replace_from = from, cols[1].replace_to = to;
  sm_source_spec src = fixture_spec(put("n,s\n1,M.\n2,F\n3,male\n"));
  src.n_columns = 2;
  src.columns = cols;
  sm_table train, t;
  if (!read_ok(ctx, &src, NULL, &train))
    return;
  CHECK(train.schema.cols[0].has_domain && train.schema.cols[0].hi == 10);
  CHECK(train.schema.cols[1].n_categories == 3);
  int ok = 0;
  double *v = fixture_gather(&train, 1, &ok);
  CHECK(!v || (v[0] == 1 && v[1] == 0 && v[2] == 1));
  free(v);

  /* values outside the domains */
  src.path = (char *)put("n,s\n1,M\n11,F\n");
  read_fails(ctx, &src, "t.csv:3: column 'n': 11 is outside the declared domain");
  src.path = (char *)put("n,s\n1,M\n2,x\n");
  read_fails(ctx, &src, "t.csv:3: column 's': 'x' is not one of the declared categories");

  /* against the training schema an unknown category is missing */
  cols[1].n_domain_categories = 0;
  sm_source_spec plain = fixture_spec(put("n,s\n1,M\n2,F\n"));
  plain.n_columns = 2;
  plain.columns = cols;
  sm_table small;
  if (read_ok(ctx, &plain, NULL, &small)) {
    plain.path = (char *)put("s,n\nzzz,1\nmale,2\nzzz,3\n");
    if (read_ok(ctx, &plain, &small.schema, &t)) {
      CHECK(strcmp(t.schema.cols[0].name, "n") == 0);
      CHECK(t.schema.cols[1].n_categories == 2 && t.schema.cols[1].n_missing == 2);
      v = fixture_gather(&t, 1, &ok);
      CHECK(!v || (isnan(v[0]) && v[1] == 1 && isnan(v[2])));
      free(v);
      sm_table_free(&t);
    }
    sm_table_free(&small);
  }
  sm_table_free(&train);
}

/* Declared columns are matched by header name; undeclared ones are inferred. */
static void test_header_names(sm_ctx *ctx) {
  sm_column_spec cols[1] = {fixture_column("b", SM_COL_CONTINUOUS)};
  sm_source_spec src = fixture_spec(put("a, b ,\"c\"\n1,2,x\n3,4,y\n"));
  src.n_columns = 1;
  src.columns = cols;
  sm_table t;
  if (read_ok(ctx, &src, NULL, &t)) {
    CHECK(t.schema.n_cols == 3);
    CHECK(strcmp(t.schema.cols[1].name, "b") == 0 && strcmp(t.schema.cols[2].name, "c") == 0);
    CHECK(t.schema.cols[0].type == SM_COL_INTEGER);
    CHECK(t.schema.cols[1].type == SM_COL_CONTINUOUS);
    sm_table_free(&t);
  }
  cols[0] = fixture_column("z", SM_COL_CONTINUOUS);
  read_fails(ctx, &src, "t.csv: declared column 'z' is not in the header");
  src.path = (char *)put("a,b,a\n1,2,3\n");
  src.n_columns = 0;
  read_fails(ctx, &src, "t.csv: column 'a' appears twice in the header");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_WARN;
  fixture_tempdir(dir, sizeof dir);
  CHECK(dir[0] != '\0');
  if (dir[0]) {
    test_quoted_newlines(&ctx);
    test_error_lines(&ctx);
    test_line_ends(&ctx);
    test_category_on_last_rank(&ctx);
    test_one_row(&ctx);
    test_no_rows(&ctx);
    test_bad_numbers(&ctx);
    test_inference(&ctx);
    test_dates(&ctx);
    test_booleans(&ctx);
    test_domains_and_mapping(&ctx);
    test_header_names(&ctx);
    const char *const names[] = {"t.csv"};
    fixture_cleanup(dir, names, 1);
  }
  sm_ctx_free(&ctx);
  return test_finish();
}
