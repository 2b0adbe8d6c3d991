/* synthmpi privacy: privacy accounting from the command line, without data.
 *
 *   --sample-rate Q --noise S (--steps T | --epochs E) --delta D [--accountant rdp|prv]
 *       epsilon spent by DP-SGD; --budget B refuses (exit 3) when the guaranteed
 *       epsilon (RDP's value, PRV's upper bound) exceeds B
 *   --sample-rate Q --epochs E --target-epsilon EPS --delta D [--accountant rdp|prv]
 *       the noise multiplier that meets the target, and the epsilon it reaches
 *   --rho R --delta D          zCDP to (epsilon, delta)
 *   --epsilon EPS --delta D    the largest zCDP rho that converts to at most EPS
 *
 * Every rank computes the same figures; rank 0 prints them. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "synthmpi/privacy.h"

/* Options of the privacy command; NAN (or 0 for steps) where not given. */
typedef struct privacy_opts {
  double sample_rate, noise, epochs, delta, target, rho, epsilon, budget;
  int64_t steps;
  sm_accountant accountant;
  int help;
} privacy_opts;

static void privacy_usage(const sm_ctx *ctx) {
  if (ctx->rank != 0)
    return;
  fputs("usage: synthmpi privacy OPTIONS\n"
        "\n"
        "epsilon of DP-SGD (Poisson sampling at rate Q, Gaussian noise multiplier S):\n"
        "  --sample-rate Q --noise S (--steps T | --epochs E) --delta D\n"
        "      [--accountant rdp|prv] [--budget B]\n"
        "noise multiplier for a target epsilon, and the epsilon it reaches\n"
        "(steps = floor(E / Q)):\n"
        "  --sample-rate Q --epochs E --target-epsilon EPS --delta D [--accountant rdp|prv]\n"
        "zCDP conversions (Canonne, Kamath, Steinke 2020):\n"
        "  --rho R --delta D          epsilon of rho-zCDP at delta\n"
        "  --epsilon EPS --delta D    largest rho whose epsilon at delta is at most EPS\n"
        "\n"
        "The RDP accountant's epsilon is an upper bound. The PRV accountant prints its\n"
        "estimate and its upper bound (estimate + 0.01, at delta - delta/1000); budgets\n"
        "(--budget, exit code 3) are checked against the upper bound.\n",
        stdout);
}

/* Parse a number that must use the whole text. */
static int parse_number(sm_ctx *ctx, const char *opt, const char *text, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v))
    return sm_fail(ctx, SM_EINPUT, "privacy: %s '%s': not a number", opt, text);
  *out = v;
  return SM_OK;
}

static int parse_steps(sm_ctx *ctx, const char *text, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE || v < 1)
    return sm_fail(ctx, SM_EINPUT, "privacy: --steps '%s': not a positive integer", text);
  *out = (int64_t)v;
  return SM_OK;
}

/* Where a numeric option is stored, or NULL for an unknown name. */
static double *number_slot(privacy_opts *o, const char *name) {
  static const char *names[] = {"--sample-rate",    "--noise", "--epochs",  "--delta",
                                "--target-epsilon", "--rho",   "--epsilon", "--budget"};
  double *slots[] = {&o->sample_rate, &o->noise, &o->epochs,  &o->delta,
                     &o->target,      &o->rho,   &o->epsilon, &o->budget};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
    if (strcmp(name, names[k]) == 0)
      return slots[k];
  return NULL;
}

