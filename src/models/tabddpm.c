/* TabDDPM (Kotelnikov et al. 2023): Gaussian diffusion of the numeric columns after a
 * quantile transform to normal scores, multinomial diffusion of the discrete ones, and one MLP
 * denoiser with a sinusoidal timestep embedding, trained data-parallel.
 *
 * Class-conditional generation, as in the paper's classification setup: the target column
 * (model.target; by default the experiment's evaluation.target when it is discrete) is not
 * diffused. Its one-hot enters the denoiser's input projection as it is, so the projection's
 * rows for it are a learned class embedding added to the timestep embedding, and its logits
 * are not trained.
 *
 * Fit (collective): the flat encoding in quantile mode is fitted on all ranks' rows, the
 * target's class counts are summed over ranks; the trainer runs ceil(steps / steps per
 * epoch) epochs with the learning rate decaying linearly to 0 (lr_schedule linear); each row
 * of a batch draws its timestep and noise from (seed mixed with the epoch,
 * SM_STREAM_NN_NOISE, global row).
 * Sample (local): row i starts from N(0, I) and uniform classes drawn from
 * (seed, SM_STREAM_SAMPLE, i), its target class from the training marginal, and runs the
 * reverse process conditioned on that class over sample_steps timesteps spaced evenly over
 * [0, T) (fewer steps than T skip timesteps; both processes use the skipped-step posteriors,
 * so the result stays a proper diffusion sampler), every draw from the same stream.
 */
#include "models/tabddpm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "models/trainer.h"
#include "models/tvae.h"
#include "synthmpi/rng.h"

static const sm_param_desc tabddpm_params[] = {
    {"timesteps", SM_PARAM_INT, "100", 2, TABDDPM_MAX_T, NULL, "diffusion steps T"},
    {"schedule", SM_PARAM_STRING, "cosine", 0, 0, "cosine|linear", "noise schedule"},
    {"dim_t", SM_PARAM_INT, "128", 2, 65536, NULL, "timestep embedding and input projection width"},
    {"hidden_dims", SM_PARAM_STRING, "256,512,512,256", 0, 0, NULL,
     "widths of the denoiser MLP's hidden layers, comma-separated"},
    {"batch_size", SM_PARAM_INT, "1024", 1, 1e9, NULL, "global batch size (rows over all ranks)"},
    {"steps", SM_PARAM_INT, "30000", 1, 1e9, NULL, "optimiser steps (rounded up to whole epochs)"},
    {"lr", SM_PARAM_REAL, "1e-3", 1e-12, 10, NULL, "AdamW learning rate"},
    {"lr_schedule", SM_PARAM_STRING, "linear", 0, 0, "linear|constant",
     "learning rate over the steps: linear decay to 0, or constant"},
    {"weight_decay", SM_PARAM_REAL, "1e-5", 0, 1, NULL, "AdamW decoupled weight decay"},
    {"target", SM_PARAM_STRING, "auto", 0, 0, NULL,
     "class column generated conditionally, not diffused: auto (evaluation.target when it is "
     "categorical or boolean), none, or a column name"},
    {"sample_steps", SM_PARAM_INT, "0", 0, TABDDPM_MAX_T, NULL,
     "reverse steps when sampling, spread evenly over T; 0: all T"},
    {"n_quantiles", SM_PARAM_INT, "0", 0, 100000, NULL,
     "quantiles of the numeric transform; 0: max(min(rows / 30, 1000), 10)"},
    {"seed", SM_PARAM_INT, "1", 0, 9007199254740992.0, NULL,
     "initialisation, batch order and training noise"},
    {"checkpoint_every", SM_PARAM_INT, "0", 0, 1e9, NULL,
     "epochs between checkpoints; 0: only when stopped by a signal"},
};
#define N_PARAMS ((int)(sizeof tabddpm_params / sizeof tabddpm_params[0]))

/* Rows per sampling block (aligned to global row indices). */
#define BLOCK_ROWS 512
/* Predicted x_0 of the numeric part is clipped to the quantile transform's range. */
#define X0_CLIP 5.2

