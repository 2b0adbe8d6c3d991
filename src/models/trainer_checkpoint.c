/* Training checkpoints: one HDF5 file holding everything a resumed run needs.
 *
 * Attributes on "/": format "synthmpi-checkpoint", model (kind), experiment_hash, epoch,
 * step (the next step within the epoch), adam_step, n_parameters, n_losses, n_rows,
 * batch_size, n_ranks (informative). Datasets: parameters, adam_m, adam_v (float32 values
 * stored as float64, which is exact), epoch_sum (loss sums of the unfinished epoch) and
 * loss_history (epoch, n_losses) of the finished epochs (absent before the first).
 * Private runs add the privacy ledger ("privacy_ledger", JSON) as of the saved position.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"
#include "io/io.h"
#include "models/trainer.h"

#define CHECKPOINT_FORMAT "synthmpi-checkpoint"

/* Collective. Every attribute and dataset of the checkpoint. */
static int write_state(sm_ctx *ctx, hid_t file, const sm_trainer *t, uint64_t hash) {
  SM_TRY(sm_h5_attr_str(ctx, file, "format", CHECKPOINT_FORMAT));
  SM_TRY(sm_h5_attr_str(ctx, file, "model", t->kind));
  SM_TRY(sm_h5_attr_i64(ctx, file, "experiment_hash", (int64_t)hash));
  SM_TRY(sm_h5_attr_i64(ctx, file, "layout", t->layout));
  SM_TRY(sm_h5_attr_i64(ctx, file, "epoch", t->epoch));
  SM_TRY(sm_h5_attr_i64(ctx, file, "step", t->step));
  SM_TRY(sm_h5_attr_i64(ctx, file, "adam_step", t->adam->step));
  SM_TRY(sm_h5_attr_i64(ctx, file, "n_parameters", (int64_t)t->params->n));
  SM_TRY(sm_h5_attr_i64(ctx, file, "n_losses", t->n_losses));
  SM_TRY(sm_h5_attr_i64(ctx, file, "n_rows", t->n_global));
  SM_TRY(sm_h5_attr_i64(ctx, file, "batch_size", t->batch_size));
  SM_TRY(sm_h5_attr_i64(ctx, file, "n_ranks", ctx->size));
  if (t->dp.enabled)
    SM_TRY(sm_io_write_ledger(ctx, file, t->ledger));

  /* the parameters and the optimiser's moments */
  SM_TRY(sm_h5_write_floats(ctx, file, "parameters", t->params->value, t->params->n));
  SM_TRY(sm_h5_write_floats(ctx, file, "adam_m", t->adam->m, t->adam->n));
  SM_TRY(sm_h5_write_floats(ctx, file, "adam_v", t->adam->v, t->adam->n));
  /* empty datasets are left out (HDF5 cannot write zero bytes collectively) */
  if (t->n_losses > 0)
    SM_TRY(sm_h5_write_f64(ctx, file, "epoch_sum", t->epoch_sum, t->n_losses));
  if (t->epoch * t->n_losses > 0)
    SM_TRY(sm_h5_write_f64(ctx, file, "loss_history", t->history, t->epoch * t->n_losses));
  return SM_OK;
}

/* Collective. Create, fill and close the partial file. */
static int save_partial(sm_ctx *ctx, const sm_trainer *t, const char *partial, uint64_t hash) {
  hid_t file = sm_h5_create(ctx, partial);
  int rc = sm_agree(ctx, file < 0 ? SM_EINPUT : SM_OK);
  if (rc == SM_OK)
    rc = sm_agree(ctx, write_state(ctx, file, t, hash));
  if (file >= 0) {
    sm_h5_close_objects(file);
    if (H5Fclose(file) < 0 && rc == SM_OK)
      rc = sm_fail_h5(ctx, "H5Fclose", __FILE__, __LINE__);
  }
  return rc;
}

int sm_trainer_save(sm_ctx *ctx, const sm_trainer *t, const char *path, uint64_t hash) {
  sm_stage st;
  int rc = sm_stage_begin(ctx, path, 1, &st);
  if (rc == SM_OK)
    rc = sm_stage_finish(ctx, &st, save_partial(ctx, t, st.partial, hash));
  sm_stage_free(&st);
  return rc;
}

/* A saved attribute must match what this run expects. */
static int check_attr(sm_ctx *ctx, hid_t file, const char *path, const char *name, int64_t want) {
  int64_t v = 0;
  SM_TRY(sm_h5_get_attr_i64(ctx, file, name, &v));
  if (v != want)
    return sm_fail(ctx, SM_EINPUT, "%s: the checkpoint has %s %lld, this run %lld", path, name,
                   (long long)v, (long long)want);
  return SM_OK;
}

