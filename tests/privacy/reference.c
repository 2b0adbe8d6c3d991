/* Reading the reference tables for the privacy tests. */
#include "reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *test_reference(const char *name) {
  static char buf[4096];
  const char *dir = getenv("SYNTHMPI_DATA");
  snprintf(buf, sizeof buf, "%s/../reference/%s", dir ? dir : "../shared/data", name);
  return buf;
}

/* Split one line on tabs into row r of t. */
static void split_row(char *line, ref_table *t, int r) {
  int c = 0;
  for (char *f = strtok(line, "\t\r\n"); f && c < REF_MAX_COLS; f = strtok(NULL, "\t\r\n")) {
    snprintf(t->text[r][c], REF_FIELD, "%s", f);
    char *end = NULL;
    double v = strtod(f, &end);
    t->num[r][c] = (end != f && *end == '\0') ? v : NAN;
    c++;
  }
  if (c > t->n_cols)
    t->n_cols = c;
}

int ref_read(const char *name, ref_table *t) {
  const char *path = test_reference(name);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "cannot open reference file %s\n", path);
    return -1;
  }
  memset(t, 0, sizeof(*t));
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n')
      continue;
    if (t->n_rows == REF_MAX_ROWS)
      break;
    split_row(line, t, t->n_rows++);
  }
  fclose(f);
  if (t->n_rows == 0) {
    fprintf(stderr, "reference file %s has no rows\n", path);
    return -1;
  }
  return 0;
}

double ref_keyed(const char *field) {
  const char *eq = strchr(field, '=');
  return eq ? strtod(eq + 1, NULL) : NAN;
}