int sm_tabddpm_settings(sm_ctx *ctx, const sm_params *p, tabddpm_settings *s) {
  memset(s, 0, sizeof *s);
  s->timesteps = (int)sm_params_num(p, "timesteps");
  s->schedule =
      strcmp(sm_params_str(p, "schedule"), "linear") == 0 ? TABDDPM_LINEAR : TABDDPM_COSINE;
  s->dim_t = (int)sm_params_num(p, "dim_t");
  s->batch_size = (int64_t)sm_params_num(p, "batch_size");
  s->steps = (int64_t)sm_params_num(p, "steps");
  s->lr = sm_params_num(p, "lr");
  s->weight_decay = sm_params_num(p, "weight_decay");
  s->sample_steps = (int)sm_params_num(p, "sample_steps");
  s->n_quantiles = (int)sm_params_num(p, "n_quantiles");
  s->seed = (uint64_t)sm_params_num(p, "seed");
  s->lr_linear = strcmp(sm_params_str(p, "lr_schedule"), "linear") == 0;
  s->target_block = -1;
  if (s->sample_steps == 0 || s->sample_steps > s->timesteps)
    s->sample_steps = s->timesteps;
  int dims[TVAE_MAX_LAYERS], n = 0;
  SM_TRY(sm_tvae_parse_dims(ctx, "hidden_dims", sm_params_str(p, "hidden_dims"), dims, &n));
  if (n < 1 || n > SM_MLP_MAX_LAYERS - 1)
    return sm_fail(ctx, SM_EINPUT, "model.hidden_dims: 1 to %d layers", SM_MLP_MAX_LAYERS - 1);
  s->n_hidden = n;
  memcpy(s->hidden, dims, (size_t)n * sizeof(int));
  return SM_OK;
}

void sm_tabddpm_sampling_settings(void *state, const sm_params *p) {
  tabddpm_state *st = state;
  int steps = (int)sm_params_num(p, "sample_steps");
  if (steps > 0)
    st->set.sample_steps = steps < st->set.timesteps ? steps : st->set.timesteps;
}

void sm_tabddpm_free(void *state) {
  tabddpm_state *st = state;
  if (!st)
    return;
  sm_flat_free(&st->flat);
  sm_tabddpm_schedule_free(&st->sched);
  sm_nn_params_free(&st->net.params);
  free(st->history);
  free(st->class_count);
  free(st);
}

/* ---- fit ---------------------------------------------------------------------------- */

static int widest_block(const sm_flat *f) {
  int k = 1;
  for (int b = 0; b < f->n_blocks; b++)
    k = f->block_width[b] > k ? f->block_width[b] : k;
  return k;
}

/* Local. The target's column from the parameter, or -1 for none; SM_EINPUT when a named
 * column is missing or numeric. */
static int target_column(sm_ctx *ctx, const sm_flat *f, const sm_params *p,
                         const char *default_target, const sm_schema *schema, int *col) {
  const char *name = sm_params_str(p, "target");
  int automatic = strcmp(name, "auto") == 0;
  *col = -1;
  if (automatic)
    name = default_target;
  if (!name || strcmp(name, "none") == 0)
    return SM_OK;
  int j = sm_schema_find(schema, name);
  if (j >= 0 && j < f->n_cols && !f->cols[j].numeric && f->cols[j].block >= 0)
    *col = j;
  else if (!automatic)
    return sm_fail(ctx, SM_EINPUT, "model.target: '%s' is not a categorical or boolean column",
                   name);
  return SM_OK;
}

