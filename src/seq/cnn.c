/* dna_cnn: layout, forward and backward over one sequence, and data-parallel training.
 *
 * Training rows are the FASTA windows: the trainer orders the global window indices by a
 * keyed permutation each epoch, and each rank takes the windows of a batch that it holds.
 * A window's loss is its mean cross-entropy per base, so every window weighs the same; the
 * reported loss is in bits per base. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/trainer.h"
#include "seq/cnn.h"
#include "synthmpi/rng.h"

static const sm_param_desc cnn_params[] = {
    {"channels", SM_PARAM_INT, "32", 1, 1024, NULL, "features of every layer"},
    {"blocks", SM_PARAM_INT, "7", 1, SM_CNN_MAX_BLOCKS, NULL,
     "residual blocks; block l has dilation 2^l (2^(l mod cycle) when cycle > 0)"},
    {"kernel", SM_PARAM_INT, "2", 2, 3, NULL, "taps of every convolution (2 or 3)"},
    {"cycle", SM_PARAM_INT, "0", 0, SM_CNN_MAX_BLOCKS, NULL,
     "blocks after which the dilation starts again at 1; 0: never"},
    {"batch_size", SM_PARAM_INT, "8", 1, 1e9, NULL, "global batch size (windows over all ranks)"},
    {"epochs", SM_PARAM_INT, "20", 1, 1e7, NULL, "passes over the training windows"},
    {"lr", SM_PARAM_REAL, "1e-3", 1e-12, 10, NULL, "Adam learning rate"},
    {"weight_decay", SM_PARAM_REAL, "0", 0, 1, NULL, "decoupled weight decay (AdamW)"},
    {"seed", SM_PARAM_INT, "1", 0, 9007199254740992.0, NULL, "initialisation and batch order"},
};

const sm_model_ops sm_dna_cnn_ops = {
    .kind = "dna_cnn",
    .summary = "causal dilated convolutional network over DNA bases, trained data-parallel",
    .params = cnn_params,
    .n_params = (int)(sizeof cnn_params / sizeof cnn_params[0]),
};

/* Everything a sequence's forward keeps for its backward, carved from one block. */
struct sm_cnn_work {
  int64_t cap;     /* bases the views hold */
  float *block;    /* the one allocation */
  float *x;        /* (cap, 4) one-hot of the previous base */
  float *col0;     /* (cap, kernel * 4) the input convolution's columns */
  float *h;        /* (blocks + 1, cap, C) residual stream before each block and after */
  float *col;      /* (blocks, cap, kernel * C) */
  float *u, *a;    /* (blocks, cap, C) convolution output, after relu */
  float *z;        /* (cap, C) relu of the last stream */
  float *logits;   /* (cap, 4) */
  float *dlogits;  /* (cap, 4) */
  float *dh, *da;  /* (cap, C) */
  float *dtmp;     /* (cap, C) */
  float *dcol;     /* (cap, kernel * C) */
  int32_t *target; /* (cap) */
};

int sm_cnn_settings_read(sm_ctx *ctx, const sm_params *p, sm_cnn_settings *s) {
  memset(s, 0, sizeof *s);
  s->channels = (int)sm_params_num(p, "channels");
  s->blocks = (int)sm_params_num(p, "blocks");
  s->kernel = (int)sm_params_num(p, "kernel");
  s->cycle = (int)sm_params_num(p, "cycle");
  s->batch_size = (int64_t)sm_params_num(p, "batch_size");
  s->epochs = (int64_t)sm_params_num(p, "epochs");
  s->lr = sm_params_num(p, "lr");
  s->weight_decay = sm_params_num(p, "weight_decay");
  s->seed = (uint64_t)sm_params_num(p, "seed");
  if (s->channels < 1 || s->blocks < 1 || s->blocks > SM_CNN_MAX_BLOCKS || s->kernel < 2 ||
      s->kernel > 3 || s->cycle < 0 || s->batch_size < 1 || s->epochs < 1)
    return sm_fail(ctx, SM_EINPUT,
                   "dna_cnn: channels >= 1, blocks 1..%d, kernel 2 or 3, cycle >= 0, "
                   "batch_size and epochs >= 1",
                   SM_CNN_MAX_BLOCKS);
  return SM_OK;
}