/* The checkpoint belongs to this experiment and model. */
static int check_identity(sm_ctx *ctx, hid_t file, const sm_trainer *t, const char *path,
                          uint64_t hash) {
  char *format = NULL, *kind = NULL;
  int64_t saved = 0;
  int rc = sm_h5_get_attr_str(ctx, file, "format", &format);
  if (rc == SM_OK && strcmp(format, CHECKPOINT_FORMAT) != 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s is not a synthmpi checkpoint", path);
  if (rc == SM_OK)
    rc = sm_h5_get_attr_str(ctx, file, "model", &kind);
  if (rc == SM_OK && strcmp(kind, t->kind) != 0)
    rc =
        sm_fail(ctx, SM_EINPUT, "%s: the checkpoint is of a %s model, not %s", path, kind, t->kind);
  if (rc == SM_OK)
    rc = sm_h5_get_attr_i64(ctx, file, "experiment_hash", &saved);
  if (rc == SM_OK && (uint64_t)saved != hash)
    rc = sm_fail(ctx, SM_EINPUT,
                 "%s: the checkpoint was written by a different experiment (hash %016llx, "
                 "this one %016llx): start without resuming or restore the experiment",
                 path, (unsigned long long)saved, (unsigned long long)hash);

  /* the parameter layout (a checkpoint without one has the first) */
  int64_t layout = 0;
  if (rc == SM_OK && H5Aexists(file, "layout") > 0)
    rc = sm_h5_get_attr_i64(ctx, file, "layout", &layout);
  if (rc == SM_OK && layout != t->layout)
    rc = sm_fail(ctx, SM_EINPUT,
                 "%s: the checkpoint's parameters are laid out as another synthmpi version "
                 "lays them out (layout %lld, this one %d): start without resuming",
                 path, (long long)layout, t->layout);
  free(format);
  free(kind);
  return rc;
}

/* Read a float64 dataset of exactly n values. */
static int read_doubles(sm_ctx *ctx, hid_t file, const char *name, double *out, int64_t n) {
  double *d = NULL;
  int64_t got = 0;
  int rc = sm_h5_read_f64(ctx, file, name, &d, &got);
  if (rc == SM_OK && got != n)
    rc = sm_fail(ctx, SM_EINPUT, "checkpoint dataset '%s' has %lld values, want %lld", name,
                 (long long)got, (long long)n);
  if (rc == SM_OK && n > 0)
    memcpy(out, d, (size_t)n * sizeof(double));
  free(d);
  return rc;
}

/* Local reads of an open checkpoint into the trainer, after the identity checks. */
static int read_state(sm_ctx *ctx, hid_t file, sm_trainer *t, const char *path, uint64_t hash) {
  SM_TRY(check_identity(ctx, file, t, path, hash));
  SM_TRY(check_attr(ctx, file, path, "n_parameters", (int64_t)t->params->n));
  SM_TRY(check_attr(ctx, file, path, "n_losses", t->n_losses));
  SM_TRY(check_attr(ctx, file, path, "n_rows", t->n_global));
  SM_TRY(check_attr(ctx, file, path, "batch_size", t->batch_size));

  /* the position must lie inside this run's epochs */
  int64_t epoch = 0, step = 0, adam_step = 0;
  SM_TRY(sm_h5_get_attr_i64(ctx, file, "epoch", &epoch));
  SM_TRY(sm_h5_get_attr_i64(ctx, file, "step", &step));
  SM_TRY(sm_h5_get_attr_i64(ctx, file, "adam_step", &adam_step));
  if (epoch < 0 || epoch > t->epochs || step < 0 ||
      step >= sm_batches_per_epoch(t->n_global, t->batch_size))
    return sm_fail(ctx, SM_EINPUT,
                   "%s: the checkpoint's position (epoch %lld, step %lld) is "
                   "outside this run's %lld epochs",
                   path, (long long)epoch, (long long)step, (long long)t->epochs);

  /* a private run continues the saved ledger exactly */
  sm_ledger saved;
  memset(&saved, 0, sizeof saved);
  int rc = sm_io_read_ledger(ctx, file, &saved);
  if (rc == SM_OK)
    rc = sm_trainer_dp_resume(ctx, t, &saved, path);
  if (rc == SM_OK && t->dp.enabled && t->ledger) {
    sm_ledger_free(t->ledger);
    *t->ledger = saved;
    memset(&saved, 0, sizeof saved);
  }
  sm_ledger_free(&saved);
  SM_TRY(rc);

  /* values, moments and history */
  SM_TRY(sm_h5_read_floats(ctx, file, "parameters", t->params->value, t->params->n));
  SM_TRY(sm_h5_read_floats(ctx, file, "adam_m", t->adam->m, t->adam->n));
  SM_TRY(sm_h5_read_floats(ctx, file, "adam_v", t->adam->v, t->adam->n));
  if (t->n_losses > 0)
    SM_TRY(read_doubles(ctx, file, "epoch_sum", t->epoch_sum, t->n_losses));
  if (epoch * t->n_losses > 0)
    SM_TRY(read_doubles(ctx, file, "loss_history", t->history, epoch * t->n_losses));
  t->epoch = epoch;
  t->step = step;
  t->adam->step = adam_step;
  return SM_OK;
}

int sm_trainer_load(sm_ctx *ctx, sm_trainer *t, const char *path, uint64_t hash) {
  int rc = SM_OK;
  if (!path)
    rc = sm_fail(ctx, SM_EINPUT, "resume asked for, but no checkpoint path is set");
  else if (access(path, R_OK) != 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: no checkpoint to resume from (the file is missing)", path);
  SM_TRY(sm_agree(ctx, rc));

  /* every rank reads the whole (small) state */
  hid_t file = sm_h5_open(ctx, path, 0);
  rc = sm_agree(ctx, file < 0 ? SM_EINPUT : SM_OK);
  if (rc == SM_OK)
    rc = sm_agree(ctx, read_state(ctx, file, t, path, hash));
  if (file >= 0)
    sm_io_close(file);
  return rc;
}
