/* The hap_vae model file: the tabular model header (no columns), /variants, and the group
 * /hap_vae with the settings as attributes, the parameters (float32 values stored exactly
 * as float64), the major alleles and the loss history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genome/hap_vae.h"
#include "io/h5util.h"
#include "io/io.h"
#include "models/tvae.h"

/* Collective. The settings as attributes of g. */
static int write_settings(sm_ctx *ctx, hid_t g, const hap_vae_settings *s) {
  char dims[HAP_VAE_MAX_LAYERS * 8 + 1] = "";
  for (int i = 0; i < s->n_hidden; i++)
    snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%d", i ? "," : "", s->hidden[i]);
  SM_TRY(sm_h5_attr_str(ctx, g, "hidden_dims", dims));
  SM_TRY(sm_h5_attr_i64(ctx, g, "latent_dim", s->latent));
  SM_TRY(sm_h5_attr_f64(ctx, g, "beta", s->beta));
  SM_TRY(sm_h5_attr_f64(ctx, g, "lr", s->lr));
  SM_TRY(sm_h5_attr_f64(ctx, g, "temperature", s->temperature));
  SM_TRY(sm_h5_attr_i64(ctx, g, "batch_size", s->batch_size));
  SM_TRY(sm_h5_attr_i64(ctx, g, "epochs", s->epochs));
  SM_TRY(sm_h5_attr_i64(ctx, g, "context", s->context));
  return sm_h5_attr_i64(ctx, g, "seed", (int64_t)s->seed);
}

/* Collective. Header, variants, then /hap_vae. */
static int write_model(sm_ctx *ctx, hid_t file, const sm_hap_vae *v, const sm_variants *vars,
                       const sm_experiment *e) {
  sm_schema none = {0, NULL};
  sm_ledger empty = {0};
  SM_TRY(sm_io_write_header(ctx, file, SM_MODEL_FORMAT, e, &none));
  SM_TRY(sm_h5_attr_str(ctx, file, "kind", SM_HAP_VAE_KIND));
  SM_TRY(sm_io_write_ledger(ctx, file, &empty));
  SM_TRY(sm_genome_write_variants(ctx, file, vars));
  hid_t g = H5Gcreate2(file, "hap_vae", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, g);
  SM_TRY(write_settings(ctx, g, &v->set));

  /* parameters, major alleles, history */
  size_t n = v->n_model, nv = (size_t)v->n_vars;
  double *p = sm_malloc(ctx, (n + 1) * sizeof(double));
  int64_t *major = sm_malloc(ctx, (nv + 1) * sizeof(int64_t));
  int rc = p && major ? SM_OK : SM_ERR;
  for (size_t i = 0; rc == SM_OK && i < n; i++)
    p[i] = v->params.value[i];
  for (size_t j = 0; rc == SM_OK && j < nv; j++)
    major[j] = v->major[j];
  if (rc == SM_OK)
    rc = sm_h5_write_f64(ctx, g, "parameters", p, (int64_t)n);
  if (rc == SM_OK)
    rc = sm_h5_write_i64(ctx, g, "major", major, (int64_t)nv);
  if (rc == SM_OK && v->history)
    rc = sm_h5_write_f64(ctx, g, "history", v->history, v->set.epochs * HAP_VAE_N_LOSSES);
  free(p);
  free(major);
  H5Gclose(g);
  return rc;
}

int sm_hap_vae_save(sm_ctx *ctx, const sm_hap_vae *v, const sm_variants *vars,
                    const sm_experiment *e, const char *path) {
  sm_stage st;
  SM_TRY(sm_stage_begin(ctx, path, 1, &st));
  hid_t file = sm_h5_create(ctx, st.partial);
  int rc = sm_agree(ctx, file >= 0 ? SM_OK : SM_EINPUT);
  if (rc == SM_OK)
    rc = sm_agree(ctx, write_model(ctx, file, v, vars, e));
  if (file >= 0) {
    sm_h5_close_objects(file);
    if (H5Fclose(file) < 0 && rc == SM_OK)
      rc = sm_fail_h5(ctx, "H5Fclose", __FILE__, __LINE__);
  }
  rc = sm_stage_finish(ctx, &st, rc);
  sm_stage_free(&st);
  return rc;
}

