/* data: and holdout: the input files, how to read them, and the declared columns. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "synthmpi/table.h"

#define WHAT_MAX 160

static const char *const data_keys[] = {"path",          "format",       "header",   "skip_lines",
                                        "delimiter",     "missing",      "trim",     "columns",
                                        "window",        "stride",       "non_acgt", "legend",
                                        "missing_calls", "multiallelic", NULL};
static const char *const holdout_keys[] = {"path",   "fraction",   "seed",      "format",
                                           "header", "skip_lines", "delimiter", "missing",
                                           "trim",   "split",      NULL};
/* data keys that only FASTA input takes */
static const char *const fasta_keys[] = {"window", "stride", "non_acgt", NULL};
/* holdout keys that only make sense for a holdout file */
static const char *const holdout_file_keys[] = {"format",  "header", "skip_lines", "delimiter",
                                                "missing", "trim",   NULL};
static const char *const column_keys[] = {"name",         "type",    "format", "domain",
                                          "strip_suffix", "replace", NULL};

static int oom(const cfg_source *src) {
  return sm_fail(src->ctx, SM_ERR, "out of memory reading the experiment");
}

/* base/path, or path itself when absolute (malloc'd). */
static char *resolve_path(const char *base, const char *path) {
  if (path[0] == '/')
    return sm_strdup(path);
  size_t n = strlen(base) + strlen(path) + 2;
  char *out = malloc(n);
  if (out)
    snprintf(out, n, "%s/%s", base, path);
  return out;
}

static void free_strings(char **v, int n) {
  for (int i = 0; i < n && v; i++)
    free(v[i]);
  free(v);
}

/* A list of strings (or one string) as a malloc'd array; what names it in messages. */
static int read_strings(const cfg_source *src, const cfg_node *node, const char *what, char ***out,
                        int *n) {
  int count = node->kind == CFG_SEQ ? node->n : 1;
  *out = calloc((size_t)(count ? count : 1), sizeof(char *));
  *n = count;
  if (!*out)
    return oom(src);
  for (int i = 0; i < count; i++) {
    const cfg_node *item = node->kind == CFG_SEQ ? node->items[i] : node;
    char item_what[WHAT_MAX];
    snprintf(item_what, sizeof item_what, node->kind == CFG_SEQ ? "%s[%d]" : "%s", what, i);
    SM_TRY(cfg_string_value(src, item, item_what, &(*out)[i]));
  }
  return SM_OK;
}

static int copy_strings(const cfg_source *src, char **from, int n, char ***out) {
  *out = calloc((size_t)(n ? n : 1), sizeof(char *));
  if (!*out)
    return oom(src);
  for (int i = 0; i < n; i++)
    if (!((*out)[i] = sm_strdup(from[i])))
      return oom(src);
  return SM_OK;
}

/* One character; the two characters \t also mean a tab (handy on a command line). */
static int read_delimiter(const cfg_source *src, const cfg_node *map, const char *section,
                          char dflt, char *out) {
  const cfg_node *node = cfg_get(map, "delimiter");
  *out = dflt;
  if (!node)
    return SM_OK;
  const char *t = node->kind == CFG_SCALAR ? node->text : "";
  if (!strcmp(t, "\\t"))
    t = "\t";
  if (strlen(t) == 1 && !strchr("\n\r\"", *t) && !((unsigned char)*t & 0x80)) {
    *out = *t;
    return SM_OK;
  }
  char got[96];
  cfg_describe(node, got, sizeof got);
  return cfg_error(src, node, "%s.delimiter: expected one character (or \"\\t\"), got %s", section,
                   got);
}

/* The reading settings shared by data: and a holdout file; dflt (may be NULL) supplies
 * the defaults, path is required. */
