/* The losses against central finite differences of their own value, the `scale` factor on
 * their gradients, and a zeroed gradient as the negative control of every check. */
#include "nn_test.h"

enum { N = 12, CE_ROWS = 5, STRIDE = 6, START = 1, WIDTH = 4 };

typedef struct loss_case {
  float x[N], t[N], mu[N], logvar[N];
  float logits[CE_ROWS * STRIDE];
  int32_t target[CE_ROWS];
} loss_case;

static double mse_objective(void *state) {
  loss_case *c = state;
  return sm_mse_loss(NULL, c->x, c->t, N, 1.0f);
}

static double ce_objective(void *state) {
  loss_case *c = state;
  return sm_cross_entropy_loss(NULL, c->logits, c->target, CE_ROWS, STRIDE, START, WIDTH, 1.0f);
}

static double nll_objective(void *state) {
  loss_case *c = state;
  return sm_gaussian_nll_loss(NULL, NULL, c->mu, c->logvar, c->t, N, 1.0f);
}

static double kl_objective(void *state) {
  loss_case *c = state;
  return sm_kl_normal_loss(NULL, NULL, c->mu, c->logvar, N, 1.0f);
}

/* Largest |a - scale b|: gradients written with a scale are the unscaled ones times it. */
static double scale_error(const float *a, const float *b, size_t n, float scale) {
  double worst = 0;
  for (size_t i = 0; i < n; i++)
    worst = fmax(worst, fabs((double)a[i] - (double)scale * b[i]));
  return worst;
}

static void check_mse(loss_case *c) {
  float dx[N], scaled[N];
  double loss = sm_mse_loss(dx, c->x, c->t, N, 1.0f);
  double want = 0;
  for (int i = 0; i < N; i++)
    want += 0.5 * ((double)c->x[i] - c->t[i]) * ((double)c->x[i] - c->t[i]);
  CHECK_CLOSE(loss, want, 1e-9);
  check_grad("mse dx", c->x, N, dx, mse_objective, c);
  sm_mse_loss(scaled, c->x, c->t, N, 0.25f);
  CHECK_CLOSE(scale_error(scaled, dx, N, 0.25f), 0.0, 1e-7);
}

static void check_cross_entropy(loss_case *c) {
  float dx[CE_ROWS * STRIDE], scaled[CE_ROWS * STRIDE];
  memset(dx, 0, sizeof dx);
  double loss =
      sm_cross_entropy_loss(dx, c->logits, c->target, CE_ROWS, STRIDE, START, WIDTH, 1.0f);

  /* reference: -log softmax at the target, by the definition (row 2 is unlabelled) */
  double want = 0;
  for (int r = 0; r < CE_ROWS; r++) {
    if (c->target[r] < 0)
      continue;
    double z = 0;
    for (int j = 0; j < WIDTH; j++)
      z += exp(c->logits[r * STRIDE + START + j]);
    want -= log(exp(c->logits[r * STRIDE + START + c->target[r]]) / z);
  }
  printf("cross-entropy %.9f, reference %.9f\n", loss, want);
  CHECK_CLOSE(loss, want, 1e-6);
  check_grad("cross-entropy dx", c->logits, CE_ROWS * STRIDE, dx, ce_objective, c);
  sm_cross_entropy_loss(scaled, c->logits, c->target, CE_ROWS, STRIDE, START, WIDTH, 0.5f);
  for (int j = 0; j < WIDTH; j++)
    CHECK(scaled[2 * STRIDE + START + j] == 0.0f);
}

/* Several spans of one row at once: the same loss and gradients as the per-span function,
 * with a column between spans left as it was, an unlabelled row (2) in the second span, and
 * spans whose logits need the shift by their maximum; then the gradient against finite
 * differences. */
enum { SPANS_STRIDE = 12 };
static const int span_start[] = {0, 4, 9}, span_width[] = {3, 4, 3};
static const int32_t span_target[3 * CE_ROWS] = {0, 2, 1, 1, 0, 3, 1, -1, 0, 2, 2, 0, 1, 1, 0};

