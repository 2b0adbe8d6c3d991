/* Private: hap_vae, a variational autoencoder over the 0/1 alleles of haplotypes, trained
 * data-parallel by the neural models' trainer. The fit (hap_vae.c), the training step
 * (hap_vae_step.c) and the model file (hap_vae_io.c) share this state; tests reach the
 * parameters, the step and the loss history through it. */
#ifndef SYNTHMPI_GENOME_HAP_VAE_H
#define SYNTHMPI_GENOME_HAP_VAE_H

#include "genome/genome_internal.h"
#include "synthmpi/model.h"
#include "synthmpi/nn.h"

#define SM_HAP_VAE_KIND "hap_vae"
#define HAP_VAE_MAX_LAYERS 8
#define HAP_VAE_N_LOSSES 2 /* reconstruction, KL */
#define HAP_VAE_SLOPE 0.2f /* LeakyReLU negative slope */

/* The settings of a fit (model parameters), as saved with the model. */
typedef struct hap_vae_settings {
  int latent;
  int n_hidden, hidden[HAP_VAE_MAX_LAYERS]; /* encoder widths; the decoder mirrors them */
  double beta, lr, l2scale, temperature;
  int64_t batch_size, epochs;
  uint64_t seed;
  int checkpoint_every;
  int context; /* previous alleles each logit sees directly (0: a plain VAE decoder) */
} hap_vae_settings;

/* The model: encoder and decoder in one parameter buffer, and the imputation alleles. */
typedef struct sm_hap_vae {
  hap_vae_settings set;
  int64_t n_vars;
  sm_linear enc[HAP_VAE_MAX_LAYERS];     /* encoder hidden layers, LeakyReLU after each */
  sm_linear mu, logvar;                  /* (last hidden, latent) heads */
  sm_linear dec[HAP_VAE_MAX_LAYERS + 1]; /* decoder hidden layers (LeakyReLU), then logits */
  size_t ctx_w;                          /* offset of the context weights (n_vars, context) */
  size_t n_model;                        /* floats of the model (the trainer's come after) */
  sm_nn_params params;
  uint8_t *major;  /* (n_vars) training major allele: the input of a missing value */
  double *history; /* (epochs, HAP_VAE_N_LOSSES) mean losses per row */
} sm_hap_vae;

/* Settings from the validated model parameters; SM_EINPUT for a bad layer list. */
int sm_hap_vae_settings(sm_ctx *ctx, const sm_params *p, hap_vae_settings *s);
/* Reserve every layer for n_vars variants (the trainer's floats are reserved after). */
void sm_hap_vae_layout(sm_hap_vae *v, int64_t n_vars);
/* PyTorch's default initialisation of every layer from (seed, SM_STREAM_NN_INIT, index). */
void sm_hap_vae_init(sm_hap_vae *v);
void sm_hap_vae_free(sm_hap_vae *v);

/* Collective. Fit on this rank's rows of train (whole persons, global person order); opt
 * may be NULL (no checkpoints). SM_EINPUT for genotype (0/1/2) rows. */
int sm_hap_vae_fit(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                   const sm_hapmat *train, sm_hap_vae *v);

/* Local. Release rows [row0, row0 + n) into g (n * n_vars): z ~ N(0, I) from
 * (seed, SM_STREAM_SAMPLE, i), the decoder, then one Bernoulli draw per variant from
 * (seed, SM_STREAM_DECODE, i) with p = sigmoid(logit / temperature). Row i depends on
 * (seed, i) only: rows are decoded in blocks aligned to global row indices. */
int sm_hap_vae_sample(sm_ctx *ctx, const void *model, uint64_t seed, int64_t row0, int64_t n,
                      uint8_t *g);

/* ---- training (hap_vae_step.c) ----------------------------------------------------- */

/* The rank's rows as floats, their observed mask, and one batch's activations. */
typedef struct hap_vae_train hap_vae_train;

/* Local. Inputs of the rank's rows (missing: the major allele, masked out of the loss);
 * row_offset is the global index of the first row. NULL when out of memory. */
hap_vae_train *sm_hap_vae_train_new(sm_ctx *ctx, sm_hap_vae *v, const sm_hapmat *rows,
                                    int64_t row_offset);
void sm_hap_vae_train_free(hap_vae_train *tr);
/* The trainer's callback (model = the hap_vae_train): adds the gradient of
 * sum(reconstruction) + beta * sum(KL) over the rows; loss[0] += reconstruction (Bernoulli
 * negative log-likelihood of the observed alleles), loss[1] += KL. */
int sm_hap_vae_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global_rows,
                     int64_t epoch, double *loss);
/* Decoder forward over z (rows, latent); act holds 2 * rows * (sum of hidden widths) floats
 * of scratch; logits (rows, n_vars), before the context term. */
void sm_hap_vae_decode(const sm_hap_vae *v, const float *z, int rows, float *act, float *logits);
/* The context term of variant j given row x (0/1 values): sum over d = 1 .. context with
 * j - d >= 0 of C[j, d - 1] (2 x[j - d] - 1). */
float sm_hap_vae_context(const sm_hap_vae *v, int64_t j, const float *x);

/* ---- the model file (hap_vae_io.c) ------------------------------------------------- */

/* Collective. Header (kind hap_vae), /variants and /hap_vae (settings as attributes, the
 * parameters, the major alleles and the loss history). */
int sm_hap_vae_save(sm_ctx *ctx, const sm_hap_vae *v, const sm_variants *vars,
                    const sm_experiment *e, const char *path);
int sm_hap_vae_load(sm_ctx *ctx, const char *path, sm_hap_vae *v, sm_variants *vars);

#endif
