/* DP-SGD for the data-parallel trainer: the plan (sample rate, noise multiplier, steps)
 * checked against the budget before training, Poisson sampling of each rank's rows, the
 * Gaussian noise added once for the whole job, and the ledger entry.
 *
 * Randomness: every draw comes from sm_dp_rng, i.e. the operating system's secure generator.
 * In reproducible mode (tests only) the draws of a step are keyed by the step and, for the
 * sampling, by the global row, so a run gives the same batches at any rank count. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/trainer.h"
#include "synthmpi/rng.h"

/* Stream keys of the reproducible mode: sampling and noise of global step g. */
static uint64_t step_key(uint64_t seed, int64_t g, uint64_t purpose) {
  return sm_hash64(seed ^ sm_hash64(((uint64_t)g << 2) | purpose));
}

/* Accountant by name ("rdp" or "prv"). */
static sm_accountant accountant_of(const char *name) {
  return name && strcmp(name, "prv") == 0 ? SM_ACCOUNTANT_PRV : SM_ACCOUNTANT_RDP;
}

int sm_trainer_dp_epsilon(sm_ctx *ctx, const sm_trainer_dp *dp, int64_t steps, sm_dp_epsilon *out) {
  sm_dp_sgd mech = {dp->sample_rate, dp->noise_multiplier, steps};
  return sm_dp_sgd_epsilon(ctx, dp->accountant, &mech, dp->delta, out);
}

/* Local. sigma = the smallest noise multiplier that fits the budget over dp->steps. */
static int derive_sigma(sm_ctx *ctx, sm_trainer_dp *dp) {
  /* (steps + 0.5) q epochs make the search count exactly dp->steps steps */
  double epochs = ((double)dp->steps + 0.5) * dp->sample_rate;
  int rc = sm_noise_for_epsilon(ctx, dp->accountant, dp->epsilon_budget, dp->delta, dp->sample_rate,
                                epochs, &dp->noise_multiplier);
  if (rc == SM_EINPUT)
    return sm_fail(ctx, SM_EBUDGET,
                   "privacy: no noise multiplier up to %g keeps %lld DP-SGD steps at sample "
                   "rate %g within epsilon %g at delta %g: raise epsilon or lower the epochs",
                   SM_NOISE_MAX_SIGMA, (long long)dp->steps, dp->sample_rate, dp->epsilon_budget,
                   dp->delta);
  return rc;
}

int sm_trainer_dp_plan(sm_ctx *ctx, sm_trainer *t, const sm_privacy_spec *p) {
  sm_trainer_dp *dp = &t->dp;
  memset(dp, 0, sizeof *dp);
  if (!p || !p->enabled)
    return SM_OK;
  if (t->n_global < 1 || t->batch_size < 1)
    return sm_fail(ctx, SM_EINPUT, "DP-SGD needs training rows and a batch size");

  /* q from the expected batch; T as the trainer counts steps */
  dp->enabled = 1;
  dp->sample_rate =
      t->batch_size >= t->n_global ? 1.0 : (double)t->batch_size / (double)t->n_global;
  dp->in_model = t->dp_in_model;
  dp->per_step = t->dp_per_step > 0 ? t->dp_per_step : 1;
  dp->sensitivity = t->dp_sensitivity > 0 ? t->dp_sensitivity : 1.0;
  dp->steps = t->epochs * sm_batches_per_epoch(t->n_global, t->batch_size) * dp->per_step;
  dp->clip = p->max_grad_norm;
  dp->accountant = accountant_of(p->accountant);
  dp->epsilon_budget = p->epsilon;
  dp->delta = p->delta;
  dp->reproducible = p->reproducible;
  dp->seed = sm_hash64(t->seed ^ 0x6470736764ULL);
  dp->noise_multiplier = p->noise_multiplier;
  if (dp->noise_multiplier <= 0)
    SM_TRY(derive_sigma(ctx, dp));

  /* the whole run must fit before the first step */
  sm_dp_epsilon spent;
  SM_TRY(sm_trainer_dp_epsilon(ctx, dp, dp->steps, &spent));
  if (spent.bound > dp->epsilon_budget)
    return sm_fail(ctx, SM_EBUDGET,
                   "privacy: noise multiplier %g over %lld steps at sample rate %g would spend "
                   "epsilon %.4g at delta %g (%s accountant), more than the budget %g: raise "
                   "privacy.noise_multiplier (0 derives it), lower the epochs or raise epsilon",
                   dp->noise_multiplier, (long long)dp->steps, dp->sample_rate, spent.bound,
                   dp->delta, p->accountant, dp->epsilon_budget);
  sm_log(ctx, SM_LOG_INFO,
         "DP-SGD: sample rate %.6g, noise multiplier %.4g, clipping norm %g, %lld steps: "
         "epsilon %.4g of %g at delta %g (%s)",
         dp->sample_rate, dp->noise_multiplier, dp->clip, (long long)dp->steps, spent.bound,
         dp->epsilon_budget, dp->delta, p->accountant);
  if (dp->sensitivity != 1.0)
    sm_log(ctx, SM_LOG_INFO, "DP-SGD: sensitivity %g C, so the noise std is %.4g x %g C",
           dp->sensitivity, dp->noise_multiplier, dp->sensitivity);
  return SM_OK;
}

