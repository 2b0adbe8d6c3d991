/* Private: the span layout shared by fitting and loading an encoder. */
#ifndef SYNTHMPI_TRANSFORM_ENCODER_INTERNAL_H
#define SYNTHMPI_TRANSFORM_ENCODER_INTERNAL_H

#include "synthmpi/encoder.h"

/* Local. Lay out the spans of enc from its columns (type, numeric, has_missing, n_modes,
 * n_categories), in column order: a numeric column is [scalar][modes] and, with missing
 * values, [present, missing]; a discrete column one block of its categories plus a missing
 * slot when it has missing values. Allocates enc->spans (freed by sm_encoder_free). */
int sm_encoder_layout(sm_ctx *ctx, sm_encoder *enc);

#endif
