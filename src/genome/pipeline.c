/* The genome pipeline behind synthmpi run|fit|sample|eval|check for data.format hapt and
 * vcf: read persons, split them, fit hap_markov or hap_vae, write the genotype release,
 * evaluate. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "genome/genome_internal.h"
#include "genome/hap_vae.h"

/* Real data of a run: training and held-out persons over the same variants. */
typedef struct genome_data {
  sm_hapmat train, holdout;
  sm_variants vars;
} genome_data;

static void data_free(genome_data *d) {
  sm_hapmat_free(&d->train);
  sm_hapmat_free(&d->holdout);
  sm_variants_free(&d->vars);
}

int sm_genome_experiment(const sm_experiment *e) {
  const char *f = e->data.format;
  return f && (strcmp(f, "hapt") == 0 || strcmp(f, "vcf") == 0);
}

/* A fitted genome model: hap_markov, or hap_vae when is_vae. */
typedef struct genome_model {
  int is_vae;
  sm_hap_markov markov;
  sm_hap_vae vae;
} genome_model;

static void model_free(genome_model *m) {
  sm_hap_markov_free(&m->markov);
  sm_hap_vae_free(&m->vae);
}

static int is_vae(const sm_experiment *e) {
  return strcmp(e->model.kind, SM_HAP_VAE_KIND) == 0;
}

/* Local. The model must be a genome model. */
static int check_model(sm_ctx *ctx, const sm_experiment *e) {
  if (strcmp(e->model.kind, SM_HAP_MARKOV_KIND) != 0 && !is_vae(e))
    return sm_fail(ctx, SM_EINPUT,
                   "%s: model.kind '%s' does not fit %s data (genomic models: hap_markov, "
                   "hap_vae)",
                   e->path, e->model.kind, e->data.format);
  return SM_OK;
}

/* Collective. Read the persons and split them (by person, seeded) when a fraction is
 * held out. */
static int read_data(sm_ctx *ctx, const sm_experiment *e, genome_data *d) {
  memset(d, 0, sizeof(*d));
  double t0 = sm_elapsed(ctx);
  sm_log(ctx, SM_LOG_INFO, "reading %s (%s) on %d rank%s", e->data.path, e->data.format, ctx->size,
         ctx->size == 1 ? "" : "s");
  sm_hapmat all;
  SM_TRY(sm_genome_read(ctx, &e->data, &all, &d->vars));
  double fraction = e->holdout.kind == SM_HOLDOUT_FRACTION ? e->holdout.fraction : 0;
  int rc =
      sm_agree(ctx, sm_hapmat_split(ctx, &all, fraction, e->holdout.seed, &d->train, &d->holdout));
  sm_hapmat_free(&all);
  SM_TRY(rc);

  /* what was read */
  int64_t nt = 0, nh = 0;
  SM_TRY(sm_hapmat_rows_total(ctx, &d->train, &nt));
  SM_TRY(sm_hapmat_rows_total(ctx, &d->holdout, &nh));
  sm_log(ctx, SM_LOG_INFO, "read %lld training and %lld held-out %s, %lld variants (%.2f s)",
         (long long)nt, (long long)nh, d->train.ploidy_coded ? "genotypes" : "haplotypes",
         (long long)d->vars.n, sm_elapsed(ctx) - t0);
  if (nt == 0)
    return sm_fail(ctx, SM_EINPUT, "%s: no training rows to fit", e->data.path);
  return SM_OK;
}

/* Collective. Fit hap_vae; no checkpoints (a genome fit is one run). */
static int fit_vae(sm_ctx *ctx, const sm_experiment *e, const genome_data *d, sm_hap_vae *v) {
  double t0 = sm_elapsed(ctx);
  sm_fit_options opt = {.privacy = e->privacy.enabled ? &e->privacy : NULL};
  SM_TRY(sm_hap_vae_fit(ctx, &e->model, &opt, &d->train, v));
  sm_log(ctx, SM_LOG_INFO, "fitted hap_vae (%zu parameters) in %.2f s", v->n_model,
         sm_elapsed(ctx) - t0);
  return SM_OK;
}

