/* RealNVP (Dinh et al. 2017) on tabular rows: a normalising flow of affine couplings,
 * trained by exact maximum likelihood, data-parallel.
 *
 * Fit (collective): the flat encoding (numeric columns standardised, discrete ones one-hot) is
 * fitted on all ranks' rows; a fraction `validation` of the rows, chosen by global row index
 * from the seed, is held out; the trainer runs the epochs on the rest, each row dequantised
 * with fresh uniform noise every epoch. At the end the exact NLL of the held-out rows is
 * logged in nats per row and bits per dimension.
 * Sample (local): row i draws z ~ N(0, I) from (seed, SM_STREAM_SAMPLE, i) and the inverse
 * flow maps it to an encoded row; blocks decode by their largest entry.
 */
#include "models/realnvp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "models/trainer.h"
#include "models/tvae.h"
#include "synthmpi/rng.h"

static const sm_param_desc realnvp_params[] = {
    {"couplings", SM_PARAM_INT, "6", 2, REALNVP_MAX_COUPLINGS, NULL,
     "affine coupling layers (masks alternate between even and odd dimensions)"},
    {"hidden_dims", SM_PARAM_STRING, "256,256", 0, 0, NULL,
     "widths of each coupling's scale-and-shift MLP, comma-separated"},
    {"batch_size", SM_PARAM_INT, "500", 1, 1e9, NULL, "global batch size (rows over all ranks)"},
    {"epochs", SM_PARAM_INT, "100", 1, 1e7, NULL, "passes over the training rows"},
    {"lr", SM_PARAM_REAL, "1e-3", 1e-12, 10, NULL, "Adam learning rate"},
    {"l2scale", SM_PARAM_REAL, "1e-5", 0, 1, NULL, "L2 weight decay added to the gradient"},
    {"validation", SM_PARAM_REAL, "0.1", 0, 0.9, NULL,
     "fraction of the rows held out to report the exact held-out NLL"},
    {"seed", SM_PARAM_INT, "1", 0, 9007199254740992.0, NULL,
     "initialisation, batch order, held-out rows and dequantisation noise"},
    {"checkpoint_every", SM_PARAM_INT, "0", 0, 1e9, NULL,
     "epochs between checkpoints; 0: only when stopped by a signal"},
};
#define N_PARAMS ((int)(sizeof realnvp_params / sizeof realnvp_params[0]))

/* Rows per block when sampling and scoring (aligned to global row indices). */
#define BLOCK_ROWS 1024

int sm_realnvp_settings(sm_ctx *ctx, const sm_params *p, realnvp_settings *s) {
  memset(s, 0, sizeof *s);
  s->couplings = (int)sm_params_num(p, "couplings");
  s->batch_size = (int64_t)sm_params_num(p, "batch_size");
  s->epochs = (int64_t)sm_params_num(p, "epochs");
  s->lr = sm_params_num(p, "lr");
  s->l2scale = sm_params_num(p, "l2scale");
  s->validation = sm_params_num(p, "validation");
  s->seed = (uint64_t)sm_params_num(p, "seed");
  int dims[TVAE_MAX_LAYERS], n = 0;
  SM_TRY(sm_tvae_parse_dims(ctx, "hidden_dims", sm_params_str(p, "hidden_dims"), dims, &n));
  if (n < 1 || n > SM_MLP_MAX_LAYERS - 1)
    return sm_fail(ctx, SM_EINPUT, "model.hidden_dims: 1 to %d layers", SM_MLP_MAX_LAYERS - 1);
  s->n_hidden = n;
  memcpy(s->hidden, dims, (size_t)n * sizeof(int));
  return SM_OK;
}

void sm_realnvp_free(void *state) {
  realnvp_state *st = state;
  if (!st)
    return;
  sm_flat_free(&st->flat);
  sm_nn_params_free(&st->net.params);
  free(st->history);
  free(st);
}

/* ---- fit ---------------------------------------------------------------------------- */

/* Whether global row g is held out. */
static int held_out(const realnvp_settings *s, int64_t g) {
  sm_rng rng;
  sm_rng_init(&rng, s->seed, SM_STREAM_HOLDOUT, (uint64_t)g);
  return sm_rng_uniform(&rng) < s->validation;
}

/* Local. Encode the rank's rows into training rows (*train, *n_train) and held-out rows
 * (*val, *n_val; their global indices in *val_rows). */
