/* The causal dilated Conv1d layer: the im2col + SGEMM forward equals direct loops, its
 * backward matches central finite differences for weights, bias and input, and output t
 * never depends on an input after t (while it does depend on the inputs its taps reach). */
#include "nn/nn_test.h"

enum { LEN = 13, IN = 3, OUT = 4, MAX_K = 3 };

typedef struct conv_case {
  sm_conv1d l;
  sm_nn_params p;
  float x[LEN * IN], y[LEN * OUT], w[LEN * OUT];
  float col[LEN * MAX_K * IN];
} conv_case;

static double conv_objective(void *state) {
  conv_case *c = state;
  sm_conv1d_forward(c->y, c->col, c->x, &c->l, &c->p, LEN);
  return weighted_sum(c->w, c->y, LEN * OUT);
}

/* Fast forward vs the direct-loop reference (float rounding only). */
static void check_reference(conv_case *c, const char *name) {
  float ref[LEN * OUT];
  double worst = 0;
  sm_conv1d_forward(c->y, c->col, c->x, &c->l, &c->p, LEN);
  sm_conv1d_forward_ref(ref, c->x, &c->l, &c->p, LEN);
  for (int i = 0; i < LEN * OUT; i++)
    worst = fmax(worst, fabs((double)c->y[i] - ref[i]));
  printf("%-24s forward vs direct loops: max diff %.2e (tol 1e-5)\n", name, worst);
  CHECK(worst <= 1e-5);
}

/* Output t must not move when input t' > t does, and must move for some t' <= t. */
static void check_causal(conv_case *c, const char *name) {
  float base[LEN * OUT];
  int leaks = 0, reached = 0;
  sm_conv1d_forward(base, c->col, c->x, &c->l, &c->p, LEN);
  for (int src = 0; src < LEN; src++) {
    float saved = c->x[src * IN];
    c->x[src * IN] += 1.0f;
    sm_conv1d_forward(c->y, c->col, c->x, &c->l, &c->p, LEN);
    c->x[src * IN] = saved;
    for (int t = 0; t < LEN; t++) {
      int moved = 0;
      for (int o = 0; o < OUT; o++)
        moved |= c->y[t * OUT + o] != base[t * OUT + o];
      int tap =
          t >= src && (t - src) % c->l.dilation == 0 && (t - src) / c->l.dilation < c->l.kernel;
      leaks += moved && t < src;
      reached += moved && tap;
      CHECK(moved == tap);
    }
  }
  printf("%-24s outputs moved by a later input: %d (want 0); taps that moved: %d\n", name, leaks,
         reached);
  CHECK(leaks == 0);
  CHECK(reached > 0);
}

static void check_case(sm_ctx *ctx, int kernel, int dilation) {
  conv_case c = {0};
  char name[64];
  snprintf(name, sizeof name, "conv1d k%d d%d", kernel, dilation);
  sm_conv1d_reserve(&c.l, &c.p, IN, OUT, kernel, dilation);
  CHECK(sm_nn_params_alloc(ctx, &c.p) == SM_OK);
  sm_conv1d_init_default(&c.l, &c.p, 5);
  rand_floats(c.x, LEN * IN, 3, -1, 1);
  rand_floats(c.w, LEN * OUT, 4, -1, 1);
  CHECK(sm_conv1d_reach(&c.l) == (kernel - 1) * dilation);
  check_reference(&c, name);
  check_causal(&c, name);

  /* analytic gradients with dy = w */
  float dx[LEN * IN], dcol[LEN * MAX_K * IN], dw[MAX_K * IN * OUT], db[OUT];
  size_t nw = (size_t)kernel * IN * OUT;
  conv_objective(&c);
  sm_nn_zero_grad(&c.p);
  sm_conv1d_backward(dx, dcol, &c.p, c.w, c.col, &c.l, LEN);
  memcpy(dw, c.p.grad + c.l.w, nw * sizeof(float));
  memcpy(db, c.p.grad + c.l.b, sizeof db);
  char part[80];
  snprintf(part, sizeof part, "%s dx", name);
  check_grad(part, c.x, LEN * IN, dx, conv_objective, &c);
  snprintf(part, sizeof part, "%s dW", name);
  check_grad(part, c.p.value + c.l.w, nw, dw, conv_objective, &c);
  snprintf(part, sizeof part, "%s db", name);
  check_grad(part, c.p.value + c.l.b, OUT, db, conv_objective, &c);

  /* without dx the parameter gradients are the same, and they accumulate */
  conv_objective(&c);
  sm_conv1d_backward(NULL, dcol, &c.p, c.w, c.col, &c.l, LEN);
  CHECK_CLOSE(c.p.grad[c.l.w + 1], 2.0 * dw[1], 1e-5);
  CHECK_CLOSE(c.p.grad[c.l.b + 2], 2.0 * db[2], 1e-5);
  sm_nn_params_free(&c.p);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  check_case(&ctx, 2, 1);
  check_case(&ctx, 2, 4);
  check_case(&ctx, 3, 2);
  check_case(&ctx, 3, 5);
  sm_ctx_free(&ctx);
  return test_finish();
}
