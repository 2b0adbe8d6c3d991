/* TabDDPM: the fitted state in an HDF5 group (settings as attributes, the denoiser's
 * parameters as float64, the loss history, the target's class counts when conditioned, and
 * the flat encoding in "encoding"; the schedule is recomputed from the settings). Files
 * without target_block or lr_schedule (written before conditioning) load as unconditional
 * models with a constant learning rate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "models/tabddpm.h"
#include "models/tvae.h"

static int write_settings(sm_ctx *ctx, hid_t g, const tabddpm_settings *s) {
  char dims[SM_MLP_MAX_LAYERS * 8 + 1] = "";
  size_t used = 0;
  for (int i = 0; i < s->n_hidden; i++)
    used += (size_t)snprintf(dims + used, sizeof dims - used, i ? ",%d" : "%d", s->hidden[i]);
  SM_TRY(sm_h5_attr_str(ctx, g, "model", "tabddpm"));
  SM_TRY(sm_h5_attr_i64(ctx, g, "timesteps", s->timesteps));
  SM_TRY(sm_h5_attr_str(ctx, g, "schedule", s->schedule == TABDDPM_LINEAR ? "linear" : "cosine"));
  SM_TRY(sm_h5_attr_i64(ctx, g, "dim_t", s->dim_t));
  SM_TRY(sm_h5_attr_str(ctx, g, "hidden_dims", dims));
  SM_TRY(sm_h5_attr_f64(ctx, g, "lr", s->lr));
  SM_TRY(sm_h5_attr_f64(ctx, g, "weight_decay", s->weight_decay));
  SM_TRY(sm_h5_attr_i64(ctx, g, "batch_size", s->batch_size));
  SM_TRY(sm_h5_attr_i64(ctx, g, "steps", s->steps));
  SM_TRY(sm_h5_attr_i64(ctx, g, "epochs", s->epochs));
  SM_TRY(sm_h5_attr_i64(ctx, g, "sample_steps", s->sample_steps));
  SM_TRY(sm_h5_attr_i64(ctx, g, "n_quantiles", s->n_quantiles));
  SM_TRY(sm_h5_attr_str(ctx, g, "lr_schedule", s->lr_linear ? "linear" : "constant"));
  SM_TRY(sm_h5_attr_i64(ctx, g, "target_block", s->target_block));
  return sm_h5_attr_i64(ctx, g, "seed", (int64_t)s->seed);
}

int sm_tabddpm_save(sm_ctx *ctx, const void *state, int64_t group) {
  const tabddpm_state *st = state;
  hid_t g = (hid_t)group;
  size_t n = st->net.n_model;
  double *values = sm_malloc(ctx, (n > 0 ? n : 1) * sizeof(double));
  for (size_t i = 0; values && i < n; i++)
    values[i] = st->net.params.value[i];
  int rc = sm_agree(ctx, values ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = write_settings(ctx, g, &st->set);
  if (rc == SM_OK)
    rc = sm_h5_write_f64(ctx, g, "parameters", values, (int64_t)n);
  if (rc == SM_OK)
    rc = sm_h5_write_f64(ctx, g, "loss_history", st->history, st->set.epochs * TABDDPM_N_LOSSES);
  int tb = st->set.target_block;
  if (rc == SM_OK && tb >= 0)
    rc = sm_h5_write_f64(ctx, g, "class_counts", st->class_count, st->flat.block_width[tb]);
  free(values);
  SM_TRY(sm_agree(ctx, rc));
  hid_t enc = H5Gcreate2(g, "encoding", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, enc);
  rc = sm_flat_save(ctx, &st->flat, (int64_t)enc);
  H5Gclose(enc);
  return rc;
}

/* Local. An integer attribute within [lo, hi]. */
static int get_int(sm_ctx *ctx, hid_t g, const char *name, int64_t lo, int64_t hi, int64_t *v) {
  SM_TRY(sm_h5_get_attr_i64(ctx, g, name, v));
  if (*v < lo || *v > hi)
    return sm_fail(ctx, SM_EINPUT, "tabddpm model: bad %s %lld", name, (long long)*v);
  return SM_OK;
}

