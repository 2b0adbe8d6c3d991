/* RealNVP arithmetic on a small random flow: the inverse undoes the forward, each row's
 * log-determinant equals log |det J| of a numerical Jacobian (central differences), and the
 * gradient of the summed NLL matches central finite differences for every parameter. */
#include <stdlib.h>
#include <string.h>

#include "models/realnvp.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define WIDTH 5
#define ROWS 4
#define COUPLINGS 4
/* tolerances: inverse (float32 round trip), Jacobian step and log-det, gradient step */
#define TOL_INVERSE 1e-5
#define H_JAC 1e-3
#define TOL_LOGDET 2e-3
#define H_GRAD 4e-3
#define TOL_ABS 4e-3
#define TOL_REL 2e-2

static void build(sm_ctx *ctx, realnvp_net *net) {
  realnvp_settings s = {.couplings = COUPLINGS, .n_hidden = 2, .hidden = {8, 8}};
  sm_realnvp_layout(net, &s, WIDTH);
  CHECK(sm_nn_params_alloc(ctx, &net->params) == SM_OK);
  /* not the identity start: every parameter random, so the test sees real couplings */
  sm_nn_init_uniform(&net->params, 0, net->n_model, 0.5f, 17);
}

/* log |det A| of a WIDTH x WIDTH matrix by Gaussian elimination with partial pivoting. */
static double log_abs_det(double a[WIDTH][WIDTH]) {
  double sum = 0;
  for (int c = 0; c < WIDTH; c++) {
    int p = c;
    for (int r = c + 1; r < WIDTH; r++)
      if (fabs(a[r][c]) > fabs(a[p][c]))
        p = r;
    for (int k = 0; k < WIDTH; k++) {
      double t = a[c][k];
      a[c][k] = a[p][k];
      a[p][k] = t;
    }
    sum += log(fabs(a[c][c]));
    for (int r = c + 1; r < WIDTH; r++) {
      double f = a[r][c] / a[c][c];
      for (int k = c; k < WIDTH; k++)
        a[r][k] -= f * a[c][k];
    }
  }
  return sum;
}

static void check_inverse(const realnvp_net *net, realnvp_work *w, const float *x) {
  float z[ROWS * WIDTH], back[ROWS * WIDTH];
  sm_realnvp_forward(net, w, x, ROWS);
  memcpy(z, w->h[COUPLINGS], sizeof z);
  sm_realnvp_inverse(net, w, z, ROWS, back);
  double worst = 0;
  for (int i = 0; i < ROWS * WIDTH; i++)
    worst = fmax(worst, fabs(back[i] - x[i]));
  printf("inverse(forward(x)) - x: max %.3g (tol %.0e)\n", worst, TOL_INVERSE);
  CHECK(worst < TOL_INVERSE);
}

/* Row r's log-determinant against the numerical Jacobian of z(x); returns |log-det|. */
static double check_logdet(const realnvp_net *net, realnvp_work *w, const float *x, int r) {
  float row[WIDTH];
  double jac[WIDTH][WIDTH];
  memcpy(row, x + r * WIDTH, sizeof row);
  sm_realnvp_forward(net, w, row, 1);
  double logdet = w->logdet[0];
  for (int j = 0; j < WIDTH; j++) {
    float keep = row[j], up[WIDTH];
    row[j] = keep + (float)H_JAC;
    sm_realnvp_forward(net, w, row, 1);
    memcpy(up, w->h[COUPLINGS], sizeof up);
    row[j] = keep - (float)H_JAC;
    sm_realnvp_forward(net, w, row, 1);
    for (int i = 0; i < WIDTH; i++)
      jac[i][j] = (up[i] - w->h[COUPLINGS][i]) / (2 * H_JAC);
    row[j] = keep;
  }
  double numeric = log_abs_det(jac);
  printf("row %d: log-det %.6f, numerical Jacobian %.6f, difference %.3g (tol %.0e)\n", r, logdet,
         numeric, fabs(logdet - numeric), TOL_LOGDET);
  CHECK(fabs(logdet - numeric) < TOL_LOGDET);
  return fabs(logdet);
}

static double total_nll(realnvp_net *net, realnvp_work *w, const float *x) {
  sm_realnvp_forward(net, w, x, ROWS);
  return sm_realnvp_nll(net, w, ROWS);
}

static void check_gradient(realnvp_net *net, realnvp_work *w, const float *x) {
  size_t n = net->n_model;
  sm_nn_zero_grad(&net->params);
  total_nll(net, w, x);
  sm_realnvp_backward(net, w, ROWS);
  float *grad = malloc(n * sizeof(float));
  memcpy(grad, net->params.grad, n * sizeof(float));
  double worst = 0;
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    float keep = net->params.value[i];
    net->params.value[i] = keep + (float)H_GRAD;
    double up = total_nll(net, w, x);
    net->params.value[i] = keep - (float)H_GRAD;
    double down = total_nll(net, w, x);
    net->params.value[i] = keep;
    double fd = (up - down) / (2 * H_GRAD), d = fabs(fd - grad[i]);
    if (d > TOL_ABS + TOL_REL * fmax(fabs(fd), fabs(grad[i]))) {
      fprintf(stderr, "parameter %zu: analytic %.6g, finite difference %.6g\n", i, grad[i], fd);
      bad++;
    }
    worst = fmax(worst, d);
  }
  printf("NLL gradient over %zu parameters: max |analytic - finite difference| %.3g, tolerance "
         "%.0e + %.0e relative, %d outside\n",
         n, worst, TOL_ABS, TOL_REL, bad);
  CHECK(bad == 0);
  free(grad);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_SELF);
  realnvp_net net;
  realnvp_work w;
  build(&ctx, &net);
  CHECK(sm_realnvp_work_alloc(&ctx, &w, &net, ROWS) == SM_OK);
  float x[ROWS * WIDTH];
  sm_rng rng;
  sm_rng_init(&rng, 5, SM_STREAM_TEST, 0);
  for (int i = 0; i < ROWS * WIDTH; i++)
    x[i] = (float)sm_rng_normal(&rng);

  check_inverse(&net, &w, x);
  double largest = 0;
  for (int r = 0; r < ROWS; r++)
    largest = fmax(largest, check_logdet(&net, &w, x, r));
  CHECK(largest > 0.1); /* the flow is far from volume-preserving */
  check_gradient(&net, &w, x);

  sm_realnvp_work_free(&w);
  sm_nn_params_free(&net.params);
  sm_ctx_free(&ctx);
  return test_finish();
}
