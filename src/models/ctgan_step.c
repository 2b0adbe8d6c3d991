/* CTGAN's training step over this rank's packs of a global batch.
 *
 * A global batch has B positions grouped into B / pac packs; rank r owns a block of packs
 * (sm_partition) and computes everything of their positions. Position i's randomness comes
 * from streams keyed by (a seed of the step and phase, purpose, i), so the rank count
 * changes only the summation order of reductions.
 *
 * Training-by-sampling: position i draws a discrete column uniformly and one of its
 * categories by log-frequency (the conditional vector); the generator gets noise and that
 * vector. The real rows of a discriminator update are drawn for the same vectors in a keyed
 * shuffled order: position i takes the vector of position perm(i) and a uniformly chosen
 * global row with that category (the k-th such row in global row order). Every rank can
 * compute every position's choice, so the rows travel to the ranks owning their packs in
 * one MPI_Alltoallv, without a request round.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/ctgan.h"
#include "models/trainer.h"
#include "synthmpi/rng.h"

/* ---- workspace ---------------------------------------------------------------------- */

/* Carve the views out of block, or (block NULL) count the floats needed. */
static size_t carve(ctgan_train *tr, float *block) {
  const ctgan_net *net = &tr->st->net;
  size_t cap = (size_t)tr->cap, width = (size_t)net->width, npk = cap / tr->st->set.pac;
  size_t used = 0, b = (size_t)tr->room;
  npk = npk > 0 ? npk : 1;
#define VIEW(ptr, n)                                                                               \
  do {                                                                                             \
    if (block)                                                                                     \
      (ptr) = block + used;                                                                        \
    used += (n);                                                                                   \
  } while (0)
  size_t g = sm_ctgan_gen_carve(&net->gen, tr->cap, &tr->ga, block ? block + used : NULL);
  used += g;
  VIEW(tr->gwork, sm_ctgan_gen_work(&net->gen, tr->cap));
  VIEW(tr->act, cap * width);
  VIEW(tr->draw, cap * width);
  VIEW(tr->dact, cap * width);
  VIEW(tr->real, cap * width);
  VIEW(tr->recv, cap * width);
  VIEW(tr->send, b * width);
  for (int k = 0; k < 3; k++)
    VIEW(tr->pack[k], npk * net->dis.in);
  VIEW(tr->dpack, npk * net->dis.in);
  VIEW(tr->dy, npk);
  VIEW(tr->eff, tr->st->set.spectral_norm ? net->n_dis : 0);
  VIEW(tr->pgrad, tr->private_run ? net->n_dis : 0);
  for (int k = 0; k < 3; k++)
    used += sm_ctgan_dis_carve(&net->dis, (int)npk, &tr->da[k], block ? block + used : NULL);
  used += sm_ctgan_dis_work_carve(&net->dis, (int)npk, &tr->dw, block ? block + used : NULL);
#undef VIEW
  return used;
}

/* Local. Group the local rows by category slot (counting sort, rows in order). */
static int index_categories(sm_ctx *ctx, ctgan_train *tr) {
  const ctgan_cond *c = &tr->st->cond;
  const sm_encoder *enc = &tr->st->encoder;
  int cond = sm_ctgan_cond_width(c);
  size_t n = (size_t)tr->n_local, width = (size_t)enc->width;
  tr->cat_start = sm_calloc(ctx, (size_t)cond + 2, sizeof(int64_t));
  tr->cat_rows = sm_malloc(ctx, (n * c->n_cols > 0 ? n * c->n_cols : 1) * sizeof(int64_t));
  int64_t *fill = sm_malloc(ctx, ((size_t)cond + 1) * sizeof(int64_t));
  int rc = tr->cat_start && tr->cat_rows && fill ? SM_OK : SM_ERR;

  /* counts, starts, then each row into its slot of every column, rows in order */
  for (int i = 0; rc == SM_OK && i < c->n_cols; i++) {
    const sm_span *sp = &enc->spans[c->span[i]];
    for (size_t r = 0; r < n; r++)
      tr->cat_start[c->offset[i] + sm_argmax(tr->data + r * width + sp->start, sp->width) + 1]++;
  }
  for (int s = 0; rc == SM_OK && s < cond; s++)
    tr->cat_start[s + 1] += tr->cat_start[s];
  for (int s = 0; rc == SM_OK && s < cond; s++)
    fill[s] = tr->cat_start[s];
  for (size_t r = 0; rc == SM_OK && r < n; r++)
    for (int i = 0; i < c->n_cols; i++) {
      const sm_span *sp = &enc->spans[c->span[i]];
      int s = c->offset[i] + sm_argmax(tr->data + r * width + sp->start, sp->width);
      tr->cat_rows[fill[s]++] = (int64_t)r;
    }
  free(fill);
  return rc;
}

