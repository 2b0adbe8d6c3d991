/* Fuzz target: the experiment loader on one rank.
 *
 * Input: the YAML file, optionally followed by a NUL byte and --set overrides separated by
 * newlines ("sampling.rows=5\nmodel.kind=tvae"). A file that loads is also checked for
 * its sweep points, as `synthmpi sweep` does. */
#include "fuzz_common.h"
#include "synthmpi/config.h"

#define MAX_OVERRIDES 8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  return fuzz_init(argc, argv, "experiment.yaml");
}

/* Split the text after the NUL into at most MAX_OVERRIDES lines (in place). */
static int split_overrides(char *text, char **sets) {
  int n = 0;
  while (text && *text && n < MAX_OVERRIDES) {
    sets[n++] = text;
    char *nl = strchr(text, '\n');
    if (!nl)
      break;
    *nl = '\0';
    text = nl + 1;
  }
  return n;
}

/* Load point p of the sweep: the input's overrides, then the point's "key=value"s. */
static void load_point(const sm_sweep_spec *sw, int64_t p, int n_sets, char **sets) {
  char *all[MAX_OVERRIDES * 2];
  int n = n_sets;
  memcpy(all, sets, (size_t)n_sets * sizeof(char *));
  for (int k = 0; k < sw->n_keys && n < MAX_OVERRIDES * 2; k++) {
    const char *value = sm_sweep_value(sw, p, k);
    size_t len = strlen(sw->keys[k]) + strlen(value) + 2;
    if (!(all[n] = malloc(len)))
      break;
    snprintf(all[n++], len, "%s=%s", sw->keys[k], value);
  }
  sm_experiment e;
  if (sm_experiment_load(fuzz_ctx(), fuzz_get()->path, n, all, &e) == SM_OK)
    sm_experiment_free(&e);
  for (int k = n_sets; k < n; k++)
    free(all[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t yaml = nul ? (size_t)(nul - data) : size;
  if (fuzz_write(data, yaml) != 0)
    return 0;

  /* the overrides as a string of their own */
  char *rest = NULL, *sets[MAX_OVERRIDES];
  int n_sets = 0;
  if (nul) {
    size_t n = size - yaml - 1;
    rest = malloc(n + 1);
    if (!rest)
      return 0;
    memcpy(rest, nul + 1, n);
    rest[n] = '\0';
    n_sets = split_overrides(rest, sets);
  }

  /* load, then the first points of a sweep */
  sm_experiment e;
  if (sm_experiment_load(fuzz_ctx(), fuzz_get()->path, n_sets, sets, &e) == SM_OK) {
    for (int64_t p = 0; p < e.sweep.n_points && p < 4; p++)
      load_point(&e.sweep, p, n_sets, sets);
    sm_experiment_free(&e);
  }
  free(rest);
  return 0;
}
