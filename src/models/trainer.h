/* Private: data-parallel training shared by the neural models.
 *
 * The global batch size B is a setting of the experiment. Each epoch orders the N global
 * rows by a keyed permutation drawn from (seed, SM_STREAM_NN_BATCH, epoch); batch b holds
 * positions [bB, min((b+1)B, N)) and each rank trains on the rows of that batch it owns, in
 * position order. Losses and gradients are sums over the global batch divided by its size,
 * so the rank count changes only the floating-point summation order.
 *
 * One collective per step: the gradient buffer is allreduced once, and it carries a few
 * extra floats reserved by the trainer: the loss terms of the step and a "stop requested"
 * flag, so a stop asked for on any rank is seen by every rank at the same step.
 *
 * Checkpoints (HDF5, written as <path>.partial and renamed) hold the parameters, the Adam
 * moments and step count, the position (epoch, step within the epoch), the experiment hash,
 * the model kind and the loss history. With counter-based streams the position is the only
 * random state, so a resumed run ends with bitwise the parameters of an uninterrupted one
 * at the same rank count.
 */
#ifndef SYNTHMPI_MODELS_TRAINER_H
#define SYNTHMPI_MODELS_TRAINER_H

#include <stdint.h>

#include "synthmpi/core.h"
#include "synthmpi/model.h"
#include "synthmpi/nn.h"
#include "synthmpi/privacy.h"

#define SM_TRAINER_MAX_LOSSES 4

/* ---- keyed permutation and batches (trainer_batch.c) ------------------------------- */

/* A bijection of [0, n): a 4-round Feistel network on the smallest even number of bits
 * that covers n, with cycle-walking back into [0, n). The round keys come from Philox. */
typedef struct sm_permutation {
  uint64_t n;
  int half_bits;   /* bits of each Feistel half */
  uint64_t mask;   /* (1 << half_bits) - 1 */
  uint64_t key[4]; /* round keys */
} sm_permutation;

/* The order of an epoch: keys from the stream (seed, purpose, epoch). */
void sm_permutation_init(sm_permutation *p, uint64_t n, uint64_t seed, uint32_t purpose,
                         uint64_t epoch);
/* Position i (0 <= i < n) to the row placed there. */
uint64_t sm_permutation_apply(const sm_permutation *p, uint64_t i);

/* Steps per epoch: ceil(n_rows / batch_size). */
int64_t sm_batches_per_epoch(int64_t n_rows, int64_t batch_size);

/* Local. The rows of global batch `step` that lie in [row_offset, row_offset + n_local),
 * as local indices (global - row_offset) in position order, into rows (room for
 * batch_size). Returns their count; *global_rows gets the size of the whole global batch. */
int64_t sm_batch_rows(const sm_permutation *p, int64_t batch_size, int64_t step, int64_t row_offset,
                      int64_t n_local, int64_t *rows, int64_t *global_rows);
/* Local, for ranks that each hold every row. Rank `rank` of `ranks` takes an even share of
 * global batch `step`: the rows at its positions [count rank / ranks, count (rank + 1) /
 * ranks) of the batch's count, as global indices in position order, into rows; returns how
 * many, with *global_rows the batch's count. */
int64_t sm_batch_share(const sm_permutation *p, int64_t batch_size, int64_t step, int rank,
                       int ranks, int64_t *rows, int64_t *global_rows);

/* ---- the training loop (trainer.c) -------------------------------------------------- */

/* Forward and backward over this rank's rows of one global batch: rows[0 .. m) are local
 * row indices in position order, global_rows the size of the global batch. Accumulates the
 * gradient of the SUM of the per-row losses into the parameter gradients (the trainer divides
 * by the global batch size) and adds this rank's sums of each loss term to loss[]. */
typedef int (*sm_trainer_batch_fn)(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m,
                                   int64_t global_rows, int64_t epoch, double *loss);
/* Called on every rank after each optimiser step (e.g. to clamp parameters); may be NULL. */
typedef void (*sm_trainer_after_step_fn)(void *model);

/* DP-SGD settings of a private run (trainer_dp.c); enabled 0 otherwise. */
typedef struct sm_trainer_dp {
  int enabled;
  double sample_rate;      /* q = batch_size / N: each row joins a step with this chance */
  double noise_multiplier; /* sigma: noise std is sigma * clip on the clipped sum */
  double clip;             /* C, the per-example gradient norm bound */
  int64_t steps;           /* T, steps of the whole run */
  sm_accountant accountant;
  double epsilon_budget, delta;
  int reproducible;   /* tests only: seeded draws */
  uint64_t seed;      /* reproducible mode's key */
  int in_model;       /* the model samples and adds the noise itself (CTGAN's critic) */
  int per_step;       /* mechanism steps per trainer step (CTGAN: critic updates) */
  double sensitivity; /* the clipped sum's L2 sensitivity in units of clip */
} sm_trainer_dp;

