/* The hap_markov model file: the tabular model header (no columns), /variants, and the
 * group /hap_markov with the settings as attributes and the counts (noisy in a private
 * run) as one dataset. The sampling tables are rebuilt from the counts on load. */
#include <stdlib.h>
#include <string.h>

#include "genome/genome_internal.h"
#include "io/h5util.h"
#include "io/io.h"

/* Collective. Header, variants, settings and counts into an open file. */
static int write_model(sm_ctx *ctx, hid_t file, const sm_hap_markov *m, const sm_variants *vars,
                       const sm_experiment *e) {
  sm_schema none = {0, NULL};
  SM_TRY(sm_io_write_header(ctx, file, SM_MODEL_FORMAT, e, &none));
  SM_TRY(sm_h5_attr_str(ctx, file, "kind", SM_HAP_MARKOV_KIND));
  SM_TRY(sm_io_write_ledger(ctx, file, &m->ledger));
  SM_TRY(sm_genome_write_variants(ctx, file, vars));

  /* settings, then the counts */
  hid_t g = H5Gcreate2(file, "hap_markov", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, g);
  SM_TRY(sm_h5_attr_i64(ctx, g, "order", m->order));
  SM_TRY(sm_h5_attr_i64(ctx, g, "alphabet", m->alphabet));
  SM_TRY(sm_h5_attr_i64(ctx, g, "ploidy_coded", m->ploidy_coded));
  SM_TRY(sm_h5_attr_f64(ctx, g, "alpha", m->alpha));
  SM_TRY(sm_h5_attr_i64(ctx, g, "components", m->components));
  SM_TRY(sm_h5_write_f64(ctx, g, "weights", m->weights, m->components));
  SM_TRY(sm_h5_write_f64(ctx, g, "counts", m->counts, m->components * m->cells * m->alphabet));
  SM_H5_CHECK(ctx, H5Gclose(g));
  return SM_OK;
}

int sm_hap_markov_save(sm_ctx *ctx, const sm_hap_markov *m, const sm_variants *vars,
                       const sm_experiment *e, const char *path) {
  sm_stage st;
  SM_TRY(sm_stage_begin(ctx, path, 1, &st));
  hid_t file = sm_h5_create(ctx, st.partial);
  int rc = sm_agree(ctx, file >= 0 ? SM_OK : SM_EINPUT);
  if (rc == SM_OK)
    rc = sm_agree(ctx, write_model(ctx, file, m, vars, e));
  if (file >= 0) {
    sm_h5_close_objects(file);
    if (H5Fclose(file) < 0 && rc == SM_OK)
      rc = sm_fail_h5(ctx, "H5Fclose", __FILE__, __LINE__);
  }
  rc = sm_stage_finish(ctx, &st, rc);
  sm_stage_free(&st);
  return rc;
}

/* Collective. Settings and counts from /hap_markov, checked against the variants. */
static int read_model(sm_ctx *ctx, hid_t file, sm_hap_markov *m, sm_variants *vars) {
  char *kind = NULL;
  SM_TRY(sm_h5_get_attr_str(ctx, file, "kind", &kind));
  int same = strcmp(kind, SM_HAP_MARKOV_KIND) == 0;
  free(kind);
  if (!same)
    return sm_fail(ctx, SM_EINPUT, "not a hap_markov model file");
  SM_TRY(sm_genome_read_variants(ctx, file, vars));
  SM_TRY(sm_io_read_ledger(ctx, file, &m->ledger));
  hid_t g = sm_h5_try_open(file, "hap_markov", H5I_GROUP);
  if (g < 0)
    return sm_fail(ctx, SM_EINPUT, "no /hap_markov group");

  /* settings; the table shape follows from them */
  int64_t order = 0, alphabet = 0, coded = 0, components = 0;
  int rc = sm_h5_get_attr_i64(ctx, g, "order", &order);
  if (rc == SM_OK)
    rc = sm_h5_get_attr_i64(ctx, g, "alphabet", &alphabet);
  if (rc == SM_OK)
    rc = sm_h5_get_attr_i64(ctx, g, "ploidy_coded", &coded);
  if (rc == SM_OK)
    rc = sm_h5_get_attr_f64(ctx, g, "alpha", &m->alpha);
  if (rc == SM_OK)
    rc = sm_h5_get_attr_i64(ctx, g, "components", &components);
  if (rc == SM_OK && (order < 0 || order > 16 || (alphabet != 2 && alphabet != 3) ||
                      components < 1 || components > 64))
    rc = sm_fail(ctx, SM_EINPUT,
                 "/hap_markov: order %lld, alphabet %lld or components %lld "
                 "out of range",
                 (long long)order, (long long)alphabet, (long long)components);
  m->order = (int)order, m->alphabet = (int)alphabet, m->ploidy_coded = (int)coded;
  m->components = (int)components;
  if (rc == SM_OK)
    rc = sm_hap_markov_alloc(ctx, m, vars->n);
  double *counts = NULL, *weights = NULL;
  int64_t n = rc == SM_OK ? m->components * m->cells * m->alphabet : 0;
  if (rc == SM_OK)
    rc = sm_h5_read_f64_n(ctx, g, "counts", n, &counts);
  if (rc == SM_OK)
    rc = sm_h5_read_f64_n(ctx, g, "weights", m->components, &weights);
  if (rc == SM_OK) {
    memcpy(m->counts, counts, (size_t)n * sizeof(double));
    memcpy(m->weights, weights, (size_t)m->components * sizeof(double));
  }
  free(counts);
  free(weights);
  H5Gclose(g);
  return rc;
}

int sm_hap_markov_load(sm_ctx *ctx, const char *path, sm_hap_markov *m, sm_variants *vars) {
  hid_t file = -1;
  char *format = NULL;
  memset(m, 0, sizeof(*m));
  memset(vars, 0, sizeof(*vars));
  SM_TRY(sm_io_open(ctx, path, SM_MODEL_FORMAT, &file, &format));
  free(format);
  int rc = sm_agree(ctx, read_model(ctx, file, m, vars));
  sm_io_close(file);
  if (rc == SM_OK)
    rc = sm_agree(ctx, sm_hap_markov_tables(ctx, m));
  if (rc != SM_OK) {
    sm_hap_markov_free(m);
    sm_variants_free(vars);
  }
  return rc;
}
