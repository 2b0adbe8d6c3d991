/* Reading the reference figures in $SYNTHMPI_DATA/../reference/<name>.tsv for the privacy
 * tests: tab-separated rows, '#' lines are headers. */
#ifndef SYNTHMPI_TEST_PRIVACY_REFERENCE_H
#define SYNTHMPI_TEST_PRIVACY_REFERENCE_H

#define REF_MAX_ROWS 64
#define REF_MAX_COLS 8
#define REF_FIELD 64

/* One table: rows of text fields, numbers parsed where a field is one. */
typedef struct ref_table {
  int n_rows, n_cols;
  char text[REF_MAX_ROWS][REF_MAX_COLS][REF_FIELD];
  double num[REF_MAX_ROWS][REF_MAX_COLS]; /* NAN where not a number */
} ref_table;

/* Path of a reference file: $SYNTHMPI_DATA/../reference/<name>. */
const char *test_reference(const char *name);

/* Read a reference table; returns 0, or -1 after printing why. */
int ref_read(const char *name, ref_table *t);

/* The number after '=' in a field such as "eps=1". */
double ref_keyed(const char *field);

#endif
