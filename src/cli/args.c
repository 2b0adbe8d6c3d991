/* Command-line parsing and help. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

void sm_cli_usage(const sm_ctx *ctx, FILE *out) {
  if (ctx->rank != 0)
    return;
  fputs("usage: synthmpi COMMAND [options]\n"
        "       mpirun -n N synthmpi COMMAND [options]    (or srun under Slurm)\n"
        "\n"
        "commands:\n"
        "  run EXPERIMENT        fit the model, write the release, evaluate it\n"
        "  fit EXPERIMENT        fit the model and save it to <output_dir>/model.h5\n"
        "  sample EXPERIMENT     write the release from a saved model\n"
        "  eval EXPERIMENT       evaluate a release against the real data\n"
        "  check EXPERIMENT      validate the experiment and print it fully resolved\n"
        "  inspect FILE          show schema, provenance and size of a release or model\n"
        "  export RELEASE        write a release in another format\n"
        "  privacy [options]     privacy accounting: epsilon of DP-SGD, noise for a target\n"
        "                        epsilon, zCDP conversions (synthmpi privacy --help)\n"
        "  sweep EXPERIMENT      list the points of the experiment's sweep, one a line:\n"
        "                        '<point> key=value...' (each point checked)\n"
        "  summary DIR...        table of the runs' evaluation.json files, also written as\n"
        "                        CSV (--output FILE, default summary.csv)\n"
        "\n"
        "options:\n"
        "  --set KEY=VALUE       override an experiment key, e.g. --set sampling.rows=1000\n"
        "                        (repeatable)\n"
        "  --resume              fit, run: continue from <output_dir>/checkpoint.h5\n"
        "  --model FILE          sample: model file (default <output_dir>/model.h5)\n"
        "  --release FILE        eval: release file (default <output_dir>/<sampling.output>)\n"
        "  --format csv|vcf      export: output format (vcf: genotype releases)\n"
        "  --output FILE         export: output file\n"
        "  -q, --quiet           errors and warnings only\n"
        "  -v, --verbose         debug logging\n"
        "  -h, --help            this help\n"
        "  --version             print the version\n"
        "\n"
        "exit codes: 0 done, 1 failure, 2 bad input or configuration,\n"
        "            3 refused by a privacy budget, 4 stopped by a signal after writing\n"
        "            a checkpoint (run again with --resume)\n",
        out);
}

int sm_cli_option_value(sm_ctx *ctx, const char *who, int argc, char **argv, int *i, char *name,
                        size_t size, const char **value) {
  const char *opt = argv[*i];
  const char *eq = strchr(opt, '=');
  size_t len = eq ? (size_t)(eq - opt) : strlen(opt);
  if (len >= size)
    return sm_fail(ctx, SM_EINPUT, "%sunknown option '%s' (try synthmpi --help)", who, opt);
  memcpy(name, opt, len);
  name[len] = '\0';
  if (eq)
    *value = eq + 1;
  else if (*i + 1 < argc)
    *value = argv[++*i];
  else
    return sm_fail(ctx, SM_EINPUT, "%soption '%s' needs a value", who, name);
  return SM_OK;
}

/* Options that take a value: where to store it. */
static const char **value_slot(sm_cli_args *a, const char *opt) {
  if (strcmp(opt, "--model") == 0)
    return &a->model;
  if (strcmp(opt, "--release") == 0)
    return &a->release;
  if (strcmp(opt, "--format") == 0)
    return &a->format;
  if (strcmp(opt, "--output") == 0 || strcmp(opt, "-o") == 0)
    return &a->output;
  return NULL;
}

static int parse_option(sm_ctx *ctx, sm_cli_args *a, int argc, char **argv, int *i) {
  const char *opt = argv[*i];

  /* flags */
  if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
    sm_cli_usage(ctx, stdout);
    return -1;
  }
  if (strcmp(opt, "--version") == 0) {
    if (ctx->rank == 0)
      printf("synthmpi %s\n", SM_VERSION);
    return -1;
  }
  if (strcmp(opt, "-q") == 0 || strcmp(opt, "--quiet") == 0) {
    a->verbosity = -1;
    return SM_OK;
  }
  if (strcmp(opt, "--resume") == 0) {
    a->resume = 1;
    return SM_OK;
  }
  if (strcmp(opt, "-v") == 0 || strcmp(opt, "--verbose") == 0) {
    a->verbosity = 1;
    return SM_OK;
  }

  /* options with a value */
  char name[32];
  const char *value;
  SM_TRY(sm_cli_option_value(ctx, "", argc, argv, i, name, sizeof name, &value));

  if (strcmp(name, "--set") == 0) {
    if (a->n_sets == SM_CLI_MAX_SETS)
      return sm_fail(ctx, SM_EINPUT, "too many --set options (at most %d)", SM_CLI_MAX_SETS);
    if (!strchr(value, '='))
      return sm_fail(ctx, SM_EINPUT, "--set %s: expected KEY=VALUE", value);
    a->sets[a->n_sets++] = (char *)value;
    return SM_OK;
  }
  const char **slot = value_slot(a, name);
  if (!slot)
    return sm_fail(ctx, SM_EINPUT, "unknown option '%s' (try synthmpi --help)", name);
  *slot = value;
  return SM_OK;
}

int sm_cli_parse(sm_ctx *ctx, int argc, char **argv, sm_cli_args *a) {
  memset(a, 0, sizeof(*a));
  a->argc = argc;
  a->argv = argv;
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1] != '\0') {
      int rc = parse_option(ctx, a, argc, argv, &i);
      if (rc != SM_OK)
        return rc;
    } else if (!a->command) {
      a->command = argv[i];
      if (strcmp(a->command, "privacy") == 0 || strcmp(a->command, "summary") == 0)
        break; /* privacy and summary read their own arguments from argv */
    } else if (!a->target) {
      a->target = argv[i];
    } else {
      return sm_fail(ctx, SM_EINPUT, "unexpected argument '%s' (try synthmpi --help)", argv[i]);
    }
  }

  /* every command but privacy takes exactly one file */
  if (!a->command) {
    sm_cli_usage(ctx, stderr);
    return sm_fail(ctx, SM_EINPUT, "no command given");
  }
  if (!a->target && strcmp(a->command, "privacy") != 0 && strcmp(a->command, "summary") != 0)
    return sm_fail(ctx, SM_EINPUT, "%s: missing the file argument (try synthmpi --help)",
                   a->command);
  if (a->verbosity < 0)
    ctx->log_level = SM_LOG_WARN;
  else if (a->verbosity > 0)
    ctx->log_level = SM_LOG_DEBUG;
  return SM_OK;
}
