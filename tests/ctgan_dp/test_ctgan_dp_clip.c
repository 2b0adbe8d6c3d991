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
 * split over ranks), also after the workspace has grown. */
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

static const char *const overrides[] = {"model.embedding_dim=16",
                                        "model.generator_dims=32",
                                        "model.discriminator_dims=32,16",
                                        "model.batch_size=3000",
                                        "model.pac=10",
                                        "model.epochs=1",
                                        "privacy.reproducible=true",
                                        "privacy.noise_multiplier=1",
                                        "privacy.epsilon=100"};
#define N_OVERRIDES ((int)(sizeof overrides / sizeof overrides[0]))

/* Local. Pack q alone: its gradient into grad (cleared here), returns its L2 norm. */
static double reference_pack(ctgan_train *tr, int q, float *grad, ctgan_dis_acts *ra,
                             ctgan_dis_work *rw, uint64_t seed) {
  ctgan_net *net = &tr->st->net;
  const ctgan_dis *d = &net->dis;
  sm_nn_params one = {tr->view.value, grad, net->n_dis};
  memset(grad, 0, net->n_dis * sizeof(float));
  for (int k = 0; k < 3; k++)
    sm_ctgan_dis_forward(&ra[k], tr->pack[k] + (size_t)q * d->in, d, &tr->view, 1, seed,
                         k * tr->n_global + tr->pack_lo + q);
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
    if (ctx.size == 1)
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
