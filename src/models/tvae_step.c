/* TVAE networks and training step: layout, encoder, reparameterisation, decoder, the loss of Xu et
 * al. (2019) with a KL weight (beta-VAE), and the backward pass, over this rank's rows of a batch.
 *
 * Per row, with x the encoded row and rec the decoder output:
 *   scalar span c:  (x_c - tanh(rec_c))^2 / (2 sigma_c^2) + log sigma_c
 *   one-hot span:   cross-entropy of the logits against the argmax of x's span
 *   loss = loss_factor * (sum of the above) + beta * KL(N(mu, exp logvar) || N(0, I)).
 * Gradients are of the SUM over the rows; the trainer divides by the global batch size.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/tvae.h"
#include "synthmpi/rng.h"

struct tvae_train {
  tvae_state *st;
  int64_t n_local, row_offset;
  int n_onehot;                     /* one-hot spans */
  int *onehot_start, *onehot_width; /* (n_onehot) their columns */
  sm_ce_spans ce;                   /* the one-hot spans of the batch, for the loss */
  float *ce_work;                   /* (width) */
  float *data;                      /* (n_local, width) encoded rows */
  int32_t *target; /* (n_local, n_onehot) argmax of each one-hot span, a row's together */
  /* the rows by their nonzeros (nnz > 0: the first layer takes them sparse, and the batch's
   * dense rows are gathered only for a private run's per-example norms) */
  int nnz;
  int32_t *nz_col;  /* (n_local, nnz) */
  float *nz_val;    /* (n_local, nnz) */
  int *scalar_slot; /* (width) where a scalar column's value lies among a row's nonzeros */
  int64_t cap;      /* batch rows the workspace holds */

  /* the batch and its activations; one block, carved into these views */
  float *block;
  int32_t *batch_target;   /* (n_onehot, cap) */
  sm_sparse_rows batch_nz; /* (cap, nnz) views of batch_col and batch_val */
  int32_t *batch_col;
  float *batch_val;
  float *x; /* (cap, width) */
  /* each hidden layer's pre- and post-ReLU views are one array: the ReLU runs in place, and
   * its output is positive exactly where its input is, so it serves as the backward's mask */
  float *epre[TVAE_MAX_LAYERS], *epost[TVAE_MAX_LAYERS]; /* (cap, compress[i]) */
  float *heads;                                          /* (cap, 2 emb): mu, then logvar */
  float *std, *eps, *z;                                  /* (cap, emb) */
  float *dpre[TVAE_MAX_LAYERS], *dpost[TVAE_MAX_LAYERS]; /* (cap, decompress[j]) */
  float *rec, *drec;                                     /* (cap, width) */
  float *dheads;                                         /* (cap, 2 emb) */
  float *dz;                                             /* (cap, emb) */
  float *grad[2];                                        /* (cap, widest layer) scratch */

  /* DP-SGD (clip > 0): the loss gradients of each row kept between the two backward passes;
   * sigma is fixed at TVAE_PRIVATE_SIGMA and not trained */
  float clip;                   /* per-example norm bound C; 0: not private */
  float *seed_rec, *seed_heads; /* (cap, width), (cap, 2 emb) */
  double *norm2;                /* (cap) squared per-example gradient norms */
  sm_nn_params scratch;         /* the values, and a gradient buffer to discard */
};

void sm_tvae_layout(tvae_net *net, const tvae_settings *s, int width) {
  sm_nn_params *p = &net->params;
  net->width = width;
  net->emb = s->embedding_dim;

  /* encoder: width -> compress... -> (mu, logvar), both heads one layer */
  int in = width;
  for (int i = 0; i < s->n_compress; i++) {
    sm_linear_reserve(&net->enc[i], p, in, s->compress[i]);
    in = s->compress[i];
  }
  sm_linear_reserve(&net->heads, p, in, 2 * s->embedding_dim);

  /* decoder: emb -> decompress... -> width, and sigma */
  in = s->embedding_dim;
  for (int j = 0; j < s->n_decompress; j++) {
    sm_linear_reserve(&net->dec[j], p, in, s->decompress[j]);
    in = s->decompress[j];
  }
  sm_linear_reserve(&net->dec[s->n_decompress], p, in, width);
  net->sigma = sm_nn_reserve(p, (size_t)width);
  net->n_model = p->n;
}

