/* TVAE: saving the fitted state to an HDF5 group and loading it back.
 *
 * The group holds the settings as attributes (the layer lists as strings), the model's
 * parameters (both networks and sigma, float32 values stored as float64), the loss history
 * (epochs, 2) and the encoder in the subgroup "encoder".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "models/tvae.h"

/* "128,128" from a list of widths. */
static void format_dims(char *buf, size_t size, const int *dims, int n) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, i ? ",%d" : "%d", dims[i]);
}

/* Collective. The settings as attributes. */
static int write_settings(sm_ctx *ctx, hid_t g, const tvae_settings *s) {
  char dims[TVAE_MAX_LAYERS * 8 + 1];
  SM_TRY(sm_h5_attr_str(ctx, g, "model", "tvae"));
  SM_TRY(sm_h5_attr_i64(ctx, g, "layout", TVAE_LAYOUT));
  SM_TRY(sm_h5_attr_i64(ctx, g, "embedding_dim", s->embedding_dim));
  format_dims(dims, sizeof dims, s->compress, s->n_compress);
  SM_TRY(sm_h5_attr_str(ctx, g, "compress_dims", dims));
  format_dims(dims, sizeof dims, s->decompress, s->n_decompress);
  SM_TRY(sm_h5_attr_str(ctx, g, "decompress_dims", dims));
  SM_TRY(sm_h5_attr_f64(ctx, g, "l2scale", s->l2scale));
  SM_TRY(sm_h5_attr_f64(ctx, g, "loss_factor", s->loss_factor));
  SM_TRY(sm_h5_attr_f64(ctx, g, "beta", s->beta));
  SM_TRY(sm_h5_attr_f64(ctx, g, "lr", s->lr));
  SM_TRY(sm_h5_attr_i64(ctx, g, "batch_size", s->batch_size));
  SM_TRY(sm_h5_attr_i64(ctx, g, "epochs", s->epochs));
  SM_TRY(sm_h5_attr_i64(ctx, g, "seed", (int64_t)s->seed));
  return sm_h5_attr_i64(ctx, g, "max_modes", s->max_modes);
}

/* Collective. Settings, parameters, history and the encoder. */
static int write_group(sm_ctx *ctx, hid_t g, const tvae_state *st, const double *values) {
  SM_TRY(write_settings(ctx, g, &st->set));
  SM_TRY(sm_h5_write_f64(ctx, g, "parameters", values, (int64_t)st->net.n_model));
  SM_TRY(sm_h5_write_f64(ctx, g, "loss_history", st->history, st->set.epochs * TVAE_N_LOSSES));
  hid_t enc = H5Gcreate2(g, "encoder", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, enc);
  int rc = sm_encoder_save(ctx, &st->encoder, (int64_t)enc);
  H5Gclose(enc);
  return rc;
}

int sm_tvae_save(sm_ctx *ctx, const void *state, int64_t group) {
  const tvae_state *st = state;
  size_t n = st->net.n_model;
  double *values = sm_malloc(ctx, (n > 0 ? n : 1) * sizeof(double));
  for (size_t i = 0; values && i < n; i++)
    values[i] = st->net.params.value[i];
  int rc = sm_agree(ctx, values ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = write_group(ctx, (hid_t)group, st, values);
  free(values);
  return sm_agree(ctx, rc);
}

/* Local reads of the settings attributes. */
static int read_settings(sm_ctx *ctx, hid_t g, tvae_settings *s) {
  int64_t v = 0;
  char *dims = NULL;
  memset(s, 0, sizeof *s);

  /* the parameter layout (a file without one has the first) */
  if (H5Aexists(g, "layout") > 0)
    SM_TRY(sm_h5_get_attr_i64(ctx, g, "layout", &v));
  else
    v = 1;
  if (v != TVAE_LAYOUT)
    return sm_fail(ctx, SM_EINPUT,
                   "tvae model: its parameters are laid out as another synthmpi version lays "
                   "them out (layout %lld, this one %d): fit the model again",
                   (long long)v, TVAE_LAYOUT);
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "embedding_dim", &v));
  s->embedding_dim = (int)v;
  if (v < 1 || v > 65536)
    return sm_fail(ctx, SM_EINPUT, "tvae model: bad embedding_dim %lld", (long long)v);
  SM_TRY(sm_h5_get_attr_str(ctx, g, "compress_dims", &dims));
  int rc = sm_tvae_parse_dims(ctx, "compress_dims", dims, s->compress, &s->n_compress);
  free(dims);
  SM_TRY(rc);
  SM_TRY(sm_h5_get_attr_str(ctx, g, "decompress_dims", &dims));
  rc = sm_tvae_parse_dims(ctx, "decompress_dims", dims, s->decompress, &s->n_decompress);
  free(dims);
  SM_TRY(rc);
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "l2scale", &s->l2scale));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "loss_factor", &s->loss_factor));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "beta", &s->beta));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "lr", &s->lr));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "batch_size", &s->batch_size));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "epochs", &s->epochs));
  if (s->epochs < 1 || s->epochs > 10000000)
    return sm_fail(ctx, SM_EINPUT, "tvae model: bad epoch count %lld", (long long)s->epochs);
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "seed", &v));
  s->seed = (uint64_t)v;
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "max_modes", &v));
  s->max_modes = (int)v;
  return SM_OK;
}

/* Collective (the encoder's load). Settings, encoder, layout, values. */
static int load_into(sm_ctx *ctx, hid_t g, tvae_state *st) {
  int rc = sm_agree(ctx, read_settings(ctx, g, &st->set));
  hid_t enc = rc == SM_OK ? sm_h5_try_open(g, "encoder", H5I_GROUP) : -1;
  if (rc == SM_OK)
    rc = sm_agree(ctx, enc < 0 ? sm_fail(ctx, SM_EINPUT, "tvae model: no encoder group") : SM_OK);
  if (rc == SM_OK)
    rc = sm_encoder_load(ctx, &st->encoder, (int64_t)enc);
  if (enc >= 0)
    H5Gclose(enc);
  SM_TRY(sm_agree(ctx, rc));

  /* the networks for the encoder's width, then their saved values */
  sm_tvae_layout(&st->net, &st->set, st->encoder.width);
  rc = sm_nn_params_alloc(ctx, &st->net.params);
  if (rc == SM_OK)
    rc = sm_h5_read_floats(ctx, g, "parameters", st->net.params.value, st->net.n_model);
  if (rc == SM_OK)
    rc = sm_h5_read_f64_n(ctx, g, "loss_history", st->set.epochs * TVAE_N_LOSSES, &st->history);
  return sm_agree(ctx, rc);
}

int sm_tvae_load(sm_ctx *ctx, int64_t group, void **state) {
  tvae_state *st = sm_calloc(ctx, 1, sizeof *st);
  int rc = sm_agree(ctx, st ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = load_into(ctx, (hid_t)group, st);
  if (rc != SM_OK) {
    sm_tvae_free(st);
    return rc;
  }
  *state = st;
  return SM_OK;
}
