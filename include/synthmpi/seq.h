/* DNA sequences: FASTA windows in, an order-k Markov model, synthetic sequences out.
 *
 * Bases are stored as codes 0..3 for A, C, G, T. Rank 0 reads the FASTA file through
 * htslib (plain, gzip or bgzip) and broadcasts the records; every rank cuts the same
 * windows, numbers them globally in file order and keeps its block of that numbering
 * (sm_partition), so what a rank holds depends only on the rank count, never on timing.
 */
#ifndef SYNTHMPI_SEQ_H
#define SYNTHMPI_SEQ_H

#include <stdint.h>

#include "synthmpi/config.h"
#include "synthmpi/core.h"
#include "synthmpi/model.h"

/* Largest Markov order: a (k+1)-mer must fit in 64 bits, two bits a base. */
#define SM_SEQ_MAX_ORDER 24
/* Base codes, and the code of anything else while reading. */
enum { SM_BASE_A = 0, SM_BASE_C = 1, SM_BASE_G = 2, SM_BASE_T = 3, SM_BASE_OTHER = 4 };

/* A set of sequences, this rank's block of a global numbering. */
typedef struct sm_seqset {
  int64_t n;       /* sequences on this rank */
  int64_t n_total; /* sequences on all ranks */
  int64_t first;   /* global index of the first one here */
  int64_t *offset; /* (n + 1) start of sequence i in codes; offset[n] = bases here */
  uint8_t *codes;  /* (offset[n]) base codes 0..3 */
} sm_seqset;

void sm_seqset_free(sm_seqset *s);
/* Collective: total bases over all ranks. */
int sm_seqset_bases(sm_ctx *ctx, const sm_seqset *s, int64_t *total);

/* How FASTA records become sequences. */
typedef enum sm_non_acgt { SM_NON_ACGT_SKIP = 0, SM_NON_ACGT_RANDOM = 1 } sm_non_acgt;

typedef struct sm_fasta_options {
  const char *path;
  int64_t window;       /* bases per window; 0: whole records */
  int64_t stride;       /* bases between window starts (window when 0) */
  sm_non_acgt non_acgt; /* skip windows holding any other letter, or draw a random base */
  uint64_t seed;        /* random bases for non_acgt: random (by position in the file) */
  sm_holdout_kind holdout;
  double fraction;     /* held-out share: of windows (FRACTION) or of each record (TAIL) */
  uint64_t split_seed; /* FRACTION: which windows, by global window index */
} sm_fasta_options;

/* What the reader saw, the same on every rank. */
typedef struct sm_fasta_stats {
  int64_t records;         /* FASTA records */
  int64_t bases;           /* letters in them */
  int64_t non_acgt;        /* letters other than ACGT (either case) */
  int64_t skipped_windows; /* windows dropped for holding them (SKIP) */
  int64_t short_records;   /* records shorter than one window, not used */
} sm_fasta_stats;

/* Collective. Read the file, cut windows and split them into train and holdout (holdout
 * is empty with SM_HOLDOUT_NONE). SM_EINPUT for an unreadable or empty file, a file
 * without records, or no training window. */
int sm_fasta_read(sm_ctx *ctx, const sm_fasta_options *opt, sm_seqset *train, sm_seqset *holdout,
                  sm_fasta_stats *stats);

/* Every part the sequence pipeline uses. */
typedef struct sm_fasta_parts {
  sm_seqset train, holdout;
  sm_seqset choose_fit;   /* training windows wholly inside the first 1 - validate_tail of
                           * their record's training part */
  sm_seqset choose_score; /* training windows wholly inside its last validate_tail */
} sm_fasta_parts;

/* Collective. sm_fasta_read, plus the two parts for choosing the order (both empty when
 * validate_tail is 0). Windows across the line between them are in neither. */
int sm_fasta_read_parts(sm_ctx *ctx, const sm_fasta_options *opt, double validate_tail,
                        sm_fasta_parts *out, sm_fasta_stats *stats);
void sm_fasta_parts_free(sm_fasta_parts *p);

/* The fitted order-k Markov model: interpolated Witten-Bell over orders 0..k.
 * Counts of order j are kept dense (4^(j+1) entries) when that is small, else as sorted
 * (key, count) pairs of the observed (j+1)-mers only. */
typedef struct sm_markov sm_markov;

typedef struct sm_markov_options {
  int order;                     /* k, or -1: choose by held-out bits per base */
  int max_order;                 /* largest k tried when choosing */
  int64_t dense_limit;           /* largest dense table (entries); 0: the built-in choice */
  double validate_tail;          /* choosing k without choose_score: share of each training
                                  * sequence's end scored (e.g. 0.1) */
  const sm_seqset *choose_fit;   /* choosing k: counted (NULL: heads of the training set) */
  const sm_seqset *choose_score; /* choosing k: scored (NULL or empty: tails, as above) */
} sm_markov_options;

