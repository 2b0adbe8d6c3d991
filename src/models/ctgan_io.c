/* CTGAN: saving the fitted state to an HDF5 group and loading it back.
 *
 * The group holds the settings as attributes (layer lists as strings), the generator's and
 * the discriminator's parameters (float32 values stored as float64), the global category
 * counts of the conditional vector, the loss history (epochs, 4) and the encoder in the
 * subgroup "encoder". The discriminator's Adam moments belong to checkpoints only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "models/ctgan.h"
#include "models/tvae.h"

/* "256,256" from a list of widths. */
static void format_dims(char *buf, size_t size, const int *dims, int n) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, i ? ",%d" : "%d", dims[i]);
}

/* Collective. The settings as attributes. */
static int write_settings(sm_ctx *ctx, hid_t g, const ctgan_settings *s) {
  char dims[CTGAN_MAX_LAYERS * 8 + 1];
  SM_TRY(sm_h5_attr_str(ctx, g, "model", "ctgan"));
  SM_TRY(sm_h5_attr_i64(ctx, g, "embedding_dim", s->embedding_dim));
  format_dims(dims, sizeof dims, s->gen, s->n_gen);
  SM_TRY(sm_h5_attr_str(ctx, g, "generator_dims", dims));
  format_dims(dims, sizeof dims, s->dis, s->n_dis);
  SM_TRY(sm_h5_attr_str(ctx, g, "discriminator_dims", dims));
  SM_TRY(sm_h5_attr_f64(ctx, g, "generator_lr", s->g_lr));
  SM_TRY(sm_h5_attr_f64(ctx, g, "generator_decay", s->g_decay));
  SM_TRY(sm_h5_attr_f64(ctx, g, "discriminator_lr", s->d_lr));
  SM_TRY(sm_h5_attr_f64(ctx, g, "discriminator_decay", s->d_decay));
  SM_TRY(sm_h5_attr_f64(ctx, g, "gradient_penalty", s->penalty));
  SM_TRY(sm_h5_attr_i64(ctx, g, "batch_size", s->batch_size));
  SM_TRY(sm_h5_attr_i64(ctx, g, "epochs", s->epochs));
  SM_TRY(sm_h5_attr_i64(ctx, g, "pac", s->pac));
  SM_TRY(sm_h5_attr_i64(ctx, g, "discriminator_steps", s->d_steps));
  SM_TRY(sm_h5_attr_i64(ctx, g, "log_frequency", s->log_frequency));
  SM_TRY(sm_h5_attr_i64(ctx, g, "spectral_norm", s->spectral_norm));
  SM_TRY(sm_h5_attr_i64(ctx, g, "seed", (int64_t)s->seed));
  return sm_h5_attr_i64(ctx, g, "max_modes", s->max_modes);
}

/* Collective. Settings, parameters, counts, history and the encoder. */
static int write_group(sm_ctx *ctx, hid_t g, const ctgan_state *st) {
  const ctgan_net *net = &st->net;
  SM_TRY(write_settings(ctx, g, &st->set));
  SM_TRY(sm_h5_write_floats(ctx, g, "generator", net->params.value + net->g_first, net->n_gen));
  SM_TRY(sm_h5_write_floats(ctx, g, "discriminator", net->params.value, net->n_dis));
  int cond = sm_ctgan_cond_width(&st->cond);
  if (cond > 0)
    SM_TRY(sm_h5_write_f64(ctx, g, "category_counts", st->cond.count, cond));
  SM_TRY(sm_h5_write_f64(ctx, g, "loss_history", st->history, st->set.epochs * CTGAN_N_LOSSES));
  hid_t enc = H5Gcreate2(g, "encoder", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, enc);
  int rc = sm_encoder_save(ctx, &st->encoder, (int64_t)enc);
  H5Gclose(enc);
  return rc;
}

int sm_ctgan_save(sm_ctx *ctx, const void *state, int64_t group) {
  return sm_agree(ctx, write_group(ctx, (hid_t)group, state));
}

/* Local. A layer list attribute. */
static int read_dims(sm_ctx *ctx, hid_t g, const char *name, int *dims, int *n) {
  char *text = NULL;
  SM_TRY(sm_h5_get_attr_str(ctx, g, name, &text));
  int rc = sm_tvae_parse_dims(ctx, name, text, dims, n);
  free(text);
  return rc;
}

