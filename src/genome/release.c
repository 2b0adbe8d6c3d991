/* The genotype release: /genotypes (rows x variants, uint8) and /variants, written
 * collectively by every rank, staged as <path>.partial like the tabular release. */
#include <stdlib.h>
#include <string.h>

#include "genome/genome_internal.h"
#include "io/h5util.h"
#include "io/io.h"

/* Largest HDF5 chunk of /genotypes in bytes. */
#define MAX_CHUNK_BYTES ((int64_t)4 << 20)
/* Seconds between progress lines. */
#define PROGRESS_EVERY 5.0

/* ---- /variants ------------------------------------------------------------------------ */

int sm_genome_write_variants(sm_ctx *ctx, hid_t file, const sm_variants *v) {
  if (v->n > INT32_MAX)
    return sm_fail(ctx, SM_EINPUT, "%lld variants: more than one dataset holds", (long long)v->n);
  hid_t g = H5Gcreate2(file, "variants", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, g);
  int n = (int)v->n;
  SM_TRY(sm_h5_write_strings(ctx, g, "chrom", v->chrom, n));
  SM_TRY(sm_h5_write_i64(ctx, g, "pos", v->pos, v->n));
  SM_TRY(sm_h5_write_strings(ctx, g, "id", v->id, n));
  SM_TRY(sm_h5_write_strings(ctx, g, "ref", v->ref, n));
  SM_TRY(sm_h5_write_strings(ctx, g, "alt", v->alt, n));
  SM_H5_CHECK(ctx, H5Gclose(g));
  return SM_OK;
}

int sm_genome_read_variants(sm_ctx *ctx, hid_t file, sm_variants *v) {
  memset(v, 0, sizeof(*v));
  hid_t g = sm_h5_try_open(file, "variants", H5I_GROUP);
  if (g < 0)
    return sm_fail(ctx, SM_EINPUT, "no /variants group: not a genotype file");
  int n[4] = {0, 0, 0, 0};
  int rc = sm_h5_read_i64(ctx, g, "pos", &v->pos, &v->n);
  if (rc == SM_OK)
    rc = sm_h5_read_strings(ctx, g, "chrom", &v->chrom, &n[0]);
  if (rc == SM_OK)
    rc = sm_h5_read_strings(ctx, g, "id", &v->id, &n[1]);
  if (rc == SM_OK)
    rc = sm_h5_read_strings(ctx, g, "ref", &v->ref, &n[2]);
  if (rc == SM_OK)
    rc = sm_h5_read_strings(ctx, g, "alt", &v->alt, &n[3]);
  H5Gclose(g);
  for (int k = 0; k < 4 && rc == SM_OK; k++)
    if (n[k] != v->n)
      rc = sm_fail(ctx, SM_EINPUT, "/variants: fields of different lengths");
  return rc;
}

/* ---- writing -------------------------------------------------------------------------- */

/* Local. The sampling settings. */
static int check_request(sm_ctx *ctx, const sm_sampling_spec *s) {
  if (s->rows < 0)
    return sm_fail(ctx, SM_EINPUT, "sampling.rows must not be negative (got %lld)",
                   (long long)s->rows);
  if (s->chunk_rows < 1)
    return sm_fail(ctx, SM_EINPUT, "sampling.chunk_rows must be at least 1 (got %lld)",
                   (long long)s->chunk_rows);
  if (s->compression < 0 || s->compression > 9)
    return sm_fail(ctx, SM_EINPUT, "sampling.compression must be 0..9 (got %d)", s->compression);
  return SM_OK;
}

/* Rows per HDF5 chunk: chunk_rows, capped by MAX_CHUNK_BYTES and the row count. */
static int64_t chunk_rows_of(const sm_sampling_spec *s, int64_t n_vars) {
  int64_t cap = MAX_CHUNK_BYTES / (n_vars > 0 ? n_vars : 1), c = s->chunk_rows;
  c = c < cap ? c : cap;
  c = c < s->rows ? c : s->rows;
  return c > 0 ? c : 1;
}

/* Collective. /genotypes: chunked by rows (all variants in a chunk), deflate when asked;
 * an empty release is contiguous. */