int sm_ctgan_count_categories(sm_ctx *ctx, const ctgan_cond *c, const sm_encoder *enc,
                              const float *data, int64_t n_local, double *count) {
  int cond = sm_ctgan_cond_width(c);
  for (int s = 0; s < cond; s++)
    count[s] = 0.0;
  for (int i = 0; i < c->n_cols; i++) {
    const sm_span *sp = &enc->spans[c->span[i]];
    for (int64_t r = 0; r < n_local; r++)
      count[c->offset[i] + sm_argmax(data + (size_t)r * enc->width + sp->start, sp->width)] += 1.0;
  }
  if (cond > 0)
    SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, count, cond, MPI_DOUBLE, MPI_SUM, ctx->comm));
  return SM_OK;
}

/* Collective. Every rank's row count per slot, as prefix sums over ranks. */
static int gather_counts(sm_ctx *ctx, ctgan_train *tr) {
  int cond = sm_ctgan_cond_width(&tr->st->cond), size = ctx->size;
  size_t per = (size_t)cond + 1;
  int64_t *mine = sm_malloc(ctx, per * sizeof(int64_t));
  tr->before = sm_calloc(ctx, (size_t)(size + 1) * per, sizeof(int64_t));
  int rc = mine && tr->before ? SM_OK : SM_ERR;
  for (int s = 0; rc == SM_OK && s < cond; s++)
    mine[s] = tr->cat_start[s + 1] - tr->cat_start[s];
  if (mine)
    mine[cond] = tr->n_local;
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK) {
    int mpi = MPI_Allgather(mine, (int)per, MPI_INT64_T, tr->before + per, (int)per, MPI_INT64_T,
                            ctx->comm);
    if (mpi != MPI_SUCCESS)
      rc = sm_fail_mpi(ctx, mpi, "MPI_Allgather", __FILE__, __LINE__);
  }
  free(mine);
  for (int r = 1; rc == SM_OK && r <= size; r++)
    for (size_t s = 0; s < per; s++)
      tr->before[r * per + s] += tr->before[(r - 1) * per + s];
  return rc;
}

/* Collective. Global category counts (the conditional vector's sampling tables), the local
 * rows indexed by category and every rank's counts of them. */