/* Local reads of the settings attributes. */
static int read_settings(sm_ctx *ctx, hid_t g, ctgan_settings *s) {
  int64_t v[7] = {0};
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "spectral_norm", &v[6]));
  memset(s, 0, sizeof *s);
  SM_TRY(read_dims(ctx, g, "generator_dims", s->gen, &s->n_gen));
  SM_TRY(read_dims(ctx, g, "discriminator_dims", s->dis, &s->n_dis));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "embedding_dim", &v[0]));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "pac", &v[1]));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "discriminator_steps", &v[2]));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "log_frequency", &v[3]));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "seed", &v[4]));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "max_modes", &v[5]));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "batch_size", &s->batch_size));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "epochs", &s->epochs));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "generator_lr", &s->g_lr));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "generator_decay", &s->g_decay));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "discriminator_lr", &s->d_lr));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "discriminator_decay", &s->d_decay));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "gradient_penalty", &s->penalty));
  if (v[0] < 1 || v[0] > 65536 || v[1] < 1 || v[1] > 1000 || s->batch_size < 1 ||
      s->batch_size > 1000000000 || s->batch_size % v[1] != 0 || s->epochs < 1 ||
      s->epochs > 10000000)
    return sm_fail(ctx, SM_EINPUT,
                   "ctgan model: bad settings (embedding %lld, pac %lld, "
                   "batch %lld, epochs %lld)",
                   (long long)v[0], (long long)v[1], (long long)s->batch_size,
                   (long long)s->epochs);
  s->embedding_dim = (int)v[0];
  s->pac = (int)v[1];
  s->d_steps = (int)v[2];
  s->log_frequency = (int)v[3];
  s->seed = (uint64_t)v[4];
  s->max_modes = (int)v[5];
  s->spectral_norm = v[6] != 0;
  return SM_OK;
}

/* Collective (the encoder's load). Settings, encoder, conditional columns, values. */
static int load_into(sm_ctx *ctx, hid_t g, ctgan_state *st) {
  int rc = sm_agree(ctx, read_settings(ctx, g, &st->set));
  hid_t enc = rc == SM_OK ? sm_h5_try_open(g, "encoder", H5I_GROUP) : -1;
  if (rc == SM_OK)
    rc = sm_agree(ctx, enc < 0 ? sm_fail(ctx, SM_EINPUT, "ctgan model: no encoder group") : SM_OK);
  if (rc == SM_OK)
    rc = sm_encoder_load(ctx, &st->encoder, (int64_t)enc);
  if (enc >= 0)
    H5Gclose(enc);
  SM_TRY(sm_agree(ctx, rc));

  /* the conditional columns with their counts, the networks, their values */
  double *count = NULL;
  rc = sm_ctgan_cond_init(ctx, &st->cond, &st->encoder, NULL);
  int cond = rc == SM_OK ? sm_ctgan_cond_width(&st->cond) : 0;
  if (rc == SM_OK && cond > 0)
    rc = sm_h5_read_f64_n(ctx, g, "category_counts", cond, &count);
  if (rc == SM_OK) {
    sm_ctgan_cond_free(&st->cond);
    rc = sm_ctgan_cond_init(ctx, &st->cond, &st->encoder, count);
  }
  free(count);
  if (rc == SM_OK)
    rc = sm_ctgan_layout(ctx, &st->net, &st->set, st->encoder.width, cond);
  if (rc == SM_OK)
    rc = sm_nn_params_alloc(ctx, &st->net.params);
  const ctgan_net *net = &st->net;
  if (rc == SM_OK)
    rc = sm_h5_read_floats(ctx, g, "generator", net->params.value + net->g_first, net->n_gen);
  if (rc == SM_OK)
    rc = sm_h5_read_floats(ctx, g, "discriminator", net->params.value, net->n_dis);
  if (rc == SM_OK)
    rc = sm_h5_read_f64_n(ctx, g, "loss_history", st->set.epochs * CTGAN_N_LOSSES, &st->history);
  return sm_agree(ctx, rc);
}

int sm_ctgan_load(sm_ctx *ctx, int64_t group, void **state) {
  ctgan_state *st = sm_calloc(ctx, 1, sizeof *st);
  int rc = sm_agree(ctx, st ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = load_into(ctx, (hid_t)group, st);
  if (rc != SM_OK) {
    sm_ctgan_free(st);
    return rc;
  }
  *state = st;
  return SM_OK;
}
