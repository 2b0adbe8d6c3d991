/* Private: dna_cnn, the neural autoregressive model of DNA.
 *
 * A causal dilated convolutional network (WaveNet-like, without gates): the input at step t
 * is the one-hot code of base t - 1 (zeros at t = 0), an input convolution maps it to
 * `channels` features, and each residual block adds W_1x1 relu(conv_dilated(h)) to h with
 * dilations 1, 2, 4, ... (doubling, restarting after `cycle` blocks when cycle > 0). A
 * final relu and a 1x1 projection give 4 logits for base t, so every base of a sequence is
 * predicted from the bases before it only, the first one from none.
 */
#ifndef SYNTHMPI_SEQ_CNN_H
#define SYNTHMPI_SEQ_CNN_H

#include <stdint.h>

#include "synthmpi/model.h"
#include "synthmpi/nn.h"
#include "synthmpi/seq.h"

#define SM_CNN_MAX_BLOCKS 16

typedef struct sm_cnn_settings {
  int channels, blocks, kernel, cycle;
  int64_t batch_size, epochs; /* windows per global batch; passes over the windows */
  double lr, weight_decay;
  uint64_t seed; /* initialisation and batch order */
} sm_cnn_settings;

typedef struct sm_cnn {
  sm_cnn_settings set;
  sm_conv1d input;                   /* 4 -> channels, dilation 1 */
  sm_conv1d conv[SM_CNN_MAX_BLOCKS]; /* channels -> channels, dilation of block l */
  sm_linear mix[SM_CNN_MAX_BLOCKS];  /* 1x1: channels -> channels */
  sm_linear head;                    /* 1x1: channels -> 4 logits */
  sm_nn_params params;               /* everything above, then the trainer's floats */
  size_t n_model;                    /* floats of the network alone */
  double *history;                   /* (epochs) mean training bits per base */
} sm_cnn;

/* The model's parameters (model.<name> in the experiment). */
extern const sm_model_ops sm_dna_cnn_ops;

/* Local. Settings from the experiment's parameters; SM_EINPUT when they do not fit
 * together. */
int sm_cnn_settings_read(sm_ctx *ctx, const sm_params *p, sm_cnn_settings *s);
/* Bases of context the model sees before the base it predicts. */
int sm_cnn_receptive_field(const sm_cnn *m);

/* Local. A network with the given settings, initialised from its seed (no training). */
int sm_cnn_create(sm_ctx *ctx, const sm_cnn_settings *s, sm_cnn **out);
void sm_cnn_free(sm_cnn *m);

/* Local. Forward and backward over one sequence of len bases: adds the gradient of
 * scale x (sum over its bases of -ln p(base)) to m->params.grad and returns that sum
 * in nats (not scaled). The workspace grows as needed; free it with sm_cnn_work_free. */
typedef struct sm_cnn_work sm_cnn_work;
int sm_cnn_sequence_grad(sm_ctx *ctx, sm_cnn *m, sm_cnn_work **w, const uint8_t *codes, int64_t len,
                         float scale, double *nats);
/* Local. The 4 log-probabilities (natural log) of every base of a sequence: logp (len, 4). */
int sm_cnn_sequence_logp(sm_ctx *ctx, const sm_cnn *m, sm_cnn_work **w, const uint8_t *codes,
                         int64_t len, double *logp);
void sm_cnn_work_free(sm_cnn_work *w);

/* Collective. Train on the windows of train (rank-invariant batches by global window
 * index); opt may be NULL (no checkpoint). *out is freed with sm_cnn_free. */
int sm_cnn_fit(sm_ctx *ctx, const sm_cnn_settings *s, const sm_seqset *train,
               const sm_fit_options *opt, sm_cnn **out);

/* Collective. Held-out bits per base: minus the mean log2 probability of every base of s. */
int sm_cnn_bits_per_base(sm_ctx *ctx, const sm_cnn *m, const sm_seqset *s, double *bits);

/* Local. Release sequences [row0, row0 + n) of length bases each into codes (n x length):
 * sequence i draws from the stream (seed, SM_STREAM_SAMPLE, i) only, whatever batch it is
 * made in. Convolution inputs are kept in per-layer ring buffers, so each new base costs
 * one step of every layer. logits (n x length x 4) gets the logits each base was drawn
 * from, or is NULL. */
int sm_cnn_sample(sm_ctx *ctx, const sm_cnn *m, uint64_t seed, int64_t row0, int64_t n,
                  int64_t length, uint8_t *codes, float *logits);

#endif