static int index_and_count(sm_ctx *ctx, ctgan_train *tr) {
  ctgan_state *st = tr->st;
  int cond = sm_ctgan_cond_width(&st->cond);
  double *count = sm_calloc(ctx, (size_t)cond + 1, sizeof(double));
  int rc = sm_agree(ctx, count ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = sm_agree(
        ctx, sm_ctgan_count_categories(ctx, &st->cond, &st->encoder, tr->data, tr->n_local, count));
  if (rc == SM_OK) {
    sm_ctgan_cond_free(&st->cond);
    rc = sm_ctgan_cond_init(ctx, &st->cond, &st->encoder, count);
  }
  free(count);
  if (rc == SM_OK)
    rc = index_categories(ctx, tr);
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = gather_counts(ctx, tr);
  return rc;
}

void sm_ctgan_plan(sm_ctx *ctx, ctgan_train *tr, int64_t positions) {
  int pac = tr->st->set.pac;
  tr->positions = positions;
  tr->packs = positions / pac;
  sm_partition(tr->packs, ctx->size, ctx->rank, &tr->pack_lo, &tr->pack_hi);
  for (int r = 0; r < ctx->size; r++) {
    int64_t hi;
    sm_partition(tr->packs, ctx->size, r, &tr->first_pack[r], &hi);
    tr->first_pack[r + 1] = hi;
  }
}

/* Local. The per-position arrays for `room` positions (contents are not kept). */
static int position_arrays(sm_ctx *ctx, ctgan_train *tr, int64_t room) {
  size_t b = (size_t)room;
  free(tr->col);
  free(tr->local);
  tr->col = sm_malloc(ctx, 3 * b * sizeof(int));
  tr->local = sm_malloc(ctx, 3 * b * sizeof(int64_t));
  if (!tr->col || !tr->local)
    return SM_ERR;
  tr->room = room;
  tr->slot_of = tr->local + b;
  tr->row_id = tr->slot_of + b;
  tr->cat = tr->col + b;
  tr->src = tr->cat + b;
  return SM_OK;
}

/* Local. One block for the workspace of tr->cap positions on this rank, carved. */
static int carve_block(sm_ctx *ctx, ctgan_train *tr) {
  free(tr->block);
  tr->block = sm_malloc(ctx, carve(tr, NULL) * sizeof(float));
  if (!tr->block)
    return SM_ERR;
  carve(tr, tr->block);
  return SM_OK;
}

int sm_ctgan_train_room(sm_ctx *ctx, ctgan_train *tr, int64_t positions, int cap) {
  int pac = tr->st->set.pac, rc = SM_OK;
  cap = cap > pac ? cap : pac;
  if (positions <= tr->room && cap <= tr->cap)
    return SM_OK;

  /* a quarter more than asked, so that a run regrows rarely; the send buffer follows the
   * positions, the rest of the block this rank's cap */
  if (positions > tr->room)
    rc = position_arrays(ctx, tr, positions + positions / 4);
  if (cap > tr->cap)
    tr->cap = (cap + cap / 4 + pac - 1) / pac * pac;
  if (rc == SM_OK)
    rc = carve_block(ctx, tr);
  return sm_agree(ctx, rc);
}

/* Local. The rank's packs of a batch and the per-position and exchange buffers; a private
 * run makes room for a Poisson sample up to its mean plus 6 standard deviations (larger
 * ones grow the workspace when they come). */
static int plan_packs(sm_ctx *ctx, ctgan_train *tr) {
  const ctgan_settings *s = &tr->st->set;
  size_t size = (size_t)ctx->size;
  int64_t room = s->batch_size;
  if (tr->private_run) {
    int64_t most = room + (int64_t)(6.0 * sqrt((double)room)) + s->pac;
    room = most < tr->n_global ? most : tr->n_global;
    room = room > s->batch_size ? room : s->batch_size;
  }
  tr->first_pack = sm_malloc(ctx, (size + 1) * sizeof(int64_t));
  tr->counts = sm_malloc(ctx, 4 * size * sizeof(int));
  if (!tr->first_pack || !tr->counts || position_arrays(ctx, tr, room) != SM_OK)
    return SM_ERR;
  tr->displs = tr->counts + 2 * size;

  /* this rank's room: the largest block of packs of any rank at the largest step */
  sm_ctgan_plan(ctx, tr, room);
  tr->cap = (int)((tr->packs + ctx->size - 1) / ctx->size * s->pac);
  tr->cap = tr->cap > 0 ? tr->cap : s->pac;
  sm_ctgan_plan(ctx, tr, s->batch_size);
  return SM_OK;
}

/* Local. A private run's arrays of the Poisson sample (this rank's rows and keys, every
 * rank's counts), the gathered arrays sized for the workspace's room. */
static int sample_arrays(sm_ctx *ctx, ctgan_train *tr) {
  if (!tr->private_run)
    return SM_OK;
  size_t n = (size_t)(tr->n_local > 0 ? tr->n_local : 1), room = (size_t)tr->room;
  tr->sample = sm_malloc(ctx, n * sizeof(int64_t));
  tr->keys = sm_malloc(ctx, n * sizeof(double));
  tr->rank_counts = sm_malloc(ctx, 2 * (size_t)ctx->size * sizeof(int));
  tr->drawn = sm_malloc(ctx, room * sizeof(ctgan_sampled));
  tr->drawn_keys = sm_malloc(ctx, room * sizeof(double));
  tr->drawn_rows = sm_malloc(ctx, room * sizeof(int64_t));
  tr->drawn_room = (int64_t)room;

  /* the fake rows of one chunk of batch_size positions */
  const ctgan_net *net = &tr->st->net;
  int chunk = (int)tr->st->set.batch_size;
  size_t g = sm_ctgan_gen_carve(&net->gen, chunk, &tr->chunk_ga, NULL);
  tr->chunk_block = sm_malloc(ctx, (g + (size_t)chunk * net->width) * sizeof(float));
  if (!tr->sample || !tr->keys || !tr->rank_counts || !tr->drawn || !tr->drawn_keys ||
      !tr->drawn_rows || !tr->chunk_block)
    return SM_ERR;
  sm_ctgan_gen_carve(&net->gen, chunk, &tr->chunk_ga, tr->chunk_block);
  tr->chunk_act = tr->chunk_block + g;
  return SM_OK;
}

ctgan_train *sm_ctgan_train_new(sm_ctx *ctx, ctgan_state *st, const sm_table *train,
                                sm_trainer *t) {
  ctgan_train *tr = sm_calloc(ctx, 1, sizeof *tr);
  int rc = tr ? SM_OK : SM_ERR;
  size_t width = (size_t)st->encoder.width, n = (size_t)train->n_rows;
  if (tr) {
    tr->st = st;
    tr->t = t;
    tr->n_local = train->n_rows;
    tr->n_global = t->n_global;
    tr->private_run = t->dp.enabled;
    tr->gumbel_offset = st->set.batch_size;
    if (tr->private_run) /* private critic steps have up to n_global positions */
      tr->gumbel_offset = t->n_global > st->set.batch_size ? t->n_global : st->set.batch_size;
    tr->data = sm_malloc(ctx, (n > 0 ? n : 1) * width * sizeof(float));
    rc = tr->data ? SM_OK : SM_ERR;
  }

  /* encode; a non-private run counts categories over all ranks (the sampling tables) and
   * indexes the rows by category (training-by-sampling); a private run does neither */
  if (rc == SM_OK)
    sm_encoder_encode(&st->encoder, train, 0, train->n_rows, st->set.seed, SM_STREAM_ENCODE,
                      tr->data);
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK && !t->dp.enabled)
    rc = index_and_count(ctx, tr);

  /* packs, then one block for the batch */
  if (rc == SM_OK)
    rc = plan_packs(ctx, tr);
  if (rc == SM_OK)
    rc = sample_arrays(ctx, tr);
  if (rc == SM_OK)
    rc = carve_block(ctx, tr);
  if (sm_agree(ctx, rc) != SM_OK) {
    sm_ctgan_train_free(tr);
    return NULL;
  }
  return tr;
}

