/* CTGAN: the conditional tabular GAN of Xu et al. (2019) with SDV's defaults, a WGAN-GP
 * critic over packs of rows (PacGAN), trained data-parallel.
 *
 * Fit (collective): mode-specific normalisation is fitted on all ranks' rows, each rank
 * encodes its rows and indexes them by category, and the trainer runs the epochs. Each step
 * updates the discriminator (inside the step, with its own allreduce and Adam) and then
 * takes the generator's gradient, which the trainer reduces and applies.
 * Sample (local): release rows are made in blocks of batch_size rows aligned to global row
 * indices; row i's noise and conditional vector come from (seed, SM_STREAM_SAMPLE, i), its
 * Gumbel noise from (seed, SM_STREAM_DECODE, i).
 */
#include "models/ctgan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "models/trainer.h"
#include "models/tvae.h"

static const sm_param_desc ctgan_params[] = {
    {"embedding_dim", SM_PARAM_INT, "128", 1, 65536, NULL, "generator noise dimension"},
    {"generator_dims", SM_PARAM_STRING, "256,256", 0, 0, NULL,
     "widths of the generator's residual blocks, comma-separated"},
    {"discriminator_dims", SM_PARAM_STRING, "256,256", 0, 0, NULL,
     "widths of the discriminator's hidden layers, comma-separated"},
    {"generator_lr", SM_PARAM_REAL, "2e-4", 1e-12, 10, NULL, "generator Adam learning rate"},
    {"generator_decay", SM_PARAM_REAL, "1e-6", 0, 1, NULL, "generator L2 weight decay"},
    {"discriminator_lr", SM_PARAM_REAL, "2e-4", 1e-12, 10, NULL,
     "discriminator Adam learning rate"},
    {"discriminator_decay", SM_PARAM_REAL, "1e-6", 0, 1, NULL, "discriminator L2 weight decay"},
    {"batch_size", SM_PARAM_INT, "500", 1, 1e9, NULL,
     "global batch size (rows over all ranks); a multiple of pac"},
    {"epochs", SM_PARAM_INT, "300", 1, 1e7, NULL, "passes over the training rows"},
    {"pac", SM_PARAM_INT, "10", 1, 1000, NULL, "rows per discriminator pack (PacGAN)"},
    {"discriminator_steps", SM_PARAM_INT, "1", 1, 100, NULL,
     "discriminator updates per generator update"},
    {"gradient_penalty", SM_PARAM_REAL, "10", 0, 1e6, NULL,
     "weight lambda of the WGAN gradient penalty"},
    {"log_frequency", SM_PARAM_BOOL, "true", 0, 1, NULL,
     "training-by-sampling draws categories by log-frequency (else by frequency)"},
    {"spectral_norm", SM_PARAM_BOOL, "false", 0, 1, NULL,
     "divide each critic weight by its largest singular value (one power iteration a step)"},
    {"seed", SM_PARAM_INT, "1", 0, 9007199254740992.0, NULL,
     "initialisation, conditional vectors, training noise and encoding"},
    {"checkpoint_every", SM_PARAM_INT, "0", 0, 1e9, NULL,
     "epochs between checkpoints; 0: only when stopped by a signal"},
    {"max_modes", SM_PARAM_INT, "10", 1, SM_MAX_MODES, NULL,
     "mixture components per numeric column in the mode-specific normalisation"},
};
#define N_PARAMS ((int)(sizeof ctgan_params / sizeof ctgan_params[0]))

/* Adam's moment decay rates of the published CTGAN. */
#define CTGAN_BETA1 0.5
#define CTGAN_BETA2 0.9

/* ---- settings ----------------------------------------------------------------------- */