static int read_settings(const cfg_source *src, const cfg_node *map, const char *section,
                         const char *base, const sm_source_spec *dflt, sm_source_spec *out) {
  const cfg_node *node = NULL;
  char what[WHAT_MAX];
  SM_TRY(cfg_require(src, map, section, "path", &node));
  char *path = NULL;
  SM_TRY(cfg_string_value(src, node, cfg_join(what, sizeof what, section, "path"), &path));
  out->path = resolve_path(base, path);
  free(path);
  if (!out->path)
    return oom(src);

  /* the format: csv or fasta, or hapt and vcf (genomic data) for data: */
  SM_TRY(cfg_get_string(src, map, section, "format", dflt ? dflt->format : "csv", &out->format));
  int genomic = !strcmp(out->format, "hapt") || !strcmp(out->format, "vcf");
  if (strcmp(out->format, "csv") != 0 && strcmp(out->format, "fasta") != 0 && !(genomic && !dflt))
    return cfg_error(src, cfg_get(map, "format"),
                     "%s.format: unsupported format '%s' "
                     "(supported: csv, fasta%s)",
                     section, out->format, dflt ? "" : ", hapt, vcf");

  /* scalars */
  int64_t skip = 0;
  SM_TRY(cfg_get_bool(src, map, section, "header", dflt ? dflt->header : 0, &out->header));
  SM_TRY(
      cfg_get_int(src, map, section, "skip_lines", 0, INT_MAX, dflt ? dflt->skip_lines : 0, &skip));
  out->skip_lines = (int)skip;
  SM_TRY(read_delimiter(src, map, section, dflt ? dflt->delimiter : ',', &out->delimiter));
  SM_TRY(cfg_get_bool(src, map, section, "trim", dflt ? dflt->trim : 1, &out->trim));

  /* missing-value tokens: default [""] */
  if ((node = cfg_get(map, "missing")))
    return read_strings(src, node, cfg_join(what, sizeof what, section, "missing"), &out->missing,
                        &out->n_missing);
  char *empty[] = {""};
  out->n_missing = dflt ? dflt->n_missing : 1;
  return copy_strings(src, dflt ? dflt->missing : empty, out->n_missing, &out->missing);
}

/* domain: a list of categories, or [lo, hi] for a numeric column. */
static int read_domain(const cfg_source *src, const cfg_node *node, const char *what,
                       sm_column_spec *c) {
  char got[96];
  cfg_describe(node, got, sizeof got);
  if (c->type < 0)
    return cfg_error(src, node, "%s: a domain needs the column's type", what);
  if (node->kind != CFG_SEQ)
    return cfg_error(src, node, "%s: expected a list, got %s", what, got);

  /* categorical: distinct strings */
  if (c->type == SM_COL_CATEGORICAL) {
    if (node->n == 0)
      return cfg_error(src, node, "%s: expected at least one category", what);
    SM_TRY(read_strings(src, node, what, &c->domain_categories, &c->n_domain_categories));
    int dup = cfg_first_duplicate(c->domain_categories, c->n_domain_categories);
    if (dup >= 0)
      return cfg_error(src, node->items[dup], "%s: duplicate category '%s'", what,
                       c->domain_categories[dup]);
    return SM_OK;
  }

  /* numeric: [lo, hi] with lo <= hi */
  if (c->type != SM_COL_CONTINUOUS && c->type != SM_COL_INTEGER)
    return cfg_error(src, node, "%s: a domain is not supported for %s columns", what,
                     sm_coltype_name((sm_coltype)c->type));
  if (node->n != 2)
    return cfg_error(src, node, "%s: expected [lo, hi], got a list of %d", what, node->n);
  SM_TRY(cfg_real_value(src, node->items[0], what, -HUGE_VAL, HUGE_VAL, &c->lo));
  SM_TRY(cfg_real_value(src, node->items[1], what, -HUGE_VAL, HUGE_VAL, &c->hi));
  if (c->lo > c->hi)
    return cfg_error(src, node, "%s: lo %g is greater than hi %g", what, c->lo, c->hi);
  c->has_domain = 1;
  return SM_OK;
}