void sm_tvae_decoder_forward(const tvae_net *net, const tvae_settings *s, const float *z, int rows,
                             float *const *pre, float *const *post, float *out) {
  const float *in = z;
  for (int j = 0; j < s->n_decompress; j++) {
    sm_linear_forward(pre[j], in, &net->dec[j], &net->params, rows);
    sm_relu_forward(post[j], pre[j], (size_t)rows * s->decompress[j]);
    in = post[j];
  }
  sm_linear_forward(out, in, &net->dec[s->n_decompress], &net->params, rows);
}

/* ---- workspace ---------------------------------------------------------------------- */

/* The widest activation of the networks (for the gradient scratch). */
static int widest(const tvae_settings *s, int width) {
  int w = width > s->embedding_dim ? width : s->embedding_dim;
  for (int i = 0; i < s->n_compress; i++)
    w = s->compress[i] > w ? s->compress[i] : w;
  for (int j = 0; j < s->n_decompress; j++)
    w = s->decompress[j] > w ? s->decompress[j] : w;
  return w;
}

/* Carve the views out of tr->block, or (block NULL) count the floats needed. */
static size_t carve(tvae_train *tr, float *block) {
  const tvae_settings *s = &tr->st->set;
  size_t cap = (size_t)tr->cap, width = (size_t)tr->st->net.width, emb = s->embedding_dim;
  size_t used = 0;
#define VIEW(ptr, n)                                                                               \
  do {                                                                                             \
    if (block)                                                                                     \
      (ptr) = block + used;                                                                        \
    used += (n);                                                                                   \
  } while (0)
  VIEW(tr->x, cap * width);
  for (int i = 0; i < s->n_compress; i++) {
    VIEW(tr->epre[i], cap * s->compress[i]);
    tr->epost[i] = tr->epre[i];
  }
  VIEW(tr->heads, cap * 2 * emb);
  VIEW(tr->std, cap * emb);
  VIEW(tr->eps, cap * emb);
  VIEW(tr->z, cap * emb);
  for (int j = 0; j < s->n_decompress; j++) {
    VIEW(tr->dpre[j], cap * s->decompress[j]);
    tr->dpost[j] = tr->dpre[j];
  }
  VIEW(tr->rec, cap * width);
  VIEW(tr->drec, cap * width);
  VIEW(tr->dheads, cap * 2 * emb);
  VIEW(tr->dz, cap * emb);
  VIEW(tr->grad[0], cap * widest(s, (int)width));
  VIEW(tr->grad[1], cap * widest(s, (int)width));
  VIEW(tr->seed_rec, cap * width);
  VIEW(tr->seed_heads, cap * 2 * emb);
#undef VIEW
  return used;
}

/* Record the one-hot spans, and each one's target class for every encoded row. */
static int find_targets(sm_ctx *ctx, tvae_train *tr) {
  const sm_encoder *enc = &tr->st->encoder;
  size_t width = (size_t)enc->width, n = (size_t)tr->n_local;
  size_t spans = (size_t)(enc->n_spans > 0 ? enc->n_spans : 1);
  tr->onehot_start = sm_malloc(ctx, spans * sizeof(int));
  tr->onehot_width = sm_malloc(ctx, spans * sizeof(int));
  tr->ce_work = sm_malloc(ctx, (width > 0 ? width : 1) * sizeof(float));
  if (!tr->onehot_start || !tr->onehot_width || !tr->ce_work)
    return SM_ERR;
  for (int k = 0; k < enc->n_spans; k++)
    if (enc->spans[k].kind == SM_SPAN_ONEHOT) {
      tr->onehot_start[tr->n_onehot] = enc->spans[k].start;
      tr->onehot_width[tr->n_onehot++] = enc->spans[k].width;
    }

  /* the targets, a row's together */
  tr->target = sm_malloc(ctx, (size_t)(tr->n_onehot > 0 ? tr->n_onehot : 1) * (n > 0 ? n : 1) *
                                  sizeof(int32_t));
  if (!tr->target)
    return SM_ERR;
  for (int k = 0; k < tr->n_onehot; k++)
    for (size_t r = 0; r < n; r++)
      tr->target[r * tr->n_onehot + k] =
          sm_argmax(tr->data + r * width + tr->onehot_start[k], tr->onehot_width[k]);
  return SM_OK;
}

/* The number of nonzeros a row may hold: each scalar column and one per (non-empty) one-hot
 * span; each scalar column's place among them into slot. */