int sm_ctgan_settings(sm_ctx *ctx, const sm_params *p, ctgan_settings *s) {
  memset(s, 0, sizeof *s);
  s->embedding_dim = (int)sm_params_num(p, "embedding_dim");
  s->g_lr = sm_params_num(p, "generator_lr");
  s->g_decay = sm_params_num(p, "generator_decay");
  s->d_lr = sm_params_num(p, "discriminator_lr");
  s->d_decay = sm_params_num(p, "discriminator_decay");
  s->penalty = sm_params_num(p, "gradient_penalty");
  s->batch_size = (int64_t)sm_params_num(p, "batch_size");
  s->epochs = (int64_t)sm_params_num(p, "epochs");
  s->pac = (int)sm_params_num(p, "pac");
  s->d_steps = (int)sm_params_num(p, "discriminator_steps");
  s->log_frequency = sm_params_num(p, "log_frequency") != 0;
  s->spectral_norm = sm_params_num(p, "spectral_norm") != 0;
  s->seed = (uint64_t)sm_params_num(p, "seed");
  s->max_modes = (int)sm_params_num(p, "max_modes");
  if (s->batch_size % s->pac != 0)
    return sm_fail(ctx, SM_EINPUT, "model.batch_size: %lld is not a multiple of model.pac (%d)",
                   (long long)s->batch_size, s->pac);
  SM_TRY(sm_tvae_parse_dims(ctx, "generator_dims", sm_params_str(p, "generator_dims"), s->gen,
                            &s->n_gen));
  return sm_tvae_parse_dims(ctx, "discriminator_dims", sm_params_str(p, "discriminator_dims"),
                            s->dis, &s->n_dis);
}

/* Checked by `synthmpi check` at the location of the key: batch_size a multiple of pac. */
static int ctgan_check(const sm_params *p, char *why, size_t size, const char **key) {
  double batch = sm_params_num(p, "batch_size"), pac = sm_params_num(p, "pac");
  *key = "batch_size";
  if (fmod(batch, pac) == 0)
    return 0;
  snprintf(why, size,
           "must be a multiple of model.pac (%.0f is not: the discriminator sees packs of "
           "%.0f rows)",
           batch, pac);
  return 1;
}

/* ---- conditional vector ------------------------------------------------------------- */

int sm_ctgan_cond_width(const ctgan_cond *c) {
  return c->n_cols > 0 ? c->offset[c->n_cols - 1] + c->size[c->n_cols - 1] : 0;
}

void sm_ctgan_cond_free(ctgan_cond *c) {
  if (!c)
    return;
  free(c->span);
  free(c->count);
  memset(c, 0, sizeof *c);
}

/* Cumulative shares of one column's categories, weighted by f(count). */
static void column_cdf(double *cdf, const double *count, int n, int use_log) {
  double total = 0.0;
  for (int k = 0; k < n; k++) {
    total += use_log ? log(count[k] + 1.0) : count[k];
    cdf[k] = total;
  }
  for (int k = 0; k < n; k++)
    cdf[k] = total > 0 ? cdf[k] / total : (double)(k + 1) / n;
}

int sm_ctgan_cond_init(sm_ctx *ctx, ctgan_cond *c, const sm_encoder *enc, const double *count) {
  memset(c, 0, sizeof *c);
  for (int j = 0; j < enc->n_cols; j++)
    c->n_cols += !enc->cols[j].numeric;

  /* one allocation: span, offset, size (ints), then count and the two tables */
  int width = 0;
  for (int j = 0; j < enc->n_cols; j++)
    if (!enc->cols[j].numeric)
      width += enc->spans[enc->cols[j].first_span].width;
  size_t ints = 3 * (size_t)(c->n_cols > 0 ? c->n_cols : 1);
  c->span = sm_calloc(ctx, ints, sizeof(int));
  c->count = sm_calloc(ctx, 3 * (size_t)(width > 0 ? width : 1), sizeof(double));
  if (!c->span || !c->count) {
    sm_ctgan_cond_free(c);
    return SM_ERR;
  }
  c->offset = c->span + (c->n_cols > 0 ? c->n_cols : 1);
  c->size = c->offset + (c->n_cols > 0 ? c->n_cols : 1);
  c->log_cdf = c->count + (width > 0 ? width : 1);
  c->freq_cdf = c->log_cdf + (width > 0 ? width : 1);

  /* the discrete columns' spans, their counts and sampling tables */
  for (int j = 0, i = 0, off = 0; j < enc->n_cols; j++) {
    if (enc->cols[j].numeric)
      continue;
    c->span[i] = enc->cols[j].first_span;
    c->offset[i] = off;
    c->size[i] = enc->spans[c->span[i]].width;
    off += c->size[i++];
  }
  for (int k = 0; count && k < width; k++)
    c->count[k] = count[k];
  for (int i = 0; i < c->n_cols; i++) {
    column_cdf(c->log_cdf + c->offset[i], c->count + c->offset[i], c->size[i], 1);
    column_cdf(c->freq_cdf + c->offset[i], c->count + c->offset[i], c->size[i], 0);
  }
  return SM_OK;
}

