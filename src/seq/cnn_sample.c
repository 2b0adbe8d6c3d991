/* dna_cnn: held-out bits per base, and autoregressive sampling with cached convolution
 * inputs.
 *
 * Sampling keeps, for every convolution and every sequence being drawn, a ring buffer of
 * its last inputs (a power of two at least reach + 1 steps long), so drawing base t runs
 * each layer once at step t instead of recomputing the receptive field. Each output is a
 * sum in a fixed order over (tap, channel), so a sequence's bases depend on its own stream
 * only, never on which others share its batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seq/cnn.h"
#include "synthmpi/rng.h"

/* Sequences drawn side by side. */
#define SAMPLE_BATCH 16
/* Fixed-point scale of summed bits, so sums do not depend on the order of addition. */
#define BITS_SCALE 16777216.0

int sm_cnn_bits_per_base(sm_ctx *ctx, const sm_cnn *m, const sm_seqset *s, double *bits) {
  int64_t local[2] = {0, 0}, global[2], longest = 0;
  sm_cnn_work *w = NULL;
  for (int64_t q = 0; q < s->n; q++) {
    int64_t len = s->offset[q + 1] - s->offset[q];
    longest = len > longest ? len : longest;
  }
  double *logp = sm_malloc(ctx, (size_t)(longest > 0 ? longest : 1) * 4 * sizeof(double));
  int rc = logp ? SM_OK : SM_ERR;

  /* fixed-point sums: the same total whatever the split over ranks */
  for (int64_t q = 0; q < s->n && rc == SM_OK; q++) {
    const uint8_t *c = s->codes + s->offset[q];
    int64_t len = s->offset[q + 1] - s->offset[q];
    rc = sm_cnn_sequence_logp(ctx, m, &w, c, len, logp);
    for (int64_t t = 0; t < len && rc == SM_OK; t++)
      local[0] += llround(-logp[t * 4 + c[t]] / M_LN2 * BITS_SCALE);
    local[1] += len;
  }
  sm_cnn_work_free(w);
  free(logp);
  SM_TRY(sm_agree(ctx, rc));
  SM_MPI_CHECK(ctx, MPI_Allreduce(local, global, 2, MPI_INT64_T, MPI_SUM, ctx->comm));
  *bits = global[1] > 0 ? (double)global[0] / BITS_SCALE / (double)global[1] : NAN;
  return SM_OK;
}

/* ---- sampling ------------------------------------------------------------------------- */

/* The rings of one convolution for a batch of sequences. */
typedef struct ring {
  int64_t steps; /* power of two >= reach + 1 */
  float *buf;    /* (SAMPLE_BATCH, steps, conv->in) */
} ring;

/* Smallest power of two >= n. */
static int64_t pow2_at_least(int64_t n) {
  int64_t p = 1;
  while (p < n)
    p *= 2;
  return p;
}

/* y (out) = b + W x over the inputs at steps t - (kernel - 1 - k) dilation of one ring. */
static void conv_step(float *y, const float *buf, int64_t steps, int64_t t, const sm_conv1d *l,
                      const float *value) {
  const float *w = value + l->w, *b = value + l->b;
  memcpy(y, b, (size_t)l->out * sizeof(float));
  for (int k = 0; k < l->kernel; k++) {
    int64_t src = t - (int64_t)(l->kernel - 1 - k) * l->dilation;
    if (src < 0)
      continue;
    const float *x = buf + (src & (steps - 1)) * l->in;
    for (int c = 0; c < l->in; c++) {
      const float *wr = w + ((size_t)k * l->in + c) * l->out;
      for (int o = 0; o < l->out; o++)
        y[o] += x[c] * wr[o];
    }
  }
}

/* y (out) = b + x W of a 1x1 layer. */
static void linear_step(float *y, const float *x, const sm_linear *l, const float *value) {
  const float *w = value + l->w, *b = value + l->b;
  memcpy(y, b, (size_t)l->out * sizeof(float));
  for (int c = 0; c < l->in; c++)
    for (int o = 0; o < l->out; o++)
      y[o] += x[c] * w[(size_t)c * l->out + o];
}