void sm_ctgan_train_free(ctgan_train *tr) {
  if (!tr)
    return;
  free(tr->data);
  free(tr->cat_start);
  free(tr->cat_rows);
  free(tr->before);
  free(tr->first_pack);
  free(tr->col);
  free(tr->local);
  free(tr->counts);
  free(tr->block);
  free(tr->sample);
  free(tr->keys);
  free(tr->rank_counts);
  free(tr->drawn);
  free(tr->drawn_keys);
  free(tr->drawn_rows);
  free(tr->chunk_block);
  free(tr);
}

/* ---- choices of a phase --------------------------------------------------------------- */

uint64_t sm_ctgan_phase_seed(const ctgan_settings *s, int64_t g, int ph) {
  return sm_hash64(s->seed) ^ sm_hash64(((uint64_t)g << 8) + (uint64_t)ph + 1);
}

void sm_ctgan_draw_conditions(ctgan_train *tr, uint64_t seed, int64_t lo, int64_t hi) {
  const ctgan_cond *c = &tr->st->cond;
  const double *cdf = tr->st->set.log_frequency ? c->log_cdf : c->freq_cdf;
  for (int64_t i = lo; i < hi; i++) {
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_NN_BATCH, (uint64_t)i);
    double u1 = sm_rng_uniform(&rng), u2 = sm_rng_uniform(&rng);
    int col = -1, cat = -1;
    sm_ctgan_cond_draw(c, cdf, u1, u2, &col, &cat);
    tr->col[i] = col;
    tr->cat[i] = cat;
  }
}

/* The generator's input rows for this rank's positions: noise from (seed, NN_NOISE, i)
 * and the one-hot conditional vector. */
static void generator_input(ctgan_train *tr, ctgan_gen_acts *ga, uint64_t seed, int64_t first,
                            int rows) {
  const ctgan_net *net = &tr->st->net;
  int emb = tr->st->set.embedding_dim, in = net->gen.in;
  for (int r = 0; r < rows; r++) {
    int64_t i = first + r;
    float *x = ga->x[0] + (size_t)r * in;
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_NN_NOISE, (uint64_t)i);
    for (int k = 0; k < emb; k++)
      x[k] = (float)sm_normal_from_u32(sm_rng_u32(&rng));
    memset(x + emb, 0, (size_t)net->cond * sizeof(float));
    if (tr->col[i] >= 0)
      x[emb + tr->st->cond.offset[tr->col[i]] + tr->cat[i]] = 1.0f;
  }
}

