/* DP-SGD for CTGAN's critic. Only the critic reads real rows; the generator's update goes
 * through the critic alone, so the critic's updates are the only ones that spend budget.
 *
 * A critic update is one step of the mechanism: every global row joins its Poisson sample
 * with probability q (keyed like the TVAE's DP-SGD, trainer_dp.c), the sampled rows of all
 * ranks are put in the order of secure uniform keys (a uniform shuffle, the same at any
 * rank count in reproducible mode) and cut into packs of pac, the remainder of fewer than
 * pac rows dropped. Each pack's gradient of score(fake) - score(real) +
 * lambda (|grad score(x^)| - 1)^2 is clipped to norm C on its own, the clipped gradients
 * are summed over the rank's packs, noise of std sigma S C is added once (rank 0) before
 * the sum over ranks, and the total is divided by the expected number of packs q N / pac
 * before Adam.
 *
 * pac 1, S = 1: each sampled row is its own pack, and its fake partner is keyed by the row's
 * own secure key, not its position: the partner's noise, Gumbel noise, interpolation
 * weight and dropout masks come from streams indexed by the key's top 53 bits. The
 * partner's conditional vector is the real row's (a column drawn from the row's key, the
 * row's own category in it). The generator normalises the partners with the statistics of
 * a reference chunk of batch_size rows keyed by the update alone (sm_ctgan_gen_forward_ref).
 * So a row's clipped gradient depends on the row, its key and the update only, and adding
 * or removing a row adds or removes exactly one term of the sum: sensitivity C.
 *
 * pac > 1, S = 3: real pack k is paired with fake pack k. Adding a row to the data set,
 * under a uniform shuffle, amounts to the row taking one place and the row it displaces
 * moving to the end, so one pack changes its contents (its clipped gradient moves by at
 * most 2C) and the end can complete one more pack (at most C more): the clipped sum moves
 * by at most 3C in L2. This needs each pack's gradient to depend on its own real rows
 * alone: its fake rows come from fixed chunks of positions with their own batch statistics
 * (sm_ctgan_generate_chunked), and its dropout masks and interpolation weight are keyed by
 * its index, never by the step's number of packs. A fake row gets a uniformly drawn
 * discrete column and a uniformly drawn category of it (no frequencies from the data); the
 * real row at the same position carries the same column with its own category. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/ctgan.h"
#include "models/trainer.h"

/* The mechanism step of critic update ph of trainer step g. */
static int64_t mechanism_step(const ctgan_train *tr, int64_t g, int ph) {
  return g * tr->st->set.d_steps + ph;
}

/* The expected number of packs of a critic step: q N / pac. */
static double expected_packs(const ctgan_train *tr) {
  return tr->t->dp.sample_rate * (double)tr->n_global / tr->st->set.pac;
}

/* qsort order of drawn rows: key, then global row (ties have probability 2^-53). */
static int by_key(const void *a, const void *b) {
  const ctgan_sampled *x = a, *y = b;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return (x->row > y->row) - (x->row < y->row);
}

/* Collective. Every rank's counts from mine (-1: this rank failed); the total in *total.
 * All ranks fail together when any did. */
static int gather_counts(sm_ctx *ctx, ctgan_train *tr, int mine, int rc, int64_t *total) {
  int *counts = tr->rank_counts, *displs = tr->rank_counts + ctx->size;
  SM_MPI_CHECK(ctx, MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm));
  *total = 0;
  for (int r = 0; r < ctx->size; r++) {
    if (counts[r] < 0)
      return rc != SM_OK ? rc : sm_fail(ctx, SM_ERR, "ctgan: rank %d failed to draw its sample", r);
    displs[r] = (int)*total;
    *total += counts[r];
  }
  if (*total > INT_MAX)
    return sm_fail(ctx, SM_ERR, "ctgan: a Poisson sample of %lld rows is too large",
                   (long long)*total);
  return SM_OK;
}