int sm_ctgan_cond_draw(const ctgan_cond *c, const double *cdf, double u1, double u2, int *col,
                       int *cat) {
  if (c->n_cols == 0)
    return 0;
  int i = (int)(u1 * c->n_cols);
  i = i < c->n_cols ? i : c->n_cols - 1;
  const double *share = cdf + c->offset[i];
  int k = 0;
  while (k < c->size[i] - 1 && share[k] <= u2)
    k++;
  *col = i;
  *cat = k;
  return 1;
}

float sm_ctgan_gumbel(sm_rng *rng) {
  float u = (float)sm_rng_uniform(rng);
  u = u < 1e-30f ? 1e-30f : u > 0.99999994f ? 0.99999994f : u;
  return -logf(-logf(u));
}

/* ---- layout ------------------------------------------------------------------------- */

int sm_ctgan_layout(sm_ctx *ctx, ctgan_net *net, const ctgan_settings *s, int width, int cond) {
  sm_nn_params *p = &net->params;
  net->width = width;
  net->cond = cond;

  /* discriminator: packs of pac rows [encoded row, cond] -> hidden layers -> 1 */
  ctgan_dis *d = &net->dis;
  d->in = s->pac * (width + cond);
  d->n_hidden = s->n_dis;
  int in = d->in;
  for (int k = 0; k < s->n_dis; k++) {
    d->dims[k] = s->dis[k];
    sm_linear_reserve(&d->fc[k], p, in, s->dis[k]);
    in = s->dis[k];
  }
  sm_linear_reserve(&d->fc[s->n_dis], p, in, 1);
  net->n_dis = p->n;

  /* its Adam moments travel with the parameters (saved in checkpoints, not in models) */
  net->d_moment1 = sm_nn_reserve(p, net->n_dis);
  net->d_moment2 = sm_nn_reserve(p, net->n_dis);
  for (int k = 0; s->spectral_norm && k <= s->n_dis; k++) {
    net->sn_u[k] = sm_nn_reserve(p, (size_t)d->fc[k].out);
    net->sn_v[k] = sm_nn_reserve(p, (size_t)d->fc[k].in);
  }

  /* generator: [z, cond] -> residual blocks -> width */
  ctgan_gen *g = &net->gen;
  g->in = s->embedding_dim + cond;
  g->n_res = s->n_gen;
  g->out = width;
  g->widths[0] = g->in;
  net->g_first = sm_nn_reserve(p, 0);
  for (int k = 0; k < s->n_gen; k++) {
    g->dims[k] = s->gen[k];
    sm_linear_reserve(&g->fc[k], p, g->widths[k], s->gen[k]);
    SM_TRY(sm_batchnorm_reserve(ctx, &g->bn[k], p, s->gen[k]));
    g->widths[k + 1] = g->widths[k] + s->gen[k];
  }
  sm_linear_reserve(&g->last, p, g->widths[s->n_gen], width);
  net->n_gen = p->n - net->g_first;
  return SM_OK;
}

void sm_ctgan_net_free(ctgan_net *net) {
  for (int k = 0; k < net->gen.n_res; k++)
    sm_batchnorm_free(&net->gen.bn[k]);
  sm_nn_params_free(&net->params);
}

/* PyTorch's default initialisation of every Linear; batch normalisation at identity. */
static void init_params(ctgan_net *net, const ctgan_settings *s) {
  sm_nn_params *p = &net->params;
  for (int k = 0; k < net->gen.n_res; k++) {
    sm_linear_init_default(&net->gen.fc[k], p, s->seed);
    sm_batchnorm_init(&net->gen.bn[k], p);
  }
  sm_linear_init_default(&net->gen.last, p, s->seed);
  for (int k = 0; k <= net->dis.n_hidden; k++)
    sm_linear_init_default(&net->dis.fc[k], p, s->seed);

  /* power-iteration vectors: random unit vectors, as PyTorch starts them */
  for (int k = 0; s->spectral_norm && k <= net->dis.n_hidden; k++) {
    const sm_linear *l = &net->dis.fc[k];
    sm_nn_init_uniform(p, net->sn_u[k], (size_t)l->out, 1.0f, s->seed);
    sm_nn_init_uniform(p, net->sn_v[k], (size_t)l->in, 1.0f, s->seed);
  }
  if (s->spectral_norm)
    sm_ctgan_sn_power(net);
}