static int count_nonzeros(const sm_encoder *enc, int *slot) {
  int nnz = 0;
  for (int k = 0; k < enc->n_spans; k++) {
    const sm_span *sp = &enc->spans[k];
    if (sp->kind != SM_SPAN_SCALAR) {
      nnz += sp->width > 0;
      continue;
    }
    for (int c = sp->start; c < sp->start + sp->width; c++)
      slot[c] = nnz++;
  }
  return nnz;
}

/* Row r's nonzeros into col and val: its scalar columns and each one-hot span's target, in
 * span order. Returns 0 when a span holds another nonzero (not one-hot). */
static int row_nonzeros(const tvae_train *tr, int64_t r, int32_t *col, float *val) {
  const sm_encoder *enc = &tr->st->encoder;
  const float *x = tr->data + (size_t)r * enc->width;
  const int32_t *target = tr->target + (size_t)r * tr->n_onehot;
  int at = 0;
  for (int k = 0, h = 0; k < enc->n_spans; k++) {
    const sm_span *sp = &enc->spans[k];
    if (sp->kind == SM_SPAN_SCALAR) {
      for (int c = sp->start; c < sp->start + sp->width; c++, at++) {
        col[at] = c;
        val[at] = x[c];
      }
      continue;
    }
    int t = target[h++];
    if (sp->width == 0)
      continue;
    for (int j = 0; j < sp->width; j++)
      if (j != t && x[sp->start + j] != 0.0f)
        return 0;
    col[at] = sp->start + t;
    val[at++] = x[sp->start + t];
  }
  return 1;
}

/* The first hidden layer takes the rows by their nonzeros when there is one, a row has fewer
 * nonzeros than columns and every one-hot span is one-hot; else tr->nnz stays 0 and it
 * multiplies the dense rows. */
static int find_nonzeros(sm_ctx *ctx, tvae_train *tr) {
  const sm_encoder *enc = &tr->st->encoder;
  tr->scalar_slot = sm_malloc(ctx, (size_t)(enc->width > 0 ? enc->width : 1) * sizeof(int));
  if (!tr->scalar_slot)
    return SM_ERR;
  int nnz = count_nonzeros(enc, tr->scalar_slot);
  if (tr->st->set.n_compress == 0 || nnz >= enc->width || nnz == 0)
    return SM_OK;
  size_t n = (size_t)(tr->n_local > 0 ? tr->n_local : 1) * (size_t)nnz;
  tr->nz_col = sm_malloc(ctx, n * sizeof(int32_t));
  tr->nz_val = sm_malloc(ctx, n * sizeof(float));
  tr->batch_col = sm_malloc(ctx, (size_t)tr->cap * nnz * sizeof(int32_t));
  tr->batch_val = sm_malloc(ctx, (size_t)tr->cap * nnz * sizeof(float));
  if (!tr->nz_col || !tr->nz_val || !tr->batch_col || !tr->batch_val)
    return SM_ERR;

  /* a span that is not one-hot: the dense rows after all */
  for (int64_t r = 0; r < tr->n_local; r++)
    if (!row_nonzeros(tr, r, tr->nz_col + r * nnz, tr->nz_val + r * nnz)) {
      free(tr->nz_col);
      free(tr->nz_val);
      tr->nz_col = NULL;
      tr->nz_val = NULL;
      return SM_OK;
    }
  tr->nnz = nnz;
  tr->batch_nz = (sm_sparse_rows){.col = tr->batch_col, .val = tr->batch_val, .nnz = nnz};
  return SM_OK;
}

tvae_train *sm_tvae_train_wrap(sm_ctx *ctx, tvae_state *st, float *data, int64_t n_local,
                               int64_t row_offset) {
  tvae_train *tr = sm_calloc(ctx, 1, sizeof *tr);
  if (!tr) {
    free(data);
    return NULL;
  }
  tr->st = st;
  tr->data = data;
  tr->n_local = n_local;
  tr->row_offset = row_offset;
  tr->cap = st->set.batch_size < n_local ? st->set.batch_size : n_local;
  if (tr->cap < 1)
    tr->cap = 1;

  /* targets, then one block for the batch */
  int rc = data ? find_targets(ctx, tr) : SM_ERR;
  if (rc == SM_OK)
    rc = find_nonzeros(ctx, tr);
  if (rc == SM_OK) {
    tr->block = sm_malloc(ctx, carve(tr, NULL) * sizeof(float));
    tr->batch_target = sm_malloc(ctx, (size_t)(tr->n_onehot > 0 ? tr->n_onehot : 1) *
                                          (size_t)tr->cap * sizeof(int32_t));
    rc = tr->block && tr->batch_target ? SM_OK : SM_ERR;
    tr->ce = (sm_ce_spans){.n = tr->n_onehot,
                           .start = tr->onehot_start,
                           .width = tr->onehot_width,
                           .target = tr->batch_target,
                           .target_stride = (size_t)tr->cap};
  }
  if (rc != SM_OK) {
    sm_tvae_train_free(tr);
    return NULL;
  }
  carve(tr, tr->block);
  return tr;
}