/* Collective. Settings from the attributes of g. */
static int read_settings(sm_ctx *ctx, hid_t g, hap_vae_settings *s) {
  char *dims = NULL;
  int64_t latent = 0, batch = 0, epochs = 0, seed = 0, context = 0;
  SM_TRY(sm_h5_get_attr_str(ctx, g, "hidden_dims", &dims));
  int rc = sm_tvae_parse_dims(ctx, "hidden_dims", dims, s->hidden, &s->n_hidden);
  free(dims);
  SM_TRY(rc);
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "latent_dim", &latent));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "beta", &s->beta));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "lr", &s->lr));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "temperature", &s->temperature));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "batch_size", &batch));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "epochs", &epochs));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "seed", &seed));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "context", &context));
  if (latent < 1 || latent > 65536 || epochs < 1 || !(s->temperature > 0) || context < 0 ||
      context > 16)
    return sm_fail(ctx, SM_EINPUT,
                   "/hap_vae: latent_dim, epochs, temperature or context out of range");
  s->context = (int)context;
  s->latent = (int)latent, s->batch_size = batch, s->epochs = epochs, s->seed = (uint64_t)seed;
  return SM_OK;
}

/* Collective. The layout from the settings, then parameters, major alleles and history. */
static int read_arrays(sm_ctx *ctx, hid_t g, sm_hap_vae *v, int64_t n_vars) {
  sm_hap_vae_layout(v, n_vars);
  SM_TRY(sm_nn_params_alloc(ctx, &v->params));
  double *p = NULL;
  int64_t *major = NULL;
  int rc = sm_h5_read_f64_n(ctx, g, "parameters", (int64_t)v->n_model, &p);
  if (rc == SM_OK)
    rc = sm_h5_read_i64_n(ctx, g, "major", n_vars, &major);
  if (rc == SM_OK)
    rc = sm_h5_read_f64_n(ctx, g, "history", v->set.epochs * HAP_VAE_N_LOSSES, &v->history);
  if (rc == SM_OK)
    rc = (v->major = sm_malloc(ctx, (size_t)(n_vars > 0 ? n_vars : 1))) ? SM_OK : SM_ERR;
  for (size_t i = 0; rc == SM_OK && i < v->n_model; i++)
    v->params.value[i] = (float)p[i];
  for (int64_t j = 0; rc == SM_OK && j < n_vars; j++)
    v->major[j] = (uint8_t)(major[j] != 0);
  free(p);
  free(major);
  return rc;
}

/* Collective. The whole model from an open file. */
static int read_model(sm_ctx *ctx, hid_t file, sm_hap_vae *v, sm_variants *vars) {
  char *kind = NULL;
  SM_TRY(sm_h5_get_attr_str(ctx, file, "kind", &kind));
  int same = strcmp(kind, SM_HAP_VAE_KIND) == 0;
  if (!same)
    sm_fail(ctx, SM_EINPUT, "a %s model file, not hap_vae (model.kind must match the file)", kind);
  free(kind);
  if (!same)
    return SM_EINPUT;
  SM_TRY(sm_genome_read_variants(ctx, file, vars));
  hid_t g = sm_h5_try_open(file, "hap_vae", H5I_GROUP);
  if (g < 0)
    return sm_fail(ctx, SM_EINPUT, "no /hap_vae group");
  int rc = read_settings(ctx, g, &v->set);
  if (rc == SM_OK)
    rc = read_arrays(ctx, g, v, vars->n);
  H5Gclose(g);
  return rc;
}

int sm_hap_vae_load(sm_ctx *ctx, const char *path, sm_hap_vae *v, sm_variants *vars) {
  hid_t file = -1;
  char *format = NULL;
  memset(v, 0, sizeof(*v));
  memset(vars, 0, sizeof(*vars));
  SM_TRY(sm_io_open(ctx, path, SM_MODEL_FORMAT, &file, &format));
  free(format);
  int rc = sm_agree(ctx, read_model(ctx, file, v, vars));
  sm_io_close(file);
  if (rc != SM_OK) {
    sm_hap_vae_free(v);
    sm_variants_free(vars);
  }
  return rc;
}