/* One option with its value ("--opt value" or "--opt=value"); advances *i. */
static int parse_one(sm_ctx *ctx, privacy_opts *o, int argc, char **argv, int *i) {
  const char *arg = argv[*i];
  if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
    o->help = 1;
    return SM_OK;
  }
  if (strncmp(arg, "--", 2) != 0)
    return sm_fail(ctx, SM_EINPUT, "privacy: unexpected argument '%s' (takes no file)", arg);

  /* split off the value */
  char name[32];
  const char *value;
  SM_TRY(sm_cli_option_value(ctx, "privacy: ", argc, argv, i, name, sizeof name, &value));

  /* store it */
  if (strcmp(name, "--steps") == 0)
    return parse_steps(ctx, value, &o->steps);
  if (strcmp(name, "--accountant") == 0) {
    if (strcmp(value, "rdp") != 0 && strcmp(value, "prv") != 0)
      return sm_fail(ctx, SM_EINPUT, "privacy: --accountant '%s': expected rdp or prv", value);
    o->accountant = strcmp(value, "prv") == 0 ? SM_ACCOUNTANT_PRV : SM_ACCOUNTANT_RDP;
    return SM_OK;
  }
  double *slot = number_slot(o, name);
  if (!slot)
    return sm_fail(ctx, SM_EINPUT, "privacy: unknown option '%s' (try synthmpi privacy --help)",
                   name);
  return parse_number(ctx, name, value, slot);
}

/* Options after the word "privacy" on the command line. */
static int parse_privacy(sm_ctx *ctx, const sm_cli_args *args, privacy_opts *o) {
  *o = (privacy_opts){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0, SM_ACCOUNTANT_RDP, 0};
  int start = 1;
  while (start < args->argc && args->argv[start] != args->command)
    start++;
  for (int i = start + 1; i < args->argc; i++) {
    /* the global quiet/verbose flags are accepted here too; privacy logs nothing */
    if (strcmp(args->argv[i], "-q") == 0 || strcmp(args->argv[i], "-v") == 0)
      continue;
    SM_TRY(parse_one(ctx, o, args->argc, args->argv, &i));
  }
  return SM_OK;
}

static int need(sm_ctx *ctx, double v, const char *opt, const char *mode) {
  if (isnan(v))
    return sm_fail(ctx, SM_EINPUT, "privacy: %s needs %s", mode, opt);
  return SM_OK;
}

static const char *accountant_name(sm_accountant a) {
  return a == SM_ACCOUNTANT_PRV ? "prv" : "rdp";
}

/* Epsilon of DP-SGD, with an optional budget check. */
static int run_epsilon(sm_ctx *ctx, const privacy_opts *o) {
  const char *mode = "epsilon of DP-SGD";
  SM_TRY(need(ctx, o->sample_rate, "--sample-rate", mode));
  SM_TRY(need(ctx, o->delta, "--delta", mode));
  if ((o->steps > 0) == !isnan(o->epochs))
    return sm_fail(ctx, SM_EINPUT, "privacy: %s needs exactly one of --steps and --epochs", mode);
  if (!isnan(o->epochs) && !(o->epochs > 0.0 && o->sample_rate > 0.0))
    return sm_fail(ctx, SM_EINPUT, "privacy: --epochs and --sample-rate must be positive");

  /* account */
  sm_dp_sgd mech = {o->sample_rate, o->noise, o->steps};
  if (!isnan(o->epochs))
    mech.steps = (int64_t)(o->epochs / o->sample_rate);
  sm_dp_epsilon spent;
  SM_TRY(sm_dp_sgd_epsilon(ctx, o->accountant, &mech, o->delta, &spent));

  /* report, then enforce the budget on the guaranteed bound */
  if (ctx->rank == 0) {
    printf("accountant: %s\nsteps: %lld\ndelta: %g\n", accountant_name(o->accountant),
           (long long)mech.steps, o->delta);
    printf("epsilon: %.6f\n", spent.bound);
    if (o->accountant == SM_ACCOUNTANT_PRV)
      printf("epsilon_estimate: %.6f\nepsilon_upper: %.6f\n", spent.estimate, spent.bound);
    else
      printf("order: %g\n", spent.order);
    fflush(stdout);
  }
  if (!isnan(o->budget))
    return sm_dp_budget_check(ctx, &spent, o->delta, o->budget);
  return SM_OK;
}

