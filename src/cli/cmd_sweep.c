/* synthmpi sweep: list the points of the experiment's sweep, each checked by loading it.
 *
 * One line per point on stdout, "<point> key=value key=value ...", points numbered from 0
 * in row-major order (the sweep's first key varies slowest). An experiment without a sweep
 * has the single point "0". A job array maps its task id N to line N and passes each word
 * after the number as --set; the line count is the array size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* "key=value" for every key of point p (malloc'd strings in sets[n_sets..]). */
static int point_sets(sm_ctx *ctx, const sm_sweep_spec *s, int64_t p, char **sets) {
  for (int k = 0; k < s->n_keys; k++) {
    const char *value = sm_sweep_value(s, p, k);
    size_t n = strlen(s->keys[k]) + strlen(value) + 2;
    if (!(sets[k] = malloc(n)))
      return sm_fail(ctx, SM_ERR, "out of memory");
    snprintf(sets[k], n, "%s=%s", s->keys[k], value);
  }
  return SM_OK;
}

/* Collective: load the experiment with the command line's --set and point p's values; the
 * point's values come last, so they win. On success prints the point's line (rank 0). */
static int check_point(sm_ctx *ctx, const sm_cli_args *args, const sm_sweep_spec *s, int64_t p) {
  int n = args->n_sets + s->n_keys;
  char **sets = calloc((size_t)n + 1, sizeof(char *));
  if (!sets)
    return sm_fail(ctx, SM_ERR, "out of memory");
  memcpy(sets, args->sets, (size_t)args->n_sets * sizeof(char *));

  /* every rank builds the same overrides, so the load stays collective */
  int rc = point_sets(ctx, s, p, sets + args->n_sets);
  rc = sm_agree(ctx, rc);
  sm_experiment e;
  if (rc == SM_OK)
    rc = sm_experiment_load(ctx, args->target, n, sets, &e);
  if (rc == SM_OK) {
    sm_experiment_free(&e);
    if (ctx->rank == 0) {
      printf("%lld", (long long)p);
      for (int k = 0; k < s->n_keys; k++)
        printf(" %s", sets[args->n_sets + k]);
      printf("\n");
    }
  } else if (rc != SM_ERR) {
    char msg[SM_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", ctx->msg);
    sm_fail(ctx, rc, "sweep point %lld: %s", (long long)p, msg);
  }

  for (int k = args->n_sets; k < n; k++)
    free(sets[k]);
  free(sets);
  return rc;
}

int sm_cmd_sweep(sm_ctx *ctx, const sm_cli_args *args) {
  sm_experiment e;
  SM_TRY(sm_cli_load(ctx, args, &e));

  /* every point, in order; the first that does not load stops the listing */
  int rc = SM_OK;
  for (int64_t p = 0; p < e.sweep.n_points && rc == SM_OK; p++)
    rc = check_point(ctx, args, &e.sweep, p);
  if (ctx->rank == 0)
    fflush(stdout);
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO, "%s: %lld sweep point%s", args->target, (long long)e.sweep.n_points,
           e.sweep.n_points == 1 ? "" : "s");
  sm_experiment_free(&e);
  return rc;
}