void sm_ctgan_free(void *state) {
  ctgan_state *st = state;
  if (!st)
    return;
  sm_encoder_free(&st->encoder);
  sm_ctgan_cond_free(&st->cond);
  sm_ctgan_net_free(&st->net);
  free(st->history);
  free(st);
}

/* ---- fit ---------------------------------------------------------------------------- */

/* Collective. Settings, the rows over all ranks and the encoder: fitted to the data, or in a
 * private run built from the declared domains alone, as the private TVAE's (the row count
 * is public). */
static int prepare(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                   const sm_table *train, ctgan_state *st, int64_t *n_global) {
  int rc = sm_agree(ctx, sm_ctgan_settings(ctx, &spec->params, &st->set));
  *n_global = train->n_rows;
  SM_TRY(rc);
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, n_global, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (*n_global < 1)
    return sm_fail(ctx, SM_EINPUT, "ctgan: no training rows");
  if (opt && opt->privacy && opt->privacy->enabled)
    return sm_agree(ctx,
                    sm_tvae_private_encoder(ctx, &st->encoder, &train->schema, st->set.max_modes));

  sm_encoder_options eo;
  sm_encoder_default_options(&eo);
  eo.max_modes = st->set.max_modes;
  return sm_agree(ctx, sm_encoder_fit(ctx, &st->encoder, train, &eo));
}

/* The trainer's settings for this model. A private run's mechanism is the critic's DP-SGD,
 * d_steps updates per step with the sensitivity of packed gradients (C for pac 1, else 3C;
 * ctgan_private.c). */
static void trainer_setup(sm_trainer *t, ctgan_state *st, sm_adam *adam) {
  t->kind = "ctgan";
  t->n_losses = CTGAN_N_LOSSES;
  t->loss_names[0] = "critic";
  t->loss_names[1] = "penalty";
  t->loss_names[2] = "gen";
  t->loss_names[3] = "cond";
  t->batch_size = st->set.batch_size;
  t->epochs = st->set.epochs;
  t->seed = st->set.seed;
  t->batch = sm_ctgan_batch;
  t->dp_in_model = 1;
  t->dp_per_step = st->set.d_steps;
  t->dp_sensitivity = sm_ctgan_dp_sensitivity(st->set.pac);
  t->params = &st->net.params;
  t->adam = adam;
  t->reduce_from = st->net.g_first; /* the discriminator is reduced and updated in the step */
}

/* Rank 0's line before training. */
static void log_start(const sm_ctx *ctx, const ctgan_state *st, int64_t n_global) {
  sm_log(ctx, SM_LOG_INFO,
         "ctgan: %lld rows encoded as %d values, conditional vector of %d over %d columns, "
         "%zu generator and %zu discriminator parameters, batch %lld (packs of %d), "
         "%lld epochs of %lld steps on %d ranks",
         (long long)n_global, st->encoder.width, st->net.cond, st->cond.n_cols, st->net.n_gen,
         st->net.n_dis, (long long)st->set.batch_size, st->set.pac, (long long)st->set.epochs,
         (long long)sm_batches_per_epoch(n_global, st->set.batch_size), ctx->size);
}

/* Collective. Conditional columns (uniform tables until a non-private run counts), networks
 * and optimiser, the DP-SGD plan (checked against the budget before any step), then the
 * workspace. */
