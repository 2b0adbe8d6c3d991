/* Private: the TabDDPM state shared by the fit and sampling (tabddpm.c), the diffusion
 * arithmetic (tabddpm_step.c) and the model file (tabddpm_io.c); tests reach it through this. */
#ifndef SYNTHMPI_MODELS_TABDDPM_H
#define SYNTHMPI_MODELS_TABDDPM_H

#include <stdint.h>

#include "synthmpi/config.h"
#include "synthmpi/nn.h"
#include "transform/flat.h"

#define TABDDPM_MAX_T 100000
#define TABDDPM_N_LOSSES 2 /* Gaussian (MSE of the noise), multinomial (KL) */

typedef enum tabddpm_schedule { TABDDPM_LINEAR = 0, TABDDPM_COSINE = 1 } tabddpm_schedule;

typedef struct tabddpm_settings {
  int timesteps; /* T */
  tabddpm_schedule schedule;
  int dim_t;                                   /* timestep embedding and projection width */
  int n_hidden, hidden[SM_MLP_MAX_LAYERS - 1]; /* the denoiser MLP */
  double lr, weight_decay;
  int64_t batch_size, steps, epochs; /* epochs = ceil(steps / steps per epoch) */
  int sample_steps;                  /* reverse steps when sampling (<= T) */
  int n_quantiles;                   /* 0: max(min(N / 30, 1000), 10) */
  int lr_linear;                     /* 1: lr decays linearly to 0 over the steps */
  uint64_t seed;
  int target_block; /* the flat block of the class column conditioned on, or -1 */
} tabddpm_settings;

/* The noise schedule: alpha_t = 1 - beta_t, alpha_bar_t = prod_{s <= t} alpha_s. */
typedef struct tabddpm_schedule_table {
  int T;
  double *beta, *alpha_bar; /* (T) */
} tabddpm_schedule_table;

/* The denoiser: h = proj(x_t) + time(emb(t)), out = MLP(h); out's numeric part predicts the
 * Gaussian noise, each block's part the logits of x_0's category. */
typedef struct tabddpm_net {
  int width, dim_t;
  sm_linear proj;         /* (width, dim_t) */
  sm_linear time1, time2; /* (dim_t, dim_t), SiLU between */
  sm_mlp mlp;             /* (dim_t) -> hidden (ReLU) -> (width) */
  size_t n_model;
  sm_nn_params params;
} tabddpm_net;

typedef struct tabddpm_state {
  tabddpm_settings set;
  sm_flat flat;
  tabddpm_schedule_table sched;
  tabddpm_net net;
  double *history;     /* (epochs, 2) */
  double *class_count; /* (classes of the target block) training counts, when conditioned */
} tabddpm_state;

/* Activations of up to cap rows. */
typedef struct tabddpm_work {
  int cap;
  int32_t *t;                                  /* (cap) timestep of each row */
  float *x, *emb, *tpre, *tact, *th, *h, *out; /* input, embedding, time MLP, h, output */
  float *cache, *dout, *dh, *dt, *mlp_work;
  float *block;
} tabddpm_work;

int sm_tabddpm_settings(sm_ctx *ctx, const sm_params *p, tabddpm_settings *s);
/* Collective. The block conditioned on (st->set.target_block) from the "target" parameter
 * (auto: default_target when it names a discrete column) and its class counts over all
 * ranks' rows (st->class_count); the flat encoding must be fitted. */
int sm_tabddpm_target(sm_ctx *ctx, tabddpm_state *st, const sm_params *p,
                      const char *default_target, const sm_table *rows);
/* A class drawn from the training marginal of the target block with the uniform u. */
int sm_tabddpm_draw_target(const tabddpm_state *st, double u);
/* Local. beta and alpha_bar for T steps: linear (beta from 1e-4 to 0.02, both scaled by
 * 1000 / T) or cosine (Nichol and Dhariwal: alpha_bar(t) = f(t + 1) / f(0),
 * f(t) = cos^2((t / T + 0.008) / 1.008 pi / 2), beta clipped at 0.999). */
int sm_tabddpm_schedule(sm_ctx *ctx, tabddpm_schedule_table *s, int T, tabddpm_schedule kind);
void sm_tabddpm_schedule_free(tabddpm_schedule_table *s);

void sm_tabddpm_layout(tabddpm_net *net, const tabddpm_settings *s, int width);
/* Every layer as PyTorch initialises it; with a target block (start, K; K 0 for none), the
 * input projection's rows for it are the class embedding, N(0, 1) as nn.Embedding's. */
void sm_tabddpm_init(tabddpm_net *net, uint64_t seed, int target_start, int target_k);
void sm_tabddpm_free(void *state);
int sm_tabddpm_work_alloc(sm_ctx *ctx, tabddpm_work *w, const tabddpm_net *net, int cap);
void sm_tabddpm_work_free(tabddpm_work *w);

/* out (rows, width) from w->x and w->t; keeps the activations for the backward. */
void sm_tabddpm_forward(const tabddpm_net *net, tabddpm_work *w, int rows);
/* Parameter gradients (accumulated) from w->dout. */
void sm_tabddpm_backward(tabddpm_net *net, tabddpm_work *w, int rows);

/* The multinomial posterior q(x_s | x_t, x_0) over K classes in log space, for s < t with
 * alpha_bar values ab_t and ab_s (ab_s = 1 for "x_0 itself"): x_t is a class, x_0 given as
 * log probabilities lx0 (K, -INFINITY allowed). out (K) gets the log probabilities
 *   log [ (a [k = x_t] + (1 - a) / K) (ab_s x0_k + (1 - ab_s) / K) ] normalised,
 * a = ab_t / ab_s. */
void sm_tabddpm_posterior(double *out, int K, int xt, const double *lx0, double ab_t, double ab_s);

/* The multinomial loss of one block: KL(q(x_s | x_t, x_0) || p(x_s | x_t, softmax(logits)))
 * (at the first step this is the decoder's -log p(x_0 | x_1)); returns it and writes its
 * gradient by the logits, times scale, into dlogits (K); scratch holds 4 K doubles. */
double sm_tabddpm_multinomial_loss(float *dlogits, double *scratch, const float *logits, int K,
                                   int x0, int xt, double ab_t, double ab_s, float scale);

/* The trainer's callback (model = a tabddpm_train). */
typedef struct tabddpm_train {
  tabddpm_state *st;
  float *data; /* (n_local, width) encoded rows */
  int64_t n_local, row_offset;
  tabddpm_work work;
  float *eps;       /* (cap, n_num) the Gaussian noise */
  int32_t *x0, *xt; /* (cap, n_blocks) classes of x_0 and x_t */
  double *scratch;  /* (4 widest block) */
  sm_adam *adam;    /* its lr follows the schedule */
  int64_t total_steps;
} tabddpm_train;
int sm_tabddpm_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global_rows,
                     int64_t epoch, double *loss);

int sm_tabddpm_save(sm_ctx *ctx, const void *state, int64_t group);
int sm_tabddpm_load(sm_ctx *ctx, int64_t group, void **state);

#endif