static double spans_objective(void *state) {
  const float *x = state;
  float work[SPANS_STRIDE];
  sm_ce_spans sp = {3, span_start, span_width, span_target, CE_ROWS};
  return sm_cross_entropy_spans(NULL, work, x, &sp, CE_ROWS, SPANS_STRIDE, 1.0f);
}

static void check_cross_entropy_spans(void) {
  float x[CE_ROWS * SPANS_STRIDE], dx[CE_ROWS * SPANS_STRIDE], want[CE_ROWS * SPANS_STRIDE];
  float work[SPANS_STRIDE];
  rand_floats(x, CE_ROWS * SPANS_STRIDE, 6, -4, 4);

  /* logits whose exponentials overflow (row 1, span 1) or flush to zero (row 3, span 2) */
  const float big[] = {120, 95, 130, 100}, tiny[] = {-150, -140, -145};
  memcpy(x + SPANS_STRIDE + 4, big, sizeof big);
  memcpy(x + 3 * SPANS_STRIDE + 9, tiny, sizeof tiny);
  for (int i = 0; i < CE_ROWS * SPANS_STRIDE; i++)
    dx[i] = want[i] = 7.0f;

  /* the per-span function, span by span, is the reference */
  sm_ce_spans sp = {3, span_start, span_width, span_target, CE_ROWS};
  double loss = sm_cross_entropy_spans(dx, work, x, &sp, CE_ROWS, SPANS_STRIDE, 0.5f), ref = 0;
  for (int h = 0; h < 3; h++)
    ref += sm_cross_entropy_loss(want, x, span_target + h * CE_ROWS, CE_ROWS, SPANS_STRIDE,
                                 span_start[h], span_width[h], 0.5f);
  double worst = 0;
  for (int i = 0; i < CE_ROWS * SPANS_STRIDE; i++)
    worst = fmax(worst, fabs((double)dx[i] - want[i]));
  printf("cross-entropy spans %.9f, per span %.9f, max gradient difference %.2e\n", loss, ref,
         worst);
  CHECK_CLOSE(loss, ref, 1e-5);
  CHECK(worst < 1e-6);
  CHECK(dx[3] == 7.0f && dx[SPANS_STRIDE + 8] == 7.0f);

  /* finite differences of the loss itself */
  sm_cross_entropy_spans(dx, work, x, &sp, CE_ROWS, SPANS_STRIDE, 1.0f);
  for (int r = 0; r < CE_ROWS; r++)
    dx[r * SPANS_STRIDE + 3] = dx[r * SPANS_STRIDE + 8] = 0.0f;
  check_grad("cross-entropy spans dx", x, CE_ROWS * SPANS_STRIDE, dx, spans_objective, x);
}

/* Many spans in one row (the product of their sums would underflow without rescaling), and
 * a span whose largest logit is low (-79) while the other lies where sm_expf flushes to zero
 * (-87): the loss matches the per-span function, which always shifts by the maximum. */
enum { MANY = 130 };
static void check_many_spans(void) {
  static int start[MANY], width[MANY];
  static int32_t target[MANY];
  static float x[2 * MANY], dx[2 * MANY], want[2 * MANY], work[2 * MANY];
  rand_floats(x, 2 * MANY, 7, -8, -6);
  x[0] = -79.0f;
  x[1] = -87.0f;
  double ref = 0;
  for (int h = 0; h < MANY; h++) {
    start[h] = 2 * h;
    width[h] = 2;
    target[h] = h % 2;
    ref += sm_cross_entropy_loss(want, x, target + h, 1, 2 * MANY, start[h], 2, 1.0f);
  }
  sm_ce_spans sp = {MANY, start, width, target, 1};
  double loss = sm_cross_entropy_spans(dx, work, x, &sp, 1, 2 * MANY, 1.0f);
  double worst = 0;
  for (int i = 0; i < 2 * MANY; i++)
    worst = fmax(worst, fabs((double)dx[i] - want[i]));
  printf("%d spans in a row: loss %.9f, per span %.9f, max gradient difference %.2e\n", MANY, loss,
         ref, worst);
  CHECK(isfinite(loss));
  CHECK_CLOSE(loss, ref, 1e-6 * fabs(ref));
  CHECK(worst < 1e-6);
}