/* Collective (every rank knows the total). Room for `total` gathered rows. */
static int drawn_room(sm_ctx *ctx, ctgan_train *tr, int64_t total) {
  if (total <= tr->drawn_room)
    return SM_OK;
  size_t n = (size_t)total + (size_t)total / 4;
  free(tr->drawn);
  free(tr->drawn_keys);
  free(tr->drawn_rows);
  tr->drawn = sm_malloc(ctx, n * sizeof(ctgan_sampled));
  tr->drawn_keys = sm_malloc(ctx, n * sizeof(double));
  tr->drawn_rows = sm_malloc(ctx, n * sizeof(int64_t));
  int rc = tr->drawn && tr->drawn_keys && tr->drawn_rows ? SM_OK : SM_ERR;
  tr->drawn_room = rc == SM_OK ? (int64_t)n : 0;
  return sm_agree(ctx, rc);
}

/* Collective. The Poisson sample of mechanism step c on every rank, with its shuffle keys,
 * gathered on every rank in shuffled order: tr->drawn[0 .. tr->n_drawn). */
static int draw_sample(sm_ctx *ctx, ctgan_train *tr, int64_t c) {
  const sm_trainer *t = tr->t;
  int64_t m = 0, total = 0;
  int rc = sm_trainer_dp_sample(ctx, t, c, tr->sample, &m);
  if (rc == SM_OK)
    rc = sm_trainer_dp_keys(ctx, t, c, tr->sample, m, tr->keys);
  if (rc == SM_OK && m > INT_MAX)
    rc = sm_fail(ctx, SM_ERR, "ctgan: a Poisson sample of %lld local rows is too large",
                 (long long)m);
  SM_TRY(gather_counts(ctx, tr, rc == SM_OK ? (int)m : -1, rc, &total));
  SM_TRY(drawn_room(ctx, tr, total));

  /* global rows and keys of every rank, then the shuffled order */
  for (int64_t k = 0; k < m; k++)
    tr->sample[k] += t->row_offset;
  int *counts = tr->rank_counts, *displs = tr->rank_counts + ctx->size;
  SM_MPI_CHECK(ctx, MPI_Allgatherv(tr->keys, (int)m, MPI_DOUBLE, tr->drawn_keys, counts, displs,
                                   MPI_DOUBLE, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Allgatherv(tr->sample, (int)m, MPI_INT64_T, tr->drawn_rows, counts, displs,
                                   MPI_INT64_T, ctx->comm));
  for (int r = 0; r < ctx->size; r++)
    for (int k = displs[r]; k < displs[r] + counts[r]; k++)
      tr->drawn[k] = (ctgan_sampled){tr->drawn_keys[k], tr->drawn_rows[k], r};
  qsort(tr->drawn, (size_t)total, sizeof *tr->drawn, by_key);
  tr->n_drawn = total;
  return SM_OK;
}

/* The real packs of this rank's positions: each row with the one-hot of its own category
 * in the column drawn for its position. */
static void real_packs(ctgan_train *tr, int rows, int64_t first) {
  const ctgan_cond *c = &tr->st->cond;
  const sm_encoder *enc = &tr->st->encoder;
  int width = tr->st->net.width, cond = tr->st->net.cond, stride = width + cond;
  for (int r = 0; r < rows; r++) {
    int64_t i = first + r;
    const float *row = tr->real + (size_t)r * width;
    float *d = tr->pack[0] + (size_t)r * stride;
    memcpy(d, row, (size_t)width * sizeof(float));
    memset(d + width, 0, (size_t)cond * sizeof(float));
    if (tr->col[i] < 0)
      continue;
    const sm_span *sp = &enc->spans[c->span[tr->col[i]]];
    d[width + c->offset[tr->col[i]] + sm_argmax(row + sp->start, sp->width)] = 1.0f;
  }
}

double sm_ctgan_dp_sensitivity(int pac) {
  return pac == 1 ? 1.0 : 3.0;
}

/* ---- pac 1: fake partners keyed by the real row's own key ---------------------------- */

/* The stream index of a row with shuffle key u in [0, 1): its top 53 bits. */
static int64_t row_stream(double key) {
  return (int64_t)(key * 9007199254740992.0);
}

/* The conditions of this rank's rows: a discrete column drawn uniformly from the row's
 * stream (seed, NN_BATCH, id), and the real row's own category in it. */
static void keyed_conditions(ctgan_train *tr, uint64_t seed, int64_t first, int rows) {
  const ctgan_cond *c = &tr->st->cond;
  const sm_encoder *enc = &tr->st->encoder;
  int width = tr->st->net.width;
  for (int r = 0; r < rows; r++) {
    int64_t i = first + r;
    tr->col[i] = tr->cat[i] = -1;
    if (c->n_cols == 0)
      continue;
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_NN_BATCH, (uint64_t)tr->row_id[i]);
    int col = (int)(sm_rng_uniform(&rng) * c->n_cols);
    col = col < c->n_cols ? col : c->n_cols - 1;
    const sm_span *sp = &enc->spans[c->span[col]];
    tr->col[i] = col;
    tr->cat[i] = sm_argmax(tr->real + (size_t)r * width + sp->start, sp->width);
  }
}

