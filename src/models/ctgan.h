/* Private: the CTGAN state shared by the fit (ctgan.c), the networks (ctgan_gen.c,
 * ctgan_dis.c), the training step (ctgan_step.c), sampling (ctgan_sample.c) and the model
 * file (ctgan_io.c); tests use it to reach the parameters, the loss history and the
 * discriminator's gradient penalty.
 */
#ifndef SYNTHMPI_MODELS_CTGAN_H
#define SYNTHMPI_MODELS_CTGAN_H

#include <stdint.h>

#include "synthmpi/config.h"
#include "synthmpi/encoder.h"
#include "synthmpi/model.h"
#include "synthmpi/nn.h"
#include "synthmpi/rng.h"

#define CTGAN_MAX_LAYERS 8
#define CTGAN_N_LOSSES 4 /* critic (Wasserstein), gradient penalty, generator, conditional */
#define CTGAN_SLOPE 0.2f /* the discriminator's leaky ReLU */
#define CTGAN_DROPOUT 0.5f
#define CTGAN_TAU 0.2f             /* Gumbel-softmax temperature */
#define CTGAN_FREQUENCY_ROWS 20000 /* rows a private fit generates for its sampling tables */
#define CTGAN_GUMBEL_SALT 0x47756d62656cULL /* seed salt of Gumbel noise keyed by row streams */

/* The settings of a fit (the model parameters), as saved with the model. */
typedef struct ctgan_settings {
  int embedding_dim;
  int n_gen, gen[CTGAN_MAX_LAYERS]; /* residual blocks of the generator */
  int n_dis, dis[CTGAN_MAX_LAYERS]; /* hidden layers of the discriminator */
  double g_lr, g_decay, d_lr, d_decay, penalty;
  int64_t batch_size, epochs;
  int pac, d_steps, log_frequency;
  int spectral_norm; /* the critic's weights divided by their largest singular value */
  uint64_t seed;
  int max_modes;
} ctgan_settings;

/* The generator: residual blocks x_{k+1} = [relu(bn(x_k W_k + b_k)), x_k], then a Linear
 * to the encoded width. */
typedef struct ctgan_gen {
  int in, n_res, out;
  int dims[CTGAN_MAX_LAYERS];
  int widths[CTGAN_MAX_LAYERS + 1]; /* widths[k]: the width of x_k */
  sm_linear fc[CTGAN_MAX_LAYERS];
  sm_batchnorm bn[CTGAN_MAX_LAYERS];
  sm_linear last;
} ctgan_gen;

/* The generator's activations over `rows` rows. */
typedef struct ctgan_gen_acts {
  float *x[CTGAN_MAX_LAYERS + 1]; /* (rows, widths[k]); x[0] is the input [z, cond] */
  float *pre[CTGAN_MAX_LAYERS];   /* (rows, dims[k]) before batch normalisation */
  float *norm[CTGAN_MAX_LAYERS];  /* (rows, dims[k]) after it, before the ReLU */
  float *raw;                     /* (rows, out) the output layer */
} ctgan_gen_acts;

/* The discriminator (PacGAN critic): Linear, leaky ReLU, dropout per hidden layer over packs
 * of pac rows laid side by side, then a Linear to one score. */
typedef struct ctgan_dis {
  int in, n_hidden;
  int dims[CTGAN_MAX_LAYERS];
  sm_linear fc[CTGAN_MAX_LAYERS + 1];
} ctgan_dis;

/* The discriminator's activations over n packs, and its penalty's intermediates. */
typedef struct ctgan_dis_acts {
  float *pre[CTGAN_MAX_LAYERS];  /* (n, dims[k]) before the leaky ReLU */
  float *post[CTGAN_MAX_LAYERS]; /* (n, dims[k]) after leaky ReLU and dropout */
  float *mask[CTGAN_MAX_LAYERS]; /* (n, dims[k]) dropout masks */
  float *y;                      /* (n) scores */
} ctgan_dis_acts;

