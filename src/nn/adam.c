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
 * value -= lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
SM_VECTOR_CLONES
void sm_adam_step_shard(sm_adam *opt, float *value, const float *grad, float scale, size_t lo,
                        size_t hi) {
  opt->step++;
  double t = (double)opt->step;
  const float b1 = (float)opt->beta1, b2 = (float)opt->beta2, wd = (float)opt->weight_decay;
  const float step_size = (float)(opt->lr / (1.0 - pow(opt->beta1, t)));
  const float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(opt->beta2, t)));
  const float eps = (float)opt->eps;
  const float decay = opt->decoupled ? (float)(1.0 - opt->lr * opt->weight_decay) : 1.0f;
  const float l2 = opt->decoupled ? 0.0f : wd;
  float *restrict m = opt->m + lo, *restrict v = opt->v + lo, *restrict w = value + lo;
  const float *restrict gs = grad;

  /* float32 arithmetic as PyTorch's: one pass the compiler can vectorise */
  for (size_t i = 0; i < hi - lo; i++) {
    /* weight decay: decoupled shrink (AdamW) or L2 term in the gradient (Adam) */
    float wi = w[i] * decay, g = gs[i] * scale + l2 * w[i];

    /* moments, then the bias-corrected update */
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    w[i] = wi - step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
  }
}

void sm_adam_step(sm_adam *opt, sm_nn_params *p) {
  sm_adam_step_shard(opt, p->value, p->grad, 1.0f, 0, opt->n);
}
