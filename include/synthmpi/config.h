/* The experiment: a YAML file turned into a typed, validated struct.
 *
 * Errors name the experiment file, line and column (1-based) of the offending node.
 * Paths of input files are resolved relative to the experiment file; outputs go under
 * runtime.output_dir, which is resolved relative to the working directory.
 */
#ifndef SYNTHMPI_CONFIG_H
#define SYNTHMPI_CONFIG_H

#include <stdint.h>

#include "synthmpi/core.h"

#define SM_EXPERIMENT_VERSION 1

/* Model parameters are declared by each model (see model.h) and validated here. */
typedef enum sm_param_type {
  SM_PARAM_INT,
  SM_PARAM_REAL,
  SM_PARAM_BOOL,
  SM_PARAM_STRING
} sm_param_type;

typedef struct sm_param_desc {
  const char *name;
  sm_param_type type;
  const char *default_value; /* as written in YAML */
  double min, max;           /* numeric bounds, inclusive */
  const char *choices;       /* strings: "a|b|c", or NULL for any */
  const char *help;          /* one line for the docs and --help */
} sm_param_desc;

typedef struct sm_params {
  int n;                     /* number of declared parameters */
  const sm_param_desc *desc; /* (n) */
  double *num;               /* (n) value of numeric/bool parameters */
  char **str;                /* (n) value of string parameters, else NULL */
} sm_params;

double sm_params_num(const sm_params *p, const char *name);
const char *sm_params_str(const sm_params *p, const char *name);

/* One column of a data source, as declared. */
typedef struct sm_column_spec {
  char *name;
  int type;                 /* sm_coltype, or -1 to infer */
  char *format;             /* datetime: strptime format, e.g. "%Y%m%d" */
  int has_domain;           /* numeric domain declared */
  double lo, hi;            /* numeric domain */
  int n_domain_categories;  /* categorical domain declared when > 0 */
  char **domain_categories; /* (n_domain_categories) */
  char *strip_suffix;       /* removed from the end of each value, or NULL */
  int n_replace;            /* value mapping: replace_from[i] -> replace_to[i] */
  char **replace_from;
  char **replace_to;
  int line, column; /* where it was declared */
} sm_column_spec;

typedef struct sm_source_spec {
  char *path;     /* resolved path of the input file */
  char *format;   /* "csv", or genomic: "hapt" (with legend) or "vcf" (VCF/BCF) */
  int header;     /* first (non-skipped) line holds column names */
  int skip_lines; /* lines skipped before the header or data */
  char delimiter;
  int n_missing; /* tokens that mean "missing" */
  char **missing;
  int trim;      /* trim spaces around unquoted fields */
  int n_columns; /* declared columns (all, in order, when header is false) */
  sm_column_spec *columns;
  int64_t window;        /* fasta: bases per window; 0 = whole records */
  int64_t stride;        /* fasta: bases between window starts; 0 = window */
  int non_acgt;          /* fasta: sm_non_acgt (seq.h): 0 skip windows, 1 random bases */
  char *legend;          /* hapt: resolved path of the .legend file (id, position, a0, a1) */
  int impute_missing;    /* vcf: missing calls become the major allele (else kept missing) */
  int skip_multiallelic; /* vcf: sites with more than one alternate allele are skipped
                          * (else refused) */
} sm_source_spec;

typedef enum sm_holdout_kind {
  SM_HOLDOUT_NONE = 0,
  SM_HOLDOUT_FILE = 1,
  SM_HOLDOUT_FRACTION = 2,
  SM_HOLDOUT_TAIL = 3 /* fasta: the last `fraction` of every record (split: tail) */
} sm_holdout_kind;

typedef struct sm_holdout_spec {
  sm_holdout_kind kind;
  sm_source_spec source; /* FILE: data's settings with path and skip_lines overridden */
  double fraction;       /* FRACTION: share of input rows held out */
  uint64_t seed;         /* FRACTION: which rows (by global row index) */
} sm_holdout_spec;

typedef struct sm_model_spec {
  char *kind;           /* registered model name, e.g. "gaussian_copula" */
  sm_params params;     /* validated against the model's declared parameters */
  char *default_target; /* evaluation.target (a copy), or NULL: the column a model that
                         * conditions on one uses when its parameters name none */
} sm_model_spec;

