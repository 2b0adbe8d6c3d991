/* hap_vae: a variational autoencoder over the 0/1 alleles of haplotypes (beta-VAE),
 * trained data-parallel.
 *
 * Each haplotype is a vector of n_vars alleles; a missing call is fed as the training
 * major allele and left out of the loss. The encoder MLP (LeakyReLU) gives mu and logvar
 * of a Gaussian latent, the decoder MLP (the encoder's widths reversed) one logit per
 * variant, to which an optional context term adds learned weights on the previous
 * `context` alleles of the same haplotype (the decoder is then autoregressive along the
 * variants, which keeps the linkage between neighbours that independent draws lose); the
 * loss is the Bernoulli negative log-likelihood of the observed alleles plus
 * beta times the KL divergence to N(0, I). Training runs on the trainer (trainer.c):
 * rank-invariant batches by global row, per-row noise keyed by global row, one gradient
 * allreduce per step and a sharded Adam, checkpoints.
 * Sampling: z ~ N(0, I) from (seed, row i), the decoder, one Bernoulli draw per variant. */
#include "genome/hap_vae.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "models/trainer.h"
#include "models/tvae.h"
#include "synthmpi/rng.h"

static const sm_param_desc hap_vae_params[] = {
    {"latent_dim", SM_PARAM_INT, "32", 1, 65536, NULL, "latent dimension"},
    {"hidden_dims", SM_PARAM_STRING, "256,128", 0, 0, NULL,
     "widths of the encoder's hidden layers, comma-separated (the decoder mirrors them)"},
    {"beta", SM_PARAM_REAL, "0.5", 0, 1e6, NULL, "weight of the KL term (beta-VAE)"},
    {"lr", SM_PARAM_REAL, "1e-3", 1e-12, 10, NULL, "Adam learning rate"},
    {"l2scale", SM_PARAM_REAL, "0", 0, 1, NULL, "L2 weight decay added to the gradient"},
    {"batch_size", SM_PARAM_INT, "128", 1, 1e9, NULL, "global batch size (rows over all ranks)"},
    {"epochs", SM_PARAM_INT, "100", 1, 1e7, NULL, "passes over the training haplotypes"},
    {"temperature", SM_PARAM_REAL, "1", 1e-3, 1e3, NULL,
     "sampling: allele probabilities are sigmoid(logit / temperature)"},
    {"seed", SM_PARAM_INT, "1", 0, 9007199254740992.0, NULL,
     "initialisation, batch order and training noise"},
    {"checkpoint_every", SM_PARAM_INT, "0", 0, 1e9, NULL,
     "epochs between checkpoints; 0: only when stopped by a signal"},
    {"context", SM_PARAM_INT, "0", 0, 16, NULL,
     "previous alleles each variant's logit sees directly (0: independent draws given z)"},
};
#define N_PARAMS ((int)(sizeof hap_vae_params / sizeof hap_vae_params[0]))

/* Release rows are decoded in blocks aligned to global row indices, so every row goes
 * through the same matrix products whatever range a call asks for. */
#define SAMPLE_BLOCK_ROWS 256
#define TWO32 4294967296.0

/* ---- settings, layout, initialisation ----------------------------------------------- */

int sm_hap_vae_settings(sm_ctx *ctx, const sm_params *p, hap_vae_settings *s) {
  memset(s, 0, sizeof *s);
  s->latent = (int)sm_params_num(p, "latent_dim");
  s->beta = sm_params_num(p, "beta");
  s->lr = sm_params_num(p, "lr");
  s->l2scale = sm_params_num(p, "l2scale");
  s->temperature = sm_params_num(p, "temperature");
  s->batch_size = (int64_t)sm_params_num(p, "batch_size");
  s->epochs = (int64_t)sm_params_num(p, "epochs");
  s->seed = (uint64_t)sm_params_num(p, "seed");
  s->checkpoint_every = (int)sm_params_num(p, "checkpoint_every");
  s->context = (int)sm_params_num(p, "context");
  return sm_tvae_parse_dims(ctx, "hidden_dims", sm_params_str(p, "hidden_dims"), s->hidden,
                            &s->n_hidden);
}