/* replace: {from: to, ...} */
static int read_replace(const cfg_source *src, const cfg_node *node, const char *what,
                        sm_column_spec *c) {
  if (node->kind != CFG_MAP) {
    char got[96];
    cfg_describe(node, got, sizeof got);
    return cfg_error(src, node, "%s: expected a map of value: replacement, got %s", what, got);
  }
  c->n_replace = node->n;
  c->replace_from = calloc((size_t)(node->n ? node->n : 1), sizeof(char *));
  c->replace_to = calloc((size_t)(node->n ? node->n : 1), sizeof(char *));
  if (!c->replace_from || !c->replace_to)
    return oom(src);
  for (int i = 0; i < node->n; i++) {
    if (!(c->replace_from[i] = sm_strdup(node->keys[i]->text)))
      return oom(src);
    SM_TRY(cfg_string_value(src, node->items[i], what, &c->replace_to[i]));
  }
  return SM_OK;
}

/* type: and format: (a datetime column needs a format, only datetime takes one). */
static int read_type(const cfg_source *src, const cfg_node *map, const char *section,
                     sm_column_spec *c) {
  char *type = NULL;
  c->type = -1;
  SM_TRY(cfg_get_string(src, map, section, "type", NULL, &type));
  if (type && (c->type = sm_coltype_parse(type)) < 0) {
    free(type);
    char got[96];
    cfg_describe(cfg_get(map, "type"), got, sizeof got);
    return cfg_error(src, cfg_get(map, "type"),
                     "%s.type: expected one of continuous, "
                     "integer, categorical, boolean, datetime, got %s",
                     section, got);
  }
  free(type);

  SM_TRY(cfg_get_string(src, map, section, "format", NULL, &c->format));
  if (c->type == SM_COL_DATETIME && !c->format)
    return cfg_error(src, map, "%s: a datetime column needs 'format' (e.g. \"%%Y-%%m-%%d\")",
                     section);
  if (c->format && c->type >= 0 && c->type != SM_COL_DATETIME)
    return cfg_error(src, cfg_get(map, "format"),
                     "%s.format: only datetime columns take a "
                     "format",
                     section);
  return SM_OK;
}

static int read_column(const cfg_source *src, const cfg_node *map, int index, sm_column_spec *c) {
  char section[64], what[WHAT_MAX];
  snprintf(section, sizeof section, "data.columns[%d]", index);
  c->line = map->line;
  c->column = map->column;
  if (map->kind != CFG_MAP) {
    char got[96];
    cfg_describe(map, got, sizeof got);
    return cfg_error(src, map, "%s: expected a map such as {name: age, type: integer}, got %s",
                     section, got);
  }
  SM_TRY(cfg_check_keys(src, map, section, column_keys));

  /* name, type and format */
  const cfg_node *node = NULL;
  SM_TRY(cfg_require(src, map, section, "name", &node));
  SM_TRY(cfg_string_value(src, node, cfg_join(what, sizeof what, section, "name"), &c->name));
  if (!c->name[0])
    return cfg_error(src, node, "%s.name: a column name cannot be empty", section);
  SM_TRY(read_type(src, map, section, c));

  /* value rules */
  SM_TRY(cfg_get_string(src, map, section, "strip_suffix", NULL, &c->strip_suffix));
  if (c->strip_suffix && !c->strip_suffix[0])
    return cfg_error(src, cfg_get(map, "strip_suffix"), "%s.strip_suffix: cannot be empty",
                     section);
  if ((node = cfg_get(map, "domain")))
    SM_TRY(read_domain(src, node, cfg_join(what, sizeof what, section, "domain"), c));
  if ((node = cfg_get(map, "replace")))
    SM_TRY(read_replace(src, node, cfg_join(what, sizeof what, section, "replace"), c));
  return SM_OK;
}

