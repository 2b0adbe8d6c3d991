/* Schema and rank-local column tables.
 *
 * Every column is held as float64 values, one array per column:
 *   continuous, integer, datetime: the value (datetime: seconds since the Unix epoch, UTC);
 *   categorical, boolean: the category code, an index into the column's sorted dictionary;
 *   missing: NaN in every type.
 * The schema is the same on every rank (dictionaries merged across ranks).
 */
#ifndef SYNTHMPI_TABLE_H
#define SYNTHMPI_TABLE_H

#include <stdint.h>

#include "synthmpi/core.h"

typedef enum sm_coltype {
  SM_COL_CONTINUOUS = 0,
  SM_COL_INTEGER = 1,
  SM_COL_CATEGORICAL = 2,
  SM_COL_BOOLEAN = 3,
  SM_COL_DATETIME = 4
} sm_coltype;

typedef struct sm_column {
  char *name;
  sm_coltype type;
  char *datetime_format; /* strptime/strftime format, datetime only */
  int has_domain;        /* a domain was declared: numeric [lo, hi], or the categories
                          * (categorical with a declared list; boolean always) */
  double lo, hi;         /* declared domain, or observed range once known */
  int n_categories;      /* categorical/boolean: dictionary size */
  char **categories;     /* sorted dictionary (boolean: "false", "true") */
  int64_t n_missing;     /* missing values over all ranks, as read (0 when not counted) */
} sm_column;

typedef struct sm_schema {
  int n_cols;
  sm_column *cols; /* (n_cols) */
} sm_schema;

typedef struct sm_table {
  sm_schema schema;     /* owned copy */
  int64_t n_rows;       /* rows on this rank */
  int64_t row_offset;   /* global index of this rank's first row */
  int64_t n_rows_total; /* rows over all ranks */
  double **values;      /* (n_cols) arrays of (n_rows) values; NaN = missing */
} sm_table;

const char *sm_coltype_name(sm_coltype t);
/* Parse a type name; returns -1 when unknown. */
int sm_coltype_parse(const char *s);
/* Categorical-like columns hold dictionary codes. */
int sm_coltype_is_discrete(sm_coltype t);

int sm_schema_copy(sm_schema *dst, const sm_schema *src);
void sm_schema_free(sm_schema *s);
/* Index of the named column, or -1. */
int sm_schema_find(const sm_schema *s, const char *name);
/* Index of a category in a column's dictionary (binary search), or -1. */
int sm_column_find_category(const sm_column *c, const char *value);

/* Allocate n_rows values for every column of a copy of schema. */
int sm_table_alloc(sm_ctx *ctx, sm_table *t, const sm_schema *schema, int64_t n_rows);
void sm_table_free(sm_table *t);

#endif