/* The generator's input of one row: noise from rng, then the one-hot of (col, cat). */
static void input_row(const ctgan_state *st, float *x, int col, int cat, sm_rng *rng) {
  int emb = st->set.embedding_dim;
  for (int k = 0; k < emb; k++)
    x[k] = (float)sm_normal_from_u32(sm_rng_u32(rng));
  memset(x + emb, 0, (size_t)st->net.cond * sizeof(float));
  if (col >= 0)
    x[emb + st->cond.offset[col] + cat] = 1.0f;
}

/* The reference chunk's inputs (batch_size rows): uniformly drawn conditions and noise
 * from streams keyed by the step's seed and the chunk row alone, no data. */
static void reference_inputs(ctgan_train *tr, uint64_t seed) {
  const ctgan_state *st = tr->st;
  const double *cdf = st->set.log_frequency ? st->cond.log_cdf : st->cond.freq_cdf;
  uint64_t ref_seed = seed ^ sm_hash64(CTGAN_GUMBEL_SALT + 1);
  int in = st->net.gen.in;
  for (int64_t i = 0; i < st->set.batch_size; i++) {
    sm_rng rng;
    sm_rng_init(&rng, ref_seed, SM_STREAM_NN_NOISE, (uint64_t)i);
    double u1 = sm_rng_uniform(&rng), u2 = sm_rng_uniform(&rng);
    int col = -1, cat = -1;
    sm_ctgan_cond_draw(&st->cond, cdf, u1, u2, &col, &cat);
    input_row(st, tr->chunk_ga.x[0] + (size_t)i * in, col, cat, &rng);
  }
}

/* The fake partners of this rank's rows into tr->act: noise from (seed, NN_NOISE, id),
 * the row's conditions, batch normalisation with the reference chunk's statistics and
 * Gumbel noise keyed by id. Each depends on its row's key and the row itself alone. */
static void keyed_partners(ctgan_train *tr, uint64_t seed, int64_t first, int rows) {
  ctgan_net *net = &tr->st->net;
  int in = net->gen.in;
  reference_inputs(tr, seed);
  for (int r = 0; r < rows; r++) {
    int64_t i = first + r;
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_NN_NOISE, (uint64_t)tr->row_id[i]);
    input_row(tr->st, tr->ga.x[0] + (size_t)r * in, tr->col[i], tr->cat[i], &rng);
  }
  sm_ctgan_gen_forward_ref(&tr->ga, rows, &tr->chunk_ga, (int)tr->st->set.batch_size, &net->gen,
                           &net->params);
  sm_ctgan_activate(tr, &tr->ga, tr->act, seed, first, rows, tr->row_id);
}

/* The activations of pack q of a as a view of one pack. */
static ctgan_dis_acts pack_view(const ctgan_dis_acts *a, const ctgan_dis *d, int q);

uint64_t sm_ctgan_dp_pass_seed(uint64_t seed, int k) {
  return seed ^ sm_hash64(0x70617373ULL + (uint64_t)k);
}

/* Interpolates with weights from (seed, FIT, id) and the critic's three passes with
 * dropout masks from the row's stream (pass k's seed salted by k), row by row. */
static void keyed_critic_passes(ctgan_train *tr, uint64_t seed, int64_t first, int rows) {
  const ctgan_dis *d = &tr->st->net.dis;
  size_t in = (size_t)d->in;
  for (int r = 0; r < rows; r++) {
    int64_t id = tr->row_id[first + r];
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_FIT, (uint64_t)id);
    float a = (float)sm_rng_uniform(&rng);
    size_t o = (size_t)r * in;
    for (size_t k = 0; k < in; k++)
      tr->pack[2][o + k] = a * tr->pack[0][o + k] + (1.0f - a) * tr->pack[1][o + k];
    for (int k = 0; k < 3; k++) {
      ctgan_dis_acts v = pack_view(&tr->da[k], d, r);
      sm_ctgan_dis_forward(&v, tr->pack[k] + o, d, &tr->view, 1, sm_ctgan_dp_pass_seed(seed, k),
                           id);
    }
  }
}

