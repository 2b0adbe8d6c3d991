/* TVAE: the variational autoencoder of tabular data of Xu et al. (2019), with a weight on
 * the KL term (beta-VAE), trained data-parallel.
 *
 * Fit (collective): mode-specific normalisation is fitted on all ranks' rows, each rank
 * encodes its rows, and the trainer runs the epochs: every step each rank takes its rows of
 * the global batch through encoder and decoder, and one allreduce (a reduce-scatter and an
 * allgather, see trainer.c) sums the gradients.
 * Sample (local): row i draws z ~ N(0, I) from (seed, SM_STREAM_SAMPLE, i), the decoder maps
 * it to an encoded row, and the encoder's inverse (with the learned sigma as noise, drawn
 * from (seed, SM_STREAM_DECODE, i)) turns that into values.
 */
#include "models/tvae.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "models/trainer.h"
#include "synthmpi/rng.h"

static const sm_param_desc tvae_params[] = {
    {"embedding_dim", SM_PARAM_INT, "128", 1, 65536, NULL, "latent dimension"},
    {"compress_dims", SM_PARAM_STRING, "128,128", 0, 0, NULL,
     "widths of the encoder's hidden layers, comma-separated"},
    {"decompress_dims", SM_PARAM_STRING, "128,128", 0, 0, NULL,
     "widths of the decoder's hidden layers, comma-separated"},
    {"l2scale", SM_PARAM_REAL, "1e-5", 0, 1, NULL, "L2 weight decay added to the gradient"},
    {"loss_factor", SM_PARAM_REAL, "2", 0, 1e6, NULL, "weight of the reconstruction loss"},
    {"beta", SM_PARAM_REAL, "1.0", 0, 1e6, NULL, "weight of the KL term (beta-VAE)"},
    {"batch_size", SM_PARAM_INT, "500", 1, 1e9, NULL, "global batch size (rows over all ranks)"},
    {"epochs", SM_PARAM_INT, "300", 1, 1e7, NULL, "passes over the training rows"},
    {"lr", SM_PARAM_REAL, "1e-3", 1e-12, 10, NULL, "Adam learning rate"},
    {"seed", SM_PARAM_INT, "1", 0, 9007199254740992.0, NULL,
     "initialisation, batch order, training noise and encoding"},
    {"checkpoint_every", SM_PARAM_INT, "0", 0, 1e9, NULL,
     "epochs between checkpoints; 0: only when stopped by a signal"},
    {"max_modes", SM_PARAM_INT, "10", 1, SM_MAX_MODES, NULL,
     "mixture components per numeric column in the mode-specific normalisation"},
    {"replicate_mb", SM_PARAM_REAL, "256", 0, 1e7, NULL,
     "encoded training rows up to this size (MiB) are copied to every rank, which then takes an "
     "even share of each batch instead of the batch rows it holds; 0: never"},
    {"max_categories", SM_PARAM_INT, "1000", 2, 1e7, NULL,
     "most categories a column may have: each one is an input and an output of the networks"},
};
#define N_PARAMS ((int)(sizeof tvae_params / sizeof tvae_params[0]))

/* Release rows are made in blocks aligned to global row indices, so every row is computed
 * in the same block of the same size whatever range a call asks for. */
#define SAMPLE_BLOCK_ROWS 1024

/* ---- settings and layout ------------------------------------------------------------ */

int sm_tvae_parse_dims(sm_ctx *ctx, const char *name, const char *text, int *dims, int *n) {
  const char *p = text;
  *n = 0;
  while (*p == ' ')
    p++;
  while (*p) {
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno || v < 1 || v > 65536)
      return sm_fail(ctx, SM_EINPUT,
                     "model.%s: '%s' is not a list of layer widths "
                     "(1 to 65536, comma-separated)",
                     name, text);
    if (*n == TVAE_MAX_LAYERS)
      return sm_fail(ctx, SM_EINPUT, "model.%s: at most %d layers", name, TVAE_MAX_LAYERS);
    dims[(*n)++] = (int)v;

    /* a comma, with spaces around it, or the end */
    for (p = end; *p == ' '; p++)
      ;
    if (*p == ',')
      for (p++; *p == ' '; p++)
        ;
    else if (*p)
      return sm_fail(ctx, SM_EINPUT, "model.%s: unexpected '%c' in '%s'", name, *p, text);
  }
  return SM_OK;
}