/* Collective. Fit hap_markov with the experiment's settings. */
static int fit_markov(sm_ctx *ctx, const sm_experiment *e, const genome_data *d, sm_hap_markov *m) {
  const sm_params *p = &e->model.params;
  sm_hap_markov_spec spec = {
      .order = (int)sm_params_num(p, "order"),
      .alpha = sm_params_num(p, "alpha"),
      .components = (int)sm_params_num(p, "components"),
      .em_iterations = (int)sm_params_num(p, "em_iterations"),
      .seed = (uint64_t)sm_params_num(p, "seed"),
      .privacy = e->privacy.enabled ? &e->privacy : NULL,
      .laplace = strcmp(sm_params_str(p, "noise"), "laplace") == 0,
      .reproducible_seed = (uint64_t)sm_params_num(p, "reproducible_seed"),
  };
  double t0 = sm_elapsed(ctx);
  if (e->privacy.reproducible && e->privacy.enabled)
    sm_log(ctx, SM_LOG_WARN,
           "privacy.reproducible is on: the noise is seeded, so this release is NOT "
           "differentially private (for tests only); its ledger says so");
  else if (e->privacy.enabled)
    sm_log(ctx, SM_LOG_INFO, "private run: epsilon %g, delta %g, unit of privacy one person",
           e->privacy.epsilon, e->privacy.delta);
  SM_TRY(sm_hap_markov_fit(ctx, &spec, &d->train, m));
  sm_log(ctx, SM_LOG_INFO, "fitted hap_markov (order %d, %d component%s, %lld contexts) in %.2f s",
         m->order, m->components, m->components == 1 ? "" : "s", (long long)m->cells,
         sm_elapsed(ctx) - t0);
  return SM_OK;
}

/* Collective. The model the experiment names. */
static int fit(sm_ctx *ctx, const sm_experiment *e, const genome_data *d, genome_model *m) {
  m->is_vae = is_vae(e);
  return m->is_vae ? fit_vae(ctx, e, d, &m->vae) : fit_markov(ctx, e, d, &m->markov);
}

static int model_save(sm_ctx *ctx, const genome_model *m, const sm_variants *vars,
                      const sm_experiment *e, const char *path) {
  return m->is_vae ? sm_hap_vae_save(ctx, &m->vae, vars, e, path)
                   : sm_hap_markov_save(ctx, &m->markov, vars, e, path);
}

/* Collective. The model file of the kind the experiment names. */
static int model_load(sm_ctx *ctx, const sm_experiment *e, const char *path, genome_model *m,
                      sm_variants *vars) {
  m->is_vae = is_vae(e);
  return m->is_vae ? sm_hap_vae_load(ctx, path, &m->vae, vars)
                   : sm_hap_markov_load(ctx, path, &m->markov, vars);
}

/* The release writer's view of the model. */
static sm_genome_sampler sampler_of(const genome_model *m) {
  static const sm_ledger none = {0};
  if (m->is_vae)
    return (sm_genome_sampler){SM_HAP_VAE_KIND, 0,       m->vae.n_vars,
                               &none,           &m->vae, sm_hap_vae_sample};
  return sm_hap_markov_sampler(&m->markov);
}

/* Collective. The release at sampling.output; rows 0 means as many as trained on. */
static int sample(sm_ctx *ctx, sm_experiment *e, const genome_model *gm, const sm_variants *vars,
                  int64_t train_rows) {
  sm_genome_sampler m = sampler_of(gm);
  if (e->sampling.rows == 0)
    e->sampling.rows = train_rows;
  char *path = sm_experiment_output(e, e->sampling.output);
  if (!path)
    return sm_fail(ctx, SM_ERR, "out of memory");
  sm_log(ctx, SM_LOG_INFO, "sampling %lld %s to %s", (long long)e->sampling.rows,
         m.ploidy_coded ? "genotypes" : "haplotypes", path);
  int rc = sm_genome_release_write_sampler(ctx, e, &m, vars, path);
  free(path);
  return rc;
}

