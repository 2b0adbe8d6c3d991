/* Fuzz target: the CSV reader on one rank.
 *
 * Input: one byte of settings, then the file. Settings bits: 0 header, 1 trim, 2-3 the
 * delimiter (',' ';' tab '|'), 4 "?" and "NA" also mean missing, 5 skip one line, 6 read
 * again with every column declared (types, a datetime format, a domain, a suffix and a
 * replacement chosen from the other bits). A file that reads is also read again against
 * its own schema (as a holdout file is) and every value is formatted back to text. */
#include "fuzz_common.h"
#include "synthmpi/data.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  return fuzz_init(argc, argv, "input.csv");
}

/* The settings byte as a source. */
static sm_source_spec source_of(uint8_t flags, char **missing) {
  static char path_format[] = "csv";
  sm_source_spec s;
  memset(&s, 0, sizeof s);
  s.path = fuzz_get()->path;
  s.format = path_format;
  s.header = flags & 1;
  s.trim = (flags >> 1) & 1;
  s.delimiter = ",;\t|"[(flags >> 2) & 3];
  s.missing = missing;
  s.n_missing = (flags >> 4) & 1 ? 3 : 1;
  s.skip_lines = (flags >> 5) & 1;
  return s;
}

/* Every value of the table formatted as text, as export does. */
static void format_all(const sm_table *t) {
  char buf[512];
  for (int j = 0; j < t->schema.n_cols; j++)
    for (int64_t i = 0; i < t->n_rows; i++)
      sm_format_value(&t->schema.cols[j], t->values[j][i], buf, (int)sizeof buf);
}

/* Read again with each column declared, its type rotated by the settings. */
static void read_declared(uint8_t flags, sm_source_spec s, const sm_schema *schema) {
  static char fmt[] = "%Y%m%d", dot[] = ".", from[] = "a", to[] = "b", cat0[] = "x";
  static char *cats[] = {cat0};
  static char *froms[] = {from}, *tos[] = {to};
  sm_column_spec *cols = calloc((size_t)schema->n_cols, sizeof *cols);
  if (!cols)
    return;
  for (int j = 0; j < schema->n_cols; j++) {
    sm_column_spec *c = &cols[j];
    c->name = schema->cols[j].name;
    c->type = (j + (flags >> 4)) % 6 - 1; /* -1 infers */
    c->format = c->type == SM_COL_DATETIME ? fmt : NULL;
    c->has_domain = c->type == SM_COL_CONTINUOUS || c->type == SM_COL_INTEGER ? flags >> 7 : 0;
    c->lo = -100, c->hi = 100000;
    c->n_domain_categories = c->type == SM_COL_CATEGORICAL ? (flags >> 7) : 0;
    c->domain_categories = cats;
    c->strip_suffix = j % 2 ? dot : NULL;
    c->n_replace = j % 3 == 0;
    c->replace_from = froms, c->replace_to = tos;
  }
  s.columns = cols;
  s.n_columns = schema->n_cols;
  sm_table t;
  if (sm_read_source(fuzz_ctx(), &s, NULL, &t) == SM_OK) {
    format_all(&t);
    sm_table_free(&t);
  }
  free(cols);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || fuzz_write(data + 1, size - 1) != 0)
    return 0;
  static char empty[] = "", question[] = "?", na[] = "NA";
  char *missing[] = {empty, question, na};
  sm_source_spec s = source_of(data[0], missing);

  /* inferred, then against its own schema, then declared */
  sm_table t, again;
  if (sm_read_source(fuzz_ctx(), &s, NULL, &t) != SM_OK)
    return 0;
  format_all(&t);
  if (sm_read_source(fuzz_ctx(), &s, &t.schema, &again) == SM_OK)
    sm_table_free(&again);
  if ((data[0] >> 6) & 1)
    read_declared(data[0], s, &t.schema);
  sm_table_free(&t);
  return 0;
}
