/* The privacy ledger in synthmpi files: a JSON attribute "privacy_ledger" on "/" of
 * releases, model files and checkpoints of private runs. */
#include <stdlib.h>

#include "io/h5util.h"
#include "io/io.h"

int sm_io_write_ledger(sm_ctx *ctx, hid_t obj, const sm_ledger *l) {
  if (!l || l->n == 0)
    return SM_OK;
  char *json = sm_ledger_to_json(l);
  if (!json)
    return sm_fail(ctx, SM_ERR, "out of memory writing the privacy ledger");
  int rc = sm_h5_attr_str(ctx, obj, "privacy_ledger", json);
  free(json);
  return rc;
}

int sm_io_read_ledger(sm_ctx *ctx, hid_t obj, sm_ledger *l) {
  htri_t exists = H5Aexists(obj, "privacy_ledger");
  SM_H5_CHECK(ctx, exists);
  if (exists == 0)
    return SM_OK;
  char *json = NULL;
  SM_TRY(sm_h5_get_attr_str(ctx, obj, "privacy_ledger", &json));
  sm_ledger_free(l);
  int rc = sm_ledger_from_json(ctx, json, l);
  free(json);
  return rc;
}