int sm_tvae_train_nonzeros(const tvae_train *tr) {
  return tr->nnz;
}

void sm_tvae_train_free(tvae_train *tr) {
  if (!tr)
    return;
  free(tr->onehot_start);
  free(tr->onehot_width);
  free(tr->ce_work);
  free(tr->data);
  free(tr->target);
  free(tr->nz_col);
  free(tr->nz_val);
  free(tr->batch_col);
  free(tr->batch_val);
  free(tr->scalar_slot);
  free(tr->block);
  free(tr->batch_target);
  free(tr->norm2);
  free(tr->scratch.grad);
  free(tr);
}

void sm_tvae_train_drop_dense(tvae_train *tr) {
  if (tr->nnz == 0)
    return;
  free(tr->data);
  tr->data = NULL;
}

int sm_tvae_train_private(sm_ctx *ctx, tvae_train *tr, double clip) {
  const sm_nn_params *p = &tr->st->net.params;
  if (!tr->data)
    return sm_fail(ctx, SM_ERR, "tvae: a private run needs the dense rows, and they were freed");
  tr->norm2 = sm_malloc(ctx, (size_t)tr->cap * sizeof(double));
  tr->scratch.grad = sm_malloc(ctx, (p->n > 0 ? p->n : 1) * sizeof(float));
  if (!tr->norm2 || !tr->scratch.grad)
    return SM_ERR;
  tr->clip = (float)clip;
  sm_tvae_clamp_sigma(tr);
  return SM_OK;
}

void sm_tvae_clamp_sigma(void *model) {
  tvae_train *tr = model;
  tvae_net *net = &tr->st->net;
  float *sigma = net->params.value + net->sigma;
  for (int c = 0; c < net->width; c++)
    if (tr->clip > 0)
      sigma[c] = TVAE_PRIVATE_SIGMA;
    else
      sigma[c] = sigma[c] < 0.01f ? 0.01f : sigma[c] > 1.0f ? 1.0f : sigma[c];
}

/* ---- forward ------------------------------------------------------------------------ */

/* Copy the batch's encoded rows and targets into the workspace. */
static void gather(tvae_train *tr, const int64_t *rows, int m) {
  size_t width = (size_t)tr->st->net.width;
  for (int r = 0; (tr->nnz == 0 || tr->clip > 0) && r < m; r++)
    memcpy(tr->x + r * width, tr->data + rows[r] * width, width * sizeof(float));
  for (int r = 0; r < m; r++) {
    const int32_t *t = tr->target + rows[r] * tr->n_onehot;
    for (int k = 0; k < tr->n_onehot; k++)
      tr->batch_target[(size_t)k * tr->cap + r] = t[k];
  }
  size_t nnz = (size_t)tr->nnz;
  for (int r = 0; r < m && nnz > 0; r++) {
    memcpy(tr->batch_col + r * nnz, tr->nz_col + rows[r] * nnz, nnz * sizeof(int32_t));
    memcpy(tr->batch_val + r * nnz, tr->nz_val + rows[r] * nnz, nnz * sizeof(float));
  }
}

/* std = exp(logvar / 2) and z = mu + eps std, row by row (mu and logvar from the heads). */
SM_VECTOR_CLONES
static void reparameterise(float *restrict z, float *restrict std, const float *restrict heads,
                           const float *restrict eps, int rows, int emb) {
  for (int r = 0; r < rows; r++) {
    const float *mu = heads + (size_t)r * 2 * emb, *logvar = mu + emb;
    size_t o = (size_t)r * emb;
    for (int k = 0; k < emb; k++) {
      std[o + k] = sm_expf(0.5f * logvar[k]);
      z[o + k] = mu[k] + eps[o + k] * std[o + k];
    }
  }
}

