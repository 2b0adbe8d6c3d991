/* privacy: the differential-privacy settings of a run. Absent: the run is not private. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"

static const char *const privacy_keys[] = {
    "epsilon", "delta", "accountant", "max_grad_norm", "noise_multiplier", "reproducible", NULL};

/* A number strictly inside (lo, hi): the getters check closed ranges only. */
static int check_open(const cfg_source *src, const cfg_node *map, const char *key, double v,
                      double lo, double hi) {
  if (v > lo && v < hi)
    return SM_OK;
  const cfg_node *at = cfg_get(map, key);
  return cfg_error(src, at ? at : map, "privacy.%s: expected a number in (%g, %g), got %g", key, lo,
                   hi, v);
}

int cfg_read_privacy(const cfg_source *src, const cfg_node *root, sm_privacy_spec *out) {
  const cfg_node *map = NULL;
  const cfg_node *node = NULL;
  memset(out, 0, sizeof *out);
  SM_TRY(cfg_get_map(src, root, "", "privacy", &map));
  if (!map)
    return SM_OK;
  out->enabled = 1;
  SM_TRY(cfg_check_keys(src, map, "privacy", privacy_keys));

  /* the budget: epsilon and delta are required */
  SM_TRY(cfg_require(src, map, "privacy", "epsilon", &node));
  SM_TRY(cfg_real_value(src, node, "privacy.epsilon", 0, DBL_MAX, &out->epsilon));
  SM_TRY(check_open(src, map, "epsilon", out->epsilon, 0, DBL_MAX));
  SM_TRY(cfg_require(src, map, "privacy", "delta", &node));
  SM_TRY(cfg_real_value(src, node, "privacy.delta", 0, 1, &out->delta));
  SM_TRY(check_open(src, map, "delta", out->delta, 0, 1));

  /* the accountant of DP-SGD */
  SM_TRY(cfg_get_string(src, map, "privacy", "accountant", "rdp", &out->accountant));
  if (strcmp(out->accountant, "rdp") != 0 && strcmp(out->accountant, "prv") != 0)
    return cfg_error(src, cfg_get(map, "accountant"),
                     "privacy.accountant: expected rdp or prv, got '%s'", out->accountant);

  /* DP-SGD settings and the test-only switch */
  SM_TRY(cfg_get_real(src, map, "privacy", "max_grad_norm", 0, 1e6, 1.0, &out->max_grad_norm));
  SM_TRY(check_open(src, map, "max_grad_norm", out->max_grad_norm, 0, DBL_MAX));
  SM_TRY(cfg_get_real(src, map, "privacy", "noise_multiplier", 0, SM_PRIVACY_MAX_SIGMA, 0,
                      &out->noise_multiplier));
  return cfg_get_bool(src, map, "privacy", "reproducible", 0, &out->reproducible);
}

void cfg_privacy_free(sm_privacy_spec *p) {
  if (!p)
    return;
  free(p->accountant);
  memset(p, 0, sizeof *p);
}