static hid_t create_genotypes(sm_ctx *ctx, hid_t file, const sm_sampling_spec *s, int64_t n_vars) {
  hsize_t dims[2] = {(hsize_t)s->rows, (hsize_t)n_vars};
  hsize_t chunk[2] = {(hsize_t)chunk_rows_of(s, n_vars), (hsize_t)(n_vars > 0 ? n_vars : 1)};
  hid_t space = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  int ok = space >= 0 && dcpl >= 0;
  if (ok && s->rows > 0 && n_vars > 0) {
    ok = H5Pset_chunk(dcpl, 2, chunk) >= 0;

    /* required in parallel: unfiltered chunks are allocated at creation, filtered ones
     * collectively as they are written */
    if (ok && s->compression > 0)
      ok = H5Pset_deflate(dcpl, (unsigned)s->compression) >= 0;
    if (ok && s->compression == 0)
      ok = H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0;
    /* optional: every element is written */
    ok = ok && H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0;
  }
  if (ok)
    d = H5Dcreate2(file, "genotypes", H5T_STD_U8LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (space >= 0)
    H5Sclose(space);
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (d < 0)
    sm_fail_h5(ctx, "H5Dcreate2(genotypes)", __FILE__, __LINE__);
  return d;
}

/* Collective. The file's attributes: the tabular header (with no columns), then what this
 * release is. */
static int write_header(sm_ctx *ctx, hid_t file, const sm_experiment *e, const sm_genome_sampler *m,
                        const sm_variants *vars) {
  sm_schema none = {0, NULL};
  SM_TRY(sm_io_write_header(ctx, file, SM_RELEASE_FORMAT, e, &none));
  SM_TRY(sm_h5_attr_str(ctx, file, "content", SM_GENOME_RELEASE_CONTENT));
  SM_TRY(sm_h5_attr_i64(ctx, file, "rows", e->sampling.rows));
  SM_TRY(sm_h5_attr_i64(ctx, file, "variants", vars->n));
  SM_TRY(sm_h5_attr_i64(ctx, file, "ploidy_coded", m->ploidy_coded));
  SM_TRY(sm_h5_attr_i64(ctx, file, "seed", (int64_t)e->sampling.seed));
  SM_TRY(sm_h5_attr_str(ctx, file, "model", m->kind));
  SM_TRY(sm_h5_attr_i64(ctx, file, "ranks", ctx->size));
  SM_TRY(sm_io_write_ledger(ctx, file, m->ledger));
  return sm_genome_write_variants(ctx, file, vars);
}

/* Collective. Rows [row0, row0 + n) of /genotypes from buf; n = 0 selects nothing. */
static int write_rows(sm_ctx *ctx, hid_t d, hid_t dxpl, int64_t row0, int64_t n, int64_t nv,
                      const uint8_t *buf) {
  hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)n, (hsize_t)nv};
  hsize_t mdim[2] = {(hsize_t)(n > 0 ? n : 1), (hsize_t)(nv > 0 ? nv : 1)};
  hid_t mspace = H5Screate_simple(2, mdim, NULL), fspace = H5Dget_space(d);
  SM_H5_CHECK(ctx, mspace);
  SM_H5_CHECK(ctx, fspace);
  if (n > 0 && nv > 0)
    SM_H5_CHECK(ctx, H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  else {
    SM_H5_CHECK(ctx, H5Sselect_none(fspace));
    SM_H5_CHECK(ctx, H5Sselect_none(mspace));
  }
  SM_H5_CHECK(ctx, H5Dwrite(d, H5T_NATIVE_UINT8, mspace, fspace, dxpl, buf));
  H5Sclose(fspace);
  H5Sclose(mspace);
  return SM_OK;
}

/* Collective. Sample and write this rank's block in chunks; every rank takes part in
 * every iteration (the largest count over ranks). */
