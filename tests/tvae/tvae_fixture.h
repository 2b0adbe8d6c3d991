/* A small hand-made TVAE shared by the gradient and DP-SGD clipping tests: an encoding of
 * width TVAE_FIXTURE_WIDTH with scalar and one-hot spans, networks over it with values from
 * a test stream, and TVAE_FIXTURE_ROWS encoded rows. */
#ifndef SYNTHMPI_TESTS_TVAE_FIXTURE_H
#define SYNTHMPI_TESTS_TVAE_FIXTURE_H

#include "models/tvae.h"

#define TVAE_FIXTURE_WIDTH 7
#define TVAE_FIXTURE_ROWS 6

/* Build the fixture's state into *out (always set, never NULL); the status is that of the
 * parameter allocation. The stream seed was picked so that no ReLU input of the fixture's
 * rows lies within 4e-3 of zero (a finite difference across a kink does not measure the
 * derivative). Release with tvae_fixture_free. */
sm_status tvae_fixture_state(sm_ctx *ctx, tvae_state **out);

/* Encoded rows (TVAE_FIXTURE_ROWS x TVAE_FIXTURE_WIDTH, caller frees): alpha in (-0.9, 0.9)
 * for scalars, a random class for one-hots. */
float *tvae_fixture_rows(void);

/* Release a state from tvae_fixture_state. */
void tvae_fixture_free(tvae_state *st);

#endif
