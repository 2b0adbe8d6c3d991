/* The schema and provenance attributes shared by releases and model files. */
#include "io/io.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"

int sm_io_check_names(sm_ctx *ctx, const sm_schema *schema) {
  for (int j = 0; j < schema->n_cols; j++) {
    const char *name = schema->cols[j].name;
    if (!name || !*name || strcmp(name, ".") == 0)
      return sm_fail(ctx, SM_EINPUT, "column %d has an empty name or '.'", j + 1);
    if (strchr(name, '/'))
      return sm_fail(ctx, SM_EINPUT, "column '%s': names with '/' cannot be stored in HDF5", name);
  }
  return SM_OK;
}

/* One column as a JSON object (lo/hi NaN become null). */
static cJSON *column_json(const sm_column *c) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", c->name);
  cJSON_AddStringToObject(o, "type", sm_coltype_name(c->type));
  if (c->datetime_format)
    cJSON_AddStringToObject(o, "format", c->datetime_format);
  else
    cJSON_AddNullToObject(o, "format");
  cJSON_AddBoolToObject(o, "has_domain", c->has_domain);
  cJSON_AddNumberToObject(o, "lo", c->lo);
  cJSON_AddNumberToObject(o, "hi", c->hi);
  cJSON_AddNumberToObject(o, "n_categories", c->n_categories);
  return o;
}

/* The schema and the column names as JSON text (malloc'd, cJSON's allocator). */
static int schema_json(sm_ctx *ctx, const sm_schema *s, char **schema, char **names) {
  cJSON *cols = cJSON_CreateArray(), *list = cJSON_CreateArray();
  for (int j = 0; j < s->n_cols; j++) {
    cJSON_AddItemToArray(cols, column_json(&s->cols[j]));
    cJSON_AddItemToArray(list, cJSON_CreateString(s->cols[j].name));
  }
  *schema = cJSON_PrintUnformatted(cols);
  *names = cJSON_PrintUnformatted(list);
  cJSON_Delete(cols);
  cJSON_Delete(list);
  if (!*schema || !*names)
    return sm_fail(ctx, SM_ERR, "out of memory writing the schema as JSON");
  return SM_OK;
}

/* Collective. The dictionaries of categorical and boolean columns under /categories. */
static int write_categories(sm_ctx *ctx, hid_t file, const sm_schema *s) {
  hid_t group = H5Gcreate2(file, "categories", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, group);
  for (int j = 0; j < s->n_cols; j++) {
    const sm_column *c = &s->cols[j];
    if (sm_coltype_is_discrete(c->type))
      SM_TRY(sm_h5_write_strings(ctx, group, c->name, c->categories, c->n_categories));
  }
  H5Gclose(group);
  return SM_OK;
}

int sm_io_write_header(sm_ctx *ctx, hid_t file, const char *format, const sm_experiment *e,
                       const sm_schema *schema) {
  char created[32];
  SM_TRY(sm_io_now_utc(ctx, created, sizeof created));

  /* identity and provenance */
  SM_TRY(sm_h5_attr_str(ctx, file, "format", format));
  SM_TRY(sm_h5_attr_i64(ctx, file, "format_version", SM_FORMAT_VERSION));
  SM_TRY(sm_h5_attr_str(ctx, file, "version", SM_VERSION));
  SM_TRY(sm_h5_attr_str(ctx, file, "created", created));
  SM_TRY(sm_h5_attr_str(ctx, file, "name", e && e->name ? e->name : ""));
  SM_TRY(sm_h5_attr_str(ctx, file, "experiment", e && e->resolved ? e->resolved : ""));

  /* the schema as JSON, then the dictionaries */
  char *json = NULL, *names = NULL;
  int rc = schema_json(ctx, schema, &json, &names);
  if (rc == SM_OK)
    rc = sm_h5_attr_str(ctx, file, "schema", json);
  if (rc == SM_OK)
    rc = sm_h5_attr_str(ctx, file, "columns", names);
  cJSON_free(json);
  cJSON_free(names);
  SM_TRY(rc);
  return write_categories(ctx, file, schema);
}