void sm_hap_vae_layout(sm_hap_vae *v, int64_t n_vars) {
  const hap_vae_settings *s = &v->set;
  int in = (int)n_vars;
  v->n_vars = n_vars;
  memset(&v->params, 0, sizeof v->params);
  for (int i = 0; i < s->n_hidden; i++) {
    sm_linear_reserve(&v->enc[i], &v->params, in, s->hidden[i]);
    in = s->hidden[i];
  }
  sm_linear_reserve(&v->mu, &v->params, in, s->latent);
  sm_linear_reserve(&v->logvar, &v->params, in, s->latent);
  in = s->latent;
  for (int j = 0; j < s->n_hidden; j++) {
    int w = s->hidden[s->n_hidden - 1 - j];
    sm_linear_reserve(&v->dec[j], &v->params, in, w);
    in = w;
  }
  sm_linear_reserve(&v->dec[s->n_hidden], &v->params, in, (int)n_vars);
  v->ctx_w = sm_nn_reserve(&v->params, (size_t)n_vars * (size_t)s->context);
  v->n_model = v->params.n;
}

void sm_hap_vae_init(sm_hap_vae *v) {
  for (int i = 0; i < v->set.n_hidden; i++)
    sm_linear_init_default(&v->enc[i], &v->params, v->set.seed);
  sm_linear_init_default(&v->mu, &v->params, v->set.seed);
  sm_linear_init_default(&v->logvar, &v->params, v->set.seed);
  for (int j = 0; j <= v->set.n_hidden; j++)
    sm_linear_init_default(&v->dec[j], &v->params, v->set.seed);
}

void sm_hap_vae_free(sm_hap_vae *v) {
  if (!v)
    return;
  sm_nn_params_free(&v->params);
  free(v->major);
  free(v->history);
  memset(v, 0, sizeof *v);
}

/* ---- fit ---------------------------------------------------------------------------- */

/* Collective. Global rows, this rank's first global row, and the major allele of every
 * variant (ties: the reference allele). */