int sm_cnn_receptive_field(const sm_cnn *m) {
  int reach = 1 + sm_conv1d_reach(&m->input);
  for (int l = 0; l < m->set.blocks; l++)
    reach += sm_conv1d_reach(&m->conv[l]);
  return reach;
}

void sm_cnn_free(sm_cnn *m) {
  if (!m)
    return;
  sm_nn_params_free(&m->params);
  free(m->history);
  free(m);
}

/* Reserve every layer in the parameter block. */
static void layout(sm_cnn *m) {
  const sm_cnn_settings *s = &m->set;
  int c = s->channels;
  sm_conv1d_reserve(&m->input, &m->params, 4, c, s->kernel, 1);
  for (int l = 0; l < s->blocks; l++) {
    int step = s->cycle > 0 ? l % s->cycle : l;
    sm_conv1d_reserve(&m->conv[l], &m->params, c, c, s->kernel, 1 << step);
    sm_linear_reserve(&m->mix[l], &m->params, c, c);
  }
  sm_linear_reserve(&m->head, &m->params, c, 4);
  m->n_model = m->params.n;
}

/* PyTorch's default initialisation of every layer, from the model's seed. */
static void init_params(sm_cnn *m) {
  uint64_t seed = m->set.seed;
  sm_conv1d_init_default(&m->input, &m->params, seed);
  for (int l = 0; l < m->set.blocks; l++) {
    sm_conv1d_init_default(&m->conv[l], &m->params, seed);
    sm_linear_init_default(&m->mix[l], &m->params, seed);
  }
  sm_linear_init_default(&m->head, &m->params, seed);
}

/* Local. The network; with t set, its reserved floats follow the layers. */
static int build(sm_ctx *ctx, const sm_cnn_settings *s, sm_trainer *t, sm_cnn **out) {
  sm_cnn *m = sm_calloc(ctx, 1, sizeof(sm_cnn));
  *out = NULL;
  if (!m)
    return SM_ERR;
  m->set = *s;
  layout(m);
  if (t)
    sm_trainer_reserve(t, &m->params);
  int rc = sm_nn_params_alloc(ctx, &m->params);
  if (rc != SM_OK) {
    sm_cnn_free(m);
    return rc;
  }
  init_params(m);
  *out = m;
  return SM_OK;
}

int sm_cnn_create(sm_ctx *ctx, const sm_cnn_settings *s, sm_cnn **out) {
  return build(ctx, s, NULL, out);
}

/* ---- one sequence --------------------------------------------------------------------- */

void sm_cnn_work_free(sm_cnn_work *w) {
  if (!w)
    return;
  free(w->block);
  free(w->target);
  free(w);
}

/* Local. A workspace for sequences of up to len bases (kept when large enough). */
static int work_reserve(sm_ctx *ctx, const sm_cnn *m, sm_cnn_work **wp, int64_t len) {
  if (*wp && (*wp)->cap >= len)
    return SM_OK;
  sm_cnn_work_free(*wp);
  *wp = NULL;
  size_t cap = (size_t)(len > 0 ? len : 1), c = (size_t)m->set.channels;
  size_t k = (size_t)m->set.kernel, blocks = (size_t)m->set.blocks;
  size_t sizes[] = {
      4, 4 * k, (blocks + 1) * c, blocks * k * c, blocks * c, blocks * c, c, 4, 4, c, c, c, k * c};
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    total += sizes[i] * cap;
  sm_cnn_work *w = sm_calloc(ctx, 1, sizeof(sm_cnn_work));
  float *block = w ? sm_malloc(ctx, total * sizeof(float)) : NULL;
  int32_t *target = block ? sm_malloc(ctx, cap * sizeof(int32_t)) : NULL;
  if (!target) {
    free(block);
    free(w);
    return SM_ERR;
  }

  /* named views, in the order of sizes[] */
  float **views[] = {&w->x,      &w->col0,    &w->h,  &w->col, &w->u,    &w->a,   &w->z,
                     &w->logits, &w->dlogits, &w->dh, &w->da,  &w->dtmp, &w->dcol};
  float *at = block;
  for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
    *views[i] = at;
    at += sizes[i] * cap;
  }
  w->block = block;
  w->target = target;
  w->cap = (int64_t)cap;
  *wp = w;
  return SM_OK;
}

