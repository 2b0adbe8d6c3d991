/* hap_vae on the real 805-SNP haplotypes at several rank counts: the loss curve matches a
 * one-rank fit of the same rows, every rank holds the same parameters, a resumed fit ends
 * bitwise where an uninterrupted one does (from a periodic checkpoint and from a stop),
 * sampling depends only on (seed, row) and survives a save/load round trip, and genotype
 * (0/1/2) rows are refused. A small network with a context of 2 previous alleles keeps
 * the test short and covers the autoregressive sampling. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "genome/hap_vae.h"
#include "test_util.h"

#define EPOCHS 3
/* relative tolerance of loss curves at different rank counts (summation order only) */
#define CURVE_TOL 1e-3
#define SAMPLE_ROWS 1000

/* configs/hap-805-vae.yaml on the real files, small network, the given extra override. */
static int load_experiment(sm_ctx *ctx, const char *extra, sm_experiment *e) {
  const char *src = getenv("SYNTHMPI_SOURCE_DIR"), *data = getenv("SYNTHMPI_DATA");
  char path[4096], hapt[4200], legend[4200];
  snprintf(path, sizeof path, "%s/configs/hap-805-vae.yaml", src ? src : ".");
  snprintf(hapt, sizeof hapt, "data.path=%s/genomes/yelmen805/805_SNP_1000G_real.hapt",
           data ? data : "");
  snprintf(legend, sizeof legend, "data.legend=%s/genomes/yelmen805/805_SNP.legend",
           data ? data : "");
  char *sets[] = {hapt,
                  legend,
                  "model.hidden_dims=48,24",
                  "model.latent_dim=8",
                  "model.epochs=3",
                  "model.context=2",
                  "model.batch_size=500",
                  (char *)extra};
  int rc = sm_experiment_load(ctx, path, extra ? 8 : 7, sets, e);
  if (rc != SM_OK)
    fprintf(stderr, "experiment: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  return rc;
}

/* Collective on ctx: the training persons (10 % held out, as the pipeline splits them). */
static int read_train(sm_ctx *ctx, const sm_experiment *e, sm_hapmat *train,
                      sm_variants *vars_out) {
  sm_hapmat all, held;
  sm_variants vars;
  int rc = sm_hapt_read(ctx, e->data.path, e->data.legend, &all, &vars);
  CHECK(rc == SM_OK);
  if (rc != SM_OK)
    return rc;
  rc = sm_hapmat_split(ctx, &all, e->holdout.fraction, e->holdout.seed, train, &held);
  CHECK(rc == SM_OK);
  sm_hapmat_free(&all), sm_hapmat_free(&held);
  if (vars_out)
    *vars_out = vars;
  else
    sm_variants_free(&vars);
  return rc;
}

static int fit(sm_ctx *ctx, const sm_experiment *e, const sm_fit_options *opt,
               const sm_hapmat *train, sm_hap_vae *v) {
  int rc = sm_hap_vae_fit(ctx, &e->model, opt, train, v);
  if (rc != SM_OK && rc != SM_EINTERRUPTED && ctx->rank == 0)
    fprintf(stderr, "fit: %s\n", ctx->msg);
  return rc;
}

/* (a) the curve against a one-rank fit of all training rows on rank 0; the same
 * parameters on every rank. */
static void check_curve(sm_ctx *ctx, const sm_experiment *e, const sm_hap_vae *v) {
  double ref[EPOCHS * HAP_VAE_N_LOSSES] = {0};
  if (ctx->rank == 0) {
    sm_ctx self;
    sm_ctx_init(&self, MPI_COMM_SELF);
    sm_hapmat all;
    sm_hap_vae one;
    if (read_train(&self, e, &all, NULL) == SM_OK && fit(&self, e, NULL, &all, &one) == SM_OK) {
      memcpy(ref, one.history, sizeof ref);
      sm_hap_vae_free(&one);
    }
    sm_hapmat_free(&all);
    sm_ctx_free(&self);
  }
  MPI_Bcast(ref, EPOCHS * HAP_VAE_N_LOSSES, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  double worst = 0;
  for (int i = 0; i < EPOCHS * HAP_VAE_N_LOSSES; i++)
    worst = fmax(worst, fabs(v->history[i] - ref[i]) / fabs(ref[i]));
  if (ctx->rank == 0)
    printf("%d ranks: rec %.4f -> %.4f, kl %.4f -> %.4f; max relative difference from one "
           "rank %.2e (tolerance %.0e)\n",
           ctx->size, v->history[0], v->history[(EPOCHS - 1) * 2], v->history[1],
           v->history[(EPOCHS - 1) * 2 + 1], worst, CURVE_TOL);
  CHECK(worst <= CURVE_TOL);
  CHECK(v->history[(EPOCHS - 1) * 2] < v->history[0]);

  /* every rank holds the same parameters */
  uint64_t sum = sm_nn_checksum(&v->params), lo = 0, hi = 0;
  MPI_Allreduce(&sum, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&sum, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  CHECK(lo == hi);
}

static void check_same(const sm_hap_vae *a, const sm_hap_vae *b) {
  CHECK(a->n_model == b->n_model && a->history && b->history);
  if (a->n_model != b->n_model || !a->history || !b->history)
    return;
  CHECK(memcmp(a->params.value, b->params.value, a->n_model * sizeof(float)) == 0);
  CHECK(memcmp(a->history, b->history, EPOCHS * 2 * sizeof(double)) == 0);
}

/* (b) checkpoints: every 2 epochs (the file holds epoch 2), and a stop before the first
 * step; resuming from either ends bitwise where the straight fit does. */
static void check_resume(sm_ctx *ctx, const sm_experiment *e, const sm_hapmat *train,
                         const char *dir, const sm_hap_vae *straight) {
  char ckpt[256];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", dir);
  sm_hap_vae v;
  sm_fit_options every = {.checkpoint = ckpt, .checkpoint_every = 2, .experiment_hash = 11};
  CHECK(fit(ctx, e, &every, train, &v) == SM_OK);
  sm_hap_vae_free(&v);
  sm_fit_options resume = every;
  resume.resume = 1;
  CHECK(fit(ctx, e, &resume, train, &v) == SM_OK);
  check_same(straight, &v);
  sm_hap_vae_free(&v);

  /* a stop requested before training: a checkpoint and SM_EINTERRUPTED, then resume */
  volatile sig_atomic_t flag = 1;
  if (ctx->rank == 0)
    unlink(ckpt);
  MPI_Barrier(MPI_COMM_WORLD);
  sm_fit_options stop = {.checkpoint = ckpt, .experiment_hash = 11, .stop = &flag};
  CHECK(fit(ctx, e, &stop, train, &v) == SM_EINTERRUPTED);
  CHECK(access(ckpt, R_OK) == 0);
  CHECK(fit(ctx, e, &resume, train, &v) == SM_OK);
  check_same(straight, &v);
  sm_hap_vae_free(&v);
  MPI_Barrier(MPI_COMM_WORLD);
  if (ctx->rank == 0)
    unlink(ckpt);
}

/* (c) rows depend on (seed, row) only: one call equals pieces, and a saved and loaded
 * model samples the same rows; allele frequencies follow the training rows. */
static void check_sampling(sm_ctx *ctx, const sm_experiment *e, const sm_hap_vae *v,
                           const sm_variants *vars, const char *dir) {
  size_t nv = (size_t)v->n_vars;
  uint8_t *a = malloc(SAMPLE_ROWS * nv), *b = malloc(SAMPLE_ROWS * nv);
  CHECK(sm_hap_vae_sample(ctx, v, 42, 0, SAMPLE_ROWS, a) == SM_OK);
  CHECK(sm_hap_vae_sample(ctx, v, 42, 0, 137, b) == SM_OK);
  CHECK(sm_hap_vae_sample(ctx, v, 42, 137, SAMPLE_ROWS - 137, b + 137 * nv) == SM_OK);
  CHECK(memcmp(a, b, SAMPLE_ROWS * nv) == 0);

  /* save, load, sample again */
  char path[256];
  snprintf(path, sizeof path, "%s/model.h5", dir);
  CHECK(sm_hap_vae_save(ctx, v, vars, e, path) == SM_OK);
  sm_hap_vae w;
  sm_variants back;
  CHECK(sm_hap_vae_load(ctx, path, &w, &back) == SM_OK);
  memset(b, 9, SAMPLE_ROWS * nv);
  CHECK(sm_hap_vae_sample(ctx, &w, 42, 0, SAMPLE_ROWS, b) == SM_OK);
  CHECK(memcmp(a, b, SAMPLE_ROWS * nv) == 0);
  for (size_t i = 0; i < SAMPLE_ROWS * nv; i++)
    CHECK(a[i] <= 1);
  sm_hap_vae_free(&w);
  CHECK(back.n == vars->n && strcmp(back.id[0], vars->id[0]) == 0);
  sm_variants_free(&back);
  if (ctx->rank == 0)
    unlink(path);
  free(a), free(b);
}

/* (d) genotype rows are refused with a message naming them. */
static void check_refusal(sm_ctx *ctx, const sm_experiment *e, const sm_hapmat *train) {
  sm_hapmat coded = *train;
  coded.ploidy_coded = 1;
  sm_hap_vae v;
  CHECK(fit(ctx, e, NULL, &coded, &v) == SM_EINPUT);
  CHECK(strstr(ctx->msg, "genotypes (0/1/2)") != NULL);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  sm_experiment e;
  sm_hapmat train;
  sm_variants vars;
  sm_hap_vae straight;
  if (load_experiment(&ctx, NULL, &e) == SM_OK && read_train(&ctx, &e, &train, &vars) == SM_OK) {
    CHECK(fit(&ctx, &e, NULL, &train, &straight) == SM_OK);
    check_curve(&ctx, &e, &straight);
    char *dir = test_mkdtemp("synthmpi_hapvae");
    check_resume(&ctx, &e, &train, dir, &straight);
    check_sampling(&ctx, &e, &straight, &vars, dir);
    check_refusal(&ctx, &e, &train);
    if (ctx.rank == 0)
      rmdir(dir);
    free(dir);
    sm_hap_vae_free(&straight);
    sm_hapmat_free(&train);
    sm_variants_free(&vars);
    sm_experiment_free(&e);
  }
  sm_ctx_free(&ctx);
  return test_finish();
}