/* The noise multiplier for a target epsilon. */
static int run_noise(sm_ctx *ctx, const privacy_opts *o) {
  const char *mode = "--target-epsilon";
  SM_TRY(need(ctx, o->sample_rate, "--sample-rate", mode));
  SM_TRY(need(ctx, o->epochs, "--epochs", mode));
  SM_TRY(need(ctx, o->delta, "--delta", mode));
  if (o->steps > 0)
    return sm_fail(ctx, SM_EINPUT, "privacy: --target-epsilon takes --epochs, not --steps");
  double sigma = NAN;
  SM_TRY(sm_noise_for_epsilon(ctx, o->accountant, o->target, o->delta, o->sample_rate, o->epochs,
                              &sigma));

  /* the epsilon that sigma reaches over the same steps */
  sm_dp_sgd mech = {o->sample_rate, sigma, (int64_t)(o->epochs / o->sample_rate)};
  sm_dp_epsilon reached;
  SM_TRY(sm_dp_sgd_epsilon(ctx, o->accountant, &mech, o->delta, &reached));
  if (ctx->rank == 0) {
    printf("accountant: %s\nsteps: %lld\ndelta: %g\n", accountant_name(o->accountant),
           (long long)mech.steps, o->delta);
    printf("noise_multiplier: %.6f\n", sigma);
    printf("epsilon: %.6f\n", reached.bound);
    if (o->accountant == SM_ACCOUNTANT_PRV)
      printf("epsilon_estimate: %.6f\nepsilon_upper: %.6f\n", reached.estimate, reached.bound);
    fflush(stdout);
  }
  return SM_OK;
}

/* zCDP: rho -> epsilon, or epsilon -> rho, at delta. */
static int run_zcdp(sm_ctx *ctx, const privacy_opts *o) {
  SM_TRY(need(ctx, o->delta, "--delta", "the zCDP conversion"));
  double value = NAN;
  if (!isnan(o->rho)) {
    SM_TRY(sm_zcdp_epsilon(ctx, o->rho, o->delta, &value));
    if (ctx->rank == 0)
      printf("rho: %g\ndelta: %g\nepsilon: %.6f\n", o->rho, o->delta, value);
  } else {
    SM_TRY(sm_zcdp_rho(ctx, o->epsilon, o->delta, &value));
    if (ctx->rank == 0)
      printf("epsilon: %g\ndelta: %g\nrho: %.10f\n", o->epsilon, o->delta, value);
  }
  if (ctx->rank == 0)
    fflush(stdout);
  return SM_OK;
}

int sm_cmd_privacy(sm_ctx *ctx, const sm_cli_args *args) {
  privacy_opts o;
  SM_TRY(parse_privacy(ctx, args, &o));
  if (o.help) {
    privacy_usage(ctx);
    return -1;
  }

  /* the mode follows from which options were given */
  int zcdp = !isnan(o.rho) || !isnan(o.epsilon);
  int dp_sgd = !isnan(o.sample_rate) || !isnan(o.noise) || !isnan(o.target);
  if (zcdp && dp_sgd)
    return sm_fail(ctx, SM_EINPUT,
                   "privacy: --rho/--epsilon (zCDP) cannot be combined with "
                   "DP-SGD options");
  if (!isnan(o.budget) && (zcdp || !isnan(o.target)))
    return sm_fail(ctx, SM_EINPUT, "privacy: --budget applies only to the epsilon of DP-SGD");
  if (!isnan(o.rho) && !isnan(o.epsilon))
    return sm_fail(ctx, SM_EINPUT, "privacy: give one of --rho and --epsilon");
  if (zcdp)
    return run_zcdp(ctx, &o);
  if (!isnan(o.target) && !isnan(o.noise))
    return sm_fail(ctx, SM_EINPUT, "privacy: give one of --noise and --target-epsilon");
  if (!isnan(o.target))
    return run_noise(ctx, &o);
  if (!isnan(o.noise))
    return run_epsilon(ctx, &o);
  return sm_fail(ctx, SM_EINPUT,
                 "privacy: nothing to compute: give --noise, --target-epsilon, "
                 "--rho or --epsilon (try synthmpi privacy --help)");
}