/* KL(N(mu, std^2) || N(0, I)) over the rows, with std from the reparameterisation
 * (var = std^2, no exponential): -0.5 sum (1 + logvar - mu^2 - var), summed in eight double
 * lanes; its gradients into dheads times beta: d/dmu = beta mu, d/dlogvar = 0.5 beta
 * (var - 1). */
SM_VECTOR_CLONES
static double kl_loss(float *restrict dheads, const float *restrict heads,
                      const float *restrict std, int rows, int emb, float beta) {
  double lane[8] = {0}, loss = 0;
  for (int r = 0; r < rows; r++) {
    const float *mu = heads + (size_t)r * 2 * emb, *logvar = mu + emb, *sd = std + (size_t)r * emb;
    float *dmu = dheads + (size_t)r * 2 * emb, *dlogvar = dmu + emb;
    int k = 0;
    for (; k + 8 <= emb; k += 8)
      for (int j = k; j < k + 8; j++) {
        float var = sd[j] * sd[j];
        lane[j - k] += -0.5 * ((double)logvar[j] + 1.0 - (double)mu[j] * mu[j] - var);
        dmu[j] = beta * mu[j];
        dlogvar[j] = 0.5f * beta * (var - 1.0f);
      }
    for (; k < emb; k++) {
      float var = sd[k] * sd[k];
      loss += -0.5 * ((double)logvar[k] + 1.0 - (double)mu[k] * mu[k] - var);
      dmu[k] = beta * mu[k];
      dlogvar[k] = 0.5f * beta * (var - 1.0f);
    }
  }
  for (int j = 0; j < 8; j++)
    loss += lane[j];
  return loss;
}

/* Encoder, then z = mu + eps * exp(logvar / 2) with eps from the stream (seed mixed with
 * the epoch, SM_STREAM_NN_NOISE, global row). */
static void encoder_forward(tvae_train *tr, const int64_t *rows, int m, int64_t epoch) {
  const tvae_settings *s = &tr->st->set;
  const tvae_net *net = &tr->st->net;
  const float *in = tr->x;
  for (int i = 0; i < s->n_compress; i++) {
    if (i == 0 && tr->nnz > 0)
      sm_linear_forward_sparse(tr->epre[i], &tr->batch_nz, &net->enc[i], &net->params, m);
    else
      sm_linear_forward(tr->epre[i], in, &net->enc[i], &net->params, m);
    sm_relu_forward(tr->epost[i], tr->epre[i], (size_t)m * s->compress[i]);
    in = tr->epost[i];
  }
  sm_linear_forward(tr->heads, in, &net->heads, &net->params, m);

  /* reparameterisation: one noise stream per row */
  int emb = s->embedding_dim;
  uint64_t noise_seed = sm_hash64(s->seed) ^ sm_hash64((uint64_t)epoch + 1);
  for (int r = 0; r < m; r++) {
    sm_rng rng;
    sm_rng_init(&rng, noise_seed, SM_STREAM_NN_NOISE, (uint64_t)(tr->row_offset + rows[r]));
    sm_rng_normals(&rng, tr->eps + (size_t)r * emb, emb);
  }
  reparameterise(tr->z, tr->std, tr->heads, tr->eps, m, emb);
}

/* Loss of one scalar span at column c: returns the sum over rows; writes drec and adds to
 * the sigma gradient (both times loss_factor). */
static double scalar_loss(tvae_train *tr, int c, int m) {
  tvae_net *net = &tr->st->net;
  float factor = (float)tr->st->set.loss_factor, sigma = net->params.value[net->sigma + c];
  float inv_var = 1.0f / (sigma * sigma);
  double inv_var2 = 1.0 / (2.0 * sigma * sigma), inv_cube = 1.0 / ((double)sigma * sigma * sigma);
  int width = net->width;

  /* the data's values: among the nonzeros when the rows are sparse, else the dense rows */
  const float *x = tr->nnz ? tr->batch_val + tr->scalar_slot[c] : tr->x + c;
  size_t stride = tr->nnz ? (size_t)tr->nnz : (size_t)width;
  double sq = 0.0;
  for (int r = 0; r < m; r++) {
    size_t i = (size_t)r * width + c;
    float t = sm_tanhf(tr->rec[i]), e = x[r * stride] - t;
    sq += (double)e * e;
    tr->drec[i] = factor * (-e * inv_var) * (1.0f - t * t);
  }

  /* the terms of sigma alone, once for the m rows */
  double sum = sq * inv_var2 + m * log((double)sigma);
  double dsigma = -sq * inv_cube + m * (1.0 / sigma);

  /* private runs keep sigma fixed */
  if (tr->clip <= 0)
    net->params.grad[net->sigma + c] += (float)(factor * dsigma);
  return sum;
}