/* Scratch of the discriminator's backward passes and penalty over n packs. */
typedef struct ctgan_dis_work {
  float *q[CTGAN_MAX_LAYERS]; /* (n, dims[k]) the score's gradient at each pre-activation */
  float *gx;                  /* (n, in) the score's gradient at the input */
  float *d[2];                /* (n, widest) two gradient buffers */
  float *ones;                /* (n) */
} ctgan_dis_work;

/* Both networks in one parameter buffer: [discriminator | its Adam moments | generator |
 * the trainer's floats]. The trainer reduces and updates from the generator on; the
 * discriminator is reduced and updated inside each step with its own Adam, whose moments
 * live in the buffer so that checkpoints hold them. */
typedef struct ctgan_net {
  int width; /* encoded row width */
  int cond;  /* conditional vector width */
  ctgan_gen gen;
  ctgan_dis dis;
  size_t n_dis;                /* discriminator floats: [0, n_dis) */
  size_t d_moment1, d_moment2; /* offsets of the discriminator's Adam moments (n_dis each) */
  size_t g_first, n_gen;       /* generator floats: [g_first, g_first + n_gen) */
  /* spectral normalisation (when set): each critic layer's power-iteration vectors
   * u (out) and v (in), kept in the buffer (checkpoints hold them), its last sigma */
  size_t sn_u[CTGAN_MAX_LAYERS + 1], sn_v[CTGAN_MAX_LAYERS + 1];
  float sn_sigma[CTGAN_MAX_LAYERS + 1];
  sm_nn_params params;
} ctgan_net;

/* The conditional vector's columns: the discrete columns' one-hot spans, in order. */
typedef struct ctgan_cond {
  int n_cols;
  int *span;        /* (n_cols) encoder span of each */
  int *offset;      /* (n_cols) position in the conditional vector */
  int *size;        /* (n_cols) categories (span width) */
  double *count;    /* (cond) global rows of each category */
  double *log_cdf;  /* (cond) per column: cumulative log-frequency shares (training) */
  double *freq_cdf; /* (cond) per column: cumulative frequency shares (sampling) */
} ctgan_cond;

typedef struct ctgan_state {
  ctgan_settings set;
  sm_encoder encoder;
  ctgan_cond cond;
  ctgan_net net;
  double *history; /* (epochs, CTGAN_N_LOSSES) mean losses per step */
} ctgan_state;

/* ---- settings and layout (ctgan.c) -------------------------------------------------- */

/* Settings from the validated model parameters; SM_EINPUT for bad layer lists, or a batch
 * size that is not a multiple of pac. */
int sm_ctgan_settings(sm_ctx *ctx, const sm_params *p, ctgan_settings *s);
/* Local. The conditional columns and their sampling tables from the encoder and global
 * category counts (cond width values, NULL: all zero, as before a fit). */
int sm_ctgan_cond_init(sm_ctx *ctx, ctgan_cond *c, const sm_encoder *enc, const double *count);
void sm_ctgan_cond_free(ctgan_cond *c);
/* The conditional vector's width. */
int sm_ctgan_cond_width(const ctgan_cond *c);
/* Local. Reserve both networks and the discriminator's moments in net->params (the
 * trainer's floats, when training, come after). Batch normalisation buffers are allocated
 * here. */
int sm_ctgan_layout(sm_ctx *ctx, ctgan_net *net, const ctgan_settings *s, int width, int cond);
void sm_ctgan_net_free(ctgan_net *net);
void sm_ctgan_free(void *state);

/* ---- generator (ctgan_gen.c) ------------------------------------------------------- */

/* Floats of the activations of `rows` rows; carve them from block (NULL: count only). */
size_t sm_ctgan_gen_carve(const ctgan_gen *g, int rows, ctgan_gen_acts *a, float *block);
/* Forward from a->x[0]. Collective when ctx is not NULL: batch statistics of the global
 * batch of global_rows rows (synchronised batch normalisation); with ctx NULL, the
 * statistics of these rows alone and no communication (sampling). */