static int setup(sm_ctx *ctx, ctgan_session *s, const sm_table *rows, const sm_fit_options *opt) {
  ctgan_state *st = s->st;
  sm_trainer *t = s->t;

  /* one buffer: discriminator, its moments, generator, then the trainer's floats */
  int rc = sm_ctgan_cond_init(ctx, &st->cond, &st->encoder, NULL);
  if (rc == SM_OK)
    rc =
        sm_ctgan_layout(ctx, &st->net, &st->set, st->encoder.width, sm_ctgan_cond_width(&st->cond));
  trainer_setup(t, st, &s->adam);
  sm_trainer_reserve(t, &st->net.params);
  if (rc == SM_OK)
    rc = sm_nn_params_alloc(ctx, &st->net.params);
  if (rc == SM_OK) {
    init_params(&st->net, &st->set);
    rc = sm_adam_init(ctx, &s->adam, st->net.params.n - st->net.g_first, st->set.g_lr, CTGAN_BETA1,
                      CTGAN_BETA2, 1e-8, st->set.g_decay, 0);
  }
  t->n_global = s->n_global;
  t->row_offset = rows->row_offset;
  t->n_local = rows->n_rows;
  SM_TRY(sm_agree(ctx, rc));
  SM_TRY(sm_agree(ctx, sm_trainer_dp_plan(ctx, t, opt ? opt->privacy : NULL)));

  /* the workspace encodes and (not private) indexes the rows; collective */
  s->tr = sm_ctgan_train_new(ctx, st, rows, t);
  t->model = s->tr;
  return sm_agree(ctx, s->tr ? SM_OK : SM_ERR);
}

int sm_ctgan_begin(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                   const sm_table *rows, ctgan_session *s) {
  memset(s, 0, sizeof *s);
  s->st = sm_calloc(ctx, 1, sizeof *s->st);
  s->t = sm_calloc(ctx, 1, sizeof *s->t);
  int rc = sm_agree(ctx, s->st && s->t ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = prepare(ctx, spec, opt, rows, s->st, &s->n_global);
  if (rc == SM_OK)
    rc = setup(ctx, s, rows, opt);
  if (rc != SM_OK)
    sm_ctgan_end(s, 0);
  return rc;
}

void sm_ctgan_end(ctgan_session *s, int keep_state) {
  if (s->t)
    sm_trainer_free(s->t);
  free(s->t);
  sm_adam_free(&s->adam);
  sm_ctgan_train_free(s->tr);
  if (!keep_state)
    sm_ctgan_free(s->st);
  memset(s, 0, sizeof *s);
}

static int ctgan_fit(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                     const sm_table *rows, void **state) {
  double t0 = MPI_Wtime();
  ctgan_session s;

  /* the options, with checkpoint_every from the parameters when the caller left it 0 */
  sm_fit_options o = sm_trainer_fit_options(opt, &spec->params);
  int rc = sm_ctgan_begin(ctx, spec, &o, rows, &s);
  SM_TRY(rc);
  log_start(ctx, s.st, s.n_global);
  rc = sm_trainer_run_into(ctx, s.t, &o, &s.st->history);
  if (rc == SM_OK && s.t->dp.enabled)
    rc = sm_ctgan_model_frequencies(ctx, s.st, s.n_global);
  ctgan_state *st = s.st;
  sm_ctgan_end(&s, rc == SM_OK);
  SM_TRY(rc);

  /* the final epoch's losses */
  double secs = MPI_Wtime() - t0;
  const double *last = st->history + (st->set.epochs - 1) * CTGAN_N_LOSSES;
  sm_log(ctx, SM_LOG_INFO,
         "ctgan: trained in %.1f s (%.2f s per epoch), final critic %.4f penalty %.4f "
         "generator %.4f conditional %.4f",
         secs, secs / (double)st->set.epochs, last[0], last[1], last[2], last[3]);
  *state = st;
  return SM_OK;
}

const sm_model_ops sm_model_ctgan = {
    .kind = "ctgan",
    .summary = "CTGAN: a conditional GAN with a WGAN-GP PacGAN critic over mode-normalised "
               "rows, trained data-parallel",
    .params = ctgan_params,
    .n_params = N_PARAMS,
    .fit = ctgan_fit,
    .sample = sm_ctgan_sample,
    .save = sm_ctgan_save,
    .load = sm_ctgan_load,
    .free_state = sm_ctgan_free,
    .private_fit = SM_MODEL_DP_SGD,
    .check_params = ctgan_check,
};