/* Local. The forward pass over codes[0 .. len): every activation into w, logits last. */
static void forward(const sm_cnn *m, sm_cnn_work *w, const uint8_t *codes, int len) {
  size_t c = (size_t)m->set.channels, n = (size_t)len * c;
  size_t kc = (size_t)m->set.kernel * c;
  const sm_nn_params *p = &m->params;

  /* the one-hot of the previous base; nothing before the first */
  memset(w->x, 0, (size_t)len * 4 * sizeof(float));
  for (int t = 1; t < len; t++)
    w->x[(size_t)t * 4 + codes[t - 1]] = 1.0f;
  sm_conv1d_forward(w->h, w->col0, w->x, &m->input, p, len);

  /* residual blocks: h_{l+1} = h_l + mix(relu(conv(h_l))) */
  for (int l = 0; l < m->set.blocks; l++) {
    float *h = w->h + (size_t)l * n, *next = h + n;
    float *u = w->u + (size_t)l * n, *a = w->a + (size_t)l * n;
    sm_conv1d_forward(u, w->col + (size_t)l * len * kc, h, &m->conv[l], p, len);
    sm_relu_forward(a, u, n);
    sm_linear_forward(next, a, &m->mix[l], p, len);
    for (size_t i = 0; i < n; i++)
      next[i] += h[i];
  }

  /* the logits of every base */
  sm_relu_forward(w->z, w->h + (size_t)m->set.blocks * n, n);
  sm_linear_forward(w->logits, w->z, &m->head, p, len);
}

/* Local. The backward of forward() from dlogits, accumulating into m->params.grad. */
static void backward(sm_cnn *m, sm_cnn_work *w, int len) {
  size_t c = (size_t)m->set.channels, n = (size_t)len * c;
  size_t kc = (size_t)m->set.kernel * c;
  sm_nn_params *p = &m->params;

  /* head, then the final relu */
  sm_linear_backward(w->dtmp, p, w->dlogits, w->z, &m->head, len);
  sm_relu_backward(w->dh, w->dtmp, w->h + (size_t)m->set.blocks * n, n);

  /* blocks in reverse: the stream's gradient passes through and gains the branch's */
  for (int l = m->set.blocks - 1; l >= 0; l--) {
    const float *u = w->u + (size_t)l * n, *a = w->a + (size_t)l * n;
    sm_linear_backward(w->da, p, w->dh, a, &m->mix[l], len);
    sm_relu_backward(w->da, w->da, u, n);
    sm_conv1d_backward(w->dtmp, w->dcol, p, w->da, w->col + (size_t)l * len * kc, &m->conv[l], len);
    for (size_t i = 0; i < n; i++)
      w->dh[i] += w->dtmp[i];
  }

  /* the input convolution's parameters (its input needs no gradient) */
  sm_conv1d_backward(NULL, w->dcol, p, w->dh, w->col0, &m->input, len);
}

/* SM_EINPUT for a sequence longer than one layer call can take. */
static int check_length(sm_ctx *ctx, int64_t len) {
  if (len > INT_MAX / 64)
    return sm_fail(ctx, SM_EINPUT,
                   "dna_cnn: a sequence of %lld bases is too long; use "
                   "data.window",
                   (long long)len);
  return SM_OK;
}

int sm_cnn_sequence_grad(sm_ctx *ctx, sm_cnn *m, sm_cnn_work **w, const uint8_t *codes, int64_t len,
                         float scale, double *nats) {
  *nats = 0;
  if (len <= 0)
    return SM_OK;
  SM_TRY(check_length(ctx, len));
  SM_TRY(work_reserve(ctx, m, w, len));

  /* forward, the loss of every base, backward */
  forward(m, *w, codes, (int)len);
  for (int64_t t = 0; t < len; t++)
    (*w)->target[t] = codes[t];
  *nats =
      sm_cross_entropy_loss((*w)->dlogits, (*w)->logits, (*w)->target, (int)len, 4, 0, 4, scale);
  backward(m, *w, (int)len);
  return SM_OK;
}

int sm_cnn_sequence_logp(sm_ctx *ctx, const sm_cnn *m, sm_cnn_work **w, const uint8_t *codes,
                         int64_t len, double *logp) {
  if (len <= 0)
    return SM_OK;
  SM_TRY(check_length(ctx, len));
  SM_TRY(work_reserve(ctx, m, w, len));
  forward(m, *w, codes, (int)len);

  /* log-softmax of each row, in double */
  for (int64_t t = 0; t < len; t++) {
    const float *x = (*w)->logits + t * 4;
    double top = fmax(fmax(x[0], x[1]), fmax(x[2], x[3])), sum = 0;
    for (int j = 0; j < 4; j++)
      sum += exp((double)x[j] - top);
    for (int j = 0; j < 4; j++)
      logp[t * 4 + j] = (double)x[j] - top - log(sum);
  }
  return SM_OK;
}