int sm_tvae_settings(sm_ctx *ctx, const sm_params *p, tvae_settings *s) {
  memset(s, 0, sizeof *s);
  s->embedding_dim = (int)sm_params_num(p, "embedding_dim");
  s->l2scale = sm_params_num(p, "l2scale");
  s->loss_factor = sm_params_num(p, "loss_factor");
  s->beta = sm_params_num(p, "beta");
  s->lr = sm_params_num(p, "lr");
  s->batch_size = (int64_t)sm_params_num(p, "batch_size");
  s->epochs = (int64_t)sm_params_num(p, "epochs");
  s->seed = (uint64_t)sm_params_num(p, "seed");
  s->max_modes = (int)sm_params_num(p, "max_modes");
  s->replicate_mb = sm_params_num(p, "replicate_mb");
  SM_TRY(sm_tvae_parse_dims(ctx, "compress_dims", sm_params_str(p, "compress_dims"), s->compress,
                            &s->n_compress));
  return sm_tvae_parse_dims(ctx, "decompress_dims", sm_params_str(p, "decompress_dims"),
                            s->decompress, &s->n_decompress);
}

/* PyTorch's default initialisation of every layer; sigma starts at 0.1. */
static void init_params(tvae_net *net, const tvae_settings *s) {
  for (int i = 0; i < s->n_compress; i++)
    sm_linear_init_default(&net->enc[i], &net->params, s->seed);
  sm_linear_init_default(&net->heads, &net->params, s->seed);
  for (int j = 0; j <= s->n_decompress; j++)
    sm_linear_init_default(&net->dec[j], &net->params, s->seed);
  for (int c = 0; c < net->width; c++)
    net->params.value[net->sigma + c] = 0.1f;
}

void sm_tvae_free(void *state) {
  tvae_state *st = state;
  if (!st)
    return;
  sm_encoder_free(&st->encoder);
  sm_nn_params_free(&st->net.params);
  free(st->history);
  free(st);
}

/* ---- fit ---------------------------------------------------------------------------- */

/* Collective. Every rank's block of rows (start, count) into blocks, checked to tile the
 * n_global rows, then every rank's encoded rows into all, in global order. */
static int allgather_rows(sm_ctx *ctx, const float *local, const sm_table *train, int64_t n_global,
                          int width, int64_t *blocks, int *counts, float *all) {
  int64_t mine[2] = {train->row_offset, train->n_rows}, total = 0;
  SM_MPI_CHECK(ctx, MPI_Allgather(mine, 2, MPI_INT64_T, blocks, 2, MPI_INT64_T, ctx->comm));
  for (int r = 0; r < ctx->size; r++) {
    int64_t start = blocks[2 * r], n = blocks[2 * r + 1];
    if (start < 0 || n < 0 || start + n > n_global)
      return sm_fail(ctx, SM_ERR, "tvae: rank %d's rows [%lld, +%lld) lie outside the %lld rows", r,
                     (long long)start, (long long)n, (long long)n_global);
    total += n;
    counts[r] = (int)(n * width);
    counts[ctx->size + r] = (int)(start * width);
  }
  if (total != n_global)
    return sm_fail(ctx, SM_ERR, "tvae: the ranks hold %lld rows, not %lld", (long long)total,
                   (long long)n_global);
  SM_MPI_CHECK(ctx, MPI_Allgatherv(local, counts[ctx->rank], MPI_FLOAT, all, counts,
                                   counts + ctx->size, MPI_FLOAT, ctx->comm));
  return SM_OK;
}

/* Collective. Every rank's encoded rows (local, taken over), in global order, on every
 * rank; NULL on every rank when one is out of memory or the gather fails. */
