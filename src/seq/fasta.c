/* The FASTA reader: rank 0 reads the records through htslib and broadcasts them; every
 * rank cuts the same windows, numbers them globally in file order and keeps its block. */
#include <htslib/bgzf.h>
#include <htslib/kstring.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "seq/seq_internal.h"
#include "synthmpi/rng.h"

/* The records of the file: codes (SM_BASE_*) one after another. */
typedef struct fasta_records {
  int64_t n;      /* records */
  int64_t *start; /* (n + 1) where record r begins in codes */
  uint8_t *codes; /* (start[n]) */
  int64_t cap_rec, cap_codes;
} fasta_records;

/* One window: record, first base, length, and which side of the split it falls on. */
typedef struct window {
  int64_t record, pos, len;
  int holdout;
} window;

typedef struct window_list {
  window *w;
  int64_t n, cap;
} window_list;

static void records_free(fasta_records *r) {
  free(r->start);
  free(r->codes);
  memset(r, 0, sizeof(*r));
}

static uint8_t base_code(unsigned char c) {
  switch (c | 0x20) {
  case 'a':
    return SM_BASE_A;
  case 'c':
    return SM_BASE_C;
  case 'g':
    return SM_BASE_G;
  case 't':
    return SM_BASE_T;
  default:
    return SM_BASE_OTHER;
  }
}

/* Local. Append a record boundary or bases, growing the arrays geometrically. */
static int records_new(sm_ctx *ctx, fasta_records *r) {
  if (r->n + 2 > r->cap_rec) {
    int64_t cap = r->cap_rec ? 2 * r->cap_rec : 64;
    int64_t *s = realloc(r->start, (size_t)cap * sizeof(int64_t));
    if (!s)
      return sm_fail(ctx, SM_ERR, "out of memory reading FASTA");
    r->start = s, r->cap_rec = cap;
  }
  r->start[r->n] = r->n ? r->start[r->n] : 0;
  r->n++;
  r->start[r->n] = r->start[r->n - 1];
  return SM_OK;
}

static int records_add(sm_ctx *ctx, fasta_records *r, const char *line, size_t len) {
  int64_t have = r->start[r->n];
  if (have + (int64_t)len > r->cap_codes) {
    int64_t cap = r->cap_codes ? 2 * r->cap_codes : 1 << 16;
    while (cap < have + (int64_t)len)
      cap *= 2;
    uint8_t *c = realloc(r->codes, (size_t)cap);
    if (!c)
      return sm_fail(ctx, SM_ERR, "out of memory reading FASTA");
    r->codes = c, r->cap_codes = cap;
  }
  int64_t k = have;
  for (size_t i = 0; i < len; i++)
    if (line[i] != '\r' && line[i] != ' ' && line[i] != '\t')
      r->codes[k++] = base_code((unsigned char)line[i]);
  r->start[r->n] = k;
  return SM_OK;
}

