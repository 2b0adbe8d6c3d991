/* Sequence evaluation: k-mer spectra (Jensen-Shannon divergence), GC content, held-out
 * bits per base and the longest exact match of each synthetic sequence in training. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seq/seq_internal.h"

#define MAX_SPECTRUM_K 6

int sm_seq_kmer_counts(sm_ctx *ctx, const sm_seqset *s, int k, double *counts) {
  if (k < 1 || k > 12)
    return sm_fail(ctx, SM_ERR, "k-mer spectrum: k = %d outside 1..12", k);
  int64_t size = (int64_t)1 << (2 * k);
  uint64_t mask = (uint64_t)size - 1;
  memset(counts, 0, (size_t)size * sizeof(double));

  /* every k-mer of every sequence here, then summed (exact: integers in doubles) */
  for (int64_t q = 0; q < s->n; q++) {
    const uint8_t *c = s->codes + s->offset[q];
    int64_t len = s->offset[q + 1] - s->offset[q];
    uint64_t roll = 0;
    for (int64_t p = 0; p < len; p++) {
      roll = ((roll << 2) | c[p]) & mask;
      if (p + 1 >= k)
        counts[roll] += 1;
    }
  }
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, counts, (int)size, MPI_DOUBLE, MPI_SUM, ctx->comm));
  return SM_OK;
}

double sm_seq_jsd(const double *a, const double *b, int64_t n) {
  double sa = 0, sb = 0, d = 0;
  for (int64_t i = 0; i < n; i++)
    sa += a[i], sb += b[i];
  if (sa <= 0 || sb <= 0)
    return 0;

  /* 0.5 KL(P || M) + 0.5 KL(Q || M), M the average, in bits */
  for (int64_t i = 0; i < n; i++) {
    double p = a[i] / sa, q = b[i] / sb, m = 0.5 * (p + q);
    if (p > 0)
      d += 0.5 * p * log2(p / m);
    if (q > 0)
      d += 0.5 * q * log2(q / m);
  }
  return d > 0 ? d : 0;
}

/* Collective. JSD of each k = 1..6 of a against b, and GC content of each (from k = 1). */
static int spectra(sm_ctx *ctx, const sm_seqset *a, const sm_seqset *b, double *jsd, double *gc_a,
                   double *gc_b) {
  double *ca = sm_malloc(ctx, sizeof(double) << (2 * MAX_SPECTRUM_K));
  double *cb = sm_malloc(ctx, sizeof(double) << (2 * MAX_SPECTRUM_K));
  int rc = sm_agree(ctx, ca && cb ? SM_OK : SM_ERR);
  for (int k = 1; k <= MAX_SPECTRUM_K && rc == SM_OK; k++) {
    rc = sm_seq_kmer_counts(ctx, a, k, ca);
    if (rc == SM_OK)
      rc = sm_seq_kmer_counts(ctx, b, k, cb);
    if (rc != SM_OK)
      break;
    double na = ca[0] + ca[1] + ca[2] + ca[3], nb = cb[0] + cb[1] + cb[2] + cb[3];
    if (k == 1) {
      *gc_a = na > 0 ? (ca[SM_BASE_C] + ca[SM_BASE_G]) / na : NAN;
      *gc_b = nb > 0 ? (cb[SM_BASE_C] + cb[SM_BASE_G]) / nb : NAN;
    }
    jsd[k - 1] = na > 0 && nb > 0 ? sm_seq_jsd(ca, cb, (int64_t)1 << (2 * k)) : NAN;
  }
  free(ca);
  free(cb);
  return rc;
}