int sm_ctgan_gen_forward(sm_ctx *ctx, ctgan_gen_acts *a, ctgan_gen *g, const sm_nn_params *p,
                         int rows, int64_t global_rows);
/* Collective. Backward from draw (rows, out) (overwritten as scratch) to the generator's
 * parameter gradients; work holds 2 rows x widths[n_res] + 2 rows x widest block floats. */
int sm_ctgan_gen_backward(sm_ctx *ctx, sm_nn_params *p, float *draw, const ctgan_gen_acts *a,
                          const ctgan_gen *g, int rows, int64_t global_rows, float *work);
/* Floats of sm_ctgan_gen_backward's work for `rows` rows. */
/* Local. The generator's forward of the rows in f (rows) alongside reference rows in d
 * (ref_rows): every batch normalisation of both uses the reference rows' statistics, so
 * each row of f depends on its own input and the reference alone. f->raw gets the output. */
void sm_ctgan_gen_forward_ref(ctgan_gen_acts *f, int rows, ctgan_gen_acts *d, int ref_rows,
                              const ctgan_gen *g, const sm_nn_params *p);
size_t sm_ctgan_gen_work(const ctgan_gen *g, int rows);

/* ---- discriminator (ctgan_dis.c) --------------------------------------------------- */

size_t sm_ctgan_dis_carve(const ctgan_dis *d, int n, ctgan_dis_acts *a, float *block);
size_t sm_ctgan_dis_work_carve(const ctgan_dis *d, int n, ctgan_dis_work *w, float *block);
/* Local. Scores of n packs x (n, in); dropout masks from the stream (seed, dropout purpose,
 * row0 + pack). */
void sm_ctgan_dis_forward(ctgan_dis_acts *a, const float *x, const ctgan_dis *d,
                          const sm_nn_params *p, int n, uint64_t seed, int64_t row0);
/* Local. Backward of the scores' gradient dy (n): parameter gradients accumulate into p when
 * params is non-zero; dx (n, in) gets the input gradient when not NULL. */
void sm_ctgan_dis_backward(float *dx, sm_nn_params *p, const float *dy, const float *x,
                           const ctgan_dis_acts *a, const ctgan_dis *d, int n, int params,
                           ctgan_dis_work *w);
/* Local. The gradient penalty of packs whose forward is in a: returns
 * sum_packs weight (|d score / d x| - 1)^2 and accumulates its gradient with respect to the
 * discriminator's weights into p (a second backward pass through the input gradient). */
double sm_ctgan_penalty(sm_nn_params *p, const ctgan_dis_acts *a, const ctgan_dis *d, int n,
                        float weight, ctgan_dis_work *w);

/* Spectral normalisation as PyTorch's spectral_norm with one power iteration per update:
 * with W (in, out), v = normalise(W u), u = normalise(W^T v), sigma = v^T W u, and the
 * layer uses W / sigma (u and v held constant in the gradient). */
/* Local. One power iteration of every layer's u and v (in p->value). */
void sm_ctgan_sn_power(ctgan_net *net);
/* Local. eff[0 .. n_dis) gets the critic's parameters with every weight divided by its
 * sigma (v^T W u, kept in net->sn_sigma); biases copied. */
void sm_ctgan_sn_weights(float *eff, ctgan_net *net);
/* Local. Turn gradients with respect to the normalised weights (in grad[0 .. n_dis)) into
 * gradients with respect to the raw weights: G / sigma - <G, W> / sigma^2 v u^T. */
void sm_ctgan_sn_backward(float *grad, const ctgan_net *net);

/* ---- training (ctgan_step.c, ctgan_private.c) --------------------------------------- */

struct sm_trainer;

/* One drawn row of a private critic step: its shuffle key, global row and holder rank. */
typedef struct ctgan_sampled {
  double key;
  int64_t row;
  int src;
} ctgan_sampled;

/* The training workspace. A step's positions [0, positions) are grouped into packs of pac;
 * rank r owns the packs [first_pack[r], first_pack[r + 1]) and computes everything of their
 * positions. A non-private step has batch_size positions; a private critic step as many as
 * its Poisson sample fills whole packs. */