/* The distribution's draw: the first base whose cumulative probability passes u. */
static uint8_t draw(const float logits[4], double u) {
  double top = fmax(fmax(logits[0], logits[1]), fmax(logits[2], logits[3]));
  double p[4], sum = 0, acc;
  for (int j = 0; j < 4; j++)
    sum += p[j] = exp((double)logits[j] - top);
  int x = 0;
  acc = p[0] / sum;
  while (x < 3 && u >= acc)
    acc += p[++x] / sum;
  return (uint8_t)x;
}

/* Local. One step of every layer for sequence s of the batch at step t: its logits into
 * logits[4], its base drawn with u. */
static uint8_t step(const sm_cnn *m, ring *rings, int s, int64_t t, int prev, float *h, float *tmp,
                    double u, float *logits) {
  const float *value = m->params.value;
  int c = m->set.channels;

  /* the previous base's one-hot into the input ring */
  float *x0 = rings[0].buf + ((size_t)s * rings[0].steps + (t & (rings[0].steps - 1))) * 4;
  memset(x0, 0, 4 * sizeof(float));
  if (prev >= 0)
    x0[prev] = 1.0f;
  conv_step(h, rings[0].buf + (size_t)s * rings[0].steps * 4, rings[0].steps, t, &m->input, value);

  /* blocks: the stream into the block's ring, then h += mix(relu(conv)) */
  for (int l = 0; l < m->set.blocks; l++) {
    ring *r = &rings[l + 1];
    float *mine = r->buf + (size_t)s * r->steps * c;
    memcpy(mine + (t & (r->steps - 1)) * c, h, (size_t)c * sizeof(float));
    conv_step(tmp, mine, r->steps, t, &m->conv[l], value);
    sm_relu_forward(tmp, tmp, (size_t)c);
    linear_step(tmp + c, tmp, &m->mix[l], value);
    for (int i = 0; i < c; i++)
      h[i] += tmp[c + i];
  }

  /* the head */
  sm_relu_forward(h, h, (size_t)c);
  linear_step(logits, h, &m->head, value);
  return draw(logits, u);
}

/* Local. Sequences [row0, row0 + n) (n <= SAMPLE_BATCH), step by step side by side. */
static void sample_batch(const sm_cnn *m, ring *rings, float *h, float *tmp, uint64_t seed,
                         int64_t row0, int n, int64_t length, uint8_t *codes, float *logits) {
  sm_rng rng[SAMPLE_BATCH];
  float mine[4];
  for (int s = 0; s < n; s++)
    sm_rng_init(&rng[s], seed, SM_STREAM_SAMPLE, (uint64_t)(row0 + s));
  for (int64_t t = 0; t < length; t++)
    for (int s = 0; s < n; s++) {
      uint8_t *out = codes + (size_t)s * length;
      int prev = t > 0 ? out[t - 1] : -1;
      float *lg = logits ? logits + ((size_t)s * length + t) * 4 : mine;
      out[t] = step(m, rings, s, t, prev, h, tmp, sm_rng_uniform(&rng[s]), lg);
    }
}

int sm_cnn_sample(sm_ctx *ctx, const sm_cnn *m, uint64_t seed, int64_t row0, int64_t n,
                  int64_t length, uint8_t *codes, float *logits) {
  int blocks = m->set.blocks, c = m->set.channels;
  ring rings[SM_CNN_MAX_BLOCKS + 1];
  float *h = sm_malloc(ctx, (size_t)3 * c * sizeof(float));
  int rc = h ? SM_OK : SM_ERR;

  /* a ring per convolution */
  for (int l = 0; l <= blocks; l++) {
    const sm_conv1d *conv = l == 0 ? &m->input : &m->conv[l - 1];
    rings[l].steps = pow2_at_least(sm_conv1d_reach(conv) + 1);
    rings[l].buf =
        rc == SM_OK
            ? sm_malloc(ctx, (size_t)SAMPLE_BATCH * rings[l].steps * conv->in * sizeof(float))
            : NULL;
    rc = rings[l].buf ? rc : SM_ERR;
  }

  /* batches of sequences */
  for (int64_t at = 0; at < n && rc == SM_OK; at += SAMPLE_BATCH) {
    int k = n - at < SAMPLE_BATCH ? (int)(n - at) : SAMPLE_BATCH;
    float *lg = logits ? logits + at * length * 4 : NULL;
    sample_batch(m, rings, h, h + c, seed, row0 + at, k, length, codes + at * length, lg);
  }
  for (int l = 0; l <= blocks; l++)
    free(rings[l].buf);
  free(h);
  return rc;
}
