/* Gaussian copula (the parameter table; the model itself lands with its own change). */
#include "models/models.h"

static const sm_param_desc copula_params[] = {
    {"factorization", SM_PARAM_STRING, "auto", 0, 0, "auto|lapack|scalapack",
     "Cholesky factor of the correlation: LAPACK on each rank, or ScaLAPACK on a grid"},
    {"scalapack_min_columns", SM_PARAM_INT, "64", 1, 1e9, NULL,
     "with factorization: auto, use ScaLAPACK from this many columns on"},
    {"block_size", SM_PARAM_INT, "32", 1, 4096, NULL, "ScaLAPACK block-cyclic block size"},
    {"sketch_size", SM_PARAM_INT, "4096", 64, 1e7, NULL,
     "quantile summary points per numeric column when values are too many to keep exactly"},
    {"exact_distinct_max", SM_PARAM_INT, "100000", 0, 1e8, NULL,
     "numeric columns with at most this many distinct values keep exact value counts"},
    {"min_eigenvalue", SM_PARAM_REAL, "1e-6", 0, 1, NULL,
     "eigenvalue floor when repairing the correlation matrix to positive definite"},
};

const sm_model_ops sm_model_gaussian_copula = {
    .kind = "gaussian_copula",
    .summary = "Gaussian copula: empirical marginals and a normal-score correlation",
    .params = copula_params,
    .n_params = (int)(sizeof copula_params / sizeof copula_params[0]),
};