int sm_tabddpm_target(sm_ctx *ctx, tabddpm_state *st, const sm_params *p,
                      const char *default_target, const sm_table *rows) {
  const sm_flat *f = &st->flat;
  int col = -1;
  SM_TRY(sm_agree(ctx, target_column(ctx, f, p, default_target, &rows->schema, &col)));
  st->set.target_block = col >= 0 ? f->cols[col].block : -1;
  if (col < 0)
    return SM_OK;

  /* this rank's counts from the encoded rows, then the sums over ranks */
  int b = st->set.target_block, K = f->block_width[b];
  st->class_count = sm_calloc(ctx, (size_t)K, sizeof(double));
  float *row = sm_malloc(ctx, (size_t)f->width * sizeof(float));
  int rc = sm_agree(ctx, st->class_count && row ? SM_OK : SM_ERR);
  for (int64_t i = 0; rc == SM_OK && i < rows->n_rows; i++) {
    sm_flat_encode(f, rows, i, 1, row);
    for (int k = 0; k < K; k++)
      st->class_count[k] += row[f->block_start[b] + k] > 0.5f ? 1.0 : 0.0;
  }
  free(row);
  SM_TRY(rc);
  SM_MPI_CHECK(ctx,
               MPI_Allreduce(MPI_IN_PLACE, st->class_count, K, MPI_DOUBLE, MPI_SUM, ctx->comm));
  return SM_OK;
}

int sm_tabddpm_draw_target(const tabddpm_state *st, double u) {
  int K = st->flat.block_width[st->set.target_block];
  double total = 0.0, cum = 0.0;
  for (int k = 0; k < K; k++)
    total += st->class_count[k];
  for (int k = 0; k < K; k++) {
    cum += st->class_count[k];
    if (u * total < cum)
      return k;
  }
  return K - 1;
}

/* Local. Encoded rows and the batch workspace. */
static int train_alloc(sm_ctx *ctx, tabddpm_train *tr, const sm_table *t) {
  const tabddpm_state *st = tr->st;
  const sm_flat *f = &st->flat;
  size_t n = (size_t)(t->n_rows > 0 ? t->n_rows : 1);
  int64_t cap = st->set.batch_size < t->n_rows ? st->set.batch_size : t->n_rows;
  tr->n_local = t->n_rows;
  tr->row_offset = t->row_offset;
  tr->data = sm_malloc(ctx, n * f->width * sizeof(float));
  SM_TRY(sm_tabddpm_work_alloc(ctx, &tr->work, &st->net, (int)(cap > 0 ? cap : 1)));
  size_t c = (size_t)tr->work.cap;
  tr->eps = sm_malloc(ctx, c * (size_t)(f->n_num > 0 ? f->n_num : 1) * sizeof(float));
  tr->x0 = sm_malloc(ctx, c * (size_t)(f->n_blocks > 0 ? f->n_blocks : 1) * sizeof(int32_t));
  tr->xt = sm_malloc(ctx, c * (size_t)(f->n_blocks > 0 ? f->n_blocks : 1) * sizeof(int32_t));
  tr->scratch = sm_malloc(ctx, 4 * (size_t)widest_block(f) * sizeof(double));
  if (!tr->data || !tr->eps || !tr->x0 || !tr->xt || !tr->scratch)
    return SM_ERR;
  sm_flat_encode(f, t, 0, t->n_rows, tr->data);
  return SM_OK;
}

static void train_free(tabddpm_train *tr) {
  free(tr->data);
  free(tr->eps);
  free(tr->x0);
  free(tr->xt);
  free(tr->scratch);
  sm_tabddpm_work_free(&tr->work);
}

static void trainer_setup(sm_trainer *t, tabddpm_state *st, sm_adam *adam, tabddpm_train *tr) {
  t->kind = "tabddpm";
  t->n_losses = TABDDPM_N_LOSSES;
  t->loss_names[0] = "gauss";
  t->loss_names[1] = "multi";
  t->batch_size = st->set.batch_size;
  t->epochs = st->set.epochs;
  t->seed = st->set.seed;
  t->batch = sm_tabddpm_batch;
  t->model = tr;
  t->params = &st->net.params;
  t->adam = adam;
  tr->adam = adam;
  tr->total_steps = st->set.epochs * sm_batches_per_epoch(t->n_global, st->set.batch_size);
}