static int fill(sm_ctx *ctx, hid_t d, const sm_experiment *e, const sm_genome_sampler *m) {
  int64_t lo, hi, rows = e->sampling.rows, nv = m->n_vars;
  int64_t chunk = chunk_rows_of(&e->sampling, nv);
  sm_partition(rows, ctx->size, ctx->rank, &lo, &hi);
  int64_t mine = (hi - lo + chunk - 1) / chunk, iterations = 0;
  SM_MPI_CHECK(ctx, MPI_Allreduce(&mine, &iterations, 1, MPI_INT64_T, MPI_MAX, ctx->comm));
  uint8_t *buf = sm_malloc(ctx, (size_t)(chunk * (nv > 0 ? nv : 1)));
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);

  /* required: collective transfers, so filtered chunks shared by ranks are written once */
  int rc = sm_agree(ctx, buf && dxpl >= 0 && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) >= 0
                             ? SM_OK
                             : sm_fail(ctx, SM_ERR, "cannot set up the release transfer"));
  double t0 = MPI_Wtime(), last = t0;
  for (int64_t it = 0; it < iterations && rc == SM_OK; it++) {
    int64_t row0 = lo + it * chunk, n = hi - row0 < chunk ? hi - row0 : chunk;
    n = n > 0 ? n : 0;
    rc = sm_agree(ctx, m->sample(ctx, m->model, e->sampling.seed, row0, n, buf));
    if (rc == SM_OK)
      rc = sm_agree(ctx, write_rows(ctx, d, dxpl, row0, n, nv, buf));
    if (ctx->rank == 0 && MPI_Wtime() - last > PROGRESS_EVERY) {
      last = MPI_Wtime();
      sm_log(ctx, SM_LOG_INFO, "release: iteration %lld of %lld, %.0f haplotypes/s",
             (long long)it + 1, (long long)iterations,
             (double)(it + 1) * (double)chunk * ctx->size / (last - t0));
    }
  }
  free(buf);
  if (dxpl >= 0)
    H5Pclose(dxpl);
  return rc;
}

/* Collective. Create, fill and close the partial file. */
static int write_partial(sm_ctx *ctx, const sm_experiment *e, const sm_genome_sampler *m,
                         const sm_variants *vars, const char *partial) {
  hid_t file = sm_h5_create(ctx, partial), d = -1;
  int rc = sm_agree(ctx, file >= 0 ? SM_OK : SM_EINPUT);
  if (rc == SM_OK)
    rc = sm_agree(ctx, write_header(ctx, file, e, m, vars));
  if (rc == SM_OK) {
    d = create_genotypes(ctx, file, &e->sampling, vars->n);
    rc = sm_agree(ctx, d >= 0 ? SM_OK : SM_ERR);
  }
  if (rc == SM_OK)
    rc = fill(ctx, d, e, m);
  if (d >= 0)
    H5Dclose(d);
  if (file >= 0) {
    sm_h5_close_objects(file);
    if (H5Fclose(file) < 0 && rc == SM_OK)
      rc = sm_fail_h5(ctx, "H5Fclose", __FILE__, __LINE__);
  }
  return rc;
}

/* Local. hap_markov's rows through the sampler interface. */
static int markov_sample(sm_ctx *ctx, const void *model, uint64_t seed, int64_t row0, int64_t n,
                         uint8_t *g) {
  (void)ctx;
  sm_hap_markov_sample(model, seed, row0, n, g);
  return SM_OK;
}

sm_genome_sampler sm_hap_markov_sampler(const sm_hap_markov *m) {
  sm_genome_sampler s = {SM_HAP_MARKOV_KIND, m->ploidy_coded, m->n_vars, &m->ledger, m,
                         markov_sample};
  return s;
}

int sm_genome_release_write(sm_ctx *ctx, const sm_experiment *e, const sm_hap_markov *m,
                            const sm_variants *vars, const char *path) {
  sm_genome_sampler s = sm_hap_markov_sampler(m);
  return sm_genome_release_write_sampler(ctx, e, &s, vars, path);
}

int sm_genome_release_write_sampler(sm_ctx *ctx, const sm_experiment *e, const sm_genome_sampler *m,
                                    const sm_variants *vars, const char *path) {
  double t0 = MPI_Wtime();
  SM_TRY(sm_agree(ctx, check_request(ctx, &e->sampling)));
  if (vars->n != m->n_vars)
    return sm_fail(ctx, SM_ERR, "model has %lld variants, the variant list %lld",
                   (long long)m->n_vars, (long long)vars->n);

  /* refuse or prepare the target before any work */
  sm_stage st;
  int rc = sm_stage_begin(ctx, path, e->sampling.overwrite, &st);
  if (rc == SM_OK)
    rc = sm_stage_finish(ctx, &st, write_partial(ctx, e, m, vars, st.partial));
  sm_stage_free(&st);
  SM_TRY(rc);
  double s = MPI_Wtime() - t0, rows = (double)e->sampling.rows;
  sm_log(ctx, SM_LOG_INFO,
         "release: wrote %lld %s x %lld variants to %s in %.2f s (%.0f rows/s, %.1f MB/s)",
         (long long)e->sampling.rows, m->ploidy_coded ? "genotypes" : "haplotypes",
         (long long)vars->n, path, s, rows / (s > 0 ? s : 1),
         rows * (double)vars->n / 1e6 / (s > 0 ? s : 1));
  return SM_OK;
}

