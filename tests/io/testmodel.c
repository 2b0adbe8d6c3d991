/* The test-only model and file utilities of the io tests. */
#define _XOPEN_SOURCE 700
#include "testmodel.h"

#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "io/h5util.h"
#include "synthmpi/rng.h"

static const char *const test_names[TEST_COLS] = {"x", "n", "c", "b", "d", "price, usd"};
static const sm_coltype test_types[TEST_COLS] = {SM_COL_CONTINUOUS,  SM_COL_INTEGER,
                                                 SM_COL_CATEGORICAL, SM_COL_BOOLEAN,
                                                 SM_COL_DATETIME,    SM_COL_CONTINUOUS};
/* sorted, as dictionaries are */
static const char *const test_categories[] = {"a,b", "line\nbreak", "plain", "q\"uote"};
static const char *const test_booleans[] = {"false", "true"};

void test_model_row(uint64_t seed, int64_t row, double scale, double out[TEST_COLS]) {
  sm_rng r;
  sm_rng_init(&r, seed, SM_STREAM_TEST, (uint64_t)row);

  /* one missing-value draw and one value draw per column, in order */
  double miss[TEST_COLS], u[TEST_COLS];
  for (int j = 0; j < TEST_COLS; j++) {
    miss[j] = sm_rng_uniform(&r);
    u[j] = sm_rng_uniform(&r);
  }
  double z = sm_rng_normal(&r);
  out[0] = miss[0] < 0.08 ? NAN : scale * z;
  out[1] = miss[1] < 0.05 ? NAN : floor(u[1] * 2e6) - 1e6;
  if (row % 97 == 0)
    out[1] = 4503599627370496.0 + (double)row; /* 2^52 + row: exact in float64 */
  out[2] = miss[2] < 0.10 ? NAN : floor(u[2] * 4);
  out[3] = miss[3] < 0.03 ? NAN : floor(u[3] * 2);
  out[4] = miss[4] < 0.05 ? NAN : 946684800.0 + floor(u[4] * 1e9);
  out[5] = u[5] * 1000;
}

static int test_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, sm_table *out) {
  const test_model_state *s = state;
  if (s->fail_row >= row0 && s->fail_row < row0 + out->n_rows)
    return sm_fail(ctx, SM_ERR, "test model: asked to fail at row %lld", (long long)s->fail_row);
  double v[TEST_COLS];
  for (int64_t i = 0; i < out->n_rows; i++) {
    test_model_row(seed, row0 + i, s->scale, v);
    for (int j = 0; j < TEST_COLS; j++)
      out->values[j][i] = v[j];
  }
  return SM_OK;
}

static int test_save(sm_ctx *ctx, const void *state, int64_t group) {
  const test_model_state *s = state;
  SM_TRY(sm_h5_write_f64(ctx, (hid_t)group, "scale", &s->scale, 1));
  return sm_h5_write_i64(ctx, (hid_t)group, "fail_row", &s->fail_row, 1);
}

static int test_load(sm_ctx *ctx, int64_t group, void **state) {
  double *scale = NULL;
  int64_t *fail_row = NULL, n1 = 0, n2 = 0;
  test_model_state *s = sm_calloc(ctx, 1, sizeof(*s));
  int rc = s ? sm_h5_read_f64(ctx, (hid_t)group, "scale", &scale, &n1) : SM_ERR;
  if (rc == SM_OK)
    rc = sm_h5_read_i64(ctx, (hid_t)group, "fail_row", &fail_row, &n2);
  if (rc == SM_OK && (n1 != 1 || n2 != 1))
    rc = sm_fail(ctx, SM_EINPUT, "test model: bad state sizes");
  if (rc == SM_OK) {
    s->scale = scale[0];
    s->fail_row = fail_row[0];
  }
  free(scale);
  free(fail_row);
  *state = s;
  return rc;
}

const sm_model_ops test_model_ops = {
    .kind = "io_test_model",
    .summary = "deterministic values for the io tests",
    .sample = test_sample,
    .save = test_save,
    .load = test_load,
    .free_state = free,
};

int test_model_make(sm_model *m, double scale, int64_t fail_row) {
  memset(m, 0, sizeof(*m));
  test_model_state *s = calloc(1, sizeof(*s));
  sm_column *cols = calloc(TEST_COLS, sizeof(sm_column));
  if (!s || !cols)
    return SM_ERR;
  s->scale = scale;
  s->fail_row = fail_row;

  /* the schema, with dictionaries and a datetime format */
  for (int j = 0; j < TEST_COLS; j++) {
    cols[j].name = sm_strdup(test_names[j]);
    cols[j].type = test_types[j];
    cols[j].lo = j == 5 ? 0 : -1;
    cols[j].hi = j == 5 ? 1000 : 1;
    cols[j].has_domain = j == 5;
  }
  cols[2].n_categories = 4;
  cols[3].n_categories = 2;
  for (int j = 2; j <= 3; j++) {
    cols[j].categories = calloc((size_t)cols[j].n_categories, sizeof(char *));
    for (int k = 0; k < cols[j].n_categories; k++)
      cols[j].categories[k] = sm_strdup(j == 2 ? test_categories[k] : test_booleans[k]);
  }
  cols[4].datetime_format = sm_strdup("%Y-%m-%d %H:%M:%S");
  m->ops = &test_model_ops;
  m->state = s;
  m->schema.n_cols = TEST_COLS;
  m->schema.cols = cols;
  return SM_OK;
}

