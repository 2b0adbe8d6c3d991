/* The encoder of a private TVAE run: built from the declared schema alone, so it spends no
 * privacy budget. A fitted mixture would place its modes where the data are; here each
 * numeric column gets K equal-width components tiling its declared [lo, hi]: component k
 * has mean lo + (k + 1/2) w and std w / 2 with w = (hi - lo) / K, and equal weights. A value
 * is then encoded by the mode drawn from these fixed responsibilities, exactly as with a
 * fitted mixture. Every column also gets its missing-value slot, so the layout does not
 * reveal whether the data have missing values. */
#include <math.h>
#include <string.h>

#include "models/tvae.h"
#include "transform/encoder_internal.h"

/* K equal-width components over [lo, hi] (a single point domain gets one of std 1). */
static void grid_modes(sm_bgm *b, double lo, double hi, int modes) {
  double w = (hi - lo) / modes;
  memset(b, 0, sizeof *b);
  b->n_modes = w > 0 ? modes : 1;
  for (int k = 0; k < b->n_modes; k++) {
    b->weight[k] = 1.0 / b->n_modes;
    b->mean[k] = w > 0 ? lo + (k + 0.5) * w : lo;
    b->std[k] = w > 0 ? w / 2 : 1.0;
    b->resp_const[k] = log(b->weight[k]) - log(b->std[k]);
  }
  b->converged = 1;
}

int sm_tvae_private_encoder(sm_ctx *ctx, sm_encoder *enc, const sm_schema *schema, int modes) {
  memset(enc, 0, sizeof *enc);
  if (modes < 1 || modes > SM_MAX_MODES)
    return sm_fail(ctx, SM_EINPUT, "tvae: max_modes %d is outside [1, %d]", modes, SM_MAX_MODES);
  enc->n_cols = schema->n_cols;
  enc->cols =
      sm_calloc(ctx, (size_t)(schema->n_cols > 0 ? schema->n_cols : 1), sizeof(sm_encoder_column));
  if (!enc->cols)
    return SM_ERR;

  /* every column from its declaration */
  for (int j = 0; j < schema->n_cols; j++) {
    const sm_column *sc = &schema->cols[j];
    sm_encoder_column *col = &enc->cols[j];
    col->type = sc->type;
    col->numeric = !sm_coltype_is_discrete(sc->type);
    col->has_missing = 1;
    if (!col->numeric) {
      col->n_categories = sc->n_categories;
      continue;
    }
    if (!sc->has_domain || !(sc->hi >= sc->lo)) {
      sm_encoder_free(enc);
      return sm_fail(ctx, SM_EINPUT,
                     "tvae: column '%s' has no declared domain [lo, hi]; a private run "
                     "cannot take its range from the data",
                     sc->name);
    }
    col->lo = sc->lo;
    col->hi = sc->hi;
    grid_modes(&col->bgm, sc->lo, sc->hi, modes);
  }
  int rc = sm_encoder_layout(ctx, enc);
  if (rc != SM_OK)
    sm_encoder_free(enc);
  return rc;
}
