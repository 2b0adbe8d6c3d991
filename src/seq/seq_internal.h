/* Private: pieces shared by the files of the sequence module. */
#ifndef SYNTHMPI_SEQ_INTERNAL_H
#define SYNTHMPI_SEQ_INTERNAL_H

#include <stdint.h>

#include "synthmpi/seq.h"

/* Collective. Broadcast bytes from rank 0 in pieces that fit an int count. */
int sm_seq_bcast(sm_ctx *ctx, void *buf, int64_t bytes);

/* Collective. Every rank's sequences of s on every rank: *all is malloc'd with its own
 * offsets (n = n_total, first = 0). */
int sm_seq_allgather(sm_ctx *ctx, const sm_seqset *s, sm_seqset *all);

/* Point to point: send a rank's block (first index, lengths, bases) to rank dest, and
 * receive one from rank src into a fresh set (freed with sm_seqset_free). */
int sm_seq_send_block(sm_ctx *ctx, const sm_seqset *s, int dest);
int sm_seq_recv_block(sm_ctx *ctx, sm_seqset *out, int src);

/* Local. The sequences of s cut at a share of each one's length: head keeps the first
 * 1 - tail bases of each, rest the others (sequences too short to split go to head). */
int sm_seq_split_tail(sm_ctx *ctx, const sm_seqset *s, double tail, sm_seqset *head,
                      sm_seqset *rest);

/* The sequence release: the format attribute, and what one release is made from. */
#define SM_SEQ_RELEASE_FORMAT "synthmpi-sequences"

typedef struct sm_seq_release {
  const sm_experiment *experiment; /* name, resolved text, sampling settings */
  const sm_markov *model;          /* the Markov model, or NULL when cnn samples */
  const struct sm_cnn *cnn;        /* the neural model, or NULL */
  int64_t rows;                    /* sequences */
  int64_t length;                  /* bases each */
} sm_seq_release;

/* Collective. Sample and write the release to path (staged as path.partial). */
int sm_seq_release_write(sm_ctx *ctx, const sm_seq_release *r, const char *path);
/* Collective. This rank's block of a release's sequences, as codes. */
int sm_seq_release_read(sm_ctx *ctx, const char *path, sm_seqset *out);

#endif