/* ---- evaluation ----------------------------------------------------------------------- */

static void add_figure(cJSON *o, const char *name, double x) {
  if (isfinite(x))
    cJSON_AddNumberToObject(o, name, x);
  else
    cJSON_AddNullToObject(o, name);
}

static void add_array(cJSON *o, const char *name, const double *x, int n) {
  cJSON *a = cJSON_AddArrayToObject(o, name);
  for (int i = 0; i < n && x; i++)
    cJSON_AddItemToArray(a, isfinite(x[i]) ? cJSON_CreateNumber(x[i]) : cJSON_CreateNull());
}

/* Largest base-pair distance of the variant pairs LD is computed on. */
#define LD_MAX_DIST 1000000

/* The note on sparse variants, or NULL: with fewer pairs within LD_MAX_DIST than half the
 * variants, the variants are spread over the genome and linkage between them is weak. */
static const char *linkage_note(const sm_genome_metrics *g, int64_t n_vars, char *buf,
                                size_t size) {
  if (2 * g->ld_pairs >= n_vars)
    return NULL;
  snprintf(buf, size,
           "only %lld variant pairs lie within %d kb of each other among %lld variants: these "
           "variants are spread over the genome, so linkage between them is weak and the LD "
           "figures say little about it; judge LD on dense data such as a VCF region",
           (long long)g->ld_pairs, LD_MAX_DIST / 1000, (long long)n_vars);
  return buf;
}

/* Rank 0. The figures as JSON text (malloc'd by cJSON). */
static char *metrics_json(const sm_experiment *e, const sm_genome_metrics *g, int64_t rows[3],
                          const char *note) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "experiment", e->resolved ? e->resolved : "");
  cJSON_AddStringToObject(root, "kind", "genome");
  cJSON *r = cJSON_AddObjectToObject(root, "rows");
  cJSON_AddNumberToObject(r, "training", (double)rows[0]);
  cJSON_AddNumberToObject(r, "holdout", (double)rows[1]);
  cJSON_AddNumberToObject(r, "synthetic", (double)rows[2]);
  cJSON *f = cJSON_AddObjectToObject(root, "genome");
  add_figure(f, "af_corr_train", g->af_corr_train);
  add_figure(f, "af_corr_holdout", g->af_corr_holdout);
  add_figure(f, "ld_r2_mean_abs_diff", g->ld_r2_mean_abs_diff);
  cJSON_AddNumberToObject(f, "ld_pairs", (double)g->ld_pairs);
  add_array(f, "ld_bin_edges", g->ld_bin_edges, g->ld_bin_edges ? g->ld_bins + 1 : 0);
  add_array(f, "ld_decay_real", g->ld_decay_real, g->ld_bins);
  add_array(f, "ld_decay_synth", g->ld_decay_synth, g->ld_bins);
  add_figure(f, "pairdist_real_mean", g->pairdist_real_mean);
  add_figure(f, "pairdist_synth_mean", g->pairdist_synth_mean);
  add_figure(f, "pairdist_cross_mean", g->pairdist_cross_mean);
  add_figure(f, "pairdist_wasserstein", g->pairdist_wasserstein);
  add_figure(f, "aats_train", g->aats_train);
  add_figure(f, "aats_holdout", g->aats_holdout);
  add_figure(f, "aats_privacy_loss", g->aats_privacy_loss);
  cJSON_AddNumberToObject(f, "aats_rows", (double)g->aats_rows);
  add_array(f, "pca_explained", g->pca_explained, g->pca_components);
  if (g->reason[0])
    cJSON_AddStringToObject(f, "reason", g->reason);
  if (note)
    cJSON_AddStringToObject(f, "linkage_note", note);
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  return text;
}