/* ---- training --------------------------------------------------------------------------- */

typedef struct cnn_train {
  sm_cnn *m;
  const sm_seqset *train;
  sm_cnn_work *work;
} cnn_train;

/* The trainer's batch: each window's mean cross-entropy, its gradient, bits per base. */
static int cnn_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t n, int64_t global_rows,
                     int64_t epoch, double *loss) {
  cnn_train *tr = model;
  const sm_seqset *s = tr->train;
  (void)global_rows;
  (void)epoch;
  for (int64_t i = 0; i < n; i++) {
    int64_t q = rows[i], len = s->offset[q + 1] - s->offset[q];
    double nats = 0;
    if (len <= 0)
      continue;
    SM_TRY(sm_cnn_sequence_grad(ctx, tr->m, &tr->work, s->codes + s->offset[q], len,
                                1.0f / (float)len, &nats));
    loss[0] += nats / (double)len / M_LN2;
  }
  return SM_OK;
}

/* The trainer's settings for this model. */
static void trainer_setup(sm_trainer *t, const sm_cnn_settings *s) {
  t->kind = sm_dna_cnn_ops.kind;
  t->n_losses = 1;
  t->loss_names[0] = "bits";
  t->batch_size = s->batch_size;
  t->epochs = s->epochs;
  t->seed = s->seed;
  t->batch = cnn_batch;
}

/* Collective. The optimiser and the training loop on a built network. */
static int train(sm_ctx *ctx, sm_cnn *m, sm_trainer *t, const sm_seqset *train_set,
                 const sm_fit_options *opt) {
  sm_adam adam = {0};
  cnn_train tr = {.m = m, .train = train_set};
  int rc = sm_agree(ctx, sm_adam_init(ctx, &adam, m->params.n, m->set.lr, 0.9, 0.999, 1e-8,
                                      m->set.weight_decay, 1));
  t->model = &tr;
  t->params = &m->params;
  t->adam = &adam;
  t->n_global = train_set->n_total;
  t->row_offset = train_set->first;
  t->n_local = train_set->n;
  if (rc == SM_OK)
    rc = sm_trainer_run(ctx, t, opt);

  /* keep the loss history */
  if (rc == SM_OK) {
    m->history = sm_malloc(ctx, (size_t)m->set.epochs * sizeof(double));
    rc = m->history ? SM_OK : SM_ERR;
  }
  if (rc == SM_OK)
    memcpy(m->history, t->history, (size_t)m->set.epochs * sizeof(double));
  sm_cnn_work_free(tr.work);
  sm_adam_free(&adam);
  return sm_agree(ctx, rc);
}

int sm_cnn_fit(sm_ctx *ctx, const sm_cnn_settings *s, const sm_seqset *train_set,
               const sm_fit_options *opt, sm_cnn **out) {
  sm_trainer t = {0};
  sm_cnn *m = NULL;
  *out = NULL;
  if (train_set->n_total < 1)
    return sm_fail(ctx, SM_EINPUT, "dna_cnn: no training windows");

  /* the network and the trainer's floats in one buffer, then the epochs */
  trainer_setup(&t, s);
  int rc = sm_agree(ctx, build(ctx, s, &t, &m));
  if (rc == SM_OK) {
    sm_log(ctx, SM_LOG_INFO,
           "dna_cnn: %zu parameters, %d blocks of %d channels, kernel %d, receptive field %d "
           "bases; batch %lld windows, %lld epochs of %lld steps on %d ranks",
           m->n_model, s->blocks, s->channels, s->kernel, sm_cnn_receptive_field(m),
           (long long)s->batch_size, (long long)s->epochs,
           (long long)sm_batches_per_epoch(train_set->n_total, s->batch_size), ctx->size);
    rc = train(ctx, m, &t, train_set, opt);
  }
  sm_trainer_free(&t);
  if (rc != SM_OK) {
    sm_cnn_free(m);
    return rc;
  }
  *out = m;
  return SM_OK;
}
