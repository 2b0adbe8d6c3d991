/* dna_cnn trained data-parallel on real lambda phage windows: the loss curve and held-out
 * bits per base at this rank count equal those of the same training on one rank (rank 0
 * alone, on MPI_COMM_SELF) up to float summation order; a run stopped after its first step
 * and resumed from its checkpoint ends with bitwise the parameters of an uninterrupted
 * one; held-out bits per base of one model do not depend on how the windows are split;
 * and the release written by every rank equals the one-rank sampling of the same model. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "seq/cnn.h"
#include "seq/seq_internal.h"
#include "synthmpi/rng.h"
#include "test_util.h"

/* Loss curves and bits at different rank counts differ by float summation order only. */
#define RANK_TOL 2e-4
#define EPOCHS 3

typedef struct lambda_data {
  sm_seqset train, holdout;
} lambda_data;

static void read_lambda(sm_ctx *ctx, lambda_data *d) {
  sm_fasta_options fo = {.path = test_data("dna/lambda_virus.fa"),
                         .window = 250,
                         .stride = 250,
                         .holdout = SM_HOLDOUT_TAIL,
                         .fraction = 0.1};
  sm_fasta_stats st;
  CHECK(sm_fasta_read(ctx, &fo, &d->train, &d->holdout, &st) == SM_OK);
  CHECK(d->train.n_total > 100 && d->holdout.n_total > 10);
}

static sm_cnn_settings small_net(void) {
  sm_cnn_settings s = {.channels = 8,
                       .blocks = 4,
                       .kernel = 2,
                       .batch_size = 7,
                       .epochs = EPOCHS,
                       .lr = 3e-3,
                       .seed = 11};
  return s;
}

/* Rank 0 compares this rank count's training with its own on one rank. */
static void check_against_one_rank(sm_ctx *ctx, const sm_cnn *m, double bits) {
  if (ctx->rank != 0)
    return;
  sm_ctx self;
  lambda_data d = {0};
  sm_cnn *one = NULL;
  sm_cnn_settings s = small_net();
  double one_bits = 0, worst = 0;
  sm_ctx_init(&self, MPI_COMM_SELF);
  read_lambda(&self, &d);
  CHECK(sm_cnn_fit(&self, &s, &d.train, NULL, &one) == SM_OK);
  CHECK(sm_cnn_bits_per_base(&self, one, &d.holdout, &one_bits) == SM_OK);
  for (int e = 0; e < EPOCHS; e++) {
    printf("epoch %d: training bits %.6f here, %.6f on one rank\n", e, m->history[e],
           one->history[e]);
    worst = fmax(worst, fabs(m->history[e] - one->history[e]));
  }
  printf("%d ranks vs 1: loss curve max diff %.2e, held-out bits %.6f vs %.6f (tol %.0e)\n",
         ctx->size, worst, bits, one_bits, RANK_TOL);
  CHECK(worst <= RANK_TOL);
  CHECK_CLOSE(bits, one_bits, RANK_TOL);
  CHECK(m->history[EPOCHS - 1] < m->history[0]); /* it learns */
  if (ctx->size == 1)
    CHECK(memcmp(m->params.value, one->params.value, m->n_model * sizeof(float)) == 0);

  /* the same model scores the same whole held-out set to the bit */
  double split_bits = 0;
  CHECK(sm_cnn_bits_per_base(&self, m, &d.holdout, &split_bits) == SM_OK);
  CHECK(split_bits == bits);
  sm_cnn_free(one);
  sm_seqset_free(&d.train);
  sm_seqset_free(&d.holdout);
  sm_ctx_free(&self);
}

/* Stopped after the first step, then resumed: bitwise the uninterrupted parameters. */
static void check_resume(sm_ctx *ctx, const lambda_data *d, const sm_cnn *straight) {
  char path[256];
  snprintf(path, sizeof path, "cnn_resume_np%d.h5", ctx->size);
  volatile sig_atomic_t stop = 1;
  sm_fit_options opt = {.checkpoint = path, .experiment_hash = 42, .stop = &stop};
  sm_cnn_settings s = small_net();
  sm_cnn *m = NULL;
  CHECK(sm_cnn_fit(ctx, &s, &d->train, &opt, &m) == SM_EINTERRUPTED);
  CHECK(m == NULL);
  stop = 0;
  opt.resume = 1;
  CHECK(sm_cnn_fit(ctx, &s, &d->train, &opt, &m) == SM_OK);
  CHECK(m && memcmp(m->params.value, straight->params.value, m->n_model * sizeof(float)) == 0);
  CHECK(m && memcmp(m->history, straight->history, EPOCHS * sizeof(double)) == 0);
  if (ctx->rank == 0)
    printf("resumed after one step: parameters %s the uninterrupted run's\n",
           m && memcmp(m->params.value, straight->params.value, m->n_model * sizeof(float)) == 0
               ? "equal"
               : "DIFFER from");
  sm_cnn_free(m);
  MPI_Barrier(ctx->comm);
  if (ctx->rank == 0)
    remove(path);
}

/* The release written by every rank's block equals rank 0's sampling of every row. */
static void check_release(sm_ctx *ctx, const sm_cnn *m) {
  enum { ROWS = 23, LENGTH = 150 };
  char path[256];
  snprintf(path, sizeof path, "cnn_release_np%d.h5", ctx->size);
  sm_experiment e = {0};
  e.name = "cnn-test";
  e.resolved = "version: 1\n";
  e.model.kind = "dna_cnn";
  e.sampling.seed = 5;
  e.sampling.chunk_rows = 4;
  e.sampling.compression = 1;
  sm_seq_release r = {.experiment = &e, .cnn = m, .rows = ROWS, .length = LENGTH};
  CHECK(sm_seq_release_write(ctx, &r, path) == SM_OK);

  /* every rank's block, gathered, against all rows drawn here */
  sm_seqset got = {0}, all = {0};
  CHECK(sm_seq_release_read(ctx, path, &got) == SM_OK);
  CHECK(sm_seq_allgather(ctx, &got, &all) == SM_OK);
  uint8_t *want = malloc(ROWS * LENGTH);
  CHECK(sm_cnn_sample(ctx, m, 5, 0, ROWS, LENGTH, want, NULL) == SM_OK);
  CHECK(all.n == ROWS && all.offset[ROWS] == ROWS * LENGTH);
  CHECK(all.n == ROWS && memcmp(all.codes, want, ROWS * LENGTH) == 0);
  if (ctx->rank == 0)
    printf("release of %d x %d written by %d ranks %s one rank's sampling\n", ROWS, LENGTH,
           ctx->size, memcmp(all.codes, want, ROWS * LENGTH) == 0 ? "equals" : "DIFFERS from");
  free(want);
  sm_seqset_free(&got);
  sm_seqset_free(&all);
  MPI_Barrier(ctx->comm);
  if (ctx->rank == 0)
    remove(path);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  lambda_data d = {0};
  sm_cnn *m = NULL;
  sm_cnn_settings s = small_net();
  double bits = 0;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  read_lambda(&ctx, &d);
  CHECK(sm_cnn_fit(&ctx, &s, &d.train, NULL, &m) == SM_OK);
  CHECK(sm_cnn_bits_per_base(&ctx, m, &d.holdout, &bits) == SM_OK);
  check_against_one_rank(&ctx, m, bits);
  check_resume(&ctx, &d, m);
  check_release(&ctx, m);
  sm_cnn_free(m);
  sm_seqset_free(&d.train);
  sm_seqset_free(&d.holdout);
  sm_ctx_free(&ctx);
  return test_finish();
}