/* Collective. Networks, optimiser and the training loop. */
static int train(sm_ctx *ctx, tabddpm_state *st, const sm_table *rows, int64_t n_global,
                 const sm_fit_options *opt) {
  sm_trainer t = {0};
  sm_adam adam = {0};
  tabddpm_train tr = {.st = st};
  sm_tabddpm_layout(&st->net, &st->set, st->flat.width);
  t.n_global = n_global;
  trainer_setup(&t, st, &adam, &tr);
  sm_trainer_reserve(&t, &st->net.params);
  int rc = sm_nn_params_alloc(ctx, &st->net.params);
  if (rc == SM_OK) {
    int tb = st->set.target_block;
    sm_tabddpm_init(&st->net, st->set.seed, tb >= 0 ? st->flat.block_start[tb] : 0,
                    tb >= 0 ? st->flat.block_width[tb] : 0);
    rc = train_alloc(ctx, &tr, rows);
  }
  if (rc == SM_OK)
    rc = sm_adam_init(ctx, &adam, st->net.params.n, st->set.lr, 0.9, 0.999, 1e-8,
                      st->set.weight_decay, 1);
  rc = sm_agree(ctx, rc);
  t.row_offset = rows->row_offset;
  t.n_local = rows->n_rows;
  if (rc == SM_OK) {
    sm_log(ctx, SM_LOG_INFO,
           "tabddpm: %lld rows encoded as %d numeric values and %d one-hot blocks (width %d), "
           "T %d (%s), %zu parameters, batch %lld, %lld steps (%lld epochs) on %d ranks, "
           "lr %g (%s), %s",
           (long long)n_global, st->flat.n_num, st->flat.n_blocks, st->flat.width,
           st->set.timesteps, st->set.schedule == TABDDPM_LINEAR ? "linear" : "cosine",
           st->net.n_model, (long long)st->set.batch_size, (long long)tr.total_steps,
           (long long)st->set.epochs, ctx->size, st->set.lr,
           st->set.lr_linear ? "linear decay" : "constant",
           st->set.target_block >= 0 ? "conditioned on a class column" : "unconditional");
    rc = sm_trainer_run_into(ctx, &t, opt, &st->history);
  }
  sm_trainer_free(&t);
  sm_adam_free(&adam);
  train_free(&tr);
  return rc;
}

/* Collective. Settings, the schedule, the encoding and the epoch count. */
static int prepare(sm_ctx *ctx, const sm_model_spec *spec, const sm_table *rows, tabddpm_state *st,
                   int64_t *n_global) {
  int rc = sm_agree(ctx, sm_tabddpm_settings(ctx, &spec->params, &st->set));
  *n_global = rows->n_rows;
  SM_TRY(rc);
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, n_global, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (*n_global < 1)
    return sm_fail(ctx, SM_EINPUT, "tabddpm: no training rows");
  int64_t per_epoch = sm_batches_per_epoch(*n_global, st->set.batch_size);
  st->set.epochs = (st->set.steps + per_epoch - 1) / per_epoch;
  SM_TRY(sm_agree(ctx, sm_tabddpm_schedule(ctx, &st->sched, st->set.timesteps, st->set.schedule)));
  SM_TRY(sm_flat_fit(ctx, &st->flat, rows, SM_FLAT_QUANTILE, st->set.n_quantiles));
  return sm_tabddpm_target(ctx, st, &spec->params, spec->default_target, rows);
}

static int tabddpm_fit(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                       const sm_table *rows, void **state) {
  double t0 = MPI_Wtime();
  if (opt && opt->privacy && opt->privacy->enabled)
    return sm_agree(ctx, sm_fail(ctx, SM_EINPUT,
                                 "tabddpm: private training is not supported; "
                                 "use tvae or mst for a private run"));
  tabddpm_state *st = sm_calloc(ctx, 1, sizeof *st);
  SM_TRY(sm_agree(ctx, st ? SM_OK : SM_ERR));
  int64_t n_global = 0;
  int rc = prepare(ctx, spec, rows, st, &n_global);
  sm_fit_options o = sm_trainer_fit_options(opt, &spec->params);
  if (rc == SM_OK)
    rc = train(ctx, st, rows, n_global, &o);
  if (rc != SM_OK) {
    sm_tabddpm_free(st);
    return rc;
  }
  const double *last = st->history + (st->set.epochs - 1) * TABDDPM_N_LOSSES;
  sm_log(ctx, SM_LOG_INFO, "tabddpm: trained in %.1f s, final gauss %.4f multi %.4f",
         MPI_Wtime() - t0, last[0], last[1]);
  *state = st;
  return SM_OK;
}