/* Rank 0. Write text to path via path.partial. */
static int write_text(sm_ctx *ctx, const char *path, const char *text) {
  size_t n = strlen(path) + 16;
  char *partial = sm_malloc(ctx, n);
  if (!partial)
    return SM_ERR;
  snprintf(partial, n, "%s.partial", path);
  FILE *fp = fopen(partial, "w");
  int ok = fp && text && fputs(text, fp) >= 0 && fputc('\n', fp) != EOF;
  ok = (fp && fclose(fp) == 0) && ok;
  int rc = ok && rename(partial, path) == 0
               ? SM_OK
               : sm_fail(ctx, SM_ERR, "cannot write evaluation report %s", path);
  if (rc != SM_OK)
    remove(partial);
  free(partial);
  return rc;
}

/* Rank 0. The headline figures in the log. */
static void log_metrics(const sm_ctx *ctx, const sm_genome_metrics *g, const char *note) {
  sm_log(ctx, SM_LOG_INFO, "genome: allele-frequency correlation %.4f (train), %.4f (holdout)",
         g->af_corr_train, g->af_corr_holdout);
  sm_log(ctx, SM_LOG_INFO, "genome: LD |r2 difference| %.4f over %lld pairs",
         g->ld_r2_mean_abs_diff, (long long)g->ld_pairs);
  sm_log(ctx, SM_LOG_INFO, "genome: AATS %.4f (train), %.4f (holdout), privacy loss %.4f",
         g->aats_train, g->aats_holdout, g->aats_privacy_loss);
  if (g->reason[0])
    sm_log(ctx, SM_LOG_INFO, "genome: %s", g->reason);
  if (note)
    sm_log(ctx, SM_LOG_INFO, "genome: %s", note);
}

/* Collective. Evaluate the release against the real persons; JSON beside the release. */
static int evaluate(sm_ctx *ctx, const sm_experiment *e, const genome_data *d,
                    const char *release) {
  sm_hapmat synth;
  sm_variants sv;
  sm_genome_metrics g;
  memset(&g, 0, sizeof g);
  SM_TRY(sm_genome_release_read(ctx, release, &synth, &sv));
  int rc = sv.n == d->vars.n && synth.ploidy_coded == d->train.ploidy_coded
               ? SM_OK
               : sm_fail(ctx, SM_EINPUT, "%s: %lld variants, the data %lld", release,
                         (long long)sv.n, (long long)d->vars.n);
  char *json = sm_experiment_output(e, "evaluation.json");
  char *plot = sm_experiment_output(e, "evaluation_pca.svg");
  sm_genome_eval_spec spec = {e->evaluation.seed, e->evaluation.max_rows, LD_MAX_DIST, 20, 2, plot};
  if (rc == SM_OK)
    rc =
        sm_agree(ctx, sm_genome_evaluate(ctx, &spec, &d->vars, &d->train, &d->holdout, &synth, &g));

  /* rows of each set, then the report on rank 0 */
  int64_t rows[3] = {0, 0, 0};
  if (rc == SM_OK)
    rc = sm_hapmat_rows_total(ctx, &d->train, &rows[0]);
  if (rc == SM_OK)
    rc = sm_hapmat_rows_total(ctx, &d->holdout, &rows[1]);
  if (rc == SM_OK)
    rc = sm_hapmat_rows_total(ctx, &synth, &rows[2]);
  if (rc == SM_OK && ctx->rank == 0) {
    char buf[512];
    const char *note = linkage_note(&g, d->vars.n, buf, sizeof buf);
    char *text = metrics_json(e, &g, rows, note);
    rc = write_text(ctx, json, text);
    cJSON_free(text);
    log_metrics(ctx, &g, note);
  }
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO, "evaluation written: %s", json);
  sm_genome_metrics_free(&g);
  sm_hapmat_free(&synth);
  sm_variants_free(&sv);
  free(json);
  free(plot);
  return rc;
}

/* ---- subcommands ---------------------------------------------------------------------- */

/* Collective: whether path exists, as rank 0 sees it. */
static int path_exists(sm_ctx *ctx, const char *path, int *exists) {
  *exists = ctx->rank == 0 && access(path, F_OK) == 0;
  SM_MPI_CHECK(ctx, MPI_Bcast(exists, 1, MPI_INT, 0, ctx->comm));
  return SM_OK;
}