static int prepare(sm_ctx *ctx, const sm_hapmat *train, sm_hap_vae *v, int64_t *n_global,
                   int64_t *row_offset) {
  int64_t n = train->n_rows, nv = train->n_vars;
  SM_MPI_CHECK(ctx, MPI_Allreduce(&n, n_global, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Exscan(&n, row_offset, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (ctx->rank == 0)
    *row_offset = 0;

  /* allele counts: observed alternates and observed calls per variant */
  int64_t *c = sm_calloc(ctx, 2 * (size_t)(nv > 0 ? nv : 1), sizeof(int64_t));
  v->major = sm_calloc(ctx, (size_t)(nv > 0 ? nv : 1), 1);
  int rc = sm_agree(ctx, c && v->major ? SM_OK : SM_ERR);
  for (int64_t r = 0; r < n && rc == SM_OK; r++)
    for (int64_t j = 0; j < nv; j++) {
      uint8_t a = train->g[r * nv + j];
      c[2 * j] += a == 1, c[2 * j + 1] += a != SM_ALLELE_MISSING;
    }
  if (rc == SM_OK)
    SM_MPI_CHECK(ctx,
                 MPI_Allreduce(MPI_IN_PLACE, c, (int)(2 * nv), MPI_INT64_T, MPI_SUM, ctx->comm));
  for (int64_t j = 0; j < nv && rc == SM_OK; j++)
    v->major[j] = 2 * c[2 * j] > c[2 * j + 1];
  free(c);
  return rc;
}

/* The trainer's settings for this model. */
static void trainer_setup(sm_trainer *t, sm_hap_vae *v, sm_adam *adam) {
  t->kind = SM_HAP_VAE_KIND;
  t->n_losses = HAP_VAE_N_LOSSES;
  t->loss_names[0] = "rec";
  t->loss_names[1] = "kl";
  t->batch_size = v->set.batch_size;
  t->epochs = v->set.epochs;
  t->seed = v->set.seed;
  t->batch = sm_hap_vae_batch;
  t->params = &v->params;
  t->adam = adam;
}

/* Collective. Buffer, workspace and optimiser, then the epochs. */
static int train_net(sm_ctx *ctx, sm_hap_vae *v, const sm_hapmat *rows, int64_t n_global,
                     int64_t row_offset, const sm_fit_options *opt) {
  sm_trainer t = {0};
  sm_adam adam = {0};
  hap_vae_train *tr = NULL;
  sm_hap_vae_layout(v, rows->n_vars);
  trainer_setup(&t, v, &adam);
  sm_trainer_reserve(&t, &v->params);
  int rc = sm_nn_params_alloc(ctx, &v->params);
  if (rc == SM_OK) {
    sm_hap_vae_init(v);
    tr = sm_hap_vae_train_new(ctx, v, rows, row_offset);
    rc = tr ? sm_adam_init(ctx, &adam, v->params.n, v->set.lr, 0.9, 0.999, 1e-8, v->set.l2scale, 0)
            : SM_ERR;
  }
  rc = sm_agree(ctx, rc);

  /* the epochs; the loss history stays with the model */
  t.model = tr;
  t.n_global = n_global, t.row_offset = row_offset, t.n_local = rows->n_rows;
  sm_log(ctx, SM_LOG_INFO,
         "hap_vae: %lld haplotypes x %lld variants, %zu parameters, batch %lld, %lld epochs of "
         "%lld steps on %d rank%s",
         (long long)n_global, (long long)v->n_vars, v->n_model, (long long)v->set.batch_size,
         (long long)v->set.epochs, (long long)sm_batches_per_epoch(n_global, v->set.batch_size),
         ctx->size, ctx->size == 1 ? "" : "s");
  if (rc == SM_OK)
    rc = sm_trainer_run_into(ctx, &t, opt, &v->history);
  sm_trainer_free(&t);
  sm_adam_free(&adam);
  sm_hap_vae_train_free(tr);
  return rc;
}

/* Local. Refusals before any work: genotype rows and private runs. */
static int check_input(sm_ctx *ctx, const sm_fit_options *opt, const sm_hapmat *train) {
  if (train->ploidy_coded)
    return sm_fail(ctx, SM_EINPUT,
                   "hap_vae models phased haplotypes (0/1 alleles); these data are unphased "
                   "genotypes (0/1/2): use hap_markov, or phased input");
  if (opt && opt->privacy && opt->privacy->enabled)
    return sm_fail(ctx, SM_EINPUT, "hap_vae has no private mode; use hap_markov");
  return SM_OK;
}

int sm_hap_vae_fit(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                   const sm_hapmat *train, sm_hap_vae *v) {
  double t0 = MPI_Wtime();
  memset(v, 0, sizeof *v);
  SM_TRY(sm_agree(ctx, check_input(ctx, opt, train)));
  SM_TRY(sm_agree(ctx, sm_hap_vae_settings(ctx, &spec->params, &v->set)));
  int64_t n_global = 0, row_offset = 0;
  int rc = prepare(ctx, train, v, &n_global, &row_offset);
  if (rc == SM_OK && n_global < 1)
    rc = sm_fail(ctx, SM_EINPUT, "hap_vae: no training rows");

  /* checkpoint_every from the parameters when the caller left it 0 */
  sm_fit_options o = {0};
  if (opt)
    o = *opt;
  if (o.checkpoint_every == 0)
    o.checkpoint_every = v->set.checkpoint_every;
  if (rc == SM_OK)
    rc = train_net(ctx, v, train, n_global, row_offset, &o);
  if (rc != SM_OK) {
    sm_hap_vae_free(v);
    return rc;
  }
  double s = MPI_Wtime() - t0;
  const double *last = v->history + (v->set.epochs - 1) * HAP_VAE_N_LOSSES;
  sm_log(ctx, SM_LOG_INFO, "hap_vae: trained in %.1f s (%.3f s per epoch), final rec %.4f kl %.4f",
         s, s / (double)v->set.epochs, last[0], last[1]);
  return SM_OK;
}

/* ---- sample ------------------------------------------------------------------------- */

/* Local. Block [first, first + SAMPLE_BLOCK_ROWS): latents, then the logits. */
static void decode_block(const sm_hap_vae *v, uint64_t seed, int64_t first, float *z, float *act,
                         float *logits) {
  int lat = v->set.latent;
  for (int r = 0; r < SAMPLE_BLOCK_ROWS; r++) {
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_SAMPLE, (uint64_t)(first + r));
    sm_rng_normals(&rng, z + (size_t)r * lat, lat);
  }
  sm_hap_vae_decode(v, z, SAMPLE_BLOCK_ROWS, act, logits);
}

float sm_hap_vae_context(const sm_hap_vae *v, int64_t j, const float *x) {
  const float *c = v->params.value + v->ctx_w + (size_t)j * v->set.context;
  float sum = 0;
  for (int d = 1; d <= v->set.context && j - d >= 0; d++)
    sum += c[d - 1] * (2 * x[j - d] - 1);
  return sum;
}

/* Local. One Bernoulli draw per variant of release row i from (seed, SM_STREAM_DECODE, i),
 * in variant order (the context term reads the alleles drawn before); x is scratch. */
static void draw_row(const sm_hap_vae *v, uint64_t seed, int64_t i, const float *logit, float *x,
                     uint8_t *g) {
  sm_rng rng;
  sm_rng_init(&rng, seed, SM_STREAM_DECODE, (uint64_t)i);
  double inv_t = 1.0 / v->set.temperature;
  for (int64_t j = 0; j < v->n_vars; j++) {
    double l = (double)logit[j] + (v->set.context ? sm_hap_vae_context(v, j, x) : 0);
    double p = 1.0 / (1.0 + exp(-l * inv_t));
    g[j] = (double)sm_rng_u32(&rng) < p * TWO32;
    x[j] = g[j];
  }
}

int sm_hap_vae_sample(sm_ctx *ctx, const void *model, uint64_t seed, int64_t row0, int64_t n,
                      uint8_t *g) {
  const sm_hap_vae *v = model;
  size_t rows = SAMPLE_BLOCK_ROWS, nv = (size_t)v->n_vars, h = 0;
  for (int i = 0; i < v->set.n_hidden; i++)
    h += (size_t)v->set.hidden[i];
  float *z = sm_malloc(ctx, (rows * ((size_t)v->set.latent + nv + 2 * h) + nv) * sizeof(float));
  if (!z)
    return SM_ERR;
  float *logits = z + rows * (size_t)v->set.latent, *act = logits + rows * nv;
  float *x = act + rows * 2 * h;

  /* whole aligned blocks; only the rows asked for are drawn */
  int64_t end = row0 + n;
  for (int64_t first = row0 - row0 % SAMPLE_BLOCK_ROWS; first < end; first += SAMPLE_BLOCK_ROWS) {
    decode_block(v, seed, first, z, act, logits);
    int64_t lo = first > row0 ? first : row0;
    int64_t hi = first + SAMPLE_BLOCK_ROWS < end ? first + SAMPLE_BLOCK_ROWS : end;
    for (int64_t i = lo; i < hi; i++)
      draw_row(v, seed, i, logits + (size_t)(i - first) * nv, x, g + (size_t)(i - row0) * nv);
  }
  free(z);
  return SM_OK;
}

/* ---- the registry entry --------------------------------------------------------------- */

static int table_fit(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                     const sm_table *train, void **state) {
  (void)spec, (void)opt, (void)train, (void)state;
  return sm_fail(ctx, SM_EINPUT, "model hap_vae fits haplotypes: set data.format to hapt or vcf");
}

static int table_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0,
                        sm_table *out) {
  (void)state, (void)seed, (void)row0, (void)out;
  return sm_fail(ctx, SM_EINPUT, "model hap_vae samples haplotypes, not table rows");
}

static int table_save(sm_ctx *ctx, const void *state, int64_t group) {
  (void)state, (void)group;
  return sm_fail(ctx, SM_EINPUT, "model hap_vae is saved by the genome pipeline");
}

static int table_load(sm_ctx *ctx, int64_t group, void **state) {
  (void)group, (void)state;
  return sm_fail(ctx, SM_EINPUT, "a hap_vae model file is read by the genome pipeline");
}

static void table_free(void *state) {
  free(state);
}

/* Registered so that model.kind and its parameters are validated with the others; the
 * genome pipeline (data.format hapt or vcf) runs it, table data are refused. */
const sm_model_ops sm_model_hap_vae = {
    .kind = SM_HAP_VAE_KIND,
    .summary = "variational autoencoder over the 0/1 alleles of haplotypes, trained "
               "data-parallel (data.format hapt, vcf)",
    .params = hap_vae_params,
    .n_params = N_PARAMS,
    .fit = table_fit,
    .sample = table_sample,
    .save = table_save,
    .load = table_load,
    .free_state = table_free,
};