/* ---- sample ------------------------------------------------------------------------- */

/* The reverse process's state of one block of rows. */
typedef struct sample_block {
  tabddpm_work w;
  sm_rng *rng;  /* (BLOCK_ROWS) one stream per row */
  int32_t *cls; /* (BLOCK_ROWS, n_blocks) current classes */
  double *lx0;  /* (widest block) */
  double *post; /* (widest block) */
} sample_block;

static void block_free(sample_block *b) {
  sm_tabddpm_work_free(&b->w);
  free(b->rng);
  free(b->cls);
  free(b->lx0);
  free(b->post);
}

static int block_alloc(sm_ctx *ctx, const tabddpm_state *st, sample_block *b) {
  memset(b, 0, sizeof *b);
  int k = widest_block(&st->flat), nb = st->flat.n_blocks > 0 ? st->flat.n_blocks : 1;
  b->rng = sm_malloc(ctx, BLOCK_ROWS * sizeof(sm_rng));
  b->cls = sm_malloc(ctx, (size_t)BLOCK_ROWS * nb * sizeof(int32_t));
  b->lx0 = sm_malloc(ctx, (size_t)k * sizeof(double));
  b->post = sm_malloc(ctx, (size_t)k * sizeof(double));
  if (!b->rng || !b->cls || !b->lx0 || !b->post)
    return SM_ERR;
  return sm_tabddpm_work_alloc(ctx, &b->w, &st->net, BLOCK_ROWS);
}

/* A class drawn from log probabilities by inverse CDF. */
static int draw_class(const double *lp, int K, double u) {
  double cum = 0.0;
  for (int k = 0; k < K; k++) {
    cum += exp(lp[k]);
    if (u < cum)
      return k;
  }
  return K - 1;
}

/* Row r's numeric values from step t (alpha_bar ab_t) to step s (ab_s; 1 for x_0). */
static void numeric_step(const sm_flat *f, float *x, const float *eps, double ab_t, double ab_s,
                         sm_rng *rng) {
  for (int j = 0; j < f->n_num; j++) {
    double x0 = (x[j] - sqrt(1.0 - ab_t) * eps[j]) / sqrt(ab_t);
    x0 = x0 < -X0_CLIP ? -X0_CLIP : x0 > X0_CLIP ? X0_CLIP : x0;
    if (ab_s >= 1.0) {
      x[j] = (float)x0;
      continue;
    }
    double a = ab_t / ab_s, b = 1.0 - a;
    double mean = sqrt(ab_s) * b / (1.0 - ab_t) * x0 + sqrt(a) * (1.0 - ab_s) / (1.0 - ab_t) * x[j];
    double var = b * (1.0 - ab_s) / (1.0 - ab_t);
    x[j] = (float)(mean + sqrt(var) * sm_rng_normal(rng));
  }
}

/* Row r's classes from step t to step s, given the denoiser's logits (the target's class
 * stays as drawn). */
static void class_step(const tabddpm_state *st, sample_block *b, int r, float *x, const float *out,
                       double ab_t, double ab_s) {
  const sm_flat *f = &st->flat;
  for (int k = 0; k < f->n_blocks; k++) {
    if (k == st->set.target_block)
      continue;
    int start = f->block_start[k], K = f->block_width[k];
    int32_t *c = &b->cls[(size_t)r * f->n_blocks + k];
    double hi = -INFINITY, sum = 0.0;
    for (int i = 0; i < K; i++)
      hi = out[start + i] > hi ? out[start + i] : hi;
    for (int i = 0; i < K; i++)
      sum += exp(out[start + i] - hi);
    for (int i = 0; i < K; i++)
      b->lx0[i] = out[start + i] - hi - log(sum);
    sm_tabddpm_posterior(b->post, K, *c, b->lx0, ab_t, ab_s);
    x[start + *c] = 0.0f;
    *c = draw_class(b->post, K, sm_rng_uniform(&b->rng[r]));
    x[start + *c] = 1.0f;
  }
}