/* sampling.conditions: the release keeps only rows where each column has its value. */
typedef struct sm_condition {
  char *column; /* a categorical or boolean column */
  char *value;  /* one of its categories, as written */
  char *at;     /* "file:line:column: " or "--set k=v: " of the value, for later messages */
} sm_condition;

typedef struct sm_sampling_spec {
  int64_t rows;       /* rows to release; 0 means as many as the training rows */
  uint64_t seed;      /* release randomness */
  char *output;       /* release file name, under runtime.output_dir */
  int64_t chunk_rows; /* rows per generation chunk and HDF5 chunk */
  int compression;    /* deflate level 0..9, 0 = none */
  int overwrite;      /* replace an existing release */
  int n_conditions;   /* sampling.conditions, in file order */
  sm_condition *conditions;
  int64_t max_candidates; /* conditioned release: rows drawn at most before giving up */
  int64_t length;         /* fasta: bases per sequence; 0 = the longest training window */
} sm_sampling_spec;

typedef struct sm_eval_spec {
  int enabled;
  char *target;     /* utility target column, or NULL (no utility) */
  char *target_at;  /* where target is set: "file:line:column: " or "--set k=v: ", or NULL */
  int64_t max_rows; /* rows of each set used for fidelity metrics */
  uint64_t seed;    /* which rows when subsampling */
  int utility;      /* train-on-synthetic, test-on-real */
  int64_t utility_max_rows;
  int utility_rounds; /* XGBoost settings, identical for real and synthetic */
  int utility_depth;
  double utility_eta;
} sm_eval_spec;

typedef struct sm_runtime_spec {
  char *output_dir; /* resolved against the working directory */
  int log_level;    /* SM_LOG_* */
  int blas_threads; /* 0 = cores on the node divided by ranks on the node */
} sm_runtime_spec;

/* Differential privacy for the whole run (section `privacy`; absent: not private). */
typedef struct sm_privacy_spec {
  int enabled;    /* the section is present */
  double epsilon; /* total budget of the run */
  double delta;
  char *accountant;        /* DP-SGD: "rdp" (default) or "prv"; MST always uses zCDP */
  double max_grad_norm;    /* DP-SGD clipping norm C (default 1) */
  double noise_multiplier; /* DP-SGD sigma; 0: the smallest that fits the budget */
  int reproducible;        /* tests only: seeded randomness, the release says not private */
} sm_privacy_spec;

/* sweep: a parameter sweep, dotted key -> list of values. Its points are the cartesian
 * product of the lists, numbered from 0 in row-major order: the first key varies slowest,
 * the last fastest. Point p applies "keys[k]=<value>" for every k as --set would. */
typedef struct sm_sweep_spec {
  int n_keys;       /* 0 without a sweep */
  char **keys;      /* (n_keys) dotted keys, in file order */
  int *n_values;    /* (n_keys) */
  char ***values;   /* (n_keys)(n_values[k]) scalars as written */
  int64_t n_points; /* product of n_values; 1 without a sweep */
} sm_sweep_spec;

typedef struct sm_experiment {
  int version;
  char *name;
  char *path; /* experiment file as given */
  char *dir;  /* its directory */
  sm_source_spec data;
  sm_holdout_spec holdout;
  sm_model_spec model;
  sm_sampling_spec sampling;
  sm_eval_spec evaluation;
  sm_runtime_spec runtime;
  sm_privacy_spec privacy;

  sm_sweep_spec sweep;
  char *resolved; /* the fully resolved experiment as YAML text */
} sm_experiment;

/* Collective: rank 0 reads the file, every rank parses the same bytes. Overrides are
 * "dotted.key=value" strings applied before validation. Returns SM_EINPUT with a
 * "file:line:column: ..." message on bad input. */
int sm_experiment_load(sm_ctx *ctx, const char *path, int n_overrides, char **overrides,
                       sm_experiment *out);
void sm_experiment_free(sm_experiment *e);

/* The value that sweep point `point` (0 <= point < n_points) gives to keys[key]. */
const char *sm_sweep_value(const sm_sweep_spec *s, int64_t point, int key);

/* Candidate rows a conditioned release may draw: sampling.max_candidates, or 1000 per
 * released row when it is 0. */
int64_t sm_sampling_max_candidates(const sm_sampling_spec *s);

/* Path of a file under runtime.output_dir (malloc'd). */
char *sm_experiment_output(const sm_experiment *e, const char *file);

#endif