void sm_ctgan_activate(ctgan_train *tr, const ctgan_gen_acts *ga, float *act, uint64_t seed,
                       int64_t first, int rows, const int64_t *ids) {
  const sm_encoder *enc = &tr->st->encoder;
  int width = enc->width;
  for (int r = 0; r < rows; r++) {
    const float *x = ga->raw + (size_t)r * width;
    float *y = act + (size_t)r * width;
    sm_rng rng;
    if (ids)
      sm_rng_init(&rng, seed ^ CTGAN_GUMBEL_SALT, SM_STREAM_NN_NOISE, (uint64_t)ids[first + r]);
    else
      sm_rng_init(&rng, seed, SM_STREAM_NN_NOISE, (uint64_t)(tr->gumbel_offset + first + r));
    for (int k = 0; k < enc->n_spans; k++) {
      const sm_span *sp = &enc->spans[k];
      for (int c = sp->start; c < sp->start + sp->width; c++)
        y[c] =
            sp->kind == SM_SPAN_SCALAR ? tanhf(x[c]) : (x[c] + sm_ctgan_gumbel(&rng)) / CTGAN_TAU;
      if (sp->kind == SM_SPAN_ONEHOT)
        sm_softmax_forward(y, y, 1, width, sp->start, sp->width);
    }
  }
}

void sm_ctgan_fill_packs(ctgan_train *tr, float *dst, const float *rows, int n, int64_t first,
                         const int64_t *perm_of) {
  int width = tr->st->net.width, cond = tr->st->net.cond, stride = width + cond;
  for (int r = 0; r < n; r++) {
    int64_t i = perm_of ? perm_of[r] : first + r;
    float *d = dst + (size_t)r * stride;
    memcpy(d, rows + (size_t)r * width, (size_t)width * sizeof(float));
    memset(d + width, 0, (size_t)cond * sizeof(float));
    if (tr->col[i] >= 0)
      d[width + tr->st->cond.offset[tr->col[i]] + tr->cat[i]] = 1.0f;
  }
}

/* ---- real rows ---------------------------------------------------------------------- */

/* The rank whose packs hold position i. */
static int pack_owner(const ctgan_train *tr, int64_t i, int size) {
  int64_t pack = i / tr->st->set.pac;
  int r = 0;
  while (r < size - 1 && tr->first_pack[r + 1] <= pack)
    r++;
  return r;
}

/* Every position's real row: its slot (that of position perm(i)), the k-th global row of
 * the slot from (seed, FIT, i), the rank holding it and, there, its local index. */
static void choose_real(sm_ctx *ctx, ctgan_train *tr, uint64_t seed, const sm_permutation *perm) {
  int cond = sm_ctgan_cond_width(&tr->st->cond);
  size_t per = (size_t)cond + 1;
  for (int64_t i = 0; i < tr->st->set.batch_size; i++) {
    int64_t j = (int64_t)sm_permutation_apply(perm, (uint64_t)i);
    tr->slot_of[i] = j;
    int s = tr->col[j] >= 0 ? tr->st->cond.offset[tr->col[j]] + tr->cat[j] : cond;
    if (tr->before[(size_t)ctx->size * per + s] == 0)
      s = cond; /* a category without rows is never drawn; any row, should it be */
    int64_t total = tr->before[(size_t)ctx->size * per + s];
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_FIT, (uint64_t)i);
    int64_t k = (int64_t)(sm_rng_uniform(&rng) * (double)total);
    k = k < total ? k : total - 1;

    /* the holder: the last rank with fewer rows of the slot before it than k + 1 */
    int r = 0;
    while (r < ctx->size - 1 && tr->before[(size_t)(r + 1) * per + s] <= k)
      r++;
    tr->src[i] = r;
    int64_t within = k - tr->before[(size_t)r * per + s];
    tr->local[i] = r != ctx->rank ? -1
                   : s < cond     ? tr->cat_rows[tr->cat_start[s] + within]
                                  : within;
  }
}

