/* One training step of hap_vae: encoder, reparameterisation, decoder, Bernoulli
 * reconstruction of the observed alleles and beta * KL, then the backward pass through the
 * same layers. Sums over the rows; the trainer divides by the global batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genome/hap_vae.h"
#include "synthmpi/rng.h"

struct hap_vae_train {
  sm_hap_vae *v;
  int64_t n_local, row_offset, cap; /* cap: rows of one batch on this rank at most */
  float *data, *mask;               /* (n_local, n_vars) inputs and observed flags */
  float *x, *m;                     /* (cap, n_vars) the batch's inputs and mask */
  float *epre[HAP_VAE_MAX_LAYERS], *epost[HAP_VAE_MAX_LAYERS];
  float *mu, *logvar, *eps, *std, *z;    /* (cap, latent) */
  float *dact, *dtmp;                    /* (cap, widest) backward scratch */
  float *dmu, *dlogvar, *dz, *kmu, *klv; /* (cap, latent) */
  float *dec_act, *logits, *dlogits;     /* decoder activations, (cap, n_vars) twice */
};

/* Sum of the hidden widths. */
static size_t hidden_sum(const hap_vae_settings *s) {
  size_t n = 0;
  for (int i = 0; i < s->n_hidden; i++)
    n += (size_t)s->hidden[i];
  return n;
}

static size_t widest(const sm_hap_vae *v) {
  size_t w = (size_t)v->n_vars;
  for (int i = 0; i < v->set.n_hidden; i++)
    w = (size_t)v->set.hidden[i] > w ? (size_t)v->set.hidden[i] : w;
  return w;
}

/* Local. Inputs and masks of the rank's rows. */
static void fill_inputs(hap_vae_train *tr, const sm_hapmat *rows) {
  size_t nv = (size_t)tr->v->n_vars;
  for (int64_t r = 0; r < rows->n_rows; r++)
    for (size_t j = 0; j < nv; j++) {
      uint8_t a = rows->g[(size_t)r * nv + j];
      int miss = a == SM_ALLELE_MISSING;
      tr->data[(size_t)r * nv + j] = (float)(miss ? tr->v->major[j] : a);
      tr->mask[(size_t)r * nv + j] = miss ? 0.0f : 1.0f;
    }
}

hap_vae_train *sm_hap_vae_train_new(sm_ctx *ctx, sm_hap_vae *v, const sm_hapmat *rows,
                                    int64_t row_offset) {
  hap_vae_train *tr = sm_calloc(ctx, 1, sizeof *tr);
  if (!tr)
    return NULL;
  const hap_vae_settings *s = &v->set;
  tr->v = v, tr->n_local = rows->n_rows, tr->row_offset = row_offset;
  tr->cap = s->batch_size < rows->n_rows ? s->batch_size : rows->n_rows;
  tr->cap = tr->cap > 0 ? tr->cap : 1;
  size_t nv = (size_t)v->n_vars, cap = (size_t)tr->cap, lat = (size_t)s->latent;
  size_t nl = (size_t)(rows->n_rows > 0 ? rows->n_rows : 1);

  /* every buffer is its own allocation: freed one by one */
  int ok = (tr->data = sm_malloc(ctx, nl * nv * sizeof(float))) != NULL;
  ok = ok && (tr->mask = sm_malloc(ctx, nl * nv * sizeof(float))) != NULL;
  float **f[] = {&tr->x,   &tr->m,   &tr->logits, &tr->dlogits, &tr->mu,      &tr->logvar,
                 &tr->eps, &tr->std, &tr->z,      &tr->dmu,     &tr->dlogvar, &tr->dz,
                 &tr->kmu, &tr->klv, &tr->dact,   &tr->dtmp,    &tr->dec_act};
  size_t sz[] = {nv,
                 nv,
                 nv,
                 nv,
                 lat,
                 lat,
                 lat,
                 lat,
                 lat,
                 lat,
                 lat,
                 lat,
                 lat,
                 lat,
                 widest(v),
                 widest(v),
                 2 * hidden_sum(s) + 1};
  for (size_t k = 0; ok && k < sizeof sz / sizeof sz[0]; k++)
    ok = (*f[k] = sm_calloc(ctx, cap * sz[k], sizeof(float))) != NULL;
  for (int i = 0; ok && i < s->n_hidden; i++) {
    ok = (tr->epre[i] = sm_calloc(ctx, cap * (size_t)s->hidden[i], sizeof(float))) != NULL;
    ok = ok && (tr->epost[i] = sm_calloc(ctx, cap * (size_t)s->hidden[i], sizeof(float)));
  }
  if (ok)
    fill_inputs(tr, rows);
  if (!ok) {
    sm_hap_vae_train_free(tr);
    return NULL;
  }
  return tr;
}