/* Collective. The pac-1 step: every sampled row is a pack of its own; its fake partner,
 * interpolate and dropout masks come from its own key, its condition from itself. */
static int prepare_keyed(sm_ctx *ctx, ctgan_train *tr, uint64_t seed) {
  int64_t positions = tr->n_drawn;
  sm_ctgan_plan(ctx, tr, positions);
  int most = (int)((tr->packs + ctx->size - 1) / ctx->size);
  SM_TRY(sm_ctgan_train_room(ctx, tr, positions, most));
  for (int64_t i = 0; i < positions; i++) {
    tr->src[i] = tr->drawn[i].src;
    tr->local[i] = tr->src[i] == ctx->rank ? tr->drawn[i].row - tr->t->row_offset : -1;
    tr->row_id[i] = row_stream(tr->drawn[i].key);
  }
  SM_TRY(sm_ctgan_exchange(ctx, tr));

  /* conditions from the real rows, real and fake rows, interpolates, critic passes */
  int64_t first = tr->pack_lo;
  int rows = (int)(tr->pack_hi - tr->pack_lo);
  keyed_conditions(tr, seed, first, rows);
  real_packs(tr, rows, first);
  tr->view = sm_ctgan_critic_view(tr);
  if (rows == 0)
    return SM_OK;
  keyed_partners(tr, seed, first, rows);
  sm_ctgan_fill_packs(tr, tr->pack[1], tr->act, rows, first, NULL);
  keyed_critic_passes(tr, seed, first, rows);
  return SM_OK;
}

int sm_ctgan_dp_prepare(sm_ctx *ctx, ctgan_train *tr, int64_t g, int ph) {
  SM_TRY(draw_sample(ctx, tr, mechanism_step(tr, g, ph)));
  return sm_ctgan_dp_prepare_drawn(ctx, tr, g, ph);
}

int sm_ctgan_dp_prepare_drawn(sm_ctx *ctx, ctgan_train *tr, int64_t g, int ph) {
  ctgan_state *st = tr->st;
  ctgan_net *net = &st->net;
  int pac = st->set.pac;
  uint64_t seed = sm_ctgan_phase_seed(&st->set, g, ph);
  if (pac == 1)
    return prepare_keyed(ctx, tr, seed);

  /* whole packs of the shuffled rows (the remainder is dropped), their holders */
  int64_t positions = tr->n_drawn / pac * pac;
  sm_ctgan_plan(ctx, tr, positions);
  int64_t most = (tr->packs + ctx->size - 1) / ctx->size * pac, chunk = st->set.batch_size;
  SM_TRY(sm_ctgan_train_room(ctx, tr, (positions + chunk - 1) / chunk * chunk, (int)most));
  for (int64_t i = 0; i < positions; i++) {
    tr->src[i] = tr->drawn[i].src;
    tr->local[i] = tr->src[i] == ctx->rank ? tr->drawn[i].row - tr->t->row_offset : -1;
  }
  SM_TRY(sm_ctgan_exchange(ctx, tr));

  /* conditions of the chunks holding this rank's positions, real packs, fake packs,
   * interpolates, critic passes */
  int64_t first = tr->pack_lo * pac;
  int npk = (int)(tr->pack_hi - tr->pack_lo), rows = npk * pac;
  int64_t chunk_lo = first / chunk * chunk, chunk_hi = (first + rows + chunk - 1) / chunk * chunk;
  sm_ctgan_draw_conditions(tr, seed, chunk_lo, rows > 0 ? chunk_hi : chunk_lo);
  real_packs(tr, rows, first);
  tr->view = sm_ctgan_critic_view(tr);
  if (positions == 0)
    return SM_OK;
  sm_ctgan_generate_chunked(tr, seed, rows);
  sm_ctgan_fill_packs(tr, tr->pack[1], tr->act, rows, first, NULL);
  sm_ctgan_interpolate(tr, seed, npk);

  /* dropout masks keyed by pass and pack, with passes n_global packs apart (not the
   * step's pack count, so one more pack changes no other pack's masks) */
  for (int k = 0; k < 3; k++)
    sm_ctgan_dis_forward(&tr->da[k], tr->pack[k], &net->dis, &tr->view, npk, seed,
                         k * tr->n_global + tr->pack_lo);
  return SM_OK;
}

