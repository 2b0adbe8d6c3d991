/* Adam and AdamW with PyTorch's arithmetic (torch.optim.Adam / AdamW, amsgrad off). */
#include <math.h>
#include <stdlib.h>

#include "synthmpi/nn.h"

int sm_adam_init(sm_ctx *ctx, sm_adam *opt, size_t n, double lr, double beta1, double beta2,
                 double eps, double weight_decay, int decoupled) {
  opt->lr = lr;
  opt->beta1 = beta1;
  opt->beta2 = beta2;
  opt->eps = eps;
  opt->weight_decay = weight_decay;
  opt->decoupled = decoupled;
  opt->step = 0;
  opt->n = n;
  opt->m = sm_calloc(ctx, n, sizeof(float));
  opt->v = sm_calloc(ctx, n, sizeof(float));
  if (!opt->m || !opt->v) {
    sm_adam_free(opt);
    return SM_ERR;
  }
  return SM_OK;
}

void sm_adam_free(sm_adam *opt) {
  if (!opt)
    return;
  free(opt->m);
  free(opt->v);
  opt->m = opt->v = NULL;
}

/* Step t: g (+ wd value for Adam), or value *= 1 - lr wd first for AdamW; then
 * m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2 and
 * value -= lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps). Updates opt->n values. */
void sm_adam_step(sm_adam *opt, sm_nn_params *p) {
  opt->step++;
  double t = (double)opt->step, b1 = opt->beta1, b2 = opt->beta2, wd = opt->weight_decay;
  double step_size = opt->lr / (1.0 - pow(b1, t));
  double sqrt_bc2 = sqrt(1.0 - pow(b2, t));
  double decay = opt->decoupled ? 1.0 - opt->lr * wd : 1.0;

  for (size_t i = 0; i < opt->n; i++) {
    double w = p->value[i], g = p->grad[i];

    /* weight decay: decoupled shrink (AdamW) or L2 term in the gradient (Adam) */
    if (opt->decoupled)
      w *= decay;
    else
      g += wd * w;

    /* moments, then the bias-corrected update */
    double m = b1 * opt->m[i] + (1.0 - b1) * g;
    double v = b2 * opt->v[i] + (1.0 - b2) * g * g;
    opt->m[i] = (float)m;
    opt->v[i] = (float)v;
    p->value[i] = (float)(w - step_size * m / (sqrt(v) / sqrt_bc2 + opt->eps));
  }
}
