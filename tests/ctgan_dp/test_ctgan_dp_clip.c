/* The private CTGAN critic's sum of clipped pack gradients on real Adult rows, against a
 * slow reference: every pack of this rank taken alone through the critic's forward,
 * backward and gradient-penalty passes (one pack at a time, into its own buffer), its
 * gradient clipped to C in double precision and summed. C is the median of the packs'
 * gradient norms, so some packs are clipped and some are not.
 *
 * The packs themselves: the Poisson sample holds about q N rows, they come in the order of
 * their shuffle keys, the remainder of fewer than pac rows is dropped, and each real pack
 * holds the encoded rows of the drawn global rows; the fake rows of a step's positions stay
 * the same when one more pack is filled. Finally the reduced sum (noise off) at this rank
 * count equals the one rank 0 computes alone (the packs do not depend on how the rows are
 * split over ranks), also after the workspace has grown.
 *
 * Built twice: with pac 10 (packs of shuffled rows, fake rows from fixed chunks) and with
 * pac 1 (CTGAN_DP_PAC 1, test_ctgan_dp_clip1.c), where each real row's fake partner and
 * clipped gradient are also checked not to change when one other row leaves or joins the
 * sample: the property behind sensitivity C. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adult.h"
#include "ctgan_dp_fixture.h"
#include "models/trainer.h"
#include "test_util.h"

/* the fast and the reference sum differ by float rounding (relative to the largest) */
#define SUM_TOL 1e-4
/* reduced sums at different rank counts differ by summation order only (absolute) */
#define RANK_TOL 1e-5
/* a row's fake partner and gradient with one row more or less: the same up to the
 * rounding of matrix products over a different number of rows (relative to the largest) */
#define PARTNER_TOL 1e-5

#ifndef CTGAN_DP_PAC
#define CTGAN_DP_PAC 10
#endif
#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const overrides[] = {
    "model.embedding_dim=16",    "model.generator_dims=32",        "model.discriminator_dims=32,16",
    "model.batch_size=3000",     ("model.pac=" STR(CTGAN_DP_PAC)), "model.epochs=1",
    "privacy.reproducible=true", "privacy.noise_multiplier=1",     "privacy.epsilon=100"};
#define N_OVERRIDES ((int)(sizeof overrides / sizeof overrides[0]))