/* Collective: an existing release without sampling.overwrite is refused before any work. */
static int check_release_free(sm_ctx *ctx, const sm_experiment *e) {
  char *path = sm_experiment_output(e, e->sampling.output);
  int exists = 0;
  if (!path)
    return sm_fail(ctx, SM_ERR, "out of memory");
  int rc = path_exists(ctx, path, &exists);
  if (rc == SM_OK && exists && !e->sampling.overwrite)
    rc = sm_fail(ctx, SM_EINPUT, "%s exists (set sampling.overwrite: true to replace it)", path);
  free(path);
  return rc;
}

int sm_genome_run(sm_ctx *ctx, sm_experiment *e) {
  genome_data d;
  genome_model m;
  memset(&m, 0, sizeof m);
  memset(&d, 0, sizeof d);
  char *model = sm_experiment_output(e, "model.h5");
  char *release = sm_experiment_output(e, e->sampling.output);

  /* read and fit, keep the model, sample, evaluate */
  int rc = sm_agree(ctx, check_model(ctx, e));
  if (rc == SM_OK)
    rc = check_release_free(ctx, e);
  if (rc == SM_OK)
    rc = read_data(ctx, e, &d);
  if (rc == SM_OK)
    rc = fit(ctx, e, &d, &m);
  if (rc == SM_OK)
    rc = model_save(ctx, &m, &d.vars, e, model);
  int64_t train_rows = 0;
  if (rc == SM_OK)
    rc = sm_hapmat_rows_total(ctx, &d.train, &train_rows);
  if (rc == SM_OK)
    rc = sample(ctx, e, &m, &d.vars, train_rows);
  if (rc == SM_OK && e->evaluation.enabled)
    rc = evaluate(ctx, e, &d, release);

  model_free(&m);
  data_free(&d);
  free(model);
  free(release);
  return rc;
}

int sm_genome_fit(sm_ctx *ctx, sm_experiment *e) {
  genome_data d;
  genome_model m;
  memset(&m, 0, sizeof m);
  memset(&d, 0, sizeof d);
  char *model = sm_experiment_output(e, "model.h5");
  int rc = sm_agree(ctx, check_model(ctx, e));
  if (rc == SM_OK)
    rc = read_data(ctx, e, &d);
  if (rc == SM_OK)
    rc = fit(ctx, e, &d, &m);
  if (rc == SM_OK)
    rc = model_save(ctx, &m, &d.vars, e, model);
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO, "model written: %s", model);
  model_free(&m);
  data_free(&d);
  free(model);
  return rc;
}

int sm_genome_sample(sm_ctx *ctx, sm_experiment *e, const char *model_path) {
  genome_model m;
  sm_variants vars;
  memset(&m, 0, sizeof m);
  char *path = model_path ? sm_strdup(model_path) : sm_experiment_output(e, "model.h5");
  int rc = model_load(ctx, e, path, &m, &vars);
  if (rc == SM_OK && e->sampling.rows == 0)
    rc = sm_fail(ctx, SM_EINPUT, "sampling.rows must be set when sampling from a saved model");
  if (rc == SM_OK)
    rc = sample(ctx, e, &m, &vars, 0);
  model_free(&m);
  sm_variants_free(&vars);
  free(path);
  return rc;
}

int sm_genome_eval(sm_ctx *ctx, sm_experiment *e, const char *release_path) {
  genome_data d;
  char *release =
      release_path ? sm_strdup(release_path) : sm_experiment_output(e, e->sampling.output);
  int rc = read_data(ctx, e, &d);
  if (rc == SM_OK)
    rc = evaluate(ctx, e, &d, release);
  data_free(&d);
  free(release);
  return rc;
}

int sm_genome_check(sm_ctx *ctx, const sm_experiment *e) {
  int rc = check_model(ctx, e);
  if (rc == SM_OK && ctx->rank == 0 && e->data.legend && access(e->data.legend, R_OK) != 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: legend file not readable", e->data.legend);
  return sm_agree(ctx, rc);
}
