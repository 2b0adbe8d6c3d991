/* Values as text and the schema in the log. */
#include "data/csv.h"
#include "synthmpi/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Shortest %.*g text that reads back as the same double. */
static int format_shortest(double v, char *buf, int size) {
  char tmp[64];
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(tmp, sizeof tmp, "%.*g", digits, v);
    if (strtod(tmp, NULL) == v || digits == 17)
      break;
  }
  return snprintf(buf, (size_t)size, "%s", tmp);
}

static int format_datetime(const sm_column *c, double v, char *buf, int size) {
  struct tm tm;
  time_t t = (time_t)floor(v);
  char tmp[256];
  if (!gmtime_r(&t, &tm))
    return snprintf(buf, (size_t)size, "%.0f", v);
  const char *fmt = c->datetime_format ? c->datetime_format : CSV_DEFAULT_DATETIME_FORMAT;
  size_t n = strftime(tmp, sizeof tmp, fmt, &tm);
  tmp[n] = '\0';
  return snprintf(buf, (size_t)size, "%s", tmp);
}

int sm_format_value(const sm_column *c, double v, char *buf, int size) {
  if (size > 0)
    buf[0] = '\0';
  if (isnan(v))
    return 0;

  /* codes index the dictionary; a code outside it reads as missing */
  switch (c->type) {
  case SM_COL_CATEGORICAL:
  case SM_COL_BOOLEAN: {
    int code = (int)v;
    if (v < 0 || code >= c->n_categories || (double)code != v)
      return 0;
    return snprintf(buf, (size_t)size, "%s", c->categories[code]);
  }
  case SM_COL_INTEGER:
    return snprintf(buf, (size_t)size, "%.0f", v);
  case SM_COL_DATETIME:
    return format_datetime(c, v, buf, size);
  case SM_COL_CONTINUOUS:
  default:
    return format_shortest(v, buf, size);
  }
}

/* "a, b, c, ... (n categories)" with at most `show` names. */
static void describe_categories(const sm_column *c, char *buf, size_t size) {
  const int show = 6;
  size_t at = 0;
  buf[0] = '\0';
  for (int i = 0; i < c->n_categories && i < show && at < size; i++)
    at += (size_t)snprintf(buf + at, size - at, "%s%s", i ? ", " : "", c->categories[i]);
  if (at < size)
    snprintf(buf + at, size - at, "%s(%d categories)",
             c->n_categories > show ? ", ... "
             : c->n_categories      ? " "
                                    : "",
             c->n_categories);
}

/* The range as values of the column's own kind (datetimes as dates). */
static void describe_range(const sm_column *c, char *buf, size_t size) {
  char lo[128], hi[128];
  sm_format_value(c, c->lo, lo, sizeof lo);
  sm_format_value(c, c->hi, hi, sizeof hi);
  snprintf(buf, size, "%s [%s, %s]", c->has_domain ? "domain" : "range", isnan(c->lo) ? "?" : lo,
           isnan(c->hi) ? "?" : hi);
}

void sm_schema_log(const sm_ctx *ctx, const sm_schema *s) {
  sm_log(ctx, SM_LOG_INFO, "schema: %d columns", s->n_cols);
  for (int j = 0; j < s->n_cols; j++) {
    const sm_column *c = &s->cols[j];
    char what[512];
    if (sm_coltype_is_discrete(c->type))
      describe_categories(c, what, sizeof what);
    else
      describe_range(c, what, sizeof what);
    sm_log(ctx, SM_LOG_INFO, "  %-20s %-11s %s; %lld missing", c->name, sm_coltype_name(c->type),
           what, (long long)c->n_missing);
  }
}