typedef struct sm_trainer {
  /* set by the model before sm_trainer_run */
  const char *kind;                              /* model kind, checked on resume */
  int n_losses;                                  /* loss terms reported per step */
  const char *loss_names[SM_TRAINER_MAX_LOSSES]; /* for progress lines */
  int64_t batch_size, epochs;
  uint64_t seed; /* the batch order's seed */
  sm_trainer_batch_fn batch;
  sm_trainer_after_step_fn after_step;
  /* private runs of a model that draws its own Poisson samples and noise (CTGAN's critic):
   * the trainer's steps stay plain; plan, noise and ledger count dp_per_step mechanism
   * steps per trainer step with noise std sigma x dp_sensitivity x clip (0: 1 for both) */
  int dp_in_model, dp_per_step;
  double dp_sensitivity;
  void *model; /* passed to the callbacks */
  int layout;  /* version of the model's parameter layout, checked on resume (0: the first) */
  sm_nn_params *params; /* every trainable value, one buffer */
  sm_adam *adam;        /* over the buffer from reduce_from on */
  size_t slots;         /* offset of the reserved floats */
  size_t reduce_from;   /* the step clears, reduces and updates [reduce_from, n); 0 for the
                         * whole buffer (a model handling the floats before it on its own) */

  /* the data: this rank's block of the global rows; or, replicated, every row on every rank
   * (row_offset 0, n_local n_global), each rank taking an even share of every batch */
  int64_t n_global, row_offset, n_local;
  int replicated;

  /* private runs: the plan, and the ledger it records into (saved in checkpoints) */
  sm_trainer_dp dp;
  sm_ledger *ledger;

  /* position and history (saved in checkpoints) */
  int64_t epoch, step;                     /* next step to take */
  double epoch_sum[SM_TRAINER_MAX_LOSSES]; /* loss sums of the epoch so far */
  double *history;                         /* (epochs, n_losses) mean loss per row */

  /* this rank's shard of the buffer for the optimiser (set up by sm_trainer_run) */
  int *shard_counts, *shard_displs; /* (2 ranks) floats and offset of each rank's shard, then
                                     * where each rank's part of this rank's shard lands */
  float *shard_grad; /* (ranks, shard_counts[rank]) the ranks' parts; the first, their sum */
} sm_trainer;

/* Reserve the trainer's floats at the end of the parameter buffer (1 + n_losses of them;
 * call after every layer is reserved and before sm_nn_params_alloc). The reserved values
 * stay zero: their gradients are cleared before each optimiser step. */
void sm_trainer_reserve(sm_trainer *t, sm_nn_params *p);

/* Collective. Train from the current position (epoch 0, or where the checkpoint left off
 * when opt->resume) to t->epochs. Returns SM_OK, or SM_EINTERRUPTED after writing a
 * checkpoint when opt->stop was set on any rank, or an error. */
int sm_trainer_run(sm_ctx *ctx, sm_trainer *t, const sm_fit_options *opt);

void sm_trainer_free(sm_trainer *t);

/* The caller's fit options (or none), with checkpoint_every taken from the model's
 * "checkpoint_every" parameter when the caller left it 0. */
sm_fit_options sm_trainer_fit_options(const sm_fit_options *opt, const sm_params *params);
/* Collective. sm_trainer_run; on success the loss history moves to *history (the caller
 * frees it), so sm_trainer_free leaves it alone. */
int sm_trainer_run_into(sm_ctx *ctx, sm_trainer *t, const sm_fit_options *opt, double **history);

/* ---- DP-SGD (trainer_dp.c) ---------------------------------------------------------- */

/* Local (same result on every rank). Fill t->dp from the privacy section (nothing when p is
 * NULL or disabled): q = batch_size / n_global, T = epochs x steps per epoch (x dp_per_step
 * when the model sets it), sigma as given
 * or the smallest that fits the budget. SM_EBUDGET, with the epsilon it would spend, when
 * the plan does not fit. Needs n_global, batch_size, epochs, seed and kind set. */
int sm_trainer_dp_plan(sm_ctx *ctx, sm_trainer *t, const sm_privacy_spec *p);
/* Epsilon (the accountant's guaranteed bound) of the plan after `steps` steps. */
int sm_trainer_dp_epsilon(sm_ctx *ctx, const sm_trainer_dp *dp, int64_t steps, sm_dp_epsilon *out);
/* Local. Poisson sampling of global step g: each local row joins with probability q;
 * rows (room for n_local) gets their local indices, *m their count (0 is a legal step). */
int sm_trainer_dp_sample(sm_ctx *ctx, const sm_trainer *t, int64_t g, int64_t *rows, int64_t *m);
/* Local. A uniform shuffle key in (0, 1) for each of the m sampled local rows of mechanism
 * step g (rows as sm_trainer_dp_sample gives them), from the secure generator, or in
 * reproducible mode from a stream keyed by the step and the global row. */
int sm_trainer_dp_keys(sm_ctx *ctx, const sm_trainer *t, int64_t g, const int64_t *rows, int64_t m,
                       double *keys);
/* Local (rank 0 only, once per step): grad[0 .. n) += N(0, (sigma S C)^2) per coordinate,
 * S the sensitivity in units of C (1 unless the model sets it). */
int sm_trainer_dp_noise(sm_ctx *ctx, const sm_trainer *t, int64_t g, float *grad, size_t n);
/* Set the ledger's "dp-sgd" entry to `steps` trainer steps of the plan (times dp_per_step
 * mechanism steps) and the totals to match. */
int sm_trainer_dp_record(sm_ctx *ctx, const sm_trainer *t, int64_t steps, sm_ledger *l);
/* A checkpoint's ledger must belong to the same plan (or be empty for a non-private run). */
int sm_trainer_dp_resume(sm_ctx *ctx, const sm_trainer *t, const sm_ledger *saved,
                         const char *path);

/* ---- checkpoints (trainer_checkpoint.c) --------------------------------------------- */

/* Collective. Write the state to path (through path.partial, renamed when complete). */
int sm_trainer_save(sm_ctx *ctx, const sm_trainer *t, const char *path, uint64_t hash);
/* Collective. Restore parameters, moments, position and history; SM_EINPUT when the file is
 * missing, was written by a different experiment or model, or does not fit the model. */
int sm_trainer_load(sm_ctx *ctx, sm_trainer *t, const char *path, uint64_t hash);

#endif