static float *gather_rows(sm_ctx *ctx, float *local, const sm_table *train, int64_t n_global,
                          int width) {
  float *all = sm_malloc(ctx, (size_t)(n_global > 0 ? n_global : 1) * width * sizeof(float));
  int64_t *blocks = sm_malloc(ctx, 2 * (size_t)ctx->size * sizeof(int64_t));
  int *counts = sm_malloc(ctx, 2 * (size_t)ctx->size * sizeof(int));
  int rc = sm_agree(ctx, local && all && blocks && counts ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = allgather_rows(ctx, local, train, n_global, width, blocks, counts, all);
  free(local);
  free(blocks);
  free(counts);
  if (rc != SM_OK) {
    free(all);
    return NULL;
  }
  return all;
}

tvae_train *sm_tvae_train_new(sm_ctx *ctx, tvae_state *st, const sm_table *train, int64_t n_global,
                              int replicate) {
  size_t width = (size_t)st->encoder.width, n = (size_t)train->n_rows;
  float *data = sm_malloc(ctx, (n > 0 ? n : 1) * width * sizeof(float));
  if (data)
    sm_encoder_encode(&st->encoder, train, 0, train->n_rows, st->set.seed, SM_STREAM_ENCODE, data);
  if (!replicate)
    return sm_tvae_train_wrap(ctx, st, data, train->n_rows, train->row_offset);
  data = gather_rows(ctx, data, train, n_global, (int)width);
  return data ? sm_tvae_train_wrap(ctx, st, data, n_global, 0) : NULL;
}

/* Whether to copy the encoded rows to every rank: more than one rank, not a private run
 * (its Poisson samples are drawn by each row's owner), and all rows within replicate_mb
 * (and within the int counts of one gather). */
static int replicate_rows(const sm_ctx *ctx, const tvae_state *st, int64_t n_global, int private) {
  double floats = (double)n_global * st->encoder.width;
  return ctx->size > 1 && !private && floats * sizeof(float) <= st->set.replicate_mb * 1048576.0 &&
         floats < 2147483647.0;
}

/* Local (the schema is the same on every rank). A column with more categories than
 * max_categories is refused before any work: one-hot encoding gives every category an
 * input and an output, so such a column makes training slow and large. */
static int check_categories(sm_ctx *ctx, const sm_params *p, const sm_schema *s) {
  int most = (int)sm_params_num(p, "max_categories");
  for (int j = 0; j < s->n_cols; j++) {
    const sm_column *c = &s->cols[j];
    if (sm_coltype_is_discrete(c->type) && c->n_categories > most)
      return sm_fail(ctx, SM_EINPUT,
                     "tvae: column '%s' has %d categories, more than model.max_categories "
                     "(%d): each category is one input and one output of the networks. "
                     "Group rare values (data.columns[].replace), drop the column, use "
                     "gaussian_copula, or raise model.max_categories",
                     c->name, c->n_categories, most);
  }
  return SM_OK;
}

/* Collective. Settings, the rows over all ranks and the encoder: fitted to the data, or in a
 * private run built from the declared domains alone (the row count is public). */
static int prepare(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                   const sm_table *train, tvae_state *st, int64_t *n_global) {
  int rc = sm_tvae_settings(ctx, &spec->params, &st->set);
  if (rc == SM_OK)
    rc = check_categories(ctx, &spec->params, &train->schema);
  rc = sm_agree(ctx, rc);
  *n_global = train->n_rows;
  SM_TRY(rc);
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, n_global, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (*n_global < 1)
    return sm_fail(ctx, SM_EINPUT, "tvae: no training rows");

  if (opt && opt->privacy && opt->privacy->enabled)
    return sm_agree(ctx,
                    sm_tvae_private_encoder(ctx, &st->encoder, &train->schema, st->set.max_modes));
  sm_encoder_options eo;
  sm_encoder_default_options(&eo);
  eo.max_modes = st->set.max_modes;
  return sm_agree(ctx, sm_encoder_fit(ctx, &st->encoder, train, &eo));
}

/* Rank 0's line before training. */
static void log_start(const sm_ctx *ctx, const tvae_state *st, int64_t n_global, int nnz) {
  sm_log(ctx, SM_LOG_INFO,
         "tvae: %lld rows encoded as %d values (%d spans), %zu parameters, batch %lld, "
         "%lld epochs of %lld steps on %d ranks",
         (long long)n_global, st->encoder.width, st->encoder.n_spans, st->net.n_model,
         (long long)st->set.batch_size, (long long)st->set.epochs,
         (long long)sm_batches_per_epoch(n_global, st->set.batch_size), ctx->size);
  if (nnz > 0)
    sm_log(ctx, SM_LOG_INFO, "tvae: the first layer takes the %d nonzeros of each row", nnz);
}

/* The trainer's settings for this model. */
static void trainer_setup(sm_trainer *t, tvae_state *st, sm_adam *adam, tvae_train *tr) {
  t->kind = "tvae";
  t->layout = TVAE_LAYOUT;
  t->n_losses = TVAE_N_LOSSES;
  t->loss_names[0] = "rec";
  t->loss_names[1] = "kl";
  t->batch_size = st->set.batch_size;
  t->epochs = st->set.epochs;
  t->seed = st->set.seed;
  t->batch = sm_tvae_batch;
  t->after_step = sm_tvae_clamp_sigma;
  t->model = tr;
  t->params = &st->net.params;
  t->adam = adam;
}

/* Collective. Networks, workspace and optimiser, then the training loop. */
static int train(sm_ctx *ctx, tvae_state *st, const sm_table *train_rows, int64_t n_global,
                 const sm_fit_options *opt) {
  sm_trainer t = {0};
  sm_adam adam = {0};
  tvae_train *tr = NULL;

  /* one buffer: the networks, sigma, then the trainer's reserved floats */
  sm_tvae_layout(&st->net, &st->set, st->encoder.width);
  trainer_setup(&t, st, &adam, NULL);
  sm_trainer_reserve(&t, &st->net.params);
  int rc = sm_agree(ctx, sm_nn_params_alloc(ctx, &st->net.params));

  /* a private run: the plan must fit the budget before the first step */
  t.n_global = n_global;
  t.row_offset = train_rows->row_offset;
  t.n_local = train_rows->n_rows;
  if (rc == SM_OK)
    rc = sm_agree(ctx, sm_trainer_dp_plan(ctx, &t, opt->privacy));

  /* the encoded rows, on every rank when they are small enough, and the optimiser */
  if (rc == SM_OK) {
    init_params(&st->net, &st->set);
    t.replicated = replicate_rows(ctx, st, n_global, t.dp.enabled);
    tr = sm_tvae_train_new(ctx, st, train_rows, n_global, t.replicated);
    rc = tr ? sm_adam_init(ctx, &adam, st->net.params.n, st->set.lr, 0.9, 0.999, 1e-8,
                           st->set.l2scale, 0)
            : SM_ERR;
    rc = sm_agree(ctx, rc);
  }
  if (rc == SM_OK && !t.dp.enabled)
    sm_tvae_train_drop_dense(tr);
  st->replicated = rc == SM_OK && t.replicated;
  if (st->replicated) {
    t.row_offset = 0;
    t.n_local = n_global;
    sm_log(ctx, SM_LOG_INFO,
           "tvae: the %.1f MiB of encoded rows copied to every rank, each taking an even "
           "share of every batch",
           (double)n_global * st->encoder.width * sizeof(float) / 1048576.0);
  }
  t.model = tr;
  if (rc == SM_OK && t.dp.enabled)
    rc = sm_agree(ctx, sm_tvae_train_private(ctx, tr, t.dp.clip));

  /* train; keep the loss history with the model */
  if (rc == SM_OK) {
    log_start(ctx, st, n_global, sm_tvae_train_nonzeros(tr));
    rc = sm_trainer_run_into(ctx, &t, opt, &st->history);
  }
  sm_trainer_free(&t);
  sm_adam_free(&adam);
  sm_tvae_train_free(tr);
  return rc;
}

static int tvae_fit(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                    const sm_table *train_rows, void **state) {
  double t0 = MPI_Wtime();
  tvae_state *st = sm_calloc(ctx, 1, sizeof *st);
  SM_TRY(sm_agree(ctx, st ? SM_OK : SM_ERR));
  int64_t n_global = 0;
  int rc = prepare(ctx, spec, opt, train_rows, st, &n_global);

  /* the options, with checkpoint_every from the parameters when the caller left it 0 */
  sm_fit_options o = sm_trainer_fit_options(opt, &spec->params);
  if (rc == SM_OK)
    rc = train(ctx, st, train_rows, n_global, &o);
  if (rc != SM_OK) {
    sm_tvae_free(st);
    return rc;
  }

  /* the final epoch's losses */
  double s = MPI_Wtime() - t0;
  const double *last = st->history + (st->set.epochs - 1) * TVAE_N_LOSSES;
  sm_log(ctx, SM_LOG_INFO, "tvae: trained in %.1f s (%.2f s per epoch), final rec %.4f kl %.4f", s,
         s / (double)st->set.epochs, last[0], last[1]);
  *state = st;
  return SM_OK;
}

/* ---- sample ------------------------------------------------------------------------- */

/* The decoder's scratch for one block: hidden layers, z and the output. */
typedef struct sample_block {
  float *z, *out, *pre[TVAE_MAX_LAYERS], *post[TVAE_MAX_LAYERS];
  float *all; /* one allocation behind the views */
} sample_block;

static int block_alloc(sm_ctx *ctx, const tvae_state *st, sample_block *b) {
  const tvae_settings *s = &st->set;
  size_t rows = SAMPLE_BLOCK_ROWS, n = rows * (s->embedding_dim + (size_t)st->net.width);
  for (int j = 0; j < s->n_decompress; j++)
    n += 2 * rows * s->decompress[j];
  b->all = sm_malloc(ctx, n * sizeof(float));
  if (!b->all)
    return SM_ERR;
  b->z = b->all;
  b->out = b->z + rows * s->embedding_dim;
  float *next = b->out + rows * st->net.width;
  for (int j = 0; j < s->n_decompress; j++) {
    b->pre[j] = next;
    b->post[j] = next + rows * s->decompress[j];
    next += 2 * rows * s->decompress[j];
  }
  return SM_OK;
}

/* The missing flags of the numeric columns in block [first, first + SAMPLE_BLOCK_ROWS):
 * drawn from the decoder's probability (the softmax of the two logits) with row i's
 * SM_STREAM_MISSING stream, and set as a one-hot. An argmax would almost never pick a flag
 * whose rate is below one half, so a release would lose the real rate of missing values. */
static void draw_missing(const tvae_state *st, sample_block *b, uint64_t seed, int64_t first) {
  const sm_encoder *enc = &st->encoder;
  for (int r = 0; r < SAMPLE_BLOCK_ROWS; r++) {
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_MISSING, (uint64_t)(first + r));
    float *row = b->out + (size_t)r * st->net.width;
    for (int j = 0; j < enc->n_cols; j++) {
      const sm_encoder_column *col = &enc->cols[j];
      if (!col->numeric || !col->has_missing)
        continue;
      float *flag = row + enc->spans[col->first_span + 2].start;
      double p_missing = 1.0 / (1.0 + exp((double)flag[0] - (double)flag[1]));
      int missing = sm_rng_uniform(&rng) < p_missing;
      flag[0] = missing ? 0.0f : 1.0f;
      flag[1] = missing ? 1.0f : 0.0f;
    }
  }
}

