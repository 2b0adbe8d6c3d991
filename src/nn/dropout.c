/* Inverted dropout with masks drawn per global row. */
#include "synthmpi/nn.h"
#include "synthmpi/rng.h"

/* mask[r, j] = 0 with probability rate, else 1 / (1 - rate); draw j of the stream
 * (seed, purpose, row0 + r) decides element j. rate <= 0 keeps everything (no draws). */
void sm_dropout_forward(float *y, float *mask, const float *x, int rows, int cols, float rate,
                        uint64_t seed, uint32_t purpose, int64_t row0) {
  float keep_scale = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
  for (int r = 0; r < rows; r++) {
    sm_rng rng;
    sm_rng_init(&rng, seed, purpose, (uint64_t)(row0 + r));
    for (int j = 0; j < cols; j++) {
      size_t k = (size_t)r * cols + j;
      int drop = rate > 0.0f && sm_rng_uniform(&rng) < (double)rate;
      mask[k] = drop ? 0.0f : keep_scale;
      y[k] = x[k] * mask[k];
    }
  }
}

void sm_dropout_backward(float *dx, const float *dy, const float *mask, size_t n) {
  for (size_t i = 0; i < n; i++)
    dx[i] = dy[i] * mask[i];
}