/* Local. Pack q alone: its gradient into grad (cleared here), returns its L2 norm. */
static double reference_pack(ctgan_train *tr, int q, float *grad, ctgan_dis_acts *ra,
                             ctgan_dis_work *rw, uint64_t seed) {
  ctgan_net *net = &tr->st->net;
  const ctgan_dis *d = &net->dis;
  sm_nn_params one = {tr->view.value, grad, net->n_dis};
  memset(grad, 0, net->n_dis * sizeof(float));
  for (int k = 0; k < 3; k++) {
    /* dropout keyed by pass and pack index, or with pac 1 by the row's own stream */
    const float *x = tr->pack[k] + (size_t)q * d->in;
    if (tr->st->set.pac == 1)
      sm_ctgan_dis_forward(&ra[k], x, d, &tr->view, 1, sm_ctgan_dp_pass_seed(seed, k),
                           tr->row_id[tr->pack_lo + q]);
    else
      sm_ctgan_dis_forward(&ra[k], x, d, &tr->view, 1, seed, k * tr->n_global + tr->pack_lo + q);
  }
  float minus = -1.0f, plus = 1.0f;
  sm_ctgan_dis_backward(NULL, &one, &minus, tr->pack[0] + (size_t)q * d->in, &ra[0], d, 1, 1, rw);
  sm_ctgan_dis_backward(NULL, &one, &plus, tr->pack[1] + (size_t)q * d->in, &ra[1], d, 1, 1, rw);
  sm_ctgan_penalty(&one, &ra[2], d, 1, (float)tr->st->set.penalty, rw);
  double norm2 = 0.0;
  for (size_t i = 0; i < net->n_dis; i++)
    norm2 += (double)grad[i] * grad[i];
  return sqrt(norm2);
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The sample and the real packs of this rank. */
static void check_packs(sm_ctx *ctx, ctgan_train *tr) {
  int pac = tr->st->set.pac, width = tr->st->net.width, stride = width + tr->st->net.cond;
  double q = tr->t->dp.sample_rate, n = (double)tr->n_global;
  double sd = sqrt(n * q * (1 - q));
  CHECK(fabs((double)tr->n_drawn - q * n) <= 5 * sd);
  CHECK(tr->positions == tr->n_drawn / pac * pac && tr->packs == tr->n_drawn / pac);
  int sorted = 1, same = 1;
  for (int64_t i = 1; i < tr->n_drawn; i++)
    sorted &= tr->drawn[i - 1].key < tr->drawn[i].key;
  int64_t first = tr->pack_lo * pac, rows = (tr->pack_hi - tr->pack_lo) * pac;
  for (int64_t r = 0; r < rows; r++) {
    const ctgan_sampled *s = &tr->drawn[first + r];
    if (s->src != ctx->rank)
      continue;
    const float *want = tr->data + (size_t)(s->row - tr->t->row_offset) * width;
    same &= memcmp(tr->pack[0] + (size_t)r * stride, want, (size_t)width * sizeof(float)) == 0;
  }
  if (ctx->rank == 0)
    printf("%d ranks: %lld rows drawn (q N = %.0f, sd %.0f), %lld packs, %lld rows dropped\n",
           ctx->size, (long long)tr->n_drawn, q * n, sd, (long long)tr->packs,
           (long long)(tr->n_drawn - tr->positions));
  CHECK(sorted);
  CHECK(same);
}

/* This rank's fast clipped sum against the reference. */
static void check_sum(sm_ctx *ctx, ctgan_train *tr, uint64_t seed) {
  ctgan_net *net = &tr->st->net;
  int npk = (int)(tr->pack_hi - tr->pack_lo);
  size_t n = net->n_dis;
  float *grad = malloc(n * sizeof(float));
  double *ref = calloc(n, sizeof(double)), *norms = malloc((size_t)(npk + 1) * sizeof(double));
  ctgan_dis_acts ra[3];
  ctgan_dis_work rw;
  size_t na = sm_ctgan_dis_carve(&net->dis, 1, &ra[0], NULL);
  float *block =
      malloc((3 * na + sm_ctgan_dis_work_carve(&net->dis, 1, &rw, NULL)) * sizeof(float));
  for (int k = 0; k < 3; k++)
    sm_ctgan_dis_carve(&net->dis, 1, &ra[k], block + k * na);
  sm_ctgan_dis_work_carve(&net->dis, 1, &rw, block + 3 * na);

  /* the norms, C at their median, then the reference sum */
  for (int q = 0; q < npk; q++)
    norms[q] = reference_pack(tr, q, grad, ra, &rw, seed);
  double *sorted = malloc((size_t)(npk + 1) * sizeof(double));
  memcpy(sorted, norms, (size_t)npk * sizeof(double));
  qsort(sorted, (size_t)npk, sizeof(double), by_value);
  double clip = npk > 0 ? sorted[npk / 2] : 1.0;
  int clipped = 0;
  for (int q = 0; q < npk; q++) {
    reference_pack(tr, q, grad, ra, &rw, seed);
    double f = norms[q] > clip ? clip / norms[q] : 1.0;
    clipped += norms[q] > clip;
    for (size_t i = 0; i < n; i++)
      ref[i] += f * grad[i];
  }

  /* the fast sum */
  double loss[2] = {0, 0}, worst = 0, largest = 0;
  sm_ctgan_dp_clipped_sum(tr, clip, loss);
  for (size_t i = 0; i < n; i++) {
    worst = fmax(worst, fabs(net->params.grad[i] - ref[i]));
    largest = fmax(largest, fabs(ref[i]));
  }
  printf("rank %d: %d packs, C %.4g (norms %.4g .. %.4g), %d clipped; clipped sum max |diff| "
         "%.3g of max |sum| %.4g (tolerance %.0e relative)\n",
         ctx->rank, npk, clip, npk ? sorted[0] : 0, npk ? sorted[npk - 1] : 0, clipped, worst,
         largest, SUM_TOL);
  CHECK(npk >= 2 && clipped > 0 && clipped < npk);
  CHECK(largest > 0 && worst <= SUM_TOL * largest);
  free(grad);
  free(ref);
  free(norms);
  free(sorted);
  free(block);
}

/* Collective. The reduced clipped sum (C as planned, no noise) into out (n_dis). */
static int reduced_sum(sm_ctx *ctx, ctgan_session *s, float *out) {
  SM_TRY(sm_ctgan_dp_prepare(ctx, s->tr, 0, 0));
  double loss[2] = {0, 0};
  sm_ctgan_dp_clipped_sum(s->tr, s->t->dp.clip, loss);
  SM_TRY(sm_ctgan_dp_reduce(ctx, s->tr, 0, 0, 0));
  memcpy(out, s->st->net.params.grad, s->st->net.n_dis * sizeof(float));
  return SM_OK;
}

/* Rank 0 alone on all rows gives the same reduced sum as this rank count. */
static void check_ranks(sm_ctx *ctx, const sm_experiment *e, const float *mine, size_t n) {
  int ok = 1;
  double worst = 0;
  if (ctx->rank == 0) {
    sm_ctx self;
    sm_ctx_init(&self, MPI_COMM_SELF);
    self.log_level = SM_LOG_ERROR;
    sm_table full;
    sm_ledger l;
    ctgan_session s;
    ok = test_adult_read_all(&self, e, &full) == SM_OK &&
         ctgan_dp_begin(&self, e, &full, &l, &s) == SM_OK;
    float *one = ok ? malloc(n * sizeof(float)) : NULL;
    ok = ok && one && s.st->net.n_dis == n && reduced_sum(&self, &s, one) == SM_OK;
    for (size_t i = 0; ok && i < n; i++)
      worst = fmax(worst, fabs((double)one[i] - mine[i]));
    printf("reduced clipped sum at %d ranks against 1: max difference %.3g (tolerance %.0e)\n",
           ctx->size, worst, RANK_TOL);
    free(one);
    if (ok)
      sm_ctgan_end(&s, 0);
    sm_ledger_free(&l);
    sm_table_free(&full);
    sm_ctx_free(&self);
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, ctx->comm);
  MPI_Bcast(&worst, 1, MPI_DOUBLE, 0, ctx->comm);
  CHECK(ok && worst <= RANK_TOL);
}

/* A larger Poisson sample than the workspace was made for regrows it; the same step
 * then gives bitwise the same reduced sum. */
static void check_growth(sm_ctx *ctx, ctgan_session *s, const float *mine, size_t n) {
  ctgan_train *tr = s->tr;
  int64_t room = tr->room;
  int cap = tr->cap;
  float *again = malloc(n * sizeof(float));
  CHECK(sm_ctgan_train_room(ctx, tr, 2 * room, 2 * cap) == SM_OK);
  CHECK(tr->room >= 2 * room && tr->cap >= 2 * cap);
  CHECK(again && reduced_sum(ctx, s, again) == SM_OK);
  int same = again && memcmp(again, mine, n * sizeof(float)) == 0;
  if (ctx->rank == 0)
    printf("workspace grown from %lld to %lld positions: the same sum %s\n", (long long)room,
           (long long)tr->room, same ? "yes" : "no");
  CHECK(same);
  free(again);
}

/* Local (one rank). The fake rows of a step's positions do not change when the Poisson
 * sample fills one more pack: batch normalisation runs over fixed chunks of positions,
 * not over the step's packs, so one more row changes no other pack's fake rows. */
static void check_fakes(sm_ctx *ctx, ctgan_session *s) {
  ctgan_train *tr = s->tr;
  int pac = s->st->set.pac, width = s->st->net.width;
  int64_t chunk = s->st->set.batch_size, positions = tr->positions;
  uint64_t seed = sm_ctgan_phase_seed(&s->st->set, 0, 0);
  int rows = (int)positions, same = 1;
  size_t n = (size_t)rows * width;
  float *before = malloc(n * sizeof(float));
  memcpy(before, tr->act, n * sizeof(float));

  /* one more pack, its conditions drawn, the fake rows again */
  int64_t more = positions + pac, room = (more + chunk - 1) / chunk * chunk;
  CHECK(sm_ctgan_train_room(ctx, tr, room, (int)more) == SM_OK);
  sm_ctgan_plan(ctx, tr, more);
  sm_ctgan_draw_conditions(tr, seed, 0, room);
  sm_ctgan_generate_chunked(tr, seed, (int)more);
  same = memcmp(before, tr->act, n * sizeof(float)) == 0;
  printf("fake rows of %d positions with one more pack: the same %s\n", rows, same ? "yes" : "no");
  CHECK(same);
  free(before);
}

/* The reference pass's activations and work space for one pack. */
typedef struct dis_scratch {
  ctgan_dis_acts ra[3];
  ctgan_dis_work rw;
  float *block;
} dis_scratch;

static int scratch_init(dis_scratch *w, const ctgan_dis *d) {
  size_t na = sm_ctgan_dis_carve(d, 1, &w->ra[0], NULL);
  w->block = malloc((3 * na + sm_ctgan_dis_work_carve(d, 1, &w->rw, NULL)) * sizeof(float));
  if (!w->block)
    return SM_ERR;
  for (int k = 0; k < 3; k++)
    sm_ctgan_dis_carve(d, 1, &w->ra[k], w->block + k * na);
  sm_ctgan_dis_work_carve(d, 1, &w->rw, w->block + 3 * na);
  return SM_OK;
}

static void scratch_free(dis_scratch *w) {
  free(w->block);
}

/* Drawn rows in key order (as the private step orders them). */
static int by_drawn_key(const void *a, const void *b) {
  const ctgan_sampled *x = a, *y = b;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return (x->row > y->row) - (x->row < y->row);
}

/* The fake partners and gradients of this rank's first rows (at most PARTNER_ROWS). */
#define PARTNER_ROWS 300
typedef struct partners {
  int n;
  int64_t id[PARTNER_ROWS];
  float *act, *grad; /* (n, width), (n, n_dis) */
} partners;

/* Local. The partners of the current step; gradients through the reference pass. */
static void take_partners(ctgan_train *tr, partners *p, uint64_t seed, dis_scratch *w) {
  int width = tr->st->net.width, npk = (int)(tr->pack_hi - tr->pack_lo);
  size_t n = tr->st->net.n_dis;
  p->n = npk < PARTNER_ROWS ? npk : PARTNER_ROWS;
  for (int q = 0; q < p->n; q++) {
    p->id[q] = tr->row_id[tr->pack_lo + q];
    memcpy(p->act + (size_t)q * width, tr->act + (size_t)q * width, width * sizeof(float));
    reference_pack(tr, q, p->grad + (size_t)q * n, w->ra, &w->rw, seed);
  }
}

/* Local. The largest relative difference between a's rows and the same rows (by stream)
 * in b; *found counts the rows of a also in b. */
static double partner_diff(const partners *a, const partners *b, size_t len, int which,
                           int *found) {
  double worst = 0.0, largest = 1e-30;
  *found = 0;
  for (int q = 0; q < a->n; q++)
    for (int r = 0; r < b->n; r++) {
      if (a->id[q] != b->id[r])
        continue;
      const float *x = (which ? a->grad : a->act) + (size_t)q * len;
      const float *y = (which ? b->grad : b->act) + (size_t)r * len;
      for (size_t i = 0; i < len; i++) {
        worst = fmax(worst, fabs((double)x[i] - y[i]));
        largest = fmax(largest, fabs((double)x[i]));
      }
      ++*found;
    }
  return worst / largest;
}

/* Collective. The sample with its first row (in key order) removed (remove) or one added
 * in front (a global row not in it, held by rank 0, with key 1e-9), so every other row
 * moves by one position; the step prepared again, its partners in *p. */
static int neighbour(sm_ctx *ctx, ctgan_train *tr, const ctgan_sampled *base, int64_t m, int remove,
                     partners *p, uint64_t seed, dis_scratch *w) {
  int64_t k = 0, row = 0;
  char *taken = calloc((size_t)tr->n_global, 1);
  for (int64_t i = 0; taken && i < m; i++)
    taken[base[i].row] = 1;
  while (taken && taken[row])
    row++;
  free(taken);
  for (int64_t i = 0; i < m; i++)
    if (!(remove && i == 0))
      tr->drawn[k++] = base[i];
  if (!remove) {
    tr->drawn[k++] = (ctgan_sampled){1e-9, row, 0};
    qsort(tr->drawn, (size_t)k, sizeof *tr->drawn, by_drawn_key);
  }
  tr->n_drawn = k;
  SM_TRY(sm_ctgan_dp_prepare_drawn(ctx, tr, 0, 0));
  take_partners(tr, p, seed, w);
  return SM_OK;
}

/* Collective (pac 1). Every row's fake partner and clipped gradient stay the same when one
 * other row leaves or joins the sample. */
static void check_partners(sm_ctx *ctx, ctgan_session *s) {
  ctgan_train *tr = s->tr;
  int width = s->st->net.width;
  size_t n = s->st->net.n_dis;
  uint64_t seed = sm_ctgan_phase_seed(&s->st->set, 0, 0);
  int64_t m = tr->n_drawn;
  ctgan_sampled *base = malloc((size_t)(m + 1) * sizeof *base);
  partners p[2];
  dis_scratch w;
  int ok = base && m + 1 <= tr->drawn_room && scratch_init(&w, &s->st->net.dis) == SM_OK;
  for (int k = 0; k < 2; k++) {
    p[k].act = malloc((size_t)PARTNER_ROWS * width * sizeof(float));
    p[k].grad = malloc((size_t)PARTNER_ROWS * n * sizeof(float));
    ok &= p[k].act && p[k].grad;
  }
  CHECK(ok);
  if (ok) {
    memcpy(base, tr->drawn, (size_t)m * sizeof *base);
    take_partners(tr, &p[0], seed, &w);
    for (int remove = 1; remove >= 0; remove--) {
      CHECK(neighbour(ctx, tr, base, m, remove, &p[1], seed, &w) == SM_OK);
      int found_a = 0, found_g = 0;
      double da = partner_diff(&p[0], &p[1], (size_t)width, 0, &found_a);
      double dg = partner_diff(&p[0], &p[1], n, 1, &found_g);
      printf("rank %d, one row %s: %d of %d rows compared; fake partner max rel diff %.3g, "
             "gradient %.3g (tolerance %g)\n",
             ctx->rank, remove ? "removed" : "added", found_a, p[0].n, da, dg, PARTNER_TOL);
      CHECK(found_a >= p[0].n - 2 && found_a > 0 && da <= PARTNER_TOL && dg <= PARTNER_TOL);
    }
    memcpy(tr->drawn, base, (size_t)m * sizeof *base);
    tr->n_drawn = m;
    CHECK(sm_ctgan_dp_prepare_drawn(ctx, tr, 0, 0) == SM_OK);
  }
  for (int k = 0; k < 2; k++) {
    free(p[k].act);
    free(p[k].grad);
  }
  scratch_free(&w);
  free(base);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_ERROR;
  sm_experiment e;
  sm_table train;
  sm_ledger l;
  ctgan_session s;
  int rc = ctgan_dp_load(&ctx, N_OVERRIDES, overrides, &e);
  CHECK(rc == SM_OK);
  if (rc != SM_OK || test_adult_read(&ctx, &e, &train, NULL) != SM_OK)
    return test_finish();
  rc = ctgan_dp_begin(&ctx, &e, &train, &l, &s);
  CHECK(rc == SM_OK);

  /* the packs and the clipped sum of the first critic step */
  if (rc == SM_OK && sm_ctgan_dp_prepare(&ctx, s.tr, 0, 0) == SM_OK) {
    check_packs(&ctx, s.tr);
    check_sum(&ctx, s.tr, sm_ctgan_phase_seed(&s.st->set, 0, 0));
    if (CTGAN_DP_PAC == 1)
      check_partners(&ctx, &s);
    else if (ctx.size == 1)
      check_fakes(&ctx, &s);
  }

  /* the same step at one rank */
  if (rc == SM_OK) {
    size_t n = s.st->net.n_dis;
    float *mine = malloc(n * sizeof(float));
    CHECK(reduced_sum(&ctx, &s, mine) == SM_OK);
    check_ranks(&ctx, &e, mine, n);
    check_growth(&ctx, &s, mine, n);
    free(mine);
    sm_ctgan_end(&s, 0);
  }
  sm_ledger_free(&l);
  sm_table_free(&train);
  sm_experiment_free(&e);
  sm_ctx_free(&ctx);
  return test_finish();
}
