/* Fitted-model files: provenance and schema like a release, the state under /model. */
#include "synthmpi/release.h"

#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "io/io.h"

/* Collective. The header, the kind and the model's own state in /model. */
static int write_model(sm_ctx *ctx, hid_t file, const sm_model *m, const sm_experiment *e) {
  SM_TRY(sm_io_write_header(ctx, file, SM_MODEL_FORMAT, e, &m->schema));
  SM_TRY(sm_h5_attr_str(ctx, file, "kind", m->ops->kind));
  SM_TRY(sm_io_write_ledger(ctx, file, &m->ledger));
  hid_t group = H5Gcreate2(file, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, group);
  int rc = m->ops->save(ctx, m->state, (int64_t)group);
  H5Gclose(group);
  return rc;
}

/* Collective. Create, fill and close the partial file. */
static int save_partial(sm_ctx *ctx, const sm_model *m, const sm_experiment *e,
                        const char *partial) {
  hid_t file = sm_h5_create(ctx, partial);
  int rc = sm_agree(ctx, file < 0 ? SM_EINPUT : SM_OK);
  if (rc == SM_OK)
    rc = sm_agree(ctx, write_model(ctx, file, m, e));
  if (file >= 0) {
    sm_h5_close_objects(file);
    if (H5Fclose(file) < 0 && rc == SM_OK)
      rc = sm_fail_h5(ctx, "H5Fclose", __FILE__, __LINE__);
  }
  return rc;
}

int sm_model_save(sm_ctx *ctx, const sm_model *m, const sm_experiment *e, const char *path) {
  int rc = SM_OK;
  if (!m || !m->ops || !m->ops->save || !m->ops->kind)
    rc = sm_fail(ctx, SM_ERR, "%s: no fitted model to save", path);
  if (rc == SM_OK)
    rc = sm_io_check_names(ctx, &m->schema);
  SM_TRY(sm_agree(ctx, rc));

  /* a model file replaces an older one only once it is complete */
  sm_stage st;
  rc = sm_stage_begin(ctx, path, 1, &st);
  if (rc == SM_OK)
    rc = sm_stage_finish(ctx, &st, save_partial(ctx, m, e, st.partial));
  sm_stage_free(&st);
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO, "model saved to %s", path);
  return rc;
}

/* Collective. Schema, kind and state from an open model file. */
static int read_model(sm_ctx *ctx, const char *path, hid_t file, const sm_model_ops *ops,
                      sm_model *m) {
  char *kind = NULL;
  SM_TRY(sm_io_read_schema(ctx, file, &m->schema));
  SM_TRY(sm_h5_get_attr_str(ctx, file, "kind", &kind));
  int rc = sm_io_read_ledger(ctx, file, &m->ledger);
  if (rc != SM_OK) {
    free(kind);
    return rc;
  }

  /* the operations that can read this state */
  const sm_model_ops *found = ops ? ops : sm_model_find(kind);
  if (!found || strcmp(found->kind, kind) != 0 || !found->load)
    rc = sm_fail(ctx, SM_EINPUT, "%s: model kind '%s' is not known to this synthmpi", path, kind);
  free(kind);
  SM_TRY(rc);

  hid_t group = sm_h5_try_open(file, "model", H5I_GROUP);
  if (group < 0)
    return sm_fail(ctx, SM_EINPUT, "%s: the /model group is missing", path);
  rc = found->load(ctx, (int64_t)group, &m->state);
  H5Gclose(group);
  m->ops = found;

  /* the model's own messages name what is wrong; the file is named here */
  if (rc != SM_OK && !strstr(ctx->msg, path)) {
    char msg[SM_MSG_MAX];
    memcpy(msg, ctx->msg, sizeof msg);
    rc = sm_fail(ctx, rc, "%s: %s", path, msg);
  }
  return rc;
}

int sm_model_load_ops(sm_ctx *ctx, const char *path, const sm_model_ops *ops, sm_model *m) {
  memset(m, 0, sizeof(*m));
  hid_t file;
  char *format;
  SM_TRY(sm_io_open(ctx, path, SM_MODEL_FORMAT, &file, &format));
  free(format);
  int rc = sm_agree(ctx, read_model(ctx, path, file, ops, m));
  sm_io_close(file);
  if (rc != SM_OK)
    sm_model_free(m);
  return rc;
}

int sm_model_load(sm_ctx *ctx, const char *path, sm_model *m) {
  return sm_model_load_ops(ctx, path, NULL, m);
}