typedef struct ctgan_train {
  ctgan_state *st;
  struct sm_trainer *t;
  int64_t n_local, n_global;
  float *data; /* (n_local, width) encoded rows */

  /* local rows by category: slot s of the conditional vector owns
   * cat_rows[cat_start[s] .. cat_start[s + 1]) (non-private runs only) */
  int64_t *cat_start, *cat_rows;
  int64_t *before; /* (size + 1, cond + 1) rows of each slot on lower ranks; column cond:
                    * all rows (for data without discrete columns) */

  /* the packs of this rank and the step's choices */
  int64_t positions;               /* positions of the current step */
  int64_t room;                    /* positions the per-position arrays hold */
  int64_t gumbel_offset;           /* stream index offset of the Gumbel noise */
  int64_t packs, pack_lo, pack_hi; /* global packs, this rank's [lo, hi) */
  int64_t *first_pack;             /* (size + 1) each rank's first pack */
  int cap;                         /* this rank's positions room (at least pac) */
  int *col, *cat;                  /* (room) each position's conditional choice */
  int *src;                        /* (room) rank holding each real position's row */
  int64_t *local;                  /* (room) that row's local index (on the holder) */
  int64_t *slot_of;                /* (room) the position whose conditions it shares */
  int64_t *row_id;                 /* (room) a private pac-1 step: each real row's stream */
  int *counts, *displs;            /* (4 size) send counts and displacements, then receive */

  /* activations and scratch; one block carved into these views */
  float *block;
  ctgan_gen_acts ga;
  float *gwork;
  float *act, *draw, *dact;  /* (cap, width) */
  float *real, *recv, *send; /* (cap, width), (cap, width), (room, width) */
  float *pack[3];            /* (cap / pac, dis.in) real, fake, interpolated packs */
  float *dpack;              /* (cap / pac, dis.in) */
  float *dy;                 /* (cap / pac) */
  float *eff;                /* (n_dis) spectrally normalised critic, when set */
  float *pgrad;              /* (n_dis) one pack's critic gradient (private runs) */
  ctgan_dis_acts da[3];
  ctgan_dis_work dw;

  /* private runs: the Poisson sample of a critic step and the critic's view of it */
  int private_run;
  int64_t *sample;         /* (n_local) this rank's sampled local rows */
  double *keys;            /* (n_local) their shuffle keys */
  ctgan_sampled *drawn;    /* (drawn_room) every rank's sampled rows, in shuffled order */
  double *drawn_keys;      /* (drawn_room) gathered keys */
  int64_t *drawn_rows;     /* (drawn_room) gathered global rows */
  int64_t drawn_room;      /* rows the gathered arrays hold */
  int *rank_counts;        /* (2 size) rows each rank sampled, and displacements */
  int64_t n_drawn;         /* rows sampled over all ranks in the current critic step */
  sm_nn_params view;       /* the critic's parameters as the current step sees them */
  float *chunk_block;      /* one allocation behind chunk_ga and chunk_act */
  ctgan_gen_acts chunk_ga; /* the generator's activations of one chunk (batch_size rows) */
  float *chunk_act;        /* (batch_size, width) that chunk's fake rows */
} ctgan_train;

/* Local. Encode the rank's rows, index them by category and allocate the workspace;
 * collective (an allgather of category counts; none in a private run, whose conditional
 * vectors are drawn uniformly). NULL on failure (recorded in ctx). */
ctgan_train *sm_ctgan_train_new(sm_ctx *ctx, ctgan_state *st, const sm_table *train,
                                struct sm_trainer *t);
void sm_ctgan_train_free(ctgan_train *tr);
/* The trainer's callback: one discriminator update (its own allreduce and Adam step) and
 * the generator's gradient (reduced and applied by the trainer). In a private run each
 * discriminator update is a DP-SGD step (ctgan_private.c). */
int sm_ctgan_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global_rows,
                   int64_t epoch, double *loss);