/* columns: all of them in order when there is no header line; names distinct. */
static int read_columns(const cfg_source *src, const cfg_node *map, sm_source_spec *out) {
  const cfg_node *list = cfg_get(map, "columns");
  if (!list && !out->header)
    return cfg_error(src, map,
                     "data: missing required key 'columns' (needed when "
                     "header is false)");
  if (!list)
    return SM_OK;
  if (list->kind != CFG_SEQ || list->n == 0) {
    char got[96];
    cfg_describe(list, got, sizeof got);
    return cfg_error(src, list, "data.columns: expected a list of columns, got %s",
                     list->kind == CFG_SEQ ? "an empty list" : got);
  }

  out->columns = calloc((size_t)list->n, sizeof(sm_column_spec));
  if (!out->columns)
    return oom(src);
  out->n_columns = list->n;
  for (int j = 0; j < list->n; j++)
    SM_TRY(read_column(src, list->items[j], j, &out->columns[j]));

  /* distinct names */
  int n = out->n_columns;
  char **names = malloc((size_t)(n > 0 ? n : 1) * sizeof(char *));
  if (!names)
    return oom(src);
  for (int j = 0; j < n; j++)
    names[j] = out->columns[j].name;
  int dup = cfg_first_duplicate(names, n);
  free(names);
  if (dup < 0)
    return SM_OK;
  int first = 0;
  while (strcmp(out->columns[first].name, out->columns[dup].name) != 0)
    first++;
  return cfg_error(src, cfg_get(list->items[dup], "name"),
                   "data.columns[%d]: duplicate column name '%s' (first at line %d)", dup,
                   out->columns[dup].name, out->columns[first].line);
}

/* FASTA: window, stride and what to do with letters other than ACGT; no columns. */
static int read_fasta(const cfg_source *src, const cfg_node *map, sm_source_spec *out) {
  if (strcmp(out->format, "fasta") != 0) {
    for (int k = 0; fasta_keys[k]; k++)
      if (cfg_get(map, fasta_keys[k]))
        return cfg_error(src, cfg_get(map, fasta_keys[k]),
                         "data.%s: only FASTA data (format: fasta) take this setting",
                         fasta_keys[k]);
    return SM_OK;
  }
  if (cfg_get(map, "columns"))
    return cfg_error(src, cfg_get(map, "columns"), "data.columns: FASTA data have no columns");
  SM_TRY(cfg_get_int(src, map, "data", "window", 0, INT32_MAX, 0, &out->window));
  SM_TRY(cfg_get_int(src, map, "data", "stride", 0, INT32_MAX, 0, &out->stride));
  if (out->stride > 0 && out->window == 0)
    return cfg_error(src, cfg_get(map, "stride"),
                     "data.stride: needs data.window (whole records have no stride)");

  /* non_acgt: skip (default) or random */
  char *mode = NULL;
  SM_TRY(cfg_get_string(src, map, "data", "non_acgt", "skip", &mode));
  int ok = !strcmp(mode, "skip") || !strcmp(mode, "random");
  out->non_acgt = !strcmp(mode, "random");
  free(mode);
  if (!ok)
    return cfg_error(src, cfg_get(map, "non_acgt"),
                     "data.non_acgt: expected skip (drop windows holding other letters) or "
                     "random (replace them by random bases)");
  return SM_OK;
}

/* A one-of-two choice (first is the default): *second is 1 when the value is the second. */
static int read_choice(const cfg_source *src, const cfg_node *map, const char *key,
                       const char *first, const char *second, int *is_second) {
  char *v = NULL;
  SM_TRY(cfg_get_string(src, map, "data", key, first, &v));
  int ok = !strcmp(v, first) || !strcmp(v, second);
  *is_second = !strcmp(v, second);
  free(v);
  if (!ok)
    return cfg_error(src, cfg_get(map, key), "data.%s: expected %s or %s", key, first, second);
  return SM_OK;
}

/* The keys of genomic data: legend (hapt, required), missing_calls and multiallelic (vcf);
 * each refused with the other formats. */