/* The activations of pack q of a as a view of one pack. */
static ctgan_dis_acts pack_view(const ctgan_dis_acts *a, const ctgan_dis *d, int q) {
  ctgan_dis_acts v;
  memset(&v, 0, sizeof v);
  for (int k = 0; k < d->n_hidden; k++) {
    size_t o = (size_t)q * d->dims[k];
    v.pre[k] = a->pre[k] + o;
    v.post[k] = a->post[k] + o;
    v.mask[k] = a->mask[k] + o;
  }
  v.y = a->y + q;
  return v;
}

/* Local. Pack q's gradient accumulated into one->grad (cleared by the caller); its critic
 * and penalty terms added to loss[0] and loss[1]. */
static void pack_gradient(ctgan_train *tr, int q, sm_nn_params *one, double *loss) {
  const ctgan_dis *d = &tr->st->net.dis;
  size_t o = (size_t)q * d->in;
  ctgan_dis_acts v[3];
  for (int k = 0; k < 3; k++)
    v[k] = pack_view(&tr->da[k], d, q);
  float minus = -1.0f, plus = 1.0f;
  sm_ctgan_dis_backward(NULL, one, &minus, tr->pack[0] + o, &v[0], d, 1, 1, &tr->dw);
  sm_ctgan_dis_backward(NULL, one, &plus, tr->pack[1] + o, &v[1], d, 1, 1, &tr->dw);
  loss[1] += sm_ctgan_penalty(one, &v[2], d, 1, (float)tr->st->set.penalty, &tr->dw);
  loss[0] += (double)v[1].y[0] - v[0].y[0];
}

void sm_ctgan_dp_clipped_sum(ctgan_train *tr, double clip, double *loss) {
  ctgan_net *net = &tr->st->net;
  size_t n = net->n_dis;
  float *sum = net->params.grad, *pg = tr->pgrad;
  sm_nn_params one = {tr->view.value, pg, n};
  int npk = (int)(tr->pack_hi - tr->pack_lo);
  memset(sum, 0, n * sizeof(float));
  for (int q = 0; q < npk; q++) {
    /* the pack's gradient, its norm, and the clipped gradient into the sum */
    memset(pg, 0, n * sizeof(float));
    pack_gradient(tr, q, &one, loss);
    double norm2 = 0.0;
    for (size_t i = 0; i < n; i++)
      norm2 += (double)pg[i] * pg[i];
    double norm = sqrt(norm2);
    float f = norm > clip ? (float)(clip / norm) : 1.0f;
    for (size_t i = 0; i < n; i++)
      sum[i] += f * pg[i];
  }
}

int sm_ctgan_dp_reduce(sm_ctx *ctx, ctgan_train *tr, int64_t g, int ph, int with_noise) {
  ctgan_net *net = &tr->st->net;
  sm_nn_params dview = {net->params.value, net->params.grad, net->n_dis};

  /* the noise once for the whole job: rank 0 adds it to its share before the sum */
  int rc = SM_OK;
  if (with_noise && ctx->rank == 0)
    rc = sm_trainer_dp_noise(ctx, tr->t, mechanism_step(tr, g, ph), dview.grad, dview.n);
  SM_TRY(sm_agree(ctx, rc));
  return sm_nn_allreduce_grad(ctx, &dview, (float)(1.0 / expected_packs(tr)));
}

int sm_ctgan_dp_critic_step(sm_ctx *ctx, ctgan_train *tr, int64_t g, int ph, float factor,
                            double *loss) {
  double sums[2] = {0.0, 0.0};
  SM_TRY(sm_ctgan_dp_prepare(ctx, tr, g, ph));
  sm_ctgan_dp_clipped_sum(tr, tr->t->dp.clip, sums);
  SM_TRY(sm_ctgan_dp_reduce(ctx, tr, g, ph, 1));
  sm_ctgan_critic_update(tr, ph);

  /* this rank's share of the step's mean critic and penalty terms per expected pack */
  double scale = factor / expected_packs(tr) / tr->st->set.d_steps;
  loss[0] += sums[0] * scale;
  loss[1] += sums[1] * scale;
  return SM_OK;
}
