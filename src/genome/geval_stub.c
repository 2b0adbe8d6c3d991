/* Placeholder genomic metrics: every figure is NaN with a reason, so that the genome
 * pipeline links and runs before the evaluation is in place. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "synthmpi/genome.h"

int sm_genome_evaluate(sm_ctx *ctx, const sm_genome_eval_spec *spec, const sm_variants *vars,
                       const sm_hapmat *train, const sm_hapmat *holdout, const sm_hapmat *synth,
                       sm_genome_metrics *out) {
  (void)ctx, (void)spec, (void)vars, (void)train, (void)holdout, (void)synth;
  memset(out, 0, sizeof(*out));
  double *figures[] = {&out->af_corr_train,        &out->af_corr_holdout,
                       &out->ld_r2_mean_abs_diff,  &out->pairdist_real_mean,
                       &out->pairdist_synth_mean,  &out->pairdist_cross_mean,
                       &out->pairdist_wasserstein, &out->aats_train,
                       &out->aats_holdout,         &out->aats_privacy_loss};
  for (size_t k = 0; k < sizeof figures / sizeof figures[0]; k++)
    *figures[k] = NAN;
  snprintf(out->reason, sizeof out->reason, "genomic metrics not built in");
  return SM_OK;
}

void sm_genome_metrics_free(sm_genome_metrics *m) {
  (void)m;
}