int sm_ctgan_exchange(sm_ctx *ctx, ctgan_train *tr) {
  int size = ctx->size, width = tr->st->net.width;
  int64_t b = tr->positions, lo = tr->pack_lo * tr->st->set.pac;
  int64_t hi = tr->pack_hi * tr->st->set.pac;
  int *scount = tr->counts, *rcount = tr->counts + size, *sdisp = tr->displs;
  int *rdisp = tr->displs + size;

  /* counts: what goes to each rank, what comes from each */
  memset(tr->counts, 0, 2 * (size_t)size * sizeof(int));
  for (int64_t i = 0; i < b; i++) {
    if (tr->src[i] == ctx->rank)
      scount[pack_owner(tr, i, size)] += width;
    if (i >= lo && i < hi)
      rcount[tr->src[i]] += width;
  }
  sdisp[0] = rdisp[0] = 0;
  for (int r = 1; r < size; r++) {
    sdisp[r] = sdisp[r - 1] + scount[r - 1];
    rdisp[r] = rdisp[r - 1] + rcount[r - 1];
  }

  /* pack the send buffer in position order per destination (the cursors in rcount's
   * place are not needed: positions of one destination are contiguous) */
  int64_t put = 0;
  for (int64_t i = 0; i < b; i++)
    if (tr->src[i] == ctx->rank)
      memcpy(tr->send + (put++) * width, tr->data + (size_t)tr->local[i] * width,
             (size_t)width * sizeof(float));
  SM_MPI_CHECK(ctx, MPI_Alltoallv(tr->send, scount, sdisp, MPI_FLOAT, tr->recv, rcount, rdisp,
                                  MPI_FLOAT, ctx->comm));

  /* unpack: each source's rows arrive in position order */
  for (int64_t i = lo; i < hi; i++) {
    int s = tr->src[i];
    memcpy(tr->real + (size_t)(i - lo) * width, tr->recv + rdisp[s], (size_t)width * sizeof(float));
    rdisp[s] += width;
  }
  return SM_OK;
}

/* The buffer itself, or with spectral normalisation (after one power iteration) the
 * normalised weights in tr->eff. Gradients go to the buffer either way. */
sm_nn_params sm_ctgan_critic_view(ctgan_train *tr) {
  sm_nn_params *p = &tr->st->net.params;
  if (!tr->st->set.spectral_norm)
    return *p;
  sm_ctgan_sn_power(&tr->st->net);
  sm_ctgan_sn_weights(tr->eff, &tr->st->net);
  sm_nn_params view = {tr->eff, p->grad, tr->st->net.n_dis};
  return view;
}

/* ---- the discriminator update ------------------------------------------------------- */

void sm_ctgan_interpolate(ctgan_train *tr, uint64_t seed, int npk) {
  int in = tr->st->net.dis.in;
  for (int q = 0; q < npk; q++) {
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_FIT, (uint64_t)(tr->st->set.batch_size + tr->pack_lo + q));
    float a = (float)sm_rng_uniform(&rng);
    size_t o = (size_t)q * in;
    for (int k = 0; k < in; k++)
      tr->pack[2][o + k] = a * tr->pack[0][o + k] + (1.0f - a) * tr->pack[1][o + k];
  }
}

int sm_ctgan_generate(sm_ctx *ctx, ctgan_train *tr, uint64_t seed, int rows) {
  ctgan_net *net = &tr->st->net;
  int64_t first = tr->pack_lo * tr->st->set.pac;
  generator_input(tr, &tr->ga, seed, first, rows);
  SM_TRY(sm_ctgan_gen_forward(ctx, &tr->ga, &net->gen, &net->params, rows, tr->positions));
  sm_ctgan_activate(tr, &tr->ga, tr->act, seed, first, rows, NULL);
  return SM_OK;
}

void sm_ctgan_generate_chunked(ctgan_train *tr, uint64_t seed, int rows) {
  ctgan_net *net = &tr->st->net;
  int64_t chunk = tr->st->set.batch_size, first = tr->pack_lo * tr->st->set.pac;
  size_t width = (size_t)net->width;
  if (rows <= 0)
    return;

  /* every chunk that holds one of this rank's positions, whole, then its rows here */
  for (int64_t c = first / chunk; c <= (first + rows - 1) / chunk; c++) {
    generator_input(tr, &tr->chunk_ga, seed, c * chunk, (int)chunk);
    sm_ctgan_gen_forward(NULL, &tr->chunk_ga, &net->gen, &net->params, (int)chunk, chunk);
    sm_ctgan_activate(tr, &tr->chunk_ga, tr->chunk_act, seed, c * chunk, (int)chunk, NULL);
    int64_t lo = c * chunk > first ? c * chunk : first;
    int64_t hi = (c + 1) * chunk < first + rows ? (c + 1) * chunk : first + rows;
    memcpy(tr->act + (size_t)(lo - first) * width, tr->chunk_act + (size_t)(lo - c * chunk) * width,
           (size_t)(hi - lo) * width * sizeof(float));
  }
}

void sm_ctgan_critic_update(ctgan_train *tr, int ph) {
  ctgan_state *st = tr->st;
  ctgan_net *net = &st->net;
  sm_nn_params *p = &net->params;
  sm_nn_params dview = {p->value, p->grad, net->n_dis};

  /* Adam with its moments kept in the buffer; with spectral normalisation the gradients
   * become those of the raw weights first */
  if (st->set.spectral_norm)
    sm_ctgan_sn_backward(p->grad, net);
  sm_adam adam = {st->set.d_lr,
                  0.5,
                  0.9,
                  1e-8,
                  st->set.d_decay,
                  0,
                  tr->t->adam->step * st->set.d_steps + ph,
                  p->value + net->d_moment1,
                  p->value + net->d_moment2,
                  net->n_dis};
  sm_adam_step(&adam, &dview);
}