/* A number field of a JSON object; null or absent reads as NaN. */
static double json_num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* One column from its JSON object; dictionaries are read separately. */
static int column_from_json(sm_ctx *ctx, const cJSON *o, sm_column *c) {
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
  const cJSON *format = cJSON_GetObjectItemCaseSensitive(o, "format");
  int t = cJSON_IsString(type) ? sm_coltype_parse(type->valuestring) : -1;
  if (!cJSON_IsString(name) || t < 0)
    return sm_fail(ctx, SM_EINPUT, "schema: a column lacks a name or a known type");

  c->name = sm_strdup(name->valuestring);
  c->type = (sm_coltype)t;
  c->datetime_format = cJSON_IsString(format) ? sm_strdup(format->valuestring) : NULL;
  c->has_domain = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "has_domain"));
  c->lo = json_num(o, "lo");
  c->hi = json_num(o, "hi");
  return c->name ? SM_OK : sm_fail(ctx, SM_ERR, "out of memory");
}

/* Parse the schema JSON text into s (dictionaries still empty). */
static int schema_from_json(sm_ctx *ctx, const char *text, sm_schema *s) {
  cJSON *cols = cJSON_Parse(text);
  if (!cJSON_IsArray(cols)) {
    cJSON_Delete(cols);
    return sm_fail(ctx, SM_EINPUT, "the schema attribute is not a JSON array");
  }
  int n = cJSON_GetArraySize(cols), rc = SM_OK;
  s->n_cols = n;
  s->cols = sm_calloc(ctx, (size_t)(n > 0 ? n : 1), sizeof(sm_column));
  if (!s->cols)
    rc = SM_ERR;
  for (int j = 0; j < n && rc == SM_OK; j++)
    rc = column_from_json(ctx, cJSON_GetArrayItem(cols, j), &s->cols[j]);
  cJSON_Delete(cols);
  return rc;
}

int sm_io_read_schema(sm_ctx *ctx, hid_t file, sm_schema *out) {
  memset(out, 0, sizeof(*out));
  char *text = NULL;
  SM_TRY(sm_h5_get_attr_str(ctx, file, "schema", &text));
  int rc = schema_from_json(ctx, text, out);
  free(text);
  SM_TRY(rc);

  /* dictionaries of the discrete columns */
  hid_t group = sm_h5_try_open(file, "categories", H5I_GROUP);
  if (group < 0)
    return sm_fail(ctx, SM_EINPUT, "the /categories group is missing");
  for (int j = 0; j < out->n_cols && rc == SM_OK; j++) {
    sm_column *c = &out->cols[j];
    if (sm_coltype_is_discrete(c->type))
      rc = sm_h5_read_strings(ctx, group, c->name, &c->categories, &c->n_categories);
  }
  H5Gclose(group);
  return rc;
}

/* Local part of opening: the file must be a finished one with the wanted format. */
static int open_checked(sm_ctx *ctx, const char *path, const char *want, hid_t *file,
                        char **format) {
  size_t n = strlen(path), k = strlen(".partial");
  if (n >= k && strcmp(path + n - k, ".partial") == 0)
    return sm_fail(ctx, SM_EINPUT, "%s: an unfinished file (.partial) cannot be read", path);
  *file = sm_h5_open(ctx, path, 0);
  if (*file < 0)
    return SM_EINPUT;

  /* the format attribute says what the file is */
  const char *what = !want                                ? "release or model file"
                     : strcmp(want, SM_MODEL_FORMAT) == 0 ? "model file"
                                                          : "release";
  if (H5Aexists(*file, "format") <= 0 || sm_h5_get_attr_str(ctx, *file, "format", format))
    return sm_fail(ctx, SM_EINPUT, "%s: not a synthmpi %s", path, what);
  int known = strcmp(*format, SM_RELEASE_FORMAT) == 0 || strcmp(*format, SM_MODEL_FORMAT) == 0;
  if (want ? strcmp(*format, want) != 0 : !known)
    return sm_fail(ctx, SM_EINPUT, "%s: not a synthmpi %s (format '%s')", path, what, *format);
  return SM_OK;
}