/* The encoded rows of block [first, first + SAMPLE_BLOCK_ROWS): z from each row's stream,
 * the decoder, tanh on the scalar spans, the missing flags drawn. */
static void decode_block(const tvae_state *st, sample_block *b, uint64_t seed, int64_t first) {
  int emb = st->set.embedding_dim, width = st->net.width;
  for (int r = 0; r < SAMPLE_BLOCK_ROWS; r++) {
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_SAMPLE, (uint64_t)(first + r));
    sm_rng_normals(&rng, b->z + (size_t)r * emb, emb);
  }
  sm_tvae_decoder_forward(&st->net, &st->set, b->z, SAMPLE_BLOCK_ROWS, b->pre, b->post, b->out);
  for (int k = 0; k < st->encoder.n_spans; k++) {
    const sm_span *sp = &st->encoder.spans[k];
    if (sp->kind != SM_SPAN_SCALAR)
      continue;
    for (int r = 0; r < SAMPLE_BLOCK_ROWS; r++)
      for (int c = sp->start; c < sp->start + sp->width; c++)
        b->out[(size_t)r * width + c] = tanhf(b->out[(size_t)r * width + c]);
  }
  draw_missing(st, b, seed, first);
}

static int tvae_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, sm_table *out) {
  const tvae_state *st = state;
  if (out->schema.n_cols != st->encoder.n_cols)
    return sm_fail(ctx, SM_EINPUT, "sample: table has %d columns, the model %d", out->schema.n_cols,
                   st->encoder.n_cols);
  sample_block b;
  SM_TRY(block_alloc(ctx, st, &b));
  const float *sigma = st->net.params.value + st->net.sigma;

  /* whole aligned blocks; only the rows asked for are decoded into the table */
  int64_t end = row0 + out->n_rows;
  for (int64_t first = row0 - row0 % SAMPLE_BLOCK_ROWS; first < end; first += SAMPLE_BLOCK_ROWS) {
    decode_block(st, &b, seed, first);
    int64_t lo = first > row0 ? first : row0;
    int64_t hi = first + SAMPLE_BLOCK_ROWS < end ? first + SAMPLE_BLOCK_ROWS : end;
    sm_encoder_decode(&st->encoder, b.out + (size_t)(lo - first) * st->net.width, sigma, hi - lo,
                      seed, SM_STREAM_DECODE, lo, out, lo - row0);
  }
  free(b.all);
  return SM_OK;
}

const sm_model_ops sm_model_tvae = {
    .kind = "tvae",
    .summary = "TVAE: a variational autoencoder of mode-normalised rows (beta-VAE), "
               "trained data-parallel",
    .params = tvae_params,
    .n_params = N_PARAMS,
    .fit = tvae_fit,
    .sample = tvae_sample,
    .save = sm_tvae_save,
    .load = sm_tvae_load,
    .free_state = sm_tvae_free,
    .private_fit = SM_MODEL_DP_SGD,
};