/* Collective. Longest match of each synthetic sequence in training: max and mean. */
static int matches(sm_ctx *ctx, const sm_seqset *train, const sm_seqset *synth,
                   sm_seq_metrics *out) {
  sm_seq_index *x = NULL;
  SM_TRY(sm_seq_index_build(ctx, train, &x));
  int64_t local[2] = {0, 0}, global[2] = {0, 0}; /* max, sum */
  for (int64_t q = 0; q < synth->n; q++) {
    int64_t len = synth->offset[q + 1] - synth->offset[q];
    int64_t l = sm_seq_index_longest(x, synth->codes + synth->offset[q], len);
    local[0] = l > local[0] ? l : local[0];
    local[1] += l;
  }
  sm_seq_index_free(x);
  SM_MPI_CHECK(ctx, MPI_Allreduce(&local[0], &global[0], 1, MPI_INT64_T, MPI_MAX, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Allreduce(&local[1], &global[1], 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  out->match_max = global[0];
  out->match_mean = synth->n_total > 0 ? (double)global[1] / (double)synth->n_total : NAN;
  return SM_OK;
}

int sm_seq_evaluate(sm_ctx *ctx, const sm_markov *m, const sm_seqset *train,
                    const sm_seqset *holdout, const sm_seqset *synth, sm_seq_metrics *out) {
  memset(out, 0, sizeof(*out));
  out->n_synth = synth->n_total;
  out->n_holdout = holdout->n_total;
  double gc_unused = 0;

  /* spectra against held-out real data, and the real-vs-real figure beside them */
  SM_TRY(spectra(ctx, synth, holdout, out->jsd_synth, &out->gc_synth, &out->gc_holdout));
  SM_TRY(spectra(ctx, train, holdout, out->jsd_train, &out->gc_train, &gc_unused));

  /* held-out bits per base of the model and of its order-0 part */
  out->bits_model = out->bits_order0 = NAN;
  if (holdout->n_total > 0) {
    SM_TRY(sm_markov_bits_per_base(ctx, m, sm_markov_order(m), holdout, &out->bits_model));
    SM_TRY(sm_markov_bits_per_base(ctx, m, 0, holdout, &out->bits_order0));
  }
  return matches(ctx, train, synth, out);
}

/* A number, or null when it is not finite. */
static void add_number(cJSON *o, const char *name, double v) {
  if (isfinite(v))
    cJSON_AddNumberToObject(o, name, v);
  else
    cJSON_AddNullToObject(o, name);
}

static cJSON *kmer_json(const sm_seq_metrics *v) {
  cJSON *list = cJSON_CreateArray();
  for (int k = 1; k <= MAX_SPECTRUM_K && list; k++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "k", k);
    add_number(o, "synthetic_vs_holdout", v->jsd_synth[k - 1]);
    add_number(o, "train_vs_holdout", v->jsd_train[k - 1]);
    cJSON_AddItemToArray(list, o);
  }
  return list;
}

char *sm_seq_metrics_json(const sm_seq_metrics *v, const char *release, const char *experiment) {
  cJSON *root = cJSON_CreateObject(), *o;
  cJSON_AddStringToObject(root, "release", release ? release : "");
  cJSON_AddNumberToObject(root, "synthetic_sequences", (double)v->n_synth);
  cJSON_AddNumberToObject(root, "holdout_sequences", (double)v->n_holdout);

  /* spectra, GC, perplexity, copying */
  o = cJSON_AddObjectToObject(root, "kmer_jsd_bits");
  cJSON_AddItemToObject(o, "by_k", kmer_json(v));
  o = cJSON_AddObjectToObject(root, "gc_content");
  add_number(o, "train", v->gc_train);
  add_number(o, "holdout", v->gc_holdout);
  add_number(o, "synthetic", v->gc_synth);
  o = cJSON_AddObjectToObject(root, "holdout_bits_per_base");
  add_number(o, "model", v->bits_model);
  add_number(o, "order0", v->bits_order0);
  add_number(o, "model_perplexity", exp2(v->bits_model));
  o = cJSON_AddObjectToObject(root, "longest_training_match");
  cJSON_AddNumberToObject(o, "max", (double)v->match_max);
  add_number(o, "mean", v->match_mean);
  cJSON_AddStringToObject(o, "strands", "both");
  if (experiment)
    cJSON_AddStringToObject(root, "experiment", experiment);
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  return text;
}
