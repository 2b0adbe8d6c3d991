/* Private: the RealNVP state shared by the fit and sampling (realnvp.c), the flow arithmetic
 * (realnvp_step.c) and the model file (realnvp_io.c); tests reach the flow through it. */
#ifndef SYNTHMPI_MODELS_REALNVP_H
#define SYNTHMPI_MODELS_REALNVP_H

#include <stdint.h>

#include "synthmpi/config.h"
#include "synthmpi/nn.h"
#include "transform/flat.h"

#define REALNVP_MAX_COUPLINGS 32
#define REALNVP_N_LOSSES 1 /* negative log-likelihood per row, nats */

typedef struct realnvp_settings {
  int couplings;                               /* affine coupling layers */
  int n_hidden, hidden[SM_MLP_MAX_LAYERS - 1]; /* widths of each coupling's MLP */
  double lr, l2scale, validation;
  int64_t batch_size, epochs;
  uint64_t seed;
} realnvp_settings;

/* The couplings' networks in one parameter buffer. Coupling l keeps the dimensions j with
 * (j + l) even and transforms the others: y = x exp(s) + t, with [s_raw, t] = MLP(kept x)
 * and s = tanh(s_raw). */
typedef struct realnvp_net {
  int width;
  int couplings;
  sm_mlp mlp[REALNVP_MAX_COUPLINGS]; /* (width) -> hidden -> (2 width): s_raw, t */
  size_t n_model;                    /* floats of the model (the trainer's come after) */
  sm_nn_params params;
} realnvp_net;

typedef struct realnvp_state {
  realnvp_settings set;
  sm_flat flat;
  realnvp_net net;
  double *history;    /* (epochs) mean training NLL per row, nats */
  double heldout_nll; /* nats per held-out row (NaN when none was held out) */
  double heldout_bpd; /* the same in bits per dimension */
  int64_t heldout_rows;
} realnvp_state;

/* Activations of up to cap rows (one allocation, views per coupling). */
typedef struct realnvp_work {
  int cap;
  float *h[REALNVP_MAX_COUPLINGS + 1]; /* (cap, width) input of coupling l; h[K] = z */
  float *xm[REALNVP_MAX_COUPLINGS];    /* (cap, width) kept part of coupling l's input */
  float *cache[REALNVP_MAX_COUPLINGS]; /* MLP activations of coupling l */
  float *st[REALNVP_MAX_COUPLINGS];    /* (cap, 2 width) s (after tanh) and t */
  float *g, *dst, *dxm, *mlp_work;     /* backward scratch */
  double *logdet;                      /* (cap) */
  float *block;
} realnvp_work;

int sm_realnvp_settings(sm_ctx *ctx, const sm_params *p, realnvp_settings *s);
/* Reserve every coupling's MLP for rows of the given width. */
void sm_realnvp_layout(realnvp_net *net, const realnvp_settings *s, int width);
/* Default initialisation, then the last layer of each MLP zeroed (the flow starts as the
 * identity). */
void sm_realnvp_init(realnvp_net *net, uint64_t seed);
void sm_realnvp_free(void *state);

int sm_realnvp_work_alloc(sm_ctx *ctx, realnvp_work *w, const realnvp_net *net, int cap);
void sm_realnvp_work_free(realnvp_work *w);

/* x (rows, width) to z = w->h[couplings]; w->logdet[r] = log |det dz/dx| of row r. */
void sm_realnvp_forward(const realnvp_net *net, realnvp_work *w, const float *x, int rows);
/* The NLL of each row after a forward: 0.5 |z|^2 + (D / 2) log 2 pi - logdet; returns the
 * sum over rows. */
double sm_realnvp_nll(const realnvp_net *net, const realnvp_work *w, int rows);
/* Gradient of the summed NLL of the last forward into net->params (accumulated). */
void sm_realnvp_backward(realnvp_net *net, realnvp_work *w, int rows);
/* z (rows, width) back to x (rows, width); uses w's buffers. */
void sm_realnvp_inverse(const realnvp_net *net, realnvp_work *w, const float *z, int rows,
                        float *x);

/* Local. Dequantise encoded rows in place: a one-hot entry b becomes b + u - 1/2 and an
 * integer column's standardised value moves by (u - 1/2) / std, u ~ U(0, 1) from the stream
 * (seed, purpose, global row row0 + r). */
void sm_realnvp_dequantise(const sm_flat *f, float *x, int rows, uint64_t seed, uint32_t purpose,
                           int64_t row0);

/* The trainer's callback (model = a realnvp_train). */
typedef struct realnvp_train {
  realnvp_state *st;
  float *data; /* (n_local, width) encoded training rows */
  int64_t n_local, row_offset;
  realnvp_work work;
  float *x; /* (cap, width) the batch */
} realnvp_train;
int sm_realnvp_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global_rows,
                     int64_t epoch, double *loss);

int sm_realnvp_save(sm_ctx *ctx, const void *state, int64_t group);
int sm_realnvp_load(sm_ctx *ctx, int64_t group, void **state);

#endif
