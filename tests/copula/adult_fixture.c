/* Test fixture: Adult read by splitting lines on commas. */
#include "adult_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADULT_COLS 15
#define MAX_ROWS 40000

static const char *const names[ADULT_COLS] = {
    "age",          "workclass",    "fnlwgt",         "education",      "education_num",
    "marital",      "occupation",   "relationship",   "race",           "sex",
    "capital_gain", "capital_loss", "hours_per_week", "native_country", "income"};
static const sm_coltype types[ADULT_COLS] = {
    SM_COL_INTEGER,     SM_COL_CATEGORICAL, SM_COL_CONTINUOUS,  SM_COL_CATEGORICAL,
    SM_COL_INTEGER,     SM_COL_CATEGORICAL, SM_COL_CATEGORICAL, SM_COL_CATEGORICAL,
    SM_COL_CATEGORICAL, SM_COL_CATEGORICAL, SM_COL_INTEGER,     SM_COL_INTEGER,
    SM_COL_INTEGER,     SM_COL_CATEGORICAL, SM_COL_CATEGORICAL};

static char *trim(char *s) {
  while (*s == ' ')
    s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r'))
    s[--n] = '\0';
  return s;
}

static int compare_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted distinct strings of one column. */
static void dictionary(char ***cells, int64_t n, int j, sm_column *c) {
  char **all = malloc((size_t)n * sizeof(char *));
  int64_t m = 0;
  for (int64_t r = 0; r < n; r++)
    if (strcmp(cells[r][j], "?") != 0)
      all[m++] = cells[r][j];
  qsort(all, (size_t)m, sizeof(char *), compare_str);
  c->categories = malloc((size_t)(m > 0 ? m : 1) * sizeof(char *));
  c->n_categories = 0;
  for (int64_t r = 0; r < m; r++)
    if (c->n_categories == 0 || strcmp(c->categories[c->n_categories - 1], all[r]) != 0)
      c->categories[c->n_categories++] = strdup(all[r]);
  free(all);
}

int adult_read(sm_ctx *ctx, const char *path, sm_table *full) {
  FILE *f = fopen(path, "r");
  if (!f)
    return 1;
  char ***cells = malloc(MAX_ROWS * sizeof(char **)), line[4096];
  int64_t n = 0;
  while (n < MAX_ROWS && fgets(line, sizeof line, f)) {
    char *fields[ADULT_COLS], *save = NULL, *tok = strtok_r(line, ",", &save);
    int k = 0;
    for (; tok && k < ADULT_COLS; tok = strtok_r(NULL, ",", &save))
      fields[k++] = trim(tok);
    if (k != ADULT_COLS)
      continue;
    cells[n] = malloc(ADULT_COLS * sizeof(char *));
    for (int j = 0; j < ADULT_COLS; j++)
      cells[n][j] = strdup(fields[j]);
    n++;
  }
  fclose(f);

  /* schema with dictionaries, then values */
  sm_schema schema = {ADULT_COLS, calloc(ADULT_COLS, sizeof(sm_column))};
  for (int j = 0; j < ADULT_COLS; j++) {
    schema.cols[j].name = strdup(names[j]);
    schema.cols[j].type = types[j];
    if (sm_coltype_is_discrete(types[j]))
      dictionary(cells, n, j, &schema.cols[j]);
  }
  int rc = sm_table_alloc(ctx, full, &schema, n);
  for (int64_t r = 0; rc == SM_OK && r < n; r++)
    for (int j = 0; j < ADULT_COLS; j++) {
      const char *s = cells[r][j];
      if (strcmp(s, "?") == 0)
        full->values[j][r] = NAN;
      else if (sm_coltype_is_discrete(types[j]))
        full->values[j][r] = sm_column_find_category(&schema.cols[j], s);
      else
        full->values[j][r] = strtod(s, NULL);
    }
  full->n_rows_total = n;
  for (int64_t r = 0; r < n; r++) {
    for (int j = 0; j < ADULT_COLS; j++)
      free(cells[r][j]);
    free(cells[r]);
  }
  free(cells);
  sm_schema_free(&schema);
  return rc;
}

int table_slice(sm_ctx *ctx, const sm_table *full, int64_t lo, int64_t hi, sm_table *part) {
  int rc = sm_table_alloc(ctx, part, &full->schema, hi - lo);
  for (int j = 0; rc == SM_OK && j < full->schema.n_cols; j++)
    memcpy(part->values[j], full->values[j] + lo, (size_t)(hi - lo) * sizeof(double));
  part->row_offset = lo;
  part->n_rows_total = full->n_rows;
  return rc;
}