static int split_encode(sm_ctx *ctx, const realnvp_state *st, const sm_table *t, float **train,
                        int64_t *n_train, float **val, int64_t **val_rows, int64_t *n_val) {
  size_t width = (size_t)st->flat.width, n = (size_t)(t->n_rows > 0 ? t->n_rows : 1);
  float *all = sm_malloc(ctx, n * width * sizeof(float));
  *train = sm_malloc(ctx, n * width * sizeof(float));
  *val = sm_malloc(ctx, n * width * sizeof(float));
  *val_rows = sm_malloc(ctx, n * sizeof(int64_t));
  *n_train = *n_val = 0;
  if (!all || !*train || !*val || !*val_rows) {
    free(all);
    return SM_ERR;
  }
  sm_flat_encode(&st->flat, t, 0, t->n_rows, all);
  for (int64_t r = 0; r < t->n_rows; r++) {
    int64_t g = t->row_offset + r;
    int out = held_out(&st->set, g);
    float *dst = out ? *val + (size_t)*n_val * width : *train + (size_t)*n_train * width;
    memcpy(dst, all + (size_t)r * width, width * sizeof(float));
    if (out)
      (*val_rows)[(*n_val)++] = g;
    else
      (*n_train)++;
  }
  free(all);
  return SM_OK;
}

/* Collective. Exact NLL of the held-out rows (dequantised by (seed, SM_STREAM_EVAL, row)),
 * summed over ranks into st->heldout_*. */
static int heldout_nll(sm_ctx *ctx, realnvp_state *st, realnvp_work *w, float *val,
                       const int64_t *val_rows, int64_t n_val) {
  int width = st->net.width;
  double sums[2] = {0.0, (double)n_val};
  for (int64_t first = 0; first < n_val; first += w->cap) {
    int rows = (int)(n_val - first < w->cap ? n_val - first : w->cap);
    float *x = val + (size_t)first * width;
    for (int r = 0; r < rows; r++)
      sm_realnvp_dequantise(&st->flat, x + (size_t)r * width, 1, st->set.seed, SM_STREAM_EVAL,
                            val_rows[first + r]);
    sm_realnvp_forward(&st->net, w, x, rows);
    sums[0] += sm_realnvp_nll(&st->net, w, rows);
  }
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, ctx->comm));
  st->heldout_rows = (int64_t)sums[1];
  st->heldout_nll = sums[1] > 0 ? sums[0] / sums[1] : NAN;
  st->heldout_bpd = st->heldout_nll / (width * log(2.0));
  return SM_OK;
}

static void trainer_setup(sm_trainer *t, realnvp_state *st, sm_adam *adam, realnvp_train *tr) {
  t->kind = "realnvp";
  t->n_losses = REALNVP_N_LOSSES;
  t->loss_names[0] = "nll";
  t->batch_size = st->set.batch_size;
  t->epochs = st->set.epochs;
  t->seed = st->set.seed;
  t->batch = sm_realnvp_batch;
  t->model = tr;
  t->params = &st->net.params;
  t->adam = adam;
}

/* Collective. The training rows' global positions: the held-out rows are left out and the
 * rest numbered in global order, so the numbering does not depend on the rank count. */
