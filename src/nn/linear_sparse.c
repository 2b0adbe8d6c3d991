/* Linear layer whose input rows are given by their nonzeros (one-hot encoded tables): the
 * forward adds the weight rows the nonzeros select, and the weight gradient goes only to
 * those rows, so the work is nnz / in of the dense layer's. */
#include "synthmpi/nn.h"

/* Output columns per block of the forward: a block's sums stay in registers. */
enum { SPARSE_BLOCK = 64 };

/* y[r] = b + sum_k val[r, k] W[col[r, k]], a block of output columns at a time. */
SM_VECTOR_CLONES
void sm_linear_forward_sparse(float *restrict y, const sm_sparse_rows *x, const sm_linear *l,
                              const sm_nn_params *p, int rows) {
  int out = l->out, nnz = x->nnz;
  const float *restrict w = p->value + l->w;
  const float *restrict b = p->value + l->b;
  for (int r = 0; r < rows; r++) {
    const int32_t *col = x->col + (size_t)r * nnz;
    const float *val = x->val + (size_t)r * nnz;
    for (int j0 = 0; j0 < out; j0 += SPARSE_BLOCK) {
      int len = out - j0 < SPARSE_BLOCK ? out - j0 : SPARSE_BLOCK;
      float acc[SPARSE_BLOCK] = {0};
      for (int k = 0; k < nnz; k++) {
        const float *wk = w + (size_t)col[k] * out + j0;
        float v = val[k];
        if (len == SPARSE_BLOCK)
          for (int j = 0; j < SPARSE_BLOCK; j++)
            acc[j] += v * wk[j];
        else
          for (int j = 0; j < len; j++)
            acc[j] += v * wk[j];
      }
      for (int j = 0; j < len; j++)
        y[(size_t)r * out + j0 + j] = b[j0 + j] + acc[j];
    }
  }
}

/* dW[col[r, k]] += val[r, k] dy[r] and db += dy[r], row by row. */
SM_VECTOR_CLONES
void sm_linear_backward_sparse(sm_nn_params *p, const float *restrict dy, const sm_sparse_rows *x,
                               const sm_linear *l, int rows) {
  int out = l->out, nnz = x->nnz;
  float *restrict dw = p->grad + l->w;
  float *restrict db = p->grad + l->b;
  for (int r = 0; r < rows; r++) {
    const float *restrict dyr = dy + (size_t)r * out;
    const int32_t *col = x->col + (size_t)r * nnz;
    const float *val = x->val + (size_t)r * nnz;
    for (int j = 0; j < out; j++)
      db[j] += dyr[j];
    for (int k = 0; k < nnz; k++) {
      float *restrict dwk = dw + (size_t)col[k] * out;
      float v = val[k];
      for (int j = 0; j < out; j++)
        dwk[j] += v * dyr[j];
    }
  }
}