/* The reconstruction loss over every span (sum over rows, before loss_factor). */
static double reconstruction_loss(tvae_train *tr, int m) {
  const sm_encoder *enc = &tr->st->encoder;
  float factor = (float)tr->st->set.loss_factor;
  double sum = 0.0;
  for (int k = 0; k < enc->n_spans; k++) {
    const sm_span *sp = &enc->spans[k];
    for (int c = sp->start; sp->kind == SM_SPAN_SCALAR && c < sp->start + sp->width; c++)
      sum += scalar_loss(tr, c, m);
  }
  return sum +
         sm_cross_entropy_spans(tr->drec, tr->ce_work, tr->rec, &tr->ce, m, enc->width, factor);
}

/* ---- backward ----------------------------------------------------------------------- */

/* From drec back to dz through the decoder (parameter gradients accumulated into p); with
 * norm2, each layer's per-example squared gradient norms are added to it. */
static void decoder_backward(tvae_train *tr, int m, sm_nn_params *p, double *norm2) {
  const tvae_settings *s = &tr->st->set;
  tvae_net *net = &tr->st->net;
  const float *dy = tr->drec;
  int next = 0;
  for (int j = s->n_decompress; j >= 0; j--) {
    const float *in = j > 0 ? tr->dpost[j - 1] : tr->z;
    float *dx = j > 0 ? tr->grad[next] : tr->dz;
    if (norm2)
      sm_linear_example_norms(norm2, dy, in, &net->dec[j], m);
    sm_linear_backward(dx, p, dy, in, &net->dec[j], m);
    if (j > 0)
      sm_relu_backward(dx, dx, tr->dpre[j - 1], (size_t)m * s->decompress[j - 1]);
    dy = dx;
    next ^= 1;
  }
}

/* dz through z = mu + eps exp(logvar / 2), added to the heads' KL gradients. */
SM_VECTOR_CLONES
static void add_reparameterisation_grad(float *restrict dheads, const float *restrict dz,
                                        const float *restrict eps, const float *restrict std,
                                        int rows, int emb) {
  for (int r = 0; r < rows; r++) {
    float *dmu = dheads + (size_t)r * 2 * emb, *dlogvar = dmu + emb;
    size_t o = (size_t)r * emb;
    for (int k = 0; k < emb; k++) {
      dmu[k] += dz[o + k];
      dlogvar[k] += dz[o + k] * eps[o + k] * 0.5f * std[o + k];
    }
  }
}

/* From dz and the KL gradients back through the reparameterisation and the encoder (into p;
 * norm2 as in decoder_backward). */
static void encoder_backward(tvae_train *tr, int m, sm_nn_params *p, double *norm2) {
  const tvae_settings *s = &tr->st->set;
  tvae_net *net = &tr->st->net;
  add_reparameterisation_grad(tr->dheads, tr->dz, tr->eps, tr->std, m, s->embedding_dim);

  /* the heads read the last hidden layer */
  int last = s->n_compress - 1;
  const float *hidden = last >= 0 ? tr->epost[last] : tr->x;
  float *dh = tr->grad[0], *other = tr->grad[1];
  if (norm2)
    sm_linear_example_norms(norm2, tr->dheads, hidden, &net->heads, m);
  sm_linear_backward(last >= 0 ? dh : NULL, p, tr->dheads, hidden, &net->heads, m);

  /* the hidden layers, last first; the data needs no gradient */
  for (int i = last; i >= 0; i--) {
    sm_relu_backward(dh, dh, tr->epre[i], (size_t)m * s->compress[i]);
    float *dx = i > 0 ? other : NULL;
    const float *in = i > 0 ? tr->epost[i - 1] : tr->x;
    if (norm2)
      sm_linear_example_norms(norm2, dh, in, &net->enc[i], m);
    if (i == 0 && tr->nnz > 0)
      sm_linear_backward_sparse(p, dh, &tr->batch_nz, &net->enc[i], m);
    else
      sm_linear_backward(dx, p, dh, in, &net->enc[i], m);
    other = dh;
    dh = dx;
  }
}