/* Rank 0. Read every record of the file (plain, gzip or bgzip, through BGZF). */
static int read_records(sm_ctx *ctx, const char *path, fasta_records *r) {
  BGZF *fp = bgzf_open(path, "r");
  if (!fp)
    return sm_fail(ctx, SM_EINPUT, "%s: cannot open for reading", path);
  kstring_t line = {0, 0, NULL};
  int rc = SM_OK, got;
  int64_t lineno = 0;

  /* '>' opens a record; ';' lines are comments; blank lines are skipped */
  while (rc == SM_OK && (got = bgzf_getline(fp, '\n', &line)) >= 0) {
    lineno++;
    if (line.l == 0 || line.s[0] == ';')
      continue;
    if (line.s[0] == '>')
      rc = records_new(ctx, r);
    else if (r->n == 0)
      rc = sm_fail(ctx, SM_EINPUT, "%s:%lld: not FASTA: sequence before the first '>' header", path,
                   (long long)lineno);
    else
      rc = records_add(ctx, r, line.s, line.l);
  }
  if (rc == SM_OK && got < -1)
    rc = sm_fail(ctx, SM_EINPUT, "%s: read error after line %lld (corrupt compressed file?)", path,
                 (long long)lineno);
  if (rc == SM_OK && r->n == 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: no FASTA records (no line starts with '>')", path);
  free(line.s);
  bgzf_close(fp);
  return rc;
}

/* Collective. Rank 0's records on every rank. */
static int share_records(sm_ctx *ctx, fasta_records *r) {
  int64_t head[2] = {r->n, r->n ? r->start[r->n] : 0};
  SM_MPI_CHECK(ctx, MPI_Bcast(head, 2, MPI_INT64_T, 0, ctx->comm));
  if (ctx->rank == 0 && !r->codes)
    r->codes = sm_malloc(ctx, 1); /* records without bases */
  if (ctx->rank != 0) {
    r->n = head[0];
    r->start = sm_calloc(ctx, (size_t)head[0] + 1, sizeof(int64_t));
    r->codes = sm_malloc(ctx, (size_t)(head[1] > 0 ? head[1] : 1));
  }
  SM_TRY(sm_agree(ctx, r->start && r->codes ? SM_OK : SM_ERR));
  SM_TRY(sm_seq_bcast(ctx, r->start, (head[0] + 1) * (int64_t)sizeof(int64_t)));
  return sm_seq_bcast(ctx, r->codes, head[1]);
}

/* Local. Replace each other letter with a base drawn by its position in the file. */
static int64_t map_random(fasta_records *r, uint64_t seed) {
  int64_t mapped = 0;
  for (int64_t i = 0; i < r->start[r->n]; i++) {
    if (r->codes[i] != SM_BASE_OTHER)
      continue;
    sm_rng g;
    sm_rng_init(&g, seed, SM_STREAM_FIT, (uint64_t)i);
    r->codes[i] = (uint8_t)(sm_rng_u32(&g) >> 30);
    mapped++;
  }
  return mapped;
}

static int windows_push(sm_ctx *ctx, window_list *l, window w) {
  if (l->n == l->cap) {
    int64_t cap = l->cap ? 2 * l->cap : 256;
    window *p = realloc(l->w, (size_t)cap * sizeof(window));
    if (!p)
      return sm_fail(ctx, SM_ERR, "out of memory cutting windows");
    l->w = p, l->cap = cap;
  }
  l->w[l->n++] = w;
  return SM_OK;
}

static int has_other(const uint8_t *c, int64_t n) {
  return memchr(c, SM_BASE_OTHER, (size_t)n) != NULL;
}

/* Local. The windows of bases [lo, hi) of record rec (whole part when window is 0). */
static int cut_part(sm_ctx *ctx, const fasta_records *r, const sm_fasta_options *o, int64_t rec,
                    int64_t lo, int64_t hi, int holdout, window_list *l, sm_fasta_stats *st) {
  int64_t win = o->window > 0 ? o->window : hi - lo;
  int64_t stride = o->stride > 0 ? o->stride : win;
  if (hi - lo <= 0)
    return SM_OK;
  if (hi - lo < win) {
    st->short_records++;
    return SM_OK;
  }
  for (int64_t p = lo; p + win <= hi; p += stride) {
    const uint8_t *c = r->codes + r->start[rec] + p;
    if (has_other(c, win)) {
      st->skipped_windows++;
      continue;
    }
    SM_TRY(windows_push(ctx, l, (window){rec, p, win, holdout}));
  }
  return SM_OK;
}

/* Where the training part of record rec ends: its length, or the start of its tail. */
static int64_t training_end(const fasta_records *r, const sm_fasta_options *o, int64_t rec) {
  int64_t len = r->start[rec + 1] - r->start[rec];
  if (o->holdout != SM_HOLDOUT_TAIL)
    return len;
  return len - (int64_t)((double)len * o->fraction + 0.5);
}

/* Local. Every window of every record, in file order, with its side of the split. */
static int cut_windows(sm_ctx *ctx, const fasta_records *r, const sm_fasta_options *o,
                       window_list *l, sm_fasta_stats *st) {
  for (int64_t rec = 0; rec < r->n; rec++) {
    int64_t len = r->start[rec + 1] - r->start[rec], cut = training_end(r, o, rec);
    SM_TRY(cut_part(ctx, r, o, rec, 0, cut, 0, l, st));
    if (o->holdout == SM_HOLDOUT_TAIL)
      SM_TRY(cut_part(ctx, r, o, rec, cut, len, 1, l, st));
  }

  /* a seeded share of the windows, by global window index */
  for (int64_t i = 0; i < l->n && o->holdout == SM_HOLDOUT_FRACTION; i++) {
    sm_rng g;
    sm_rng_init(&g, o->split_seed, SM_STREAM_HOLDOUT, (uint64_t)i);
    l->w[i].holdout = sm_rng_uniform(&g) < o->fraction;
  }
  return SM_OK;
}

/* Local. The training windows that lie wholly before (side 0) or wholly inside (side 1)
 * the last `tail` share of their record's training part; windows across the line are in
 * neither, so no base scored for choosing the order is also counted. */
static int validation_windows(sm_ctx *ctx, const fasta_records *r, const sm_fasta_options *o,
                              double tail, const window_list *l, window_list *out) {
  for (int64_t i = 0; i < l->n; i++) {
    window w = l->w[i];
    int64_t end = training_end(r, o, w.record);
    int64_t line = end - (int64_t)((double)end * tail + 0.5);
    if (w.holdout || (w.pos < line && w.pos + w.len > line))
      continue;
    w.holdout = w.pos >= line;
    SM_TRY(windows_push(ctx, out, w));
  }
  return SM_OK;
}

/* Local. This rank's block of the windows on one side of the split. */
static int take_block(sm_ctx *ctx, const fasta_records *r, const window_list *l, int side,
                      sm_seqset *out) {
  int64_t total = 0;
  for (int64_t i = 0; i < l->n; i++)
    total += l->w[i].holdout == side;
  int64_t lo, hi;
  sm_partition(total, ctx->size, ctx->rank, &lo, &hi);
  memset(out, 0, sizeof(*out));
  out->n = hi - lo, out->n_total = total, out->first = lo;
  out->offset = sm_calloc(ctx, (size_t)(hi - lo + 1), sizeof(int64_t));
  if (!out->offset)
    return SM_ERR;

  /* lengths first, then the bases */
  int64_t k = 0, bases = 0;
  for (int64_t i = 0; i < l->n; i++) {
    if (l->w[i].holdout != side)
      continue;
    if (k >= lo && k < hi)
      out->offset[k - lo + 1] = bases += l->w[i].len;
    k++;
  }
  out->codes = sm_malloc(ctx, (size_t)(bases > 0 ? bases : 1));
  if (!out->codes)
    return SM_ERR;
  k = 0;
  for (int64_t i = 0; i < l->n; i++) {
    const window *w = &l->w[i];
    if (w->holdout != side)
      continue;
    if (k >= lo && k < hi)
      memcpy(out->codes + out->offset[k - lo], r->codes + r->start[w->record] + w->pos,
             (size_t)w->len);
    k++;
  }
  return SM_OK;
}

/* Local. Settings the reader cannot work with. */
static int check_options(sm_ctx *ctx, const sm_fasta_options *o) {
  if (o->window < 0 || o->stride < 0)
    return sm_fail(ctx, SM_EINPUT, "data.window and data.stride must not be negative");
  if (o->holdout != SM_HOLDOUT_NONE && !(o->fraction > 0 && o->fraction < 1))
    return sm_fail(ctx, SM_EINPUT, "holdout.fraction must be between 0 and 1 (got %g)",
                   o->fraction);
  return SM_OK;
}

int sm_fasta_read_parts(sm_ctx *ctx, const sm_fasta_options *opt, double validate_tail,
                        sm_fasta_parts *out, sm_fasta_stats *stats) {
  fasta_records r = {0};
  window_list l = {0}, v = {0};
  memset(stats, 0, sizeof(*stats));
  memset(out, 0, sizeof(*out));
  SM_TRY(sm_agree(ctx, check_options(ctx, opt)));

  /* rank 0 reads, everyone gets the records */
  int rc = sm_agree(ctx, ctx->rank == 0 ? read_records(ctx, opt->path, &r) : SM_OK);
  if (rc == SM_OK)
    rc = share_records(ctx, &r);

  /* the same windows on every rank, then each keeps its block of each part */
  if (rc == SM_OK) {
    stats->records = r.n;
    stats->bases = r.start[r.n];
    for (int64_t i = 0; i < r.start[r.n]; i++)
      stats->non_acgt += r.codes[i] == SM_BASE_OTHER;
    if (opt->non_acgt == SM_NON_ACGT_RANDOM)
      map_random(&r, opt->seed);
    rc = cut_windows(ctx, &r, opt, &l, stats);
    if (rc == SM_OK && validate_tail > 0)
      rc = validation_windows(ctx, &r, opt, validate_tail, &l, &v);
  }
  if (rc == SM_OK)
    rc = take_block(ctx, &r, &l, 0, &out->train);
  if (rc == SM_OK)
    rc = take_block(ctx, &r, &l, 1, &out->holdout);
  if (rc == SM_OK)
    rc = take_block(ctx, &r, &v, 0, &out->choose_fit);
  if (rc == SM_OK)
    rc = take_block(ctx, &r, &v, 1, &out->choose_score);
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK && out->train.n_total == 0)
    rc = sm_fail(ctx, SM_EINPUT,
                 "%s: no training windows (%lld records, %lld bases; window %lld, %lld windows "
                 "skipped for letters other than ACGT)",
                 opt->path, (long long)stats->records, (long long)stats->bases,
                 (long long)opt->window, (long long)stats->skipped_windows);
  records_free(&r);
  free(l.w);
  free(v.w);
  if (rc != SM_OK)
    sm_fasta_parts_free(out);
  return rc;
}