/* ---- reading -------------------------------------------------------------------------- */

/* Collective. Rows [row0, row0 + n) of /genotypes into m->g. */
static int read_rows(sm_ctx *ctx, hid_t file, int64_t row0, int64_t n, int64_t nv, uint8_t *g) {
  hid_t d = H5Dopen2(file, "genotypes", H5P_DEFAULT);
  SM_H5_CHECK(ctx, d);
  hid_t fspace = H5Dget_space(d);
  hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)n, (hsize_t)nv};
  hsize_t mdim[2] = {(hsize_t)(n > 0 ? n : 1), (hsize_t)(nv > 0 ? nv : 1)};
  hid_t mspace = H5Screate_simple(2, mdim, NULL);
  SM_H5_CHECK(ctx, fspace);
  SM_H5_CHECK(ctx, mspace);
  if (n > 0 && nv > 0)
    SM_H5_CHECK(ctx, H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  else {
    SM_H5_CHECK(ctx, H5Sselect_none(fspace));
    SM_H5_CHECK(ctx, H5Sselect_none(mspace));
  }
  SM_H5_CHECK(ctx, H5Dread(d, H5T_NATIVE_UINT8, mspace, fspace, H5P_DEFAULT, g));
  H5Sclose(mspace);
  H5Sclose(fspace);
  H5Dclose(d);
  return SM_OK;
}

/* Collective. This rank's rows: person i / 2 for haplotypes (consecutive pairs form a
 * synthetic individual), i for genotype rows. */
static int read_block(sm_ctx *ctx, hid_t file, sm_hapmat *out, sm_variants *vars) {
  int64_t rows = 0, coded = 0, lo, hi;
  SM_TRY(sm_h5_get_attr_i64(ctx, file, "rows", &rows));
  SM_TRY(sm_h5_get_attr_i64(ctx, file, "ploidy_coded", &coded));
  SM_TRY(sm_genome_read_variants(ctx, file, vars));
  sm_partition(rows, ctx->size, ctx->rank, &lo, &hi);
  out->n_rows = hi - lo, out->n_vars = vars->n, out->ploidy_coded = (int)coded;
  size_t r = (size_t)(hi - lo > 0 ? hi - lo : 1);
  out->g = sm_malloc(ctx, r * (size_t)(vars->n > 0 ? vars->n : 1));
  out->person = sm_calloc(ctx, r, sizeof(int64_t));
  if (!out->g || !out->person)
    return SM_ERR;
  for (int64_t i = lo; i < hi; i++)
    out->person[i - lo] = coded ? i : i / 2;
  return read_rows(ctx, file, lo, hi - lo, vars->n, out->g);
}

int sm_genome_release_read(sm_ctx *ctx, const char *path, sm_hapmat *out, sm_variants *vars) {
  hid_t file = -1;
  char *format = NULL;
  memset(out, 0, sizeof(*out));
  memset(vars, 0, sizeof(*vars));
  SM_TRY(sm_io_open(ctx, path, SM_RELEASE_FORMAT, &file, &format));
  free(format);
  int rc = sm_agree(ctx, read_block(ctx, file, out, vars));
  sm_io_close(file);
  if (rc != SM_OK) {
    sm_hapmat_free(out);
    sm_variants_free(vars);
  }
  return rc;
}

/* ---- what a file is, and inspect ------------------------------------------------------ */