/* Forward over the batch and the loss gradients at the outputs (KL written first, the
 * decoder's added); returns SM_OK or a message when the batch does not fit. */
static int forward(sm_ctx *ctx, tvae_train *tr, const int64_t *rows, int64_t m, int64_t epoch,
                   double *loss) {
  if (m > tr->cap)
    return sm_fail(ctx, SM_ERR, "tvae: %lld batch rows on one rank, room for %lld", (long long)m,
                   (long long)tr->cap);
  int rows_here = (int)m;
  gather(tr, rows, rows_here);
  encoder_forward(tr, rows, rows_here, epoch);
  sm_tvae_decoder_forward(&tr->st->net, &tr->st->set, tr->z, rows_here, tr->dpre, tr->dpost,
                          tr->rec);
  loss[0] += reconstruction_loss(tr, rows_here);
  loss[1] += kl_loss(tr->dheads, tr->heads, tr->std, rows_here, tr->st->set.embedding_dim,
                     (float)tr->st->set.beta);
  return SM_OK;
}

/* Private runs, first pass: keep the loss gradients, then run the backward into a discarded
 * buffer only to add up each example's squared gradient norm over every trained parameter
 * (the Linear layers, from their inputs and output gradients; sigma is fixed) into
 * tr->norm2. */
static void example_norms(tvae_train *tr, int m) {
  const tvae_net *net = &tr->st->net;
  size_t width = (size_t)net->width, emb = (size_t)net->emb;
  memcpy(tr->seed_rec, tr->drec, (size_t)m * width * sizeof(float));
  memcpy(tr->seed_heads, tr->dheads, (size_t)m * 2 * emb * sizeof(float));
  memset(tr->norm2, 0, (size_t)m * sizeof(double));
  tr->scratch.value = net->params.value;
  tr->scratch.n = net->params.n;
  memset(tr->scratch.grad, 0, tr->scratch.n * sizeof(float));
  decoder_backward(tr, m, &tr->scratch, tr->norm2);
  encoder_backward(tr, m, &tr->scratch, tr->norm2);
}

/* Private runs, second pass: scale each example's loss gradients by min(1, C / norm) and run
 * the backward again, accumulating the sum of clipped per-example gradients. */
static void clipped_backward(tvae_train *tr, int m) {
  tvae_net *net = &tr->st->net;
  size_t width = (size_t)net->width, emb = (size_t)net->emb;
  for (int r = 0; r < m; r++) {
    double norm = sqrt(tr->norm2[r]);
    float f = norm > tr->clip ? (float)(tr->clip / norm) : 1.0f;
    for (size_t c = 0; c < width; c++)
      tr->drec[r * width + c] = f * tr->seed_rec[r * width + c];
    for (size_t k = 0; k < 2 * emb; k++)
      tr->dheads[r * 2 * emb + k] = f * tr->seed_heads[r * 2 * emb + k];
  }
  decoder_backward(tr, m, &net->params, NULL);
  encoder_backward(tr, m, &net->params, NULL);
}

int sm_tvae_example_norms(sm_ctx *ctx, tvae_train *tr, const int64_t *rows, int64_t m,
                          int64_t epoch, double *norm2) {
  double loss[TVAE_N_LOSSES] = {0};
  if (tr->clip <= 0)
    return sm_fail(ctx, SM_ERR, "tvae: per-example norms need sm_tvae_train_private first");
  SM_TRY(forward(ctx, tr, rows, m, epoch, loss));
  example_norms(tr, (int)m);
  memcpy(norm2, tr->norm2, (size_t)m * sizeof(double));
  return SM_OK;
}

int sm_tvae_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global_rows,
                  int64_t epoch, double *loss) {
  tvae_train *tr = model;
  (void)global_rows;
  if (m == 0)
    return SM_OK;
  SM_TRY(forward(ctx, tr, rows, m, epoch, loss));

  /* private: two passes with per-example clipping; else the plain backward */
  if (tr->clip > 0) {
    example_norms(tr, (int)m);
    clipped_backward(tr, (int)m);
    return SM_OK;
  }
  decoder_backward(tr, (int)m, &tr->st->net.params, NULL);
  encoder_backward(tr, (int)m, &tr->st->net.params, NULL);
  return SM_OK;
}
