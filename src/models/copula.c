/* Gaussian copula (placeholder table until the model lands). */
#include "models/models.h"

const sm_model_ops sm_model_gaussian_copula = {.kind = "gaussian_copula"};