/* The block of rows [first, first + BLOCK_ROWS) through the whole reverse process. */
static void run_block(const tabddpm_state *st, sample_block *b, uint64_t seed, int64_t first) {
  const sm_flat *f = &st->flat;
  int width = f->width, S = st->set.sample_steps, T = st->set.timesteps;

  /* x_T: normal scores, uniform classes and the target's class from its marginal */
  for (int r = 0; r < BLOCK_ROWS; r++) {
    float *x = b->w.x + (size_t)r * width;
    sm_rng_init(&b->rng[r], seed, SM_STREAM_SAMPLE, (uint64_t)(first + r));
    memset(x, 0, (size_t)width * sizeof(float));
    for (int j = 0; j < f->n_num; j++)
      x[j] = (float)sm_rng_normal(&b->rng[r]);
    for (int k = 0; k < f->n_blocks; k++) {
      int K = f->block_width[k];
      double u = sm_rng_uniform(&b->rng[r]);
      int c = k == st->set.target_block ? sm_tabddpm_draw_target(st, u) : (int)(u * K);
      c = c < K ? c : K - 1;
      b->cls[(size_t)r * f->n_blocks + k] = c;
      x[f->block_start[k] + c] = 1.0f;
    }
  }

  /* S steps at timesteps spread evenly over [0, T) */
  for (int i = S - 1; i >= 0; i--) {
    int t = S > 1 ? (int)lround((double)i * (T - 1) / (S - 1)) : T - 1;
    int s = i > 0 ? (int)lround((double)(i - 1) * (T - 1) / (S - 1)) : -1;
    double ab_t = st->sched.alpha_bar[t], ab_s = s >= 0 ? st->sched.alpha_bar[s] : 1.0;
    for (int r = 0; r < BLOCK_ROWS; r++)
      b->w.t[r] = t;
    sm_tabddpm_forward(&st->net, &b->w, BLOCK_ROWS);
    for (int r = 0; r < BLOCK_ROWS; r++) {
      float *x = b->w.x + (size_t)r * width;
      const float *out = b->w.out + (size_t)r * width;
      numeric_step(f, x, out, ab_t, ab_s, &b->rng[r]);
      class_step(st, b, r, x, out, ab_t, ab_s);
    }
  }
}

static int tabddpm_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0,
                          sm_table *out) {
  const tabddpm_state *st = state;
  if (out->schema.n_cols != st->flat.n_cols)
    return sm_fail(ctx, SM_EINPUT, "sample: table has %d columns, the model %d", out->schema.n_cols,
                   st->flat.n_cols);
  sample_block b;
  int rc = block_alloc(ctx, st, &b);
  int64_t end = row0 + out->n_rows;
  for (int64_t first = row0 - row0 % BLOCK_ROWS; rc == SM_OK && first < end; first += BLOCK_ROWS) {
    run_block(st, &b, seed, first);
    int64_t lo = first > row0 ? first : row0;
    int64_t hi = first + BLOCK_ROWS < end ? first + BLOCK_ROWS : end;
    sm_flat_decode(&st->flat, b.w.x + (size_t)(lo - first) * st->flat.width, hi - lo, out,
                   lo - row0);
  }
  block_free(&b);
  return rc;
}

const sm_model_ops sm_model_tabddpm = {
    .kind = "tabddpm",
    .summary = "TabDDPM: Gaussian and multinomial diffusion with an MLP denoiser, "
               "trained data-parallel",
    .params = tabddpm_params,
    .n_params = N_PARAMS,
    .fit = tabddpm_fit,
    .sample = tabddpm_sample,
    .save = sm_tabddpm_save,
    .load = sm_tabddpm_load,
    .free_state = sm_tabddpm_free,
};