int sm_genome_file_kind(sm_ctx *ctx, const char *path, int *is_genome) {
  int yes = 0;
  if (ctx->rank == 0) {
    H5E_BEGIN_TRY {
      hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
      if (f >= 0) {
        yes = H5Lexists(f, "genotypes", H5P_DEFAULT) > 0 ||
              H5Lexists(f, "hap_markov", H5P_DEFAULT) > 0 ||
              H5Lexists(f, "hap_vae", H5P_DEFAULT) > 0;
        H5Fclose(f);
      }
    }
    H5E_END_TRY;
  }
  SM_MPI_CHECK(ctx, MPI_Bcast(&yes, 1, MPI_INT, 0, ctx->comm));
  *is_genome = yes;
  return SM_OK;
}

/* An attribute as text ("?" when absent); malloc'd. */
static char *attr_text(sm_ctx *ctx, hid_t obj, const char *name) {
  char *s = NULL, buf[32];
  int64_t v;
  if (H5Aexists(obj, name) <= 0)
    return sm_strdup("?");
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1;
  int is_string = t >= 0 && H5Tget_class(t) == H5T_STRING;
  int is_float = t >= 0 && H5Tget_class(t) == H5T_FLOAT;
  if (t >= 0)
    H5Tclose(t);
  if (a >= 0)
    H5Aclose(a);
  double x;
  if (is_string && sm_h5_get_attr_str(ctx, obj, name, &s) == SM_OK)
    return s;
  if (is_float && sm_h5_get_attr_f64(ctx, obj, name, &x) == SM_OK)
    snprintf(buf, sizeof buf, "%g", x);
  else if (!is_float && sm_h5_get_attr_i64(ctx, obj, name, &v) == SM_OK)
    snprintf(buf, sizeof buf, "%lld", (long long)v);
  else
    snprintf(buf, sizeof buf, "?");
  return sm_strdup(buf);
}

/* Rank 0. One "key: value" line per attribute. */
static void print_attrs(sm_ctx *ctx, hid_t obj, const char *const *names, FILE *out) {
  for (int k = 0; names[k]; k++) {
    char *s = attr_text(ctx, obj, names[k]);
    fprintf(out, "%-14s %s\n", names[k], s ? s : "?");
    free(s);
  }
}

/* Collective. The summary: attributes, the ledger, the first variants. */
static int print_summary(sm_ctx *ctx, const char *path, hid_t file, FILE *out) {
  sm_variants v;
  sm_ledger l = {0};
  SM_TRY(sm_genome_read_variants(ctx, file, &v));
  int rc = sm_io_read_ledger(ctx, file, &l);
  static const char *const release[] = {"format",       "content", "name",  "created",
                                        "version",      "model",   "rows",  "variants",
                                        "ploidy_coded", "seed",    "ranks", NULL};
  static const char *const model[] = {"format", "kind", "name", "created", "version", NULL};
  static const char *const params[] = {"order",      "alphabet",     "alpha",
                                       "components", "ploidy_coded", NULL};
  if (rc == SM_OK && ctx->rank == 0) {
    fprintf(out, "file           %s\n", path);
    int is_release = H5Lexists(file, "genotypes", H5P_DEFAULT) > 0;
    print_attrs(ctx, file, is_release ? release : model, out);
    hid_t g = is_release ? -1 : sm_h5_try_open(file, "hap_markov", H5I_GROUP);
    if (g >= 0)
      print_attrs(ctx, g, params, out), H5Gclose(g);
    fprintf(out, "variants       %lld (first: %s %s:%lld %s>%s)\n", (long long)v.n,
            v.n ? v.id[0] : "-", v.n ? v.chrom[0] : "-", v.n ? (long long)v.pos[0] : 0LL,
            v.n ? v.ref[0] : "-", v.n ? v.alt[0] : "-");
    char *json = l.n > 0 ? sm_ledger_to_json(&l) : NULL;
    fprintf(out, "privacy        %s\n", json ? json : "not a private run");
    free(json);
    fflush(out);
  }
  sm_ledger_free(&l);
  sm_variants_free(&v);
  return rc;
}

int sm_genome_inspect(sm_ctx *ctx, const char *path, FILE *out) {
  hid_t file = -1;
  char *format = NULL;
  SM_TRY(sm_io_open(ctx, path, NULL, &file, &format));
  free(format);
  int rc = sm_agree(ctx, print_summary(ctx, path, file, out));
  sm_io_close(file);
  return rc;
}
