/* synthmpi run for sequence experiments: read FASTA windows, fit the Markov model or the
 * neural model, write the release, evaluate it against the held-out windows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seq/cnn.h"
#include "seq/seq_internal.h"

/* Random bases for letters other than ACGT (non_acgt: random) come from this key, so the
 * same file gives the same bases on every run. */
#define NON_ACGT_SEED 0x6e6f6e41434754ULL

static const sm_param_desc markov_params[] = {
    {"order", SM_PARAM_INT, "-1", -1, SM_SEQ_MAX_ORDER, NULL,
     "bases of context k (0..24); -1: the k in 0..max_order with the fewest validation bits "
     "per base"},
    {"max_order", SM_PARAM_INT, "12", 0, SM_SEQ_MAX_ORDER, NULL,
     "largest k tried when order is -1"},
    {"validate_tail", SM_PARAM_REAL, "0.1", 0.01, 0.5, NULL,
     "choosing k: share of each training sequence's end held back and scored"},
};

static const sm_model_ops dna_markov = {
    .kind = "dna_markov",
    .summary = "order-k Markov chain over DNA bases, interpolated Witten-Bell smoothing",
    .params = markov_params,
    .n_params = (int)(sizeof markov_params / sizeof markov_params[0]),
};

const sm_model_ops *sm_seq_model_find(const char *kind) {
  if (kind && strcmp(kind, sm_dna_cnn_ops.kind) == 0)
    return &sm_dna_cnn_ops;
  return kind && strcmp(kind, dna_markov.kind) == 0 ? &dna_markov : NULL;
}

/* Is the experiment's model the neural one? */
static int is_cnn(const sm_experiment *e) {
  return strcmp(e->model.kind, sm_dna_cnn_ops.kind) == 0;
}

int sm_seq_experiment(const sm_experiment *e) {
  return e->data.format && strcmp(e->data.format, "fasta") == 0;
}

/* Collective. Refuse an existing release before any work unless overwrite is set. */
static int check_release_free(sm_ctx *ctx, const sm_experiment *e, const char *path) {
  int exists = ctx->rank == 0 && access(path, F_OK) == 0;
  SM_MPI_CHECK(ctx, MPI_Bcast(&exists, 1, MPI_INT, 0, ctx->comm));
  if (exists && !e->sampling.overwrite)
    return sm_fail(ctx, SM_EINPUT, "%s exists (set sampling.overwrite: true to replace it)", path);
  return SM_OK;
}

/* Collective. Read and split the windows (and, when the order is to be chosen, the parts
 * for choosing it); rank 0 logs what the reader saw. */
static int read_windows(sm_ctx *ctx, const sm_experiment *e, sm_fasta_parts *parts) {
  sm_fasta_options o = {.path = e->data.path,
                        .window = e->data.window,
                        .stride = e->data.stride,
                        .non_acgt = (sm_non_acgt)e->data.non_acgt,
                        .seed = NON_ACGT_SEED,
                        .holdout = e->holdout.kind,
                        .fraction = e->holdout.fraction,
                        .split_seed = e->holdout.seed};
  sm_fasta_stats st;
  if (e->holdout.kind == SM_HOLDOUT_FILE)
    return sm_fail(ctx, SM_EINPUT,
                   "%s: holdout.path is not supported for FASTA data; use "
                   "holdout.fraction with split: tail or random",
                   e->path);
  const sm_params *p = &e->model.params;
  double tail = !is_cnn(e) && sm_params_num(p, "order") < 0 ? sm_params_num(p, "validate_tail") : 0;
  double t0 = sm_elapsed(ctx);
  SM_TRY(sm_fasta_read_parts(ctx, &o, tail, parts, &st));
  sm_log(ctx, SM_LOG_INFO,
         "read %s: %lld records, %lld bases, %lld not ACGT (%s); %lld training and %lld "
         "held-out sequences (%.2f s)",
         e->data.path, (long long)st.records, (long long)st.bases, (long long)st.non_acgt,
         o.non_acgt == SM_NON_ACGT_RANDOM ? "replaced by random bases" : "windows skipped",
         (long long)parts->train.n_total, (long long)parts->holdout.n_total, sm_elapsed(ctx) - t0);
  if (st.skipped_windows > 0 || st.short_records > 0)
    sm_log(ctx, SM_LOG_WARN,
           "%lld windows skipped for letters other than ACGT, %lld records "
           "(or parts) shorter than one window",
           (long long)st.skipped_windows, (long long)st.short_records);
  return SM_OK;
}