/* Collective. One discriminator update (phase ph): its losses (local sums of the global
 * means) are added to loss[0] (critic) and loss[1] (penalty), times `factor`. */
static int discriminator_step(sm_ctx *ctx, ctgan_train *tr, int64_t g, int ph, float factor,
                              double *loss) {
  ctgan_state *st = tr->st;
  ctgan_net *net = &st->net;
  sm_nn_params *p = &net->params;
  uint64_t seed = sm_ctgan_phase_seed(&st->set, g, ph);
  int64_t b = st->set.batch_size, first = tr->pack_lo * st->set.pac;
  int npk = (int)(tr->pack_hi - tr->pack_lo), rows = npk * st->set.pac;

  /* every position's conditions, the shuffled real rows, and their exchange */
  sm_permutation perm;
  sm_permutation_init(&perm, (uint64_t)b, seed, SM_STREAM_NN_BATCH, 0);
  sm_ctgan_draw_conditions(tr, seed, 0, b);
  choose_real(ctx, tr, seed, &perm);
  SM_TRY(sm_ctgan_exchange(ctx, tr));
  sm_ctgan_fill_packs(tr, tr->pack[0], tr->real, rows, first, tr->slot_of + first);

  /* fake packs, interpolates, and the three critic passes */
  SM_TRY(sm_ctgan_generate(ctx, tr, seed, rows));
  sm_ctgan_fill_packs(tr, tr->pack[1], tr->act, rows, first, NULL);
  sm_ctgan_interpolate(tr, seed, npk);
  sm_nn_params cv = sm_ctgan_critic_view(tr);
  for (int k = 0; k < 3; k++)
    sm_ctgan_dis_forward(&tr->da[k], tr->pack[k], &net->dis, &cv, npk, seed,
                         k * tr->packs + tr->pack_lo);

  /* loss -(mean real - mean fake) and the penalty, both over all packs */
  sm_nn_params dview = {p->value, p->grad, net->n_dis};
  memset(p->grad, 0, net->n_dis * sizeof(float)); /* the trainer clears the generator only */
  double critic = 0.0, inv = 1.0 / (double)tr->packs;
  for (int q = 0; q < npk; q++) {
    critic += (-tr->da[0].y[q] + tr->da[1].y[q]) * inv;
    tr->dy[q] = (float)-inv;
  }
  sm_ctgan_dis_backward(NULL, &cv, tr->dy, tr->pack[0], &tr->da[0], &net->dis, npk, 1, &tr->dw);
  for (int q = 0; q < npk; q++)
    tr->dy[q] = (float)inv;
  sm_ctgan_dis_backward(NULL, &cv, tr->dy, tr->pack[1], &tr->da[1], &net->dis, npk, 1, &tr->dw);
  double pen =
      sm_ctgan_penalty(&cv, &tr->da[2], &net->dis, npk, (float)(st->set.penalty * inv), &tr->dw);

  SM_TRY(sm_nn_allreduce_grad(ctx, &dview, 1.0f));
  sm_ctgan_critic_update(tr, ph);
  loss[0] += critic * factor / st->set.d_steps;
  loss[1] += pen * factor / st->set.d_steps;
  return SM_OK;
}

/* ---- the generator's gradient ------------------------------------------------------- */

/* Conditional loss: cross-entropy of the raw logits of each row's chosen column against its
 * chosen category, its gradient (times scale) added to tr->draw; returns the sum. */
static double cond_loss(ctgan_train *tr, int64_t first, int rows, float scale) {
  const ctgan_cond *c = &tr->st->cond;
  const sm_encoder *enc = &tr->st->encoder;
  int width = enc->width;
  double sum = 0.0;
  for (int r = 0; r < rows; r++) {
    int64_t i = first + r;
    if (tr->col[i] < 0)
      continue;
    const sm_span *sp = &enc->spans[c->span[tr->col[i]]];
    const float *x = tr->ga.raw + (size_t)r * width + sp->start;
    float *d = tr->draw + (size_t)r * width + sp->start;
    float top = x[0];
    for (int k = 1; k < sp->width; k++)
      top = x[k] > top ? x[k] : top;
    double z = 0.0;
    for (int k = 0; k < sp->width; k++)
      z += exp((double)x[k] - top);
    sum += log(z) + top - x[tr->cat[i]];
    for (int k = 0; k < sp->width; k++)
      d[k] += scale * (float)(exp((double)x[k] - top) / z - (k == tr->cat[i]));
  }
  return sum;
}