/* Collective. The global category counts of the discrete columns (cond width values). */
int sm_ctgan_count_categories(sm_ctx *ctx, const ctgan_cond *c, const sm_encoder *enc,
                              const float *data, int64_t n_local, double *count);

/* Steps shared by the non-private and the private critic updates (ctgan_step.c). */
/* The seed of phase ph (critic updates 0 .. d_steps - 1, then the generator's) of step g. */
uint64_t sm_ctgan_phase_seed(const ctgan_settings *s, int64_t g, int ph);
/* Local. The packs of a step of `positions` positions: packs, this rank's block of them. */
void sm_ctgan_plan(sm_ctx *ctx, ctgan_train *tr, int64_t positions);
/* Collective (every rank calls it with the same arguments). Make room for `positions`
 * positions and, on this rank, `cap` of them; re-carves the workspace when it grows. */
int sm_ctgan_train_room(sm_ctx *ctx, ctgan_train *tr, int64_t positions, int cap);
/* Conditional choices of positions [lo, hi) into tr->col / tr->cat (-1: none). */
void sm_ctgan_draw_conditions(ctgan_train *tr, uint64_t seed, int64_t lo, int64_t hi);
/* Collective. Send the rows this rank holds (tr->src, tr->local of every position) to the
 * ranks owning their positions; this rank's real rows (position order) land in tr->real. */
int sm_ctgan_exchange(sm_ctx *ctx, ctgan_train *tr);
/* Collective. The fake rows of this rank's positions (tr->act) for phase seed `seed`. */
int sm_ctgan_generate(sm_ctx *ctx, ctgan_train *tr, uint64_t seed, int rows);
/* Local. The fake rows of this rank's positions of a private critic step (tr->act). The
 * positions are cut into chunks of batch_size and every chunk holding one of this rank's
 * positions is generated whole, its batch normalisation over that chunk alone. So a fake
 * row depends on its chunk's data-independent inputs only, not on how many packs the
 * step's Poisson sample filled, nor on the rank count. */
void sm_ctgan_generate_chunked(ctgan_train *tr, uint64_t seed, int rows);
/* Local. Output activations of ga->raw into act (rows of positions first ..): tanh on
 * scalar spans, Gumbel-softmax (tau 0.2) on one-hot spans. The Gumbel noise of position i
 * comes from (seed, NN_NOISE, gumbel_offset + i), or with ids from
 * (seed ^ CTGAN_GUMBEL_SALT, NN_NOISE, ids[i]). */
void sm_ctgan_activate(ctgan_train *tr, const ctgan_gen_acts *ga, float *act, uint64_t seed,
                       int64_t first, int rows, const int64_t *ids);
/* Pack rows: pack row r of dst = [rows[r], one-hot of (col, cat) of position pos(r)]. */
void sm_ctgan_fill_packs(ctgan_train *tr, float *dst, const float *rows, int n, int64_t first,
                         const int64_t *perm_of);
/* Interpolated packs alpha real + (1 - alpha) fake, alpha of pack p from (seed, FIT, B + p). */
void sm_ctgan_interpolate(ctgan_train *tr, uint64_t seed, int npk);
/* The critic's parameters as its passes see them (spectral normalisation applied). */
sm_nn_params sm_ctgan_critic_view(ctgan_train *tr);
/* Local. The critic's update from its reduced gradient in grad[0 .. n_dis): spectral
 * normalisation's backward, then Adam (update count of phase ph). */
void sm_ctgan_critic_update(ctgan_train *tr, int ph);

/* DP-SGD for the critic (ctgan_private.c). A private critic step, mechanism step
 * c = g d_steps + ph: a Poisson sample of global rows (rate q), shuffled by secure keys,
 * cut into packs of pac with the remainder dropped; each real pack paired with a fake one
 * (pac 1: a fake row keyed by the real row's own key, with its conditional vector); each
 * pack's gradient clipped to C; noise of std sigma S C added once (S from
 * sm_ctgan_dp_sensitivity); divided by the expected packs q N / pac. */
/* The clipped sum's L2 sensitivity in units of C for packs of pac rows: 1 for pac 1 (one
 * row, one term of the sum), 3 otherwise (ctgan_private.c). */