static int train_rows(sm_ctx *ctx, realnvp_train *tr, int64_t *n_global) {
  int64_t before = 0;
  SM_MPI_CHECK(ctx, MPI_Exscan(&tr->n_local, &before, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  tr->row_offset = ctx->rank == 0 ? 0 : before;
  *n_global = tr->n_local;
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, n_global, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  return SM_OK;
}

/* Collective. Networks, optimiser, training, then the held-out NLL. */
static int train(sm_ctx *ctx, realnvp_state *st, realnvp_train *tr, const sm_fit_options *opt,
                 float *val, const int64_t *val_rows, int64_t n_val) {
  sm_trainer t = {0};
  sm_adam adam = {0};
  int64_t n_global = 0;
  SM_TRY(train_rows(ctx, tr, &n_global));
  if (n_global < 1)
    return sm_fail(ctx, SM_EINPUT, "realnvp: no training rows left after the held-out split");

  /* one buffer: the couplings, then the trainer's floats */
  sm_realnvp_layout(&st->net, &st->set, st->flat.width);
  trainer_setup(&t, st, &adam, tr);
  sm_trainer_reserve(&t, &st->net.params);
  int rc = sm_nn_params_alloc(ctx, &st->net.params);
  int64_t cap = st->set.batch_size < tr->n_local ? st->set.batch_size : tr->n_local;
  if (rc == SM_OK) {
    sm_realnvp_init(&st->net, st->set.seed);
    rc =
        sm_realnvp_work_alloc(ctx, &tr->work, &st->net, (int)(cap > BLOCK_ROWS ? cap : BLOCK_ROWS));
  }
  if (rc == SM_OK)
    tr->x = sm_malloc(ctx, (size_t)tr->work.cap * st->flat.width * sizeof(float));
  if (rc == SM_OK)
    rc = tr->x ? sm_adam_init(ctx, &adam, st->net.params.n, st->set.lr, 0.9, 0.999, 1e-8,
                              st->set.l2scale, 0)
               : SM_ERR;
  rc = sm_agree(ctx, rc);
  t.n_global = n_global;
  t.row_offset = tr->row_offset;
  t.n_local = tr->n_local;
  if (rc == SM_OK) {
    sm_log(ctx, SM_LOG_INFO,
           "realnvp: %lld training rows (%.0f%% held out) encoded as %d values, %d couplings, "
           "%zu parameters, batch %lld, %lld epochs on %d ranks",
           (long long)n_global, 100 * st->set.validation, st->flat.width, st->set.couplings,
           st->net.n_model, (long long)st->set.batch_size, (long long)st->set.epochs, ctx->size);
    rc = sm_trainer_run_into(ctx, &t, opt, &st->history);
  }
  if (rc == SM_OK)
    rc = sm_agree(ctx, heldout_nll(ctx, st, &tr->work, val, val_rows, n_val));
  sm_trainer_free(&t);
  sm_adam_free(&adam);
  return rc;
}

static int realnvp_fit(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                       const sm_table *train_rows_in, void **state) {
  double t0 = MPI_Wtime();
  if (opt && opt->privacy && opt->privacy->enabled)
    return sm_agree(ctx, sm_fail(ctx, SM_EINPUT,
                                 "realnvp: private training is not supported; "
                                 "use tvae or mst for a private run"));
  realnvp_state *st = sm_calloc(ctx, 1, sizeof *st);
  SM_TRY(sm_agree(ctx, st ? SM_OK : SM_ERR));
  realnvp_train tr = {.st = st};
  float *val = NULL;
  int64_t *val_rows = NULL, n_val = 0;

  /* settings, encoding, the held-out split */
  int rc = sm_agree(ctx, sm_realnvp_settings(ctx, &spec->params, &st->set));
  if (rc == SM_OK)
    rc = sm_flat_fit(ctx, &st->flat, train_rows_in, SM_FLAT_STANDARD, 0);
  if (rc == SM_OK)
    rc = sm_agree(
        ctx, split_encode(ctx, st, train_rows_in, &tr.data, &tr.n_local, &val, &val_rows, &n_val));

  /* train with checkpoint_every from the parameters when the caller left it 0 */
  sm_fit_options o = sm_trainer_fit_options(opt, &spec->params);
  if (rc == SM_OK)
    rc = train(ctx, st, &tr, &o, val, val_rows, n_val);
  free(tr.data);
  free(tr.x);
  free(val);
  free(val_rows);
  sm_realnvp_work_free(&tr.work);
  if (rc != SM_OK) {
    sm_realnvp_free(st);
    return rc;
  }
  double s = MPI_Wtime() - t0;
  sm_log(ctx, SM_LOG_INFO,
         "realnvp: trained in %.1f s, final training NLL %.4f nats per row; held-out NLL %.4f "
         "nats per row, %.4f bits per dimension (%lld rows, %d dimensions)",
         s, st->history[st->set.epochs - 1], st->heldout_nll, st->heldout_bpd,
         (long long)st->heldout_rows, st->flat.width);
  *state = st;
  return SM_OK;
}

/* ---- sample ------------------------------------------------------------------------- */

static int realnvp_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0,
                          sm_table *out) {
  const realnvp_state *st = state;
  int width = st->flat.width;
  if (out->schema.n_cols != st->flat.n_cols)
    return sm_fail(ctx, SM_EINPUT, "sample: table has %d columns, the model %d", out->schema.n_cols,
                   st->flat.n_cols);
  realnvp_work w;
  SM_TRY(sm_realnvp_work_alloc(ctx, &w, &st->net, BLOCK_ROWS));
  float *z = sm_malloc(ctx, 2 * (size_t)BLOCK_ROWS * width * sizeof(float));
  if (!z) {
    sm_realnvp_work_free(&w);
    return SM_ERR;
  }
  float *x = z + (size_t)BLOCK_ROWS * width;

  /* whole aligned blocks; only the rows asked for are decoded */
  int64_t end = row0 + out->n_rows;
  for (int64_t first = row0 - row0 % BLOCK_ROWS; first < end; first += BLOCK_ROWS) {
    for (int r = 0; r < BLOCK_ROWS; r++) {
      sm_rng rng;
      sm_rng_init(&rng, seed, SM_STREAM_SAMPLE, (uint64_t)(first + r));
      for (int j = 0; j < width; j++)
        z[(size_t)r * width + j] = (float)sm_normal_from_u32(sm_rng_u32(&rng));
    }
    sm_realnvp_inverse(&st->net, &w, z, BLOCK_ROWS, x);
    int64_t lo = first > row0 ? first : row0;
    int64_t hi = first + BLOCK_ROWS < end ? first + BLOCK_ROWS : end;
    sm_flat_decode(&st->flat, x + (size_t)(lo - first) * width, hi - lo, out, lo - row0);
  }
  free(z);
  sm_realnvp_work_free(&w);
  return SM_OK;
}

const sm_model_ops sm_model_realnvp = {
    .kind = "realnvp",
    .summary = "RealNVP: a normalising flow of affine couplings with exact likelihood, "
               "trained data-parallel",
    .params = realnvp_params,
    .n_params = N_PARAMS,
    .fit = realnvp_fit,
    .sample = realnvp_sample,
    .save = sm_realnvp_save,
    .load = sm_realnvp_load,
    .free_state = sm_realnvp_free,
};
