/* Private: the TVAE state shared by the fit and sampling (tvae.c) and the model file
 * (tvae_io.c); tests use it to reach the parameters and the loss history. */
#ifndef SYNTHMPI_MODELS_TVAE_H
#define SYNTHMPI_MODELS_TVAE_H

#include <stdint.h>

#include "synthmpi/config.h"
#include "synthmpi/encoder.h"
#include "synthmpi/nn.h"

#define TVAE_MAX_LAYERS 8
#define TVAE_N_LOSSES 2 /* reconstruction, KL */
/* The parameter layout, saved in model files and checkpoints: 1 had separate mu and logvar
 * layers, 2 has them as one layer of twice the width. */
#define TVAE_LAYOUT 2
/* The decoder's sigma in a private run: fixed, not trained (see sm_tvae_train_private).
 * It weighs each scalar's squared error by 1 / (2 sigma^2) = 2, so the scalars' gradients
 * no longer fill each example's clipping norm and the one-hot spans get their share. */
#define TVAE_PRIVATE_SIGMA 0.5f

/* The settings of a fit (the model parameters), as saved with the model. */
typedef struct tvae_settings {
  int embedding_dim;
  int n_compress, compress[TVAE_MAX_LAYERS];     /* encoder hidden widths */
  int n_decompress, decompress[TVAE_MAX_LAYERS]; /* decoder hidden widths */
  double l2scale, loss_factor, beta, lr;
  int64_t batch_size, epochs;
  uint64_t seed;
  int max_modes;
  double replicate_mb; /* runtime only, not saved: see sm_tvae_train_new */
} tvae_settings;

/* The two networks carved out of one parameter buffer. */
typedef struct tvae_net {
  int width;                          /* encoded row width */
  int emb;                            /* latent dimension */
  sm_linear enc[TVAE_MAX_LAYERS];     /* encoder hidden layers, ReLU after each */
  sm_linear heads;                    /* (last hidden, 2 emb): mu, then logvar */
  sm_linear dec[TVAE_MAX_LAYERS + 1]; /* decoder hidden layers (ReLU), then the output */
  size_t sigma;                       /* offset of the learned sigma (width) */
  size_t n_model;                     /* floats of the model (the trainer's come after) */
  sm_nn_params params;
} tvae_net;

typedef struct tvae_state {
  tvae_settings set;
  sm_encoder encoder; /* the data transformer */
  tvae_net net;
  double *history; /* (epochs, TVAE_N_LOSSES) mean losses per row: reconstruction, KL */
  int replicated;  /* the last fit copied the encoded rows to every rank (not saved) */
} tvae_state;

/* Settings from the validated model parameters; SM_EINPUT for bad layer lists. */
int sm_tvae_settings(sm_ctx *ctx, const sm_params *p, tvae_settings *s);
/* Parse "128,128" into widths; SM_EINPUT with a message naming the parameter. */
int sm_tvae_parse_dims(sm_ctx *ctx, const char *name, const char *text, int *dims, int *n);

/* Reserve every layer and sigma in net->params for rows of the given width (the trainer's
 * floats, when training, are reserved after this). */
void sm_tvae_layout(tvae_net *net, const tvae_settings *s, int width);

void sm_tvae_free(void *state);

/* Decoder forward over rows latent vectors z (rows, emb): pre[j] and post[j] (rows, width of
 * hidden layer j) keep each hidden layer before and after its ReLU (pre[j] may be post[j]:
 * the ReLU then runs in place); out (rows, width) gets the raw output (no tanh or softmax). */
void sm_tvae_decoder_forward(const tvae_net *net, const tvae_settings *s, const float *z, int rows,
                             float *const *pre, float *const *post, float *out);

/* ---- training (tvae_step.c) -------------------------------------------------------- */

/* Everything a training step needs besides the state: the encoded local rows, their
 * one-hot targets and the activations of one batch. */
typedef struct tvae_train tvae_train;

/* Encode the rank's rows of train (stream (seed, SM_STREAM_ENCODE, global row)) and
 * allocate the batch workspace; NULL when out of memory (recorded in ctx). Local; or, with
 * replicate, collective: every rank then gets all n_global encoded rows (in global order,
 * row offset 0), so that each can take an even share of every batch. */
tvae_train *sm_tvae_train_new(sm_ctx *ctx, tvae_state *st, const sm_table *train, int64_t n_global,
                              int replicate);
/* Local. The same from rows already encoded: data (n_local, width) is taken over (freed with
 * the workspace, also on failure); row_offset is the global index of its first row. */
tvae_train *sm_tvae_train_wrap(sm_ctx *ctx, tvae_state *st, float *data, int64_t n_local,
                               int64_t row_offset);
void sm_tvae_train_free(tvae_train *tr);
/* Nonzeros per row the first layer takes its rows by; 0 when it multiplies them dense (no
 * hidden layer, not fewer nonzeros than columns, or a one-hot span that is not one-hot). */
int sm_tvae_train_nonzeros(const tvae_train *tr);
/* For a run that will not be private: free the dense rows when the first layer takes the
 * nonzeros, since nothing reads them again (a private run's per-example norms do). */
void sm_tvae_train_drop_dense(tvae_train *tr);
/* Local. Switch the workspace to DP-SGD: every batch adds the sum of per-example gradients,
 * each clipped to L2 norm `clip` over all trained parameters (two backward passes). The
 * decoder's sigma is set to TVAE_PRIVATE_SIGMA and kept there: trained, its gradient
 * (about 1/sigma per scalar value and row) would fill most of each example's clipping norm
 * and, driven by the noise, it drifts to its bounds and the loss diverges. */
int sm_tvae_train_private(sm_ctx *ctx, tvae_train *tr, double clip);
/* Local (private workspaces): the squared gradient norm of each of the m rows' losses over
 * all parameters, from one batched backward, into norm2 (m). Parameter gradients unchanged. */
int sm_tvae_example_norms(sm_ctx *ctx, tvae_train *tr, const int64_t *rows, int64_t m,
                          int64_t epoch, double *norm2);

/* Local. The data-independent encoder of a private run, from the declared schema: each
 * numeric column gets `modes` equal-width components over its declared [lo, hi] (means at
 * the cell centres, std = cell width / 2, equal weights); every column gets its
 * missing-value slot whether or not the data have missing values. SM_EINPUT when a numeric
 * column has no declared domain. */
int sm_tvae_private_encoder(sm_ctx *ctx, sm_encoder *enc, const sm_schema *schema, int modes);
/* The trainer's callbacks (model = the tvae_train). */
int sm_tvae_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global_rows,
                  int64_t epoch, double *loss);
/* After each step: sigma clamped to [0.01, 1], or in a private run set back to
 * TVAE_PRIVATE_SIGMA (the step's noise moved it). */
void sm_tvae_clamp_sigma(void *model);

/* Collective. The model operations save and load (see synthmpi/model.h). */
int sm_tvae_save(sm_ctx *ctx, const void *state, int64_t group);
int sm_tvae_load(sm_ctx *ctx, int64_t group, void **state);

#endif