static int read_genomic(const cfg_source *src, const cfg_node *map, const char *base,
                        sm_source_spec *out) {
  int hapt = !strcmp(out->format, "hapt"), vcf = !strcmp(out->format, "vcf");
  const char *only[][2] = {{"legend", "hapt"}, {"missing_calls", "vcf"}, {"multiallelic", "vcf"}};
  for (int k = 0; k < 3; k++)
    if (cfg_get(map, only[k][0]) && strcmp(out->format, only[k][1]) != 0)
      return cfg_error(src, cfg_get(map, only[k][0]),
                       "data.%s: only data.format %s takes this setting", only[k][0], only[k][1]);
  if (hapt) {
    const cfg_node *node = NULL;
    char *legend = NULL;
    SM_TRY(cfg_require(src, map, "data", "legend", &node));
    SM_TRY(cfg_string_value(src, node, "data.legend", &legend));
    out->legend = resolve_path(base, legend);
    free(legend);
    return out->legend ? SM_OK : oom(src);
  }
  if (vcf) {
    SM_TRY(read_choice(src, map, "missing_calls", "keep", "impute", &out->impute_missing));
    SM_TRY(read_choice(src, map, "multiallelic", "refuse", "skip", &out->skip_multiallelic));
  }
  return SM_OK;
}

int cfg_read_data(const cfg_source *src, const cfg_node *root, const char *base,
                  sm_source_spec *out) {
  const cfg_node *map = NULL;
  SM_TRY(cfg_require(src, root, "", "data", &map));
  SM_TRY(cfg_get_map(src, root, "", "data", &map));
  SM_TRY(cfg_check_keys(src, map, "data", data_keys));
  SM_TRY(read_settings(src, map, "data", base, NULL, out));
  SM_TRY(read_fasta(src, map, out));
  SM_TRY(read_genomic(src, map, base, out));
  if (strcmp(out->format, "csv") != 0)
    return SM_OK;
  return read_columns(src, map, out);
}

static int copy_column(const cfg_source *src, const sm_column_spec *from, sm_column_spec *to) {
  *to = *from;
  to->name = sm_strdup(from->name);
  to->format = sm_strdup(from->format);
  to->strip_suffix = sm_strdup(from->strip_suffix);
  to->domain_categories = NULL, to->replace_from = NULL, to->replace_to = NULL;
  if ((from->format && !to->format) || (from->strip_suffix && !to->strip_suffix) || !to->name)
    return oom(src);
  SM_TRY(copy_strings(src, from->domain_categories, from->n_domain_categories,
                      &to->domain_categories));
  SM_TRY(copy_strings(src, from->replace_from, from->n_replace, &to->replace_from));
  return copy_strings(src, from->replace_to, from->n_replace, &to->replace_to);
}

/* A holdout file: data's settings and columns, with the holdout's own keys on top. */
static int read_holdout_file(const cfg_source *src, const cfg_node *map, const char *base,
                             const sm_source_spec *data, sm_holdout_spec *out) {
  if (cfg_get(map, "seed"))
    return cfg_error(src, cfg_get(map, "seed"),
                     "holdout.seed: only a holdout fraction "
                     "takes a seed");
  if (cfg_get(map, "split"))
    return cfg_error(src, cfg_get(map, "split"), "holdout.split: only a holdout fraction is split");
  out->kind = SM_HOLDOUT_FILE;
  SM_TRY(read_settings(src, map, "holdout", base, data, &out->source));
  out->source.columns =
      calloc((size_t)(data->n_columns ? data->n_columns : 1), sizeof(sm_column_spec));
  if (!out->source.columns)
    return oom(src);
  out->source.n_columns = data->n_columns;
  for (int j = 0; j < data->n_columns; j++)
    SM_TRY(copy_column(src, &data->columns[j], &out->source.columns[j]));
  return SM_OK;
}

