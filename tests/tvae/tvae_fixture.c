/* The small hand-made TVAE shared by the gradient and DP-SGD clipping tests. */
#include "tvae/tvae_fixture.h"

#include <stdlib.h>
#include <string.h>

#include "synthmpi/rng.h"

static const sm_span spans[] = {{SM_SPAN_SCALAR, 0, 1, 0},
                                {SM_SPAN_ONEHOT, 1, 3, 0},
                                {SM_SPAN_SCALAR, 4, 1, 1},
                                {SM_SPAN_ONEHOT, 5, 2, 1}};
#define N_SPANS ((int)(sizeof spans / sizeof spans[0]))

/* Small networks over the spans above with values from a test stream. */
sm_status tvae_fixture_state(sm_ctx *ctx, tvae_state **out) {
  tvae_state *st = calloc(1, sizeof *st);
  tvae_settings *s = &st->set;
  s->embedding_dim = 3;
  s->n_compress = 1;
  s->compress[0] = 5;
  s->n_decompress = 2;
  s->decompress[0] = 4;
  s->decompress[1] = 5;
  s->loss_factor = 2.0;
  s->beta = 0.7;
  s->batch_size = TVAE_FIXTURE_ROWS;
  s->seed = 3;
  st->encoder.width = TVAE_FIXTURE_WIDTH;
  st->encoder.n_spans = N_SPANS;
  st->encoder.spans = malloc(sizeof spans);
  memcpy(st->encoder.spans, spans, sizeof spans);
  *out = st;

  /* parameters from the test stream, sigma in (0.2, 0.7) */
  sm_tvae_layout(&st->net, s, TVAE_FIXTURE_WIDTH);
  sm_status rc = sm_nn_params_alloc(ctx, &st->net.params);
  if (rc != SM_OK)
    return rc;
  sm_rng rng;
  sm_rng_init(&rng, 11, SM_STREAM_TEST, 0);
  for (size_t i = 0; i < st->net.n_model; i++)
    st->net.params.value[i] = (float)(sm_rng_uniform(&rng) - 0.5);
  for (int c = 0; c < TVAE_FIXTURE_WIDTH; c++)
    st->net.params.value[st->net.sigma + c] = (float)(0.2 + 0.5 * sm_rng_uniform(&rng));
  return SM_OK;
}

float *tvae_fixture_rows(void) {
  float *x = calloc(TVAE_FIXTURE_ROWS * TVAE_FIXTURE_WIDTH, sizeof(float));
  sm_rng rng;
  sm_rng_init(&rng, 10, SM_STREAM_TEST, 0);
  for (int r = 0; r < TVAE_FIXTURE_ROWS; r++)
    for (int k = 0; k < N_SPANS; k++) {
      const sm_span *sp = &spans[k];
      float *row = x + r * TVAE_FIXTURE_WIDTH;
      if (sp->kind == SM_SPAN_SCALAR)
        row[sp->start] = (float)(1.8 * sm_rng_uniform(&rng) - 0.9);
      else
        row[sp->start + (int)(sm_rng_uniform(&rng) * sp->width)] = 1.0f;
    }
  return x;
}

void tvae_fixture_free(tvae_state *st) {
  if (!st)
    return;
  free(st->encoder.spans);
  sm_nn_params_free(&st->net.params);
  free(st);
}