/* Collective. The neural model, and beside it the order-0 Markov model whose held-out bits
 * per base the evaluation reports as the baseline. */
static int fit_cnn(sm_ctx *ctx, const sm_experiment *e, const sm_fasta_parts *parts, sm_markov **m,
                   sm_cnn **net) {
  sm_cnn_settings s;
  sm_markov_options o = {.order = 0, .max_order = 0};
  SM_TRY(sm_agree(ctx, sm_cnn_settings_read(ctx, &e->model.params, &s)));
  double t0 = sm_elapsed(ctx);
  SM_TRY(sm_cnn_fit(ctx, &s, &parts->train, NULL, net));
  sm_log(ctx, SM_LOG_INFO, "fitted dna_cnn: training bits per base %.4f in the last epoch (%.2f s)",
         (*net)->history[s.epochs - 1], sm_elapsed(ctx) - t0);
  return sm_markov_fit(ctx, &o, &parts->train, m);
}

/* Collective. The model, with its order chosen when model.order is -1. */
static int fit(sm_ctx *ctx, const sm_experiment *e, const sm_fasta_parts *parts, sm_markov **m,
               sm_cnn **net) {
  if (is_cnn(e))
    return fit_cnn(ctx, e, parts, m, net);
  const sm_params *p = &e->model.params;
  sm_markov_options o = {.order = (int)sm_params_num(p, "order"),
                         .max_order = (int)sm_params_num(p, "max_order"),
                         .validate_tail = sm_params_num(p, "validate_tail"),
                         .choose_fit = &parts->choose_fit,
                         .choose_score = &parts->choose_score};
  double t0 = sm_elapsed(ctx);
  SM_TRY(sm_markov_fit(ctx, &o, &parts->train, m));
  int k = sm_markov_order(*m), dense = 0;
  while (dense <= k && sm_markov_is_dense(*m, dense))
    dense++;
  sm_log(ctx, SM_LOG_INFO,
         "fitted dna_markov of order %d (orders 0..%d dense, %d sparse) "
         "in %.2f s",
         k, dense - 1, k + 1 - dense, sm_elapsed(ctx) - t0);
  return SM_OK;
}

/* Collective. Release length: sampling.length, else the longest training sequence. */
static int release_length(sm_ctx *ctx, const sm_experiment *e, const sm_seqset *train,
                          int64_t *length) {
  int64_t mine = 0;
  for (int64_t i = 0; i < train->n; i++) {
    int64_t len = train->offset[i + 1] - train->offset[i];
    mine = len > mine ? len : mine;
  }
  SM_MPI_CHECK(ctx, MPI_Allreduce(&mine, length, 1, MPI_INT64_T, MPI_MAX, ctx->comm));
  if (e->sampling.length > 0)
    *length = e->sampling.length;
  return SM_OK;
}

/* Rank 0: the JSON beside the release (written whole, then renamed) and on stdout. */
static int write_json(sm_ctx *ctx, const char *path, const char *text) {
  if (ctx->rank != 0)
    return SM_OK;
  size_t n = strlen(path) + 16;
  char *tmp = malloc(n);
  if (!tmp)
    return sm_fail(ctx, SM_ERR, "out of memory");
  snprintf(tmp, n, "%s.partial", path);
  FILE *f = fopen(tmp, "w");
  int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
  ok = f && fclose(f) == 0 && ok;
  ok = ok && rename(tmp, path) == 0;
  if (!ok)
    remove(tmp);
  free(tmp);
  if (!ok)
    return sm_fail(ctx, SM_ERR, "%s: cannot write the evaluation", path);
  printf("%s\n", text);
  fflush(stdout);
  return SM_OK;
}