int sm_fasta_read(sm_ctx *ctx, const sm_fasta_options *opt, sm_seqset *train, sm_seqset *holdout,
                  sm_fasta_stats *stats) {
  sm_fasta_parts p;
  int rc = sm_fasta_read_parts(ctx, opt, 0, &p, stats);
  *train = p.train;
  *holdout = p.holdout;
  sm_seqset_free(&p.choose_fit);
  sm_seqset_free(&p.choose_score);
  return rc;
}

void sm_fasta_parts_free(sm_fasta_parts *p) {
  sm_seqset_free(&p->train);
  sm_seqset_free(&p->holdout);
  sm_seqset_free(&p->choose_fit);
  sm_seqset_free(&p->choose_score);
}

void sm_seqset_free(sm_seqset *s) {
  if (!s)
    return;
  free(s->offset);
  free(s->codes);
  memset(s, 0, sizeof(*s));
}

int sm_seqset_bases(sm_ctx *ctx, const sm_seqset *s, int64_t *total) {
  int64_t mine = s->n ? s->offset[s->n] : 0;
  SM_MPI_CHECK(ctx, MPI_Allreduce(&mine, total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  return SM_OK;
}

int sm_seq_bcast(sm_ctx *ctx, void *buf, int64_t bytes) {
  char *p = buf;
  for (int64_t done = 0; done < bytes;) {
    int n = bytes - done > INT_MAX / 2 ? INT_MAX / 2 : (int)(bytes - done);
    SM_MPI_CHECK(ctx, MPI_Bcast(p + done, n, MPI_BYTE, 0, ctx->comm));
    done += n;
  }
  return SM_OK;
}
