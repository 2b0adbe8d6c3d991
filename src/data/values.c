/* Text to typed values: integers, finite numbers, booleans and datetimes. */
#define _XOPEN_SOURCE 700 /* strptime */
#include "data/csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int csv_parse_integer(const char *s, double *v) {
  if (!*s || isspace((unsigned char)*s))
    return 0;
  char *end = NULL;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || x > CSV_INTEGER_MAX || x < -CSV_INTEGER_MAX)
    return 0;
  *v = (double)x;
  return 1;
}

int csv_parse_finite(const char *s, double *v) {
  if (!*s || isspace((unsigned char)*s))
    return 0;
  char *end = NULL;
  double x = strtod(s, &end);
  if (*end != '\0' || !isfinite(x))
    return 0;
  *v = x;
  return 1;
}

int csv_parse_boolean(const char *s, double *v) {
  static const char *const truths[] = {"true", "yes", "t", "1"};
  static const char *const falsehoods[] = {"false", "no", "f", "0"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(s, truths[i]) == 0) {
      *v = 1;
      return 1;
    }
    if (strcasecmp(s, falsehoods[i]) == 0) {
      *v = 0;
      return 1;
    }
  }
  return 0;
}

int csv_parse_datetime(const char *s, const char *format, double *v) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  tm.tm_mday = 1;

  /* the whole text must match; the broken-down time is read as UTC */
  const char *end = strptime(s, format ? format : CSV_DEFAULT_DATETIME_FORMAT, &tm);
  if (!end || *end != '\0')
    return 0;
  tm.tm_isdst = 0;
  time_t t = timegm(&tm);
  *v = (double)t;
  return 1;
}