int sm_trainer_dp_sample(sm_ctx *ctx, const sm_trainer *t, int64_t g, int64_t *rows, int64_t *m) {
  sm_dp_rng rng;
  sm_dp_rng_init(&rng, t->dp.reproducible, step_key(t->dp.seed, g, 1));
  rng.counter = (uint64_t)t->row_offset; /* one draw per global row */
  *m = 0;
  for (int64_t i = 0; i < t->n_local; i++) {
    double u;
    SM_TRY(sm_dp_uniform(ctx, &rng, &u));
    if (u < t->dp.sample_rate)
      rows[(*m)++] = i;
  }
  return SM_OK;
}

int sm_trainer_dp_keys(sm_ctx *ctx, const sm_trainer *t, int64_t g, const int64_t *rows, int64_t m,
                       double *keys) {
  sm_dp_rng rng;
  sm_dp_rng_init(&rng, t->dp.reproducible, step_key(t->dp.seed, g, 3));
  for (int64_t k = 0; k < m; k++) {
    rng.counter = (uint64_t)(t->row_offset + rows[k]); /* one draw per global row */
    SM_TRY(sm_dp_uniform(ctx, &rng, &keys[k]));
  }
  return SM_OK;
}

int sm_trainer_dp_noise(sm_ctx *ctx, const sm_trainer *t, int64_t g, float *grad, size_t n) {
  sm_dp_rng rng;
  double s = t->dp.sensitivity > 0 ? t->dp.sensitivity : 1.0;
  double std = t->dp.noise_multiplier * s * t->dp.clip;
  sm_dp_rng_init(&rng, t->dp.reproducible, step_key(t->dp.seed, g, 2));
  for (size_t i = 0; i < n; i++) {
    double z;
    SM_TRY(sm_dp_normal(ctx, &rng, &z));
    grad[i] += (float)(std * z);
  }
  return SM_OK;
}

/* The entry of mechanism name in l, or NULL. */
static sm_ledger_entry *find_entry(sm_ledger *l, const char *name) {
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->entries[i].mechanism, name) == 0)
      return &l->entries[i];
  return NULL;
}

int sm_trainer_dp_record(sm_ctx *ctx, const sm_trainer *t, int64_t steps, sm_ledger *l) {
  const sm_trainer_dp *dp = &t->dp;
  if (!dp->enabled || !l)
    return SM_OK;
  sm_ledger_entry e;
  memset(&e, 0, sizeof e);
  snprintf(e.mechanism, sizeof e.mechanism, "dp-sgd");
  snprintf(e.accountant, sizeof e.accountant, "%s",
           dp->accountant == SM_ACCOUNTANT_PRV ? "prv" : "rdp");
  e.sample_rate = dp->sample_rate;
  e.noise_multiplier = dp->noise_multiplier;
  steps *= dp->per_step > 0 ? dp->per_step : 1;
  e.steps = steps;
  e.delta = dp->delta;
  if (dp->sensitivity > 1.0 || t->dp_sensitivity > 0)
    snprintf(e.note, sizeof e.note, "%s: %lld of %lld steps, clipping norm %g, sensitivity %g C",
             t->kind, (long long)steps, (long long)dp->steps, dp->clip, dp->sensitivity);
  else
    snprintf(e.note, sizeof e.note, "%s: %lld of %lld steps, clipping norm %g", t->kind,
             (long long)steps, (long long)dp->steps, dp->clip);
  if (steps > 0) {
    sm_dp_epsilon spent;
    SM_TRY(sm_trainer_dp_epsilon(ctx, dp, steps, &spent));
    e.epsilon = spent.bound;
  }

  /* one dp-sgd entry, updated as the steps go; the run's total is its epsilon */
  sm_ledger_entry *old = find_entry(l, "dp-sgd");
  if (old)
    *old = e;
  else
    SM_TRY(sm_ledger_add(ctx, l, &e));
  l->epsilon_budget = dp->epsilon_budget;
  l->delta = dp->delta;
  l->reproducible = dp->reproducible;
  l->epsilon_total = e.epsilon;
  return SM_OK;
}

int sm_trainer_dp_resume(sm_ctx *ctx, const sm_trainer *t, const sm_ledger *saved,
                         const char *path) {
  if (!t->dp.enabled)
    return saved->n == 0 ? SM_OK
                         : sm_fail(ctx, SM_EINPUT,
                                   "%s: the checkpoint is of a private run, this run is not", path);
  const sm_ledger_entry *e = NULL;
  for (int i = 0; i < saved->n; i++)
    if (strcmp(saved->entries[i].mechanism, "dp-sgd") == 0)
      e = &saved->entries[i];
  if (!e || e->sample_rate != t->dp.sample_rate ||
      fabs(e->noise_multiplier - t->dp.noise_multiplier) > 1e-12 * t->dp.noise_multiplier)
    return sm_fail(ctx, SM_EINPUT,
                   "%s: the checkpoint's privacy ledger does not match this run's DP-SGD plan",
                   path);
  return SM_OK;
}