void sm_hap_vae_train_free(hap_vae_train *tr) {
  if (!tr)
    return;
  float *all[] = {tr->data,   tr->mask, tr->x,    tr->m,    tr->logits, tr->dlogits, tr->mu,
                  tr->logvar, tr->eps,  tr->std,  tr->z,    tr->dmu,    tr->dlogvar, tr->dz,
                  tr->kmu,    tr->klv,  tr->dact, tr->dtmp, tr->dec_act};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
    free(all[k]);
  for (int i = 0; i < HAP_VAE_MAX_LAYERS; i++)
    free(tr->epre[i]), free(tr->epost[i]);
  free(tr);
}

/* ---- forward ------------------------------------------------------------------------ */

void sm_hap_vae_decode(const sm_hap_vae *v, const float *z, int rows, float *act, float *logits) {
  const hap_vae_settings *s = &v->set;
  const float *in = z;
  for (int j = 0; j < s->n_hidden; j++) {
    int w = s->hidden[s->n_hidden - 1 - j];
    float *pre = act, *post = act + (size_t)rows * w;
    sm_linear_forward(pre, in, &v->dec[j], &v->params, rows);
    sm_leaky_relu_forward(post, pre, (size_t)rows * w, HAP_VAE_SLOPE);
    in = post;
    act = post + (size_t)rows * w;
  }
  sm_linear_forward(logits, in, &v->dec[s->n_hidden], &v->params, rows);
}

/* The batch's inputs, the encoder, and z = mu + eps exp(logvar / 2) with eps from the
 * stream (seed mixed with the epoch, SM_STREAM_NN_NOISE, global row). */
static void encode(hap_vae_train *tr, const int64_t *rows, int m, int64_t epoch) {
  const sm_hap_vae *v = tr->v;
  const hap_vae_settings *s = &v->set;
  size_t nv = (size_t)v->n_vars;
  for (int r = 0; r < m; r++) {
    memcpy(tr->x + r * nv, tr->data + rows[r] * nv, nv * sizeof(float));
    memcpy(tr->m + r * nv, tr->mask + rows[r] * nv, nv * sizeof(float));
  }
  const float *in = tr->x;
  for (int i = 0; i < s->n_hidden; i++) {
    sm_linear_forward(tr->epre[i], in, &v->enc[i], &v->params, m);
    sm_leaky_relu_forward(tr->epost[i], tr->epre[i], (size_t)m * s->hidden[i], HAP_VAE_SLOPE);
    in = tr->epost[i];
  }
  sm_linear_forward(tr->mu, in, &v->mu, &v->params, m);
  sm_linear_forward(tr->logvar, in, &v->logvar, &v->params, m);

  /* reparameterisation: one stream per row */
  int lat = s->latent;
  uint64_t noise_seed = sm_hash64(s->seed) ^ sm_hash64((uint64_t)epoch + 1);
  for (int r = 0; r < m; r++) {
    sm_rng rng;
    sm_rng_init(&rng, noise_seed, SM_STREAM_NN_NOISE, (uint64_t)(tr->row_offset + rows[r]));
    sm_rng_normals(&rng, tr->eps + (size_t)r * lat, lat);
  }
  for (size_t i = 0; i < (size_t)m * lat; i++) {
    tr->std[i] = expf(0.5f * tr->logvar[i]);
    tr->z[i] = tr->mu[i] + tr->eps[i] * tr->std[i];
  }
}

/* The context term added to the logits (the inputs as the previous alleles). */
static void add_context(hap_vae_train *tr, int m) {
  const sm_hap_vae *v = tr->v;
  size_t nv = (size_t)v->n_vars;
  for (int r = 0; r < m; r++)
    for (size_t j = 0; j < nv; j++)
      tr->logits[r * nv + j] += sm_hap_vae_context(v, (int64_t)j, tr->x + r * nv);
}

/* Gradient of the context weights: dC[j, d - 1] += sum_r dlogits[r, j] (2 x[r, j - d] - 1). */
static void context_backward(hap_vae_train *tr, int m) {
  sm_hap_vae *v = tr->v;
  size_t nv = (size_t)v->n_vars;
  int k = v->set.context;
  float *dc = v->params.grad + v->ctx_w;
  for (int r = 0; r < m; r++)
    for (size_t j = 0; j < nv; j++)
      for (int d = 1; d <= k && (int64_t)j - d >= 0; d++)
        dc[j * k + d - 1] += tr->dlogits[r * nv + j] * (2 * tr->x[r * nv + j - d] - 1);
}

/* Bernoulli negative log-likelihood of the observed alleles given the logits (sum), and
 * its gradient (sigmoid(l) - x) on observed entries, 0 elsewhere. */