/* Back from the activations' gradient tr->dact to the raw outputs' gradient tr->draw. */
static void activation_backward(ctgan_train *tr, int rows) {
  const sm_encoder *enc = &tr->st->encoder;
  int width = enc->width;
  for (int k = 0; k < enc->n_spans; k++) {
    const sm_span *sp = &enc->spans[k];
    if (sp->kind == SM_SPAN_ONEHOT) {
      sm_gumbel_softmax_backward(tr->draw, tr->dact, tr->act, rows, width, sp->start, sp->width,
                                 CTGAN_TAU);
      continue;
    }
    for (int r = 0; r < rows; r++)
      for (int c = sp->start; c < sp->start + sp->width; c++) {
        size_t i = (size_t)r * width + c;
        tr->draw[i] = tr->dact[i] * (1.0f - tr->act[i] * tr->act[i]);
      }
  }
}

/* Collective. The generator's loss -mean(critic of fake packs) + conditional loss, its
 * gradient (times factor) accumulated into the generator's parameter gradients. */
static int generator_step(sm_ctx *ctx, ctgan_train *tr, int64_t g, float factor, double *loss) {
  ctgan_state *st = tr->st;
  ctgan_net *net = &st->net;
  uint64_t seed = sm_ctgan_phase_seed(&st->set, g, st->set.d_steps);
  int64_t first = tr->pack_lo * st->set.pac;
  int npk = (int)(tr->pack_hi - tr->pack_lo), rows = npk * st->set.pac;
  int width = net->width, stride = width + net->cond;

  /* fake packs of this rank's positions, scored */
  sm_ctgan_draw_conditions(tr, seed, first, first + rows);
  SM_TRY(sm_ctgan_generate(ctx, tr, seed, rows));
  sm_ctgan_fill_packs(tr, tr->pack[1], tr->act, rows, first, NULL);
  sm_nn_params cv = sm_ctgan_critic_view(tr);
  sm_ctgan_dis_forward(&tr->da[1], tr->pack[1], &net->dis, &cv, npk, seed, tr->pack_lo);

  /* -mean score: its gradient through the critic to the packs (no critic gradients) */
  double gen = 0.0, inv = 1.0 / (double)tr->packs;
  for (int q = 0; q < npk; q++) {
    gen -= tr->da[1].y[q] * inv;
    tr->dy[q] = (float)(-inv * factor);
  }
  sm_ctgan_dis_backward(tr->dpack, &cv, tr->dy, tr->pack[1], &tr->da[1], &net->dis, npk, 0,
                        &tr->dw);
  for (int r = 0; r < rows; r++)
    memcpy(tr->dact + (size_t)r * width, tr->dpack + (size_t)r * stride,
           (size_t)width * sizeof(float));

  /* activations, the conditional loss, then the generator's backward (collective) */
  activation_backward(tr, rows);
  double ce = cond_loss(tr, first, rows, factor / (float)st->set.batch_size);
  SM_TRY(sm_ctgan_gen_backward(ctx, &net->params, tr->draw, &tr->ga, &net->gen, rows,
                               st->set.batch_size, tr->gwork));
  loss[2] += gen * factor;
  loss[3] += ce / (double)st->set.batch_size * factor;
  return SM_OK;
}

int sm_ctgan_batch(sm_ctx *ctx, void *model, const int64_t *rows, int64_t m, int64_t global_rows,
                   int64_t epoch, double *loss) {
  ctgan_train *tr = model;
  (void)rows;
  (void)m;

  /* the global step; gradients are scaled so the trainer's 1 / global_rows gives means */
  int64_t g = epoch * sm_batches_per_epoch(tr->n_global, tr->st->set.batch_size) + tr->t->step;
  float factor = (float)global_rows;
  for (int ph = 0; ph < tr->st->set.d_steps; ph++) {
    if (tr->private_run)
      SM_TRY(sm_ctgan_dp_critic_step(ctx, tr, g, ph, factor, loss));
    else
      SM_TRY(discriminator_step(ctx, tr, g, ph, factor, loss));
  }
  sm_ctgan_plan(ctx, tr, tr->st->set.batch_size); /* a private critic step changes it */
  return generator_step(ctx, tr, g, factor, loss);
}