/* sm_expf against exp in double over its whole range, and at its edges; sm_tanhf against
 * tanh. */
static void check_expf(void) {
  double worst = 0;
  for (float v = -85.9f; v < 88.0f; v += 1.7e-3f)
    worst = fmax(worst, fabs(sm_expf(v) - exp(v)) / exp(v));
  printf("sm_expf: max relative error %.2e\n", worst);
  CHECK(worst < 2e-7);
  CHECK(sm_expf(0.0f) == 1.0f);
  CHECK(sm_expf(-100.0f) == 0.0f && sm_expf(-INFINITY) == 0.0f);
  CHECK(isfinite(sm_expf(100.0f)) && sm_expf(100.0f) == sm_expf(88.0f));
  CHECK(isnan(sm_expf(NAN)));

  /* tanh through it: absolute error, and the saturated ends */
  worst = 0;
  for (float v = -50.0f; v < 50.0f; v += 1.1e-3f)
    worst = fmax(worst, fabs(sm_tanhf(v) - tanh(v)));
  printf("sm_tanhf: max absolute error %.2e\n", worst);
  CHECK(worst < 2e-7);
  CHECK(sm_tanhf(45.0f) == 1.0f && sm_tanhf(-45.0f) == -1.0f && sm_tanhf(0.0f) == 0.0f);
}

static void check_gaussian(loss_case *c, int kl) {
  float dmu[N], dlogvar[N], smu[N], slogvar[N];
  nn_objective f = kl ? kl_objective : nll_objective;
  if (kl) {
    sm_kl_normal_loss(dmu, dlogvar, c->mu, c->logvar, N, 1.0f);
    sm_kl_normal_loss(smu, slogvar, c->mu, c->logvar, N, 0.5f);
  } else {
    sm_gaussian_nll_loss(dmu, dlogvar, c->mu, c->logvar, c->t, N, 1.0f);
    sm_gaussian_nll_loss(smu, slogvar, c->mu, c->logvar, c->t, N, 0.5f);
  }
  check_grad(kl ? "kl dmu" : "gaussian nll dmu", c->mu, N, dmu, f, c);
  check_grad(kl ? "kl dlogvar" : "gaussian nll dlogvar", c->logvar, N, dlogvar, f, c);
  CHECK_CLOSE(scale_error(smu, dmu, N, 0.5f), 0.0, 1e-7);
  CHECK_CLOSE(scale_error(slogvar, dlogvar, N, 0.5f), 0.0, 1e-7);
}

/* The closed forms at one point, worked by hand: mu 1, logvar 0, t 3 gives NLL 0.5 * 4 = 2
 * and KL -0.5 (1 + 0 - 1 - 1) = 0.5. */
static void check_values(void) {
  float mu = 1, logvar = 0, t = 3;
  CHECK_CLOSE(sm_gaussian_nll_loss(NULL, NULL, &mu, &logvar, &t, 1, 1.0f), 2.0, 1e-12);
  CHECK_CLOSE(sm_kl_normal_loss(NULL, NULL, &mu, &logvar, 1, 1.0f), 0.5, 1e-12);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  loss_case c;
  rand_floats(c.x, N, 1, -2, 2);
  rand_floats(c.t, N, 2, -2, 2);
  rand_floats(c.mu, N, 3, -1.5, 1.5);
  rand_floats(c.logvar, N, 4, -1, 1);
  rand_floats(c.logits, CE_ROWS * STRIDE, 5, -3, 3);
  int32_t targets[CE_ROWS] = {0, 3, -1, 1, 2};
  memcpy(c.target, targets, sizeof targets);

  check_mse(&c);
  check_cross_entropy(&c);
  check_cross_entropy_spans();
  check_many_spans();
  check_expf();
  check_gaussian(&c, 0);
  check_gaussian(&c, 1);
  check_values();
  return test_finish();
}
