/* RealNVP: the fitted state in an HDF5 group (settings as attributes, the parameters as
 * float64, the loss history, the held-out NLL, and the flat encoding in "encoding"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "models/realnvp.h"
#include "models/tvae.h"

/* Collective. The settings and held-out figures as attributes. */
static int write_settings(sm_ctx *ctx, hid_t g, const realnvp_state *st) {
  const realnvp_settings *s = &st->set;
  char dims[SM_MLP_MAX_LAYERS * 8 + 1] = "";
  size_t used = 0;
  for (int i = 0; i < s->n_hidden; i++)
    used += (size_t)snprintf(dims + used, sizeof dims - used, i ? ",%d" : "%d", s->hidden[i]);
  SM_TRY(sm_h5_attr_str(ctx, g, "model", "realnvp"));
  SM_TRY(sm_h5_attr_i64(ctx, g, "couplings", s->couplings));
  SM_TRY(sm_h5_attr_str(ctx, g, "hidden_dims", dims));
  SM_TRY(sm_h5_attr_f64(ctx, g, "lr", s->lr));
  SM_TRY(sm_h5_attr_f64(ctx, g, "l2scale", s->l2scale));
  SM_TRY(sm_h5_attr_f64(ctx, g, "validation", s->validation));
  SM_TRY(sm_h5_attr_i64(ctx, g, "batch_size", s->batch_size));
  SM_TRY(sm_h5_attr_i64(ctx, g, "epochs", s->epochs));
  SM_TRY(sm_h5_attr_i64(ctx, g, "seed", (int64_t)s->seed));
  SM_TRY(sm_h5_attr_f64(ctx, g, "heldout_nll", st->heldout_nll));
  SM_TRY(sm_h5_attr_f64(ctx, g, "heldout_bits_per_dim", st->heldout_bpd));
  return sm_h5_attr_i64(ctx, g, "heldout_rows", st->heldout_rows);
}

int sm_realnvp_save(sm_ctx *ctx, const void *state, int64_t group) {
  const realnvp_state *st = state;
  hid_t g = (hid_t)group;
  size_t n = st->net.n_model;
  double *values = sm_malloc(ctx, (n > 0 ? n : 1) * sizeof(double));
  for (size_t i = 0; values && i < n; i++)
    values[i] = st->net.params.value[i];
  int rc = sm_agree(ctx, values ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = write_settings(ctx, g, st);
  if (rc == SM_OK)
    rc = sm_h5_write_f64(ctx, g, "parameters", values, (int64_t)n);
  if (rc == SM_OK)
    rc = sm_h5_write_f64(ctx, g, "loss_history", st->history, st->set.epochs);
  free(values);
  SM_TRY(sm_agree(ctx, rc));
  hid_t enc = H5Gcreate2(g, "encoding", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, enc);
  rc = sm_flat_save(ctx, &st->flat, (int64_t)enc);
  H5Gclose(enc);
  return rc;
}

/* Local reads of the settings. */
static int read_settings(sm_ctx *ctx, hid_t g, realnvp_state *st) {
  realnvp_settings *s = &st->set;
  int64_t v = 0;
  char *dims = NULL;
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "couplings", &v));
  if (v < 1 || v > REALNVP_MAX_COUPLINGS)
    return sm_fail(ctx, SM_EINPUT, "realnvp model: bad coupling count %lld", (long long)v);
  s->couplings = (int)v;
  SM_TRY(sm_h5_get_attr_str(ctx, g, "hidden_dims", &dims));
  int hidden[TVAE_MAX_LAYERS], n = 0;
  int rc = sm_tvae_parse_dims(ctx, "hidden_dims", dims, hidden, &n);
  free(dims);
  SM_TRY(rc);
  if (n < 1 || n > SM_MLP_MAX_LAYERS - 1)
    return sm_fail(ctx, SM_EINPUT, "realnvp model: bad hidden_dims");
  s->n_hidden = n;
  memcpy(s->hidden, hidden, (size_t)n * sizeof(int));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "lr", &s->lr));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "l2scale", &s->l2scale));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "validation", &s->validation));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "batch_size", &s->batch_size));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "epochs", &s->epochs));
  if (s->epochs < 1 || s->epochs > 10000000)
    return sm_fail(ctx, SM_EINPUT, "realnvp model: bad epoch count %lld", (long long)s->epochs);
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "seed", &v));
  s->seed = (uint64_t)v;
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "heldout_nll", &st->heldout_nll));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "heldout_bits_per_dim", &st->heldout_bpd));
  return sm_h5_get_attr_i64(ctx, g, "heldout_rows", &st->heldout_rows);
}

/* Collective. Settings, encoding, layout, values and history. */
static int load_into(sm_ctx *ctx, hid_t g, realnvp_state *st) {
  int rc = sm_agree(ctx, read_settings(ctx, g, st));
  hid_t enc = rc == SM_OK ? sm_h5_try_open(g, "encoding", H5I_GROUP) : -1;
  if (rc == SM_OK)
    rc = sm_agree(ctx,
                  enc < 0 ? sm_fail(ctx, SM_EINPUT, "realnvp model: no encoding group") : SM_OK);
  if (rc == SM_OK)
    rc = sm_flat_load(ctx, &st->flat, (int64_t)enc);
  if (enc >= 0)
    H5Gclose(enc);
  SM_TRY(rc);

  sm_realnvp_layout(&st->net, &st->set, st->flat.width);
  rc = sm_nn_params_alloc(ctx, &st->net.params);
  if (rc == SM_OK)
    rc = sm_h5_read_floats(ctx, g, "parameters", st->net.params.value, st->net.n_model);
  if (rc == SM_OK)
    rc = sm_h5_read_f64_n(ctx, g, "loss_history", st->set.epochs, &st->history);
  return sm_agree(ctx, rc);
}

int sm_realnvp_load(sm_ctx *ctx, int64_t group, void **state) {
  realnvp_state *st = sm_calloc(ctx, 1, sizeof *st);
  int rc = sm_agree(ctx, st ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = load_into(ctx, (hid_t)group, st);
  if (rc != SM_OK) {
    sm_realnvp_free(st);
    return rc;
  }
  *state = st;
  return SM_OK;
}