int sm_io_open(sm_ctx *ctx, const char *path, const char *want, hid_t *file, char **format) {
  *file = -1;
  *format = NULL;
  int rc = sm_agree(ctx, open_checked(ctx, path, want, file, format));
  if (rc != SM_OK) {
    sm_io_close(*file);
    *file = -1;
    free(*format);
    *format = NULL;
  }
  return rc;
}

void sm_io_close(hid_t file) {
  if (file < 0)
    return;
  sm_h5_close_objects(file);
  H5Fclose(file);
}

/* The on-disk type of a column: float64, int64 or int32 codes. */
static hid_t memory_type(sm_coltype t) {
  if (t == SM_COL_INTEGER)
    return H5T_NATIVE_INT64;
  return sm_coltype_is_discrete(t) ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE;
}

/* In place: stored values (int64 or int32 at the front of v) become float64, NaN for
 * missing. Runs backwards so a narrower stored value is read before it is overwritten. */
static void from_disk(sm_coltype t, double *v, int64_t n) {
  for (int64_t i = n - 1; i >= 0; i--) {
    if (t == SM_COL_INTEGER) {
      int64_t x;
      memcpy(&x, (char *)v + 8 * i, 8);
      v[i] = x == INT64_MIN ? NAN : (double)x;
    } else if (sm_coltype_is_discrete(t)) {
      int32_t x;
      memcpy(&x, (char *)v + 4 * i, 4);
      v[i] = x < 0 ? NAN : (double)x;
    }
  }
}

/* Collective. One column's rows [row0, row0 + n) into v (n may be 0 on this rank). */
static int read_column(sm_ctx *ctx, hid_t file, const sm_column *c, hid_t dxpl, int64_t row0,
                       int64_t n, double *v) {
  char path[1024];
  snprintf(path, sizeof path, "columns/%s", c->name);
  hid_t dset = sm_h5_try_open(file, path, H5I_DATASET);
  if (dset < 0)
    return sm_fail(ctx, SM_EINPUT, "dataset /%s is missing", path);

  /* this rank's rows, or none */
  hid_t fspace = H5Dget_space(dset);
  SM_H5_CHECK(ctx, fspace);
  hsize_t start = (hsize_t)row0, count = (hsize_t)n, mdim = (hsize_t)(n > 0 ? n : 1);
  hid_t mspace = H5Screate_simple(1, &mdim, NULL);
  SM_H5_CHECK(ctx, mspace);
  if (n > 0)
    SM_H5_CHECK(ctx, H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL));
  else {
    SM_H5_CHECK(ctx, H5Sselect_none(fspace));
    SM_H5_CHECK(ctx, H5Sselect_none(mspace));
  }
  SM_H5_CHECK(ctx, H5Dread(dset, memory_type(c->type), mspace, fspace, dxpl, v));
  from_disk(c->type, v, n);

  H5Sclose(mspace);
  H5Sclose(fspace);
  H5Dclose(dset);
  return SM_OK;
}

int sm_io_read_rows(sm_ctx *ctx, hid_t file, int64_t row0, int64_t n, sm_table *t) {
  /* collective transfers: every rank takes part in every column's read */
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  SM_H5_CHECK(ctx, dxpl);
  SM_H5_CHECK(ctx, H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  int rc = SM_OK;
  for (int j = 0; j < t->schema.n_cols && rc == SM_OK; j++)
    rc = read_column(ctx, file, &t->schema.cols[j], dxpl, row0, n, t->values[j]);
  H5Pclose(dxpl);
  t->n_rows = n;
  return rc;
}