/* Collective. Count (j+1)-mers of every order j <= k on each rank, sum the counts over
 * ranks and build the smoothed model. *out is freed with sm_markov_free. */
int sm_markov_fit(sm_ctx *ctx, const sm_markov_options *opt, const sm_seqset *train,
                  sm_markov **out);
void sm_markov_free(sm_markov *m);
int sm_markov_order(const sm_markov *m);
/* Whether order j's counts are stored dense. */
int sm_markov_is_dense(const sm_markov *m, int j);
/* The count of the (j+1)-mer key (two bits a base, oldest base highest). */
int64_t sm_markov_count(const sm_markov *m, int j, uint64_t key);

/* Local. The smoothed distribution of the next base after hist[0..len) (oldest first;
 * only the last min(len, k) bases matter): p[4] sums to 1. */
void sm_markov_predict(const sm_markov *m, const uint8_t *hist, int64_t len, double p[4]);

/* Collective. Held-out bits per base of the model truncated at order j (<= k): minus the
 * mean log2 probability of every base of s given its preceding bases in its sequence. */
int sm_markov_bits_per_base(sm_ctx *ctx, const sm_markov *m, int j, const sm_seqset *s,
                            double *bits);

/* Local. Sequence `index` of a release: length bases drawn from the stream
 * (seed, SM_STREAM_SAMPLE, index), so it does not depend on the rank that draws it. */
void sm_markov_sample(const sm_markov *m, uint64_t seed, int64_t index, int64_t length,
                      uint8_t *out);

/* Sequence evaluation against real data. */
typedef struct sm_seq_metrics {
  double jsd_synth[6]; /* k-mer spectrum JSD (bits), k = 1..6: synthetic vs held out */
  double jsd_train[6]; /* the same for real training vs held out */
  double gc_train, gc_holdout, gc_synth;
  double bits_model;  /* held-out bits per base of the fitted model */
  double bits_order0; /* and of its order-0 part */
  int64_t match_max;  /* longest exact match of a synthetic sequence in training */
  double match_mean;  /* mean over synthetic sequences of their longest match */
  int64_t n_synth, n_holdout;
} sm_seq_metrics;

/* Local. Jensen-Shannon divergence in bits of two count vectors of length n (each
 * normalised); 0 when either is empty. */
double sm_seq_jsd(const double *a, const double *b, int64_t n);
/* Collective. k-mer counts (4^k, k <= 12) over every sequence of s on every rank. */
int sm_seq_kmer_counts(sm_ctx *ctx, const sm_seqset *s, int k, double *counts);

/* Longest exact matches against a reference text of both strands (a suffix array). */
typedef struct sm_seq_index sm_seq_index;
/* Collective. Index every sequence of ref (all ranks' blocks) and its reverse complement. */
int sm_seq_index_build(sm_ctx *ctx, const sm_seqset *ref, sm_seq_index **out);
void sm_seq_index_free(sm_seq_index *x);
/* Local. Length of the longest substring of q[0..len) that occurs in the index. */
int64_t sm_seq_index_longest(const sm_seq_index *x, const uint8_t *q, int64_t len);

/* Collective. Every metric above; holdout may be empty (its figures are then NaN). */
int sm_seq_evaluate(sm_ctx *ctx, const sm_markov *m, const sm_seqset *train,
                    const sm_seqset *holdout, const sm_seqset *synth, sm_seq_metrics *out);
/* Rank 0: the metrics as JSON text (malloc'd), or NULL when out of memory; experiment is
 * the resolved experiment text (synthmpi summary reads its settings), or NULL. */
char *sm_seq_metrics_json(const sm_seq_metrics *v, const char *release, const char *experiment);

/* The sequence models, for the experiment's model.kind and its parameters. Their table
 * functions (fit, sample, save, load) are NULL: the sequence pipeline drives them. */
const sm_model_ops *sm_seq_model_find(const char *kind);

/* Is this experiment about sequences (data.format fasta)? */
int sm_seq_experiment(const sm_experiment *e);
/* Collective. synthmpi run for a sequence experiment: read, fit, write the release,
 * evaluate; the release is <output_dir>/<sampling.output>. */
int sm_seq_run(sm_ctx *ctx, const sm_experiment *e);

/* Collective. Is path a sequence release (its "format" attribute)? 0 when not or when
 * it cannot be opened (the release tools then say why). */
int sm_seq_is_release(sm_ctx *ctx, const char *path, int *yes);
/* Collective. Print what a sequence release holds. */
int sm_seq_inspect(sm_ctx *ctx, const char *path, FILE *out);
/* Collective. Write the release as FASTA (output NULL: stdout); rank 0 writes. */
int sm_seq_export_fasta(sm_ctx *ctx, const char *path, const char *output);

#endif