/* Collective. Evaluate the release as written; with the neural model, the model's bits
 * per base are its own and the order-0 figure is the Markov baseline's. */
static int evaluate(sm_ctx *ctx, const sm_experiment *e, const sm_markov *m, const sm_cnn *net,
                    const sm_seqset *train, const sm_seqset *holdout, const char *release) {
  sm_seqset synth;
  sm_seq_metrics v;
  double t0 = sm_elapsed(ctx);
  SM_TRY(sm_seq_release_read(ctx, release, &synth));
  int rc = sm_seq_evaluate(ctx, m, train, holdout, &synth, &v);
  sm_seqset_free(&synth);
  SM_TRY(rc);
  if (net && holdout->n_total > 0)
    SM_TRY(sm_cnn_bits_per_base(ctx, net, holdout, &v.bits_model));

  char *json = ctx->rank == 0 ? sm_seq_metrics_json(&v, release, e->resolved) : NULL;
  char *path = sm_experiment_output(e, "evaluation.json");
  rc = ctx->rank == 0 && (!json || !path) ? sm_fail(ctx, SM_ERR, "out of memory") : SM_OK;
  if (rc == SM_OK)
    rc = write_json(ctx, path, json);
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO,
           "held-out bits per base %.4f (order 0: %.4f); 6-mer JSD %.4f "
           "(real vs real %.4f); longest training match %lld; evaluation written: %s (%.2f s)",
           v.bits_model, v.bits_order0, v.jsd_synth[5], v.jsd_train[5], (long long)v.match_max,
           path, sm_elapsed(ctx) - t0);
  free(json);
  free(path);
  return rc;
}

/* Collective. Sample and write; rows 0 means as many as the training sequences. */
static int sample(sm_ctx *ctx, const sm_experiment *e, const sm_markov *m, const sm_cnn *net,
                  const sm_seqset *train, const char *path) {
  sm_seq_release r = {.experiment = e, .model = m, .cnn = net, .rows = e->sampling.rows};
  if (r.rows == 0)
    r.rows = train->n_total;
  SM_TRY(release_length(ctx, e, train, &r.length));
  double t0 = sm_elapsed(ctx);
  sm_log(ctx, SM_LOG_INFO, "sampling %lld sequences of %lld bases to %s", (long long)r.rows,
         (long long)r.length, path);
  SM_TRY(sm_seq_release_write(ctx, &r, path));
  double dt = sm_elapsed(ctx) - t0;
  sm_log(ctx, SM_LOG_INFO, "release written: %s (%.2f s, %.3g bases/s)", path, dt,
         dt > 0 ? (double)(r.rows * r.length) / dt : 0.0);
  return SM_OK;
}

int sm_seq_run(sm_ctx *ctx, const sm_experiment *e) {
  sm_fasta_parts parts = {0};
  sm_markov *m = NULL;
  sm_cnn *net = NULL;
  char *release = sm_experiment_output(e, e->sampling.output);
  int rc = sm_agree(ctx, release ? SM_OK : sm_fail(ctx, SM_ERR, "out of memory"));

  /* read, fit, write, evaluate */
  if (rc == SM_OK)
    rc = check_release_free(ctx, e, release);
  if (rc == SM_OK)
    rc = read_windows(ctx, e, &parts);
  if (rc == SM_OK)
    rc = fit(ctx, e, &parts, &m, &net);
  if (rc == SM_OK)
    rc = sample(ctx, e, m, net, &parts.train, release);
  if (rc == SM_OK && e->evaluation.enabled)
    rc = evaluate(ctx, e, m, net, &parts.train, &parts.holdout, release);

  sm_cnn_free(net);
  sm_markov_free(m);
  sm_fasta_parts_free(&parts);
  free(release);
  return rc;
}