static int read_settings(sm_ctx *ctx, hid_t g, tabddpm_settings *s) {
  int64_t v = 0;
  char *text = NULL;
  SM_TRY(get_int(ctx, g, "timesteps", 2, TABDDPM_MAX_T, &v));
  s->timesteps = (int)v;
  SM_TRY(get_int(ctx, g, "dim_t", 2, 65536, &v));
  s->dim_t = (int)v;
  SM_TRY(get_int(ctx, g, "sample_steps", 1, s->timesteps, &v));
  s->sample_steps = (int)v;
  SM_TRY(get_int(ctx, g, "n_quantiles", 0, 100000, &v));
  s->n_quantiles = (int)v;
  SM_TRY(get_int(ctx, g, "epochs", 1, 1000000000, &s->epochs));
  SM_TRY(get_int(ctx, g, "steps", 1, 1000000000, &s->steps));
  SM_TRY(get_int(ctx, g, "batch_size", 1, 1000000000, &s->batch_size));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "seed", &v));
  s->seed = (uint64_t)v;
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "lr", &s->lr));
  SM_TRY(sm_h5_get_attr_f64(ctx, g, "weight_decay", &s->weight_decay));
  htri_t has_target = H5Aexists(g, "target_block"), has_lr = H5Aexists(g, "lr_schedule");
  SM_H5_CHECK(ctx, has_target);
  SM_H5_CHECK(ctx, has_lr);
  s->target_block = -1;
  if (has_target > 0) {
    SM_TRY(get_int(ctx, g, "target_block", -1, 1000000000, &v));
    s->target_block = (int)v;
  }
  s->lr_linear = 0;
  if (has_lr > 0) {
    SM_TRY(sm_h5_get_attr_str(ctx, g, "lr_schedule", &text));
    s->lr_linear = strcmp(text, "linear") == 0;
    free(text);
  }
  SM_TRY(sm_h5_get_attr_str(ctx, g, "schedule", &text));
  s->schedule = strcmp(text, "linear") == 0 ? TABDDPM_LINEAR : TABDDPM_COSINE;
  free(text);
  SM_TRY(sm_h5_get_attr_str(ctx, g, "hidden_dims", &text));
  int hidden[TVAE_MAX_LAYERS], n = 0;
  int rc = sm_tvae_parse_dims(ctx, "hidden_dims", text, hidden, &n);
  free(text);
  SM_TRY(rc);
  if (n < 1 || n > SM_MLP_MAX_LAYERS - 1)
    return sm_fail(ctx, SM_EINPUT, "tabddpm model: bad hidden_dims");
  s->n_hidden = n;
  memcpy(s->hidden, hidden, (size_t)n * sizeof(int));
  return SM_OK;
}

/* Local. The target block must be a discrete block of the encoding, with one
 * non-negative count per class and a positive total. */
static int load_target(sm_ctx *ctx, hid_t g, tabddpm_state *st) {
  int tb = st->set.target_block;
  if (tb < 0)
    return SM_OK;
  if (tb >= st->flat.n_blocks || st->flat.cols[st->flat.block_column[tb]].numeric)
    return sm_fail(ctx, SM_EINPUT, "tabddpm model: bad target_block %d", tb);
  int K = st->flat.block_width[tb];
  SM_TRY(sm_h5_read_f64_n(ctx, g, "class_counts", K, &st->class_count));
  double total = 0.0;
  for (int k = 0; k < K; k++) {
    if (!(st->class_count[k] >= 0.0))
      return sm_fail(ctx, SM_EINPUT, "tabddpm model: bad class_counts");
    total += st->class_count[k];
  }
  if (!(total > 0.0))
    return sm_fail(ctx, SM_EINPUT, "tabddpm model: class_counts sum to 0");
  return SM_OK;
}

static int load_into(sm_ctx *ctx, hid_t g, tabddpm_state *st) {
  int rc = sm_agree(ctx, read_settings(ctx, g, &st->set));
  hid_t enc = rc == SM_OK ? sm_h5_try_open(g, "encoding", H5I_GROUP) : -1;
  if (rc == SM_OK)
    rc = sm_agree(ctx,
                  enc < 0 ? sm_fail(ctx, SM_EINPUT, "tabddpm model: no encoding group") : SM_OK);
  if (rc == SM_OK)
    rc = sm_flat_load(ctx, &st->flat, (int64_t)enc);
  if (enc >= 0)
    H5Gclose(enc);
  SM_TRY(rc);

  /* the schedule and the denoiser, then the saved values */
  rc = sm_tabddpm_schedule(ctx, &st->sched, st->set.timesteps, st->set.schedule);
  sm_tabddpm_layout(&st->net, &st->set, st->flat.width);
  if (rc == SM_OK)
    rc = sm_nn_params_alloc(ctx, &st->net.params);
  if (rc == SM_OK)
    rc = sm_h5_read_floats(ctx, g, "parameters", st->net.params.value, st->net.n_model);
  if (rc == SM_OK)
    rc = sm_h5_read_f64_n(ctx, g, "loss_history", st->set.epochs * TABDDPM_N_LOSSES, &st->history);
  if (rc == SM_OK)
    rc = load_target(ctx, g, st);
  return sm_agree(ctx, rc);
}

int sm_tabddpm_load(sm_ctx *ctx, int64_t group, void **state) {
  tabddpm_state *st = sm_calloc(ctx, 1, sizeof *st);
  int rc = sm_agree(ctx, st ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = load_into(ctx, (hid_t)group, st);
  if (rc != SM_OK) {
    sm_tabddpm_free(st);
    return rc;
  }
  *state = st;
  return SM_OK;
}