double sm_ctgan_dp_sensitivity(int pac);
/* Collective. Sample, shuffle, exchange, fake and interpolated packs, and the critic's
 * forward passes of this rank's packs. */
int sm_ctgan_dp_prepare(sm_ctx *ctx, ctgan_train *tr, int64_t g, int ph);
/* Collective. The same from the sample already in tr->drawn[0 .. n_drawn) (every rank
 * holds the same, in key order): what follows drawing in sm_ctgan_dp_prepare. */
int sm_ctgan_dp_prepare_drawn(sm_ctx *ctx, ctgan_train *tr, int64_t g, int ph);
/* The seed of the critic's pass k (real, fake, interpolated) of a pac-1 step: its dropout
 * masks come from (this seed, NN_DROPOUT, the row's stream) per layer. */
uint64_t sm_ctgan_dp_pass_seed(uint64_t seed, int k);
/* Local. grad[0 .. n_dis) = the sum over this rank's packs of each pack's gradient (loss
 * score(fake) - score(real) + lambda (|grad score(x^)| - 1)^2) clipped to L2 norm clip;
 * loss[0] and loss[1] get the packs' critic and penalty sums. */
void sm_ctgan_dp_clipped_sum(ctgan_train *tr, double clip, double *loss);
/* Collective. The noise on rank 0 (when with_noise), then the sum over ranks divided by the
 * expected number of packs, in grad[0 .. n_dis) of every rank. */
int sm_ctgan_dp_reduce(sm_ctx *ctx, ctgan_train *tr, int64_t g, int ph, int with_noise);
/* Collective. One private critic update of step g, phase ph; losses as the non-private. */
int sm_ctgan_dp_critic_step(sm_ctx *ctx, ctgan_train *tr, int64_t g, int ph, float factor,
                            double *loss);

/* ---- a fit's setup (ctgan.c) --------------------------------------------------------- */

/* Everything a fit holds while it trains. */
typedef struct ctgan_session {
  ctgan_state *st;
  struct sm_trainer *t;
  sm_adam adam;
  ctgan_train *tr;
  int64_t n_global;
} ctgan_session;

/* Collective. Settings, the encoder (built from the declared domains in a private run),
 * networks, optimiser, the DP-SGD plan (checked against the budget) and the workspace, up
 * to the first step. On failure everything is released. */
int sm_ctgan_begin(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                   const sm_table *rows, ctgan_session *s);
/* Release what sm_ctgan_begin made; the state too unless keep_state. */
void sm_ctgan_end(ctgan_session *s, int keep_state);

/* ---- sampling and the model file (ctgan_sample.c, ctgan_io.c) ----------------------- */

int sm_ctgan_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, sm_table *out);
/* Collective. After a private fit: the conditional vector's category counts (the release's
 * sampling tables) from the model itself, not from the data. Rank 0 generates about
 * CTGAN_FREQUENCY_ROWS rows with uniformly drawn conditional vectors (model randomness
 * only) and counts each discrete column's categories in the rows not conditioned on it;
 * the shares, scaled to the public row count n_global, become the counts on every rank.
 * Post-processing of the private model: it spends no budget. */
int sm_ctgan_model_frequencies(sm_ctx *ctx, ctgan_state *st, int64_t n_global);
int sm_ctgan_save(sm_ctx *ctx, const void *state, int64_t group);
int sm_ctgan_load(sm_ctx *ctx, int64_t group, void **state);

/* Local. Draw a conditional choice: column index and category within it, from the
 * cumulative shares cdf (log-frequency in training, frequency in sampling), u1, u2 in [0, 1).
 * Returns 0 when there are no discrete columns. */
int sm_ctgan_cond_draw(const ctgan_cond *c, const double *cdf, double u1, double u2, int *col,
                       int *cat);

/* One Gumbel(0, 1) draw, -log(-log u), in float32 with u kept inside (0, 1). */
float sm_ctgan_gumbel(sm_rng *rng);

#endif