/* split: random (by seed) or, for FASTA, tail (the end of every record). */
static int read_split(const cfg_source *src, const cfg_node *map, const sm_source_spec *data,
                      sm_holdout_spec *out) {
  char *split = NULL;
  SM_TRY(cfg_get_string(src, map, "holdout", "split", "random", &split));
  int tail = !strcmp(split, "tail"), random = !strcmp(split, "random");
  free(split);
  if (!tail && !random)
    return cfg_error(src, cfg_get(map, "split"), "holdout.split: expected random or tail");
  if (tail && strcmp(data->format, "fasta") != 0)
    return cfg_error(src, cfg_get(map, "split"),
                     "holdout.split: tail is for sequence data (data.format: fasta)");
  if (tail && cfg_get(map, "seed"))
    return cfg_error(src, cfg_get(map, "seed"), "holdout.seed: a tail split takes no seed");
  if (tail)
    out->kind = SM_HOLDOUT_TAIL;
  return SM_OK;
}

/* A seeded share of the input rows. */
static int read_holdout_fraction(const cfg_source *src, const cfg_node *map,
                                 const sm_source_spec *data, sm_holdout_spec *out) {
  for (int k = 0; holdout_file_keys[k]; k++)
    if (cfg_get(map, holdout_file_keys[k]))
      return cfg_error(src, cfg_get(map, holdout_file_keys[k]),
                       "holdout.%s: only a holdout file (holdout.path) takes this setting",
                       holdout_file_keys[k]);
  const cfg_node *node = cfg_get(map, "fraction");
  double f = 0;
  if (cfg_real_value(src, node, "holdout.fraction", 0, 1, &f) != SM_OK || f <= 0 || f >= 1) {
    char got[96];
    cfg_describe(node, got, sizeof got);
    return cfg_error(src, node,
                     "holdout.fraction: expected a number between 0 and 1 "
                     "(exclusive), got %s",
                     got);
  }
  out->kind = SM_HOLDOUT_FRACTION;
  out->fraction = f;
  SM_TRY(cfg_get_uint64(src, map, "holdout", "seed", 1, &out->seed));
  return read_split(src, map, data, out);
}

int cfg_read_holdout(const cfg_source *src, const cfg_node *root, const char *base,
                     const sm_source_spec *data, sm_holdout_spec *out) {
  const cfg_node *map = NULL;
  out->kind = SM_HOLDOUT_NONE;
  SM_TRY(cfg_get_map(src, root, "", "holdout", &map));
  if (!map)
    return SM_OK;
  SM_TRY(cfg_check_keys(src, map, "holdout", holdout_keys));

  /* exactly one of path and fraction */
  int has_path = cfg_get(map, "path") != NULL, has_fraction = cfg_get(map, "fraction") != NULL;
  if (has_path && has_fraction)
    return cfg_error(src, map, "holdout: give either path or fraction, not both");
  if (!has_path && !has_fraction)
    return cfg_error(src, map, "holdout: missing required key 'path' or 'fraction'");
  if (has_path && strcmp(data->format, "csv") != 0)
    return cfg_error(src, cfg_get(map, "path"),
                     "holdout.path: %s data are held out by person with holdout.fraction",
                     data->format);
  if (has_path)
    return read_holdout_file(src, map, base, data, out);
  return read_holdout_fraction(src, map, data, out);
}

static void column_free(sm_column_spec *c) {
  free(c->name);
  free(c->format);
  free(c->strip_suffix);
  free_strings(c->domain_categories, c->n_domain_categories);
  free_strings(c->replace_from, c->n_replace);
  free_strings(c->replace_to, c->n_replace);
}

void cfg_source_free(sm_source_spec *s) {
  free(s->path);
  free(s->format);
  free(s->legend);
  free_strings(s->missing, s->n_missing);
  for (int j = 0; j < s->n_columns && s->columns; j++)
    column_free(&s->columns[j]);
  free(s->columns);
  memset(s, 0, sizeof(*s));
}