void test_experiment(sm_experiment *e, int64_t rows, uint64_t seed, int64_t chunk_rows,
                     int compression) {
  memset(e, 0, sizeof(*e));
  e->version = 1;
  e->name = sm_strdup("io-test");
  e->model.kind = sm_strdup("io_test_model");
  e->sampling.rows = rows;
  e->sampling.seed = seed;
  e->sampling.chunk_rows = chunk_rows;
  e->sampling.compression = compression;
  char text[256];
  snprintf(text, sizeof text,
           "version: 1\nname: io-test\nsampling:\n  rows: %lld\n  seed: %llu\n"
           "  chunk_rows: %lld\n  compression: %d\n",
           (long long)rows, (unsigned long long)seed, (long long)chunk_rows, compression);
  e->resolved = sm_strdup(text);
}

void test_experiment_free(sm_experiment *e) {
  free(e->name);
  free(e->model.kind);
  free(e->resolved);
  memset(e, 0, sizeof(*e));
}

char *test_tmpdir(MPI_Comm comm) {
  char dir[64] = "/tmp/synthmpi_io_XXXXXX";
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0 && !mkdtemp(dir))
    dir[0] = '\0';
  MPI_Bcast(dir, (int)sizeof dir, MPI_CHAR, 0, comm);
  return dir[0] ? sm_strdup(dir) : NULL;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void test_rmtree(MPI_Comm comm, const char *dir) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  MPI_Barrier(comm);
  if (rank == 0 && dir)
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *test_io_begin(int *argc, char ***argv, sm_ctx *ctx) {
  MPI_Init(argc, argv);
  sm_ctx_init(ctx, MPI_COMM_WORLD);
  return test_tmpdir(ctx->comm);
}

void test_io_end(sm_ctx *ctx, char *dir) {
  test_rmtree(ctx->comm, dir);
  free(dir);
  sm_ctx_free(ctx);
}

const char *test_path(int slot, const char *dir, const char *name) {
  static char buf[4][4096];
  snprintf(buf[slot & 3], sizeof buf[0], "%s/%s", dir, name);
  return buf[slot & 3];
}

int test_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

uint64_t test_file_hash(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return 0;
  uint64_t h = 14695981039346656037ULL;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    h = fnv1a(h, buf, n);
  fclose(f);
  return h;
}

/* The stored form of a model value (what the writer must have put on disk). */
static void stored_value(sm_coltype t, double v, void *out) {
  if (t == SM_COL_INTEGER) {
    int64_t k = isnan(v) ? INT64_MIN : (int64_t)v;
    memcpy(out, &k, 8);
  } else if (sm_coltype_is_discrete(t)) {
    int32_t k = isnan(v) ? -1 : (int32_t)v;
    memcpy(out, &k, 4);
  } else {
    memcpy(out, &v, 8);
  }
}

/* Compare one column's stored bytes with the model; returns mismatches. */
static long check_column(hid_t file, int j, uint64_t seed, int64_t rows, double scale,
                         uint64_t *h) {
  char path[256];
  snprintf(path, sizeof path, "columns/%s", test_names[j]);
  hid_t dset = H5Dopen2(file, path, H5P_DEFAULT);
  if (dset < 0)
    return -1;
  hid_t space = H5Dget_space(dset);
  long n = (long)H5Sget_simple_extent_npoints(space), bad = n == rows ? 0 : 1;
  size_t size = sm_coltype_is_discrete(test_types[j]) ? 4 : 8;
  hid_t mtype = test_types[j] == SM_COL_INTEGER         ? H5T_NATIVE_INT64
                : sm_coltype_is_discrete(test_types[j]) ? H5T_NATIVE_INT32
                                                        : H5T_NATIVE_DOUBLE;
  unsigned char *data = malloc((size_t)(n > 0 ? n : 1) * size);
  if (n > 0 && H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    bad++;

  /* byte-exact against the model (NaN compares by bits too) */
  double v[TEST_COLS];
  unsigned char want[8];
  for (long i = 0; i < n && i < rows; i++) {
    test_model_row(seed, i, scale, v);
    stored_value(test_types[j], v[j], want);
    if (memcmp(want, data + (size_t)i * size, size) != 0 && bad++ < 5)
      fprintf(stderr, "column %s row %ld differs from the model\n", test_names[j], i);
  }
  *h = fnv1a(*h, data, (size_t)n * size);
  free(data);
  H5Sclose(space);
  H5Dclose(dset);
  return bad;
}

long test_check_release(const char *path, uint64_t seed, int64_t rows, double scale,
                        uint64_t *checksum) {
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0)
    return -1;
  long bad = 0;
  *checksum = 14695981039346656037ULL;
  for (int j = 0; j < TEST_COLS; j++) {
    long b = check_column(file, j, seed, rows, scale, checksum);
    bad += b < 0 ? 1 : b;
  }
  H5Fclose(file);
  return bad;
}