static double reconstruction(hap_vae_train *tr, int m) {
  size_t n = (size_t)m * (size_t)tr->v->n_vars;
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    double l = tr->logits[i], x = tr->x[i];
    double softplus = l > 0 ? l + log1p(exp(-l)) : log1p(exp(l));
    double p = 1.0 / (1.0 + exp(-l));
    sum += tr->m[i] * (softplus - x * l);
    tr->dlogits[i] = (float)(tr->m[i] * (p - x));
  }
  return sum;
}

/* ---- backward ----------------------------------------------------------------------- */

/* Decoder backward from dlogits down to dz, recomputing nothing: the forward's
 * activations are in dec_act. */
static void decoder_backward(hap_vae_train *tr, int m) {
  sm_hap_vae *v = tr->v;
  const hap_vae_settings *s = &v->set;
  int nh = s->n_hidden;
  float *pre[HAP_VAE_MAX_LAYERS], *post[HAP_VAE_MAX_LAYERS], *act = tr->dec_act;
  for (int j = 0; j < nh; j++) {
    int w = s->hidden[nh - 1 - j];
    pre[j] = act, post[j] = act + (size_t)m * w;
    act = post[j] + (size_t)m * w;
  }

  /* output layer, then each hidden layer from the top */
  const float *top_in = nh > 0 ? post[nh - 1] : tr->z;
  float *dy = tr->dact;
  sm_linear_backward(nh > 0 ? dy : tr->dz, &v->params, tr->dlogits, top_in, &v->dec[nh], m);
  for (int j = nh - 1; j >= 0; j--) {
    int w = s->hidden[nh - 1 - j];
    sm_leaky_relu_backward(dy, dy, pre[j], (size_t)m * w, HAP_VAE_SLOPE);
    const float *in = j > 0 ? post[j - 1] : tr->z;
    float *dx = j > 0 ? tr->dtmp : tr->dz;
    sm_linear_backward(dx, &v->params, dy, in, &v->dec[j], m);
    if (j > 0) {
      float *t = dy;
      dy = tr->dtmp, tr->dtmp = t;
    }
  }
  tr->dact = dy;
}

/* Through the reparameterisation and KL (times beta) into the heads, then the encoder. */
static void encoder_backward(hap_vae_train *tr, int m) {
  sm_hap_vae *v = tr->v;
  const hap_vae_settings *s = &v->set;
  size_t n = (size_t)m * s->latent;
  for (size_t i = 0; i < n; i++) {
    tr->dmu[i] = tr->dz[i] + tr->kmu[i];
    tr->dlogvar[i] = tr->dz[i] * tr->eps[i] * 0.5f * tr->std[i] + tr->klv[i];
  }

  /* both heads read the last hidden layer: their input gradients add */
  int nh = s->n_hidden;
  const float *h = nh > 0 ? tr->epost[nh - 1] : tr->x;
  float *dh = tr->dact, *tmp = tr->dtmp;
  sm_linear_backward(nh > 0 ? dh : NULL, &v->params, tr->dmu, h, &v->mu, m);
  sm_linear_backward(nh > 0 ? tmp : NULL, &v->params, tr->dlogvar, h, &v->logvar, m);
  if (nh == 0)
    return;
  for (size_t i = 0; i < (size_t)m * s->hidden[nh - 1]; i++)
    dh[i] += tmp[i];
  for (int i = nh - 1; i >= 0; i--) {
    sm_leaky_relu_backward(dh, dh, tr->epre[i], (size_t)m * s->hidden[i], HAP_VAE_SLOPE);
    const float *in = i > 0 ? tr->epost[i - 1] : tr->x;
    sm_linear_backward(i > 0 ? tmp : NULL, &v->params, dh, in, &v->enc[i], m);
    float *t = dh;
    dh = tmp, tmp = t;
  }
}

int sm_hap_vae_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global_rows,
                     int64_t epoch, double *loss) {
  (void)global_rows;
  hap_vae_train *tr = model;
  if (m > tr->cap)
    return sm_fail(ctx, SM_ERR, "hap_vae: %lld rows in a batch, room for %lld", (long long)m,
                   (long long)tr->cap);
  if (m == 0)
    return SM_OK;
  int n = (int)m;

  /* forward and the two loss terms */
  encode(tr, rows, n, epoch);
  sm_hap_vae_decode(tr->v, tr->z, n, tr->dec_act, tr->logits);
  if (tr->v->set.context)
    add_context(tr, n);
  loss[0] += reconstruction(tr, n);
  loss[1] += sm_kl_normal_loss(tr->kmu, tr->klv, tr->mu, tr->logvar, (size_t)n * tr->v->set.latent,
                               (float)tr->v->set.beta);

  /* backward */
  if (tr->v->set.context)
    context_backward(tr, n);
  decoder_backward(tr, n);
  encoder_backward(tr, n);
  return SM_OK;
}
