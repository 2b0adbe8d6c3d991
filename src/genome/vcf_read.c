/* The VCF/BCF reader (htslib).
 *
 * A VCF is stored variant by variant; training wants whole persons on each rank. When the
 * file is BGZF-compressed with an index (.tbi or .csi), rank 0 finds each contig's first and
 * last position from the index, the concatenated span is cut into equal position ranges,
 * and each rank reads the variants that start in its range with region queries. Otherwise
 * (plain gzip, no index) rank 0 reads the whole file. Either way every rank then holds a
 * block of variants for all samples, and one MPI_Alltoallv turns that into a block of
 * samples for all variants. */
#include <htslib/hts.h>
#include <htslib/kstring.h>
#include <htslib/tbx.h>
#include <htslib/vcf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "genome/genome_internal.h"

#define NO_ALLELE SM_ALLELE_MISSING
#define POS_LIMIT ((int64_t)1 << 40)

/* An open input: the file, its header, and an index when there is one. */
typedef struct vcf_in {
  htsFile *fp;
  bcf_hdr_t *hdr;
  tbx_t *tbx;     /* VCF.gz with .tbi/.csi */
  hts_idx_t *idx; /* BCF with .csi */
  int n_samples;
  const char *path;
} vcf_in;

/* Variants read by this rank, for every sample: allele pairs. */
typedef struct vcf_block {
  sm_variants vars; /* (n) read so far, capacity cap */
  int64_t n, cap;
  uint8_t *gt;            /* (cap * n_samples * 2) first and second allele, NO_ALLELE */
  int64_t skipped;        /* multi-allelic sites skipped */
  int64_t called_diploid; /* genotypes with two called alleles */
  int64_t unphased;       /* of those, not phased */
} vcf_block;

/* One contig's span of start positions (0-based, inclusive), for the range split. */
typedef struct vcf_span {
  int tid;
  int64_t lo, hi; /* hi < lo: no records */
} vcf_span;

static void input_close(vcf_in *in) {
  if (in->tbx)
    tbx_destroy(in->tbx);
  if (in->idx)
    hts_idx_destroy(in->idx);
  if (in->hdr)
    bcf_hdr_destroy(in->hdr);
  if (in->fp)
    hts_close(in->fp);
  memset(in, 0, sizeof(*in));
}

/* Local. Open the file and its header; load an index when the file is BGZF. */
static int input_open(sm_ctx *ctx, const char *path, vcf_in *in) {
  memset(in, 0, sizeof(*in));
  in->path = path;
  in->fp = hts_open(path, "r");
  if (!in->fp)
    return sm_fail(ctx, SM_EINPUT, "%s: cannot open as VCF/BCF", path);
  const htsFormat *f = hts_get_format(in->fp);
  if (f->category != variant_data) {
    char *what = hts_format_description(f);
    sm_fail(ctx, SM_EINPUT, "%s: not a VCF or BCF file (%s)", path, what ? what : "unknown");
    free(what);
    return SM_EINPUT;
  }
  in->hdr = bcf_hdr_read(in->fp);
  if (!in->hdr)
    return sm_fail(ctx, SM_EINPUT, "%s: cannot read the VCF header", path);
  in->n_samples = bcf_hdr_nsamples(in->hdr);
  if (in->n_samples < 1)
    return sm_fail(ctx, SM_EINPUT, "%s: no samples (genotype columns)", path);

  /* an index only for BGZF files */
  if (f->compression == bgzf && f->format == vcf)
    in->tbx = tbx_index_load3(path, NULL, HTS_IDX_SILENT_FAIL);
  if (f->compression == bgzf && f->format == bcf)
    in->idx = bcf_index_load3(path, NULL, HTS_IDX_SILENT_FAIL);
  return SM_OK;
}

/* ---- one record ----------------------------------------------------------------------- */

/* Local. Room for one more variant. */
static int block_grow(sm_ctx *ctx, vcf_block *b, int n_samples) {
  if (b->n < b->cap)
    return SM_OK;
  int64_t cap = b->cap ? 2 * b->cap : 1024;
  char ***f[4] = {&b->vars.chrom, &b->vars.id, &b->vars.ref, &b->vars.alt};
  for (int k = 0; k < 4; k++) {
    char **p = realloc(*f[k], (size_t)cap * sizeof(char *));
    if (!p)
      return sm_fail(ctx, SM_ERR, "out of memory reading variants");
    *f[k] = p;
  }
  int64_t *pos = realloc(b->vars.pos, (size_t)cap * sizeof(int64_t));
  uint8_t *gt = realloc(b->gt, (size_t)cap * (size_t)n_samples * 2);
  if (pos)
    b->vars.pos = pos;
  if (gt)
    b->gt = gt;
  if (!pos || !gt)
    return sm_fail(ctx, SM_ERR, "out of memory reading genotypes");
  b->cap = cap;
  return SM_OK;
}

/* Local. The allele pairs of one record into gt (n_samples * 2). */
static int record_genotypes(sm_ctx *ctx, const vcf_in *in, bcf1_t *rec, int32_t **buf, int *nbuf,
                            uint8_t *gt, vcf_block *b) {
  int ngt = bcf_get_genotypes(in->hdr, rec, buf, nbuf);
  if (ngt <= 0)
    return sm_fail(ctx, SM_EINPUT, "%s: variant %s:%lld has no GT field", in->path,
                   bcf_seqname_safe(in->hdr, rec), (long long)rec->pos + 1);
  int ploidy = ngt / in->n_samples;
  for (int s = 0; s < in->n_samples; s++) {
    const int32_t *g = *buf + (int64_t)s * ploidy;
    for (int k = 0; k < 2; k++) {
      int ok = k < ploidy && g[k] != bcf_int32_vector_end && !bcf_gt_is_missing(g[k]);
      gt[2 * s + k] = ok ? (uint8_t)(bcf_gt_allele(g[k]) ? 1 : 0) : NO_ALLELE;
    }
    if (gt[2 * s] != NO_ALLELE && gt[2 * s + 1] != NO_ALLELE) {
      b->called_diploid++;
      b->unphased += !bcf_gt_is_phased(g[1]);
    }
  }
  return SM_OK;
}

/* Local. Keep one record: its variant fields and genotypes; multi-allelic sites are
 * refused or skipped. */
static int add_record(sm_ctx *ctx, const vcf_in *in, const sm_source_spec *src, bcf1_t *rec,
                      int32_t **buf, int *nbuf, vcf_block *b) {
  if (bcf_unpack(rec, BCF_UN_STR | BCF_UN_FMT) < 0)
    return sm_fail(ctx, SM_EINPUT, "%s: cannot parse a record", in->path);
  if (rec->n_allele > 2 && src->skip_multiallelic) {
    b->skipped++;
    return SM_OK;
  }
  if (rec->n_allele > 2)
    return sm_fail(ctx, SM_EINPUT,
                   "%s: variant %s:%lld has %d alternate alleles; split it first "
                   "(bcftools norm -m-) or set data.multiallelic: skip",
                   in->path, bcf_seqname_safe(in->hdr, rec), (long long)rec->pos + 1,
                   rec->n_allele - 1);
  if (rec->n_allele < 1)
    return sm_fail(ctx, SM_EINPUT, "%s: variant %s:%lld has no reference allele", in->path,
                   bcf_seqname_safe(in->hdr, rec), (long long)rec->pos + 1);
  SM_TRY(block_grow(ctx, b, in->n_samples));

  /* the variant's fields, then its genotypes */
  int64_t j = b->n;
  b->vars.chrom[j] = sm_strdup(bcf_seqname_safe(in->hdr, rec));
  b->vars.id[j] = sm_strdup(rec->d.id ? rec->d.id : ".");
  b->vars.ref[j] = sm_strdup(rec->d.allele[0]);
  b->vars.alt[j] = sm_strdup(rec->n_allele > 1 ? rec->d.allele[1] : ".");
  b->vars.pos[j] = rec->pos + 1;
  b->n++, b->vars.n = b->n;
  if (!b->vars.chrom[j] || !b->vars.id[j] || !b->vars.ref[j] || !b->vars.alt[j])
    return sm_fail(ctx, SM_ERR, "out of memory reading variants");
  return record_genotypes(ctx, in, rec, buf, nbuf, b->gt + j * in->n_samples * 2, b);
}

/* ---- reading: the whole file, or a range of positions --------------------------------- */

/* Local. Every record of the file, in order. */
static int read_all(sm_ctx *ctx, vcf_in *in, const sm_source_spec *src, vcf_block *b) {
  bcf1_t *rec = bcf_init();
  int32_t *buf = NULL;
  int nbuf = 0, rc = rec ? SM_OK : sm_fail(ctx, SM_ERR, "out of memory");
  int r;
  while (rc == SM_OK && (r = bcf_read(in->fp, in->hdr, rec)) == 0)
    rc = add_record(ctx, in, src, rec, &buf, &nbuf, b);
  if (rc == SM_OK && r < -1)
    rc = sm_fail(ctx, SM_EINPUT, "%s: malformed record after variant %lld", in->path,
                 (long long)b->n + b->skipped);
  free(buf);
  bcf_destroy(rec);
  return rc;
}

/* Local. An iterator over [beg, end) of index contig tid. */
static hts_itr_t *query(const vcf_in *in, int tid, int64_t beg, int64_t end) {
  if (in->tbx)
    return tbx_itr_queryi(in->tbx, tid, beg, end);
  return bcf_itr_queryi(in->idx, tid, beg, end);
}

/* Local. The next record of an iterator: 0, or < 0 at the end or on error. */
static int next(const vcf_in *in, hts_itr_t *itr, kstring_t *line, bcf1_t *rec) {
  if (in->idx)
    return bcf_itr_next(in->fp, itr, rec);
  int r = tbx_itr_next(in->fp, in->tbx, itr, line);
  if (r < 0)
    return r;
  return vcf_parse(line, in->hdr, rec) == 0 ? 0 : -2;
}

/* Local. The first start position >= beg on contig tid (-1 when none). */
static int64_t first_start(const vcf_in *in, int tid, int64_t beg, bcf1_t *rec, kstring_t *ks) {
  hts_itr_t *itr = query(in, tid, beg, POS_LIMIT);
  int64_t found = -1;
  while (itr && found < 0 && next(in, itr, ks, rec) == 0)
    if (rec->pos >= beg)
      found = rec->pos;
  hts_itr_destroy(itr);
  return found;
}

/* Local (rank 0). Each contig's first and last start position: the first from a query of
 * the whole contig, the last by bisection on "a record starts at or after x". */
static int contig_spans(sm_ctx *ctx, vcf_in *in, vcf_span *spans, int n) {
  bcf1_t *rec = bcf_init();
  kstring_t ks = {0, 0, NULL};
  if (!rec)
    return sm_fail(ctx, SM_ERR, "out of memory");
  for (int t = 0; t < n; t++) {
    spans[t].tid = t;
    spans[t].lo = first_start(in, t, 0, rec, &ks);
    spans[t].hi = spans[t].lo - 1;
    if (spans[t].lo < 0)
      continue;
    int64_t a = spans[t].lo, z = POS_LIMIT; /* a record starts at a; none at or after z */
    while (z - a > 1) {
      int64_t mid = a + (z - a) / 2;
      if (first_start(in, t, mid, rec, &ks) >= 0)
        a = mid;
      else
        z = mid;
    }
    spans[t].hi = a;
  }
  free(ks.s);
  bcf_destroy(rec);
  return SM_OK;
}

/* Local. The records of contig span s starting in [beg, end). */
static int read_range(sm_ctx *ctx, vcf_in *in, const sm_source_spec *src, int tid, int64_t beg,
                      int64_t end, vcf_block *b) {
  hts_itr_t *itr = query(in, tid, beg, end);
  bcf1_t *rec = bcf_init();
  kstring_t ks = {0, 0, NULL};
  int32_t *buf = NULL;
  int nbuf = 0, r = 0,
      rc = itr && rec ? SM_OK : sm_fail(ctx, SM_EINPUT, "%s: bad region query", in->path);
  while (rc == SM_OK && (r = next(in, itr, &ks, rec)) == 0)
    if (rec->pos >= beg && rec->pos < end)
      rc = add_record(ctx, in, src, rec, &buf, &nbuf, b);
  if (rc == SM_OK && r < -1)
    rc = sm_fail(ctx, SM_EINPUT, "%s: malformed record in region %lld-%lld", in->path,
                 (long long)beg + 1, (long long)end);
  free(buf);
  free(ks.s);
  bcf_destroy(rec);
  hts_itr_destroy(itr);
  return rc;
}

/* Collective. Rank 0's spans to every rank. */
static int bcast_spans(sm_ctx *ctx, vcf_span *spans, int n) {
  SM_MPI_CHECK(ctx, MPI_Bcast(spans, (int)(sizeof(vcf_span) * (size_t)n), MPI_BYTE, 0, ctx->comm));
  return SM_OK;
}

/* Collective. This rank's share of the concatenated spans: rank r reads the starts in
 * [L r / size, L (r + 1) / size) of the contigs laid end to end. */
static int read_indexed(sm_ctx *ctx, vcf_in *in, const sm_source_spec *src, vcf_block *b) {
  int n = 0;
  const char **names =
      in->tbx ? tbx_seqnames(in->tbx, &n) : bcf_index_seqnames(in->idx, in->hdr, &n);
  free(names);
  vcf_span *spans = sm_calloc(ctx, (size_t)(n > 0 ? n : 1), sizeof(vcf_span));
  int rc = spans ? SM_OK : SM_ERR;
  if (rc == SM_OK && ctx->rank == 0)
    rc = contig_spans(ctx, in, spans, n);
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = bcast_spans(ctx, spans, n);

  /* the rank's range of the concatenated coordinate, then each contig's part of it */
  int64_t total = 0, at = 0;
  for (int t = 0; t < n; t++)
    total += spans[t].hi >= spans[t].lo ? spans[t].hi - spans[t].lo + 1 : 0;
  int64_t mine_lo = total * ctx->rank / ctx->size, mine_hi = total * (ctx->rank + 1) / ctx->size;
  for (int t = 0; t < n && rc == SM_OK; t++) {
    int64_t len = spans[t].hi >= spans[t].lo ? spans[t].hi - spans[t].lo + 1 : 0;
    int64_t lo = mine_lo > at ? mine_lo : at, hi = mine_hi < at + len ? mine_hi : at + len;
    if (hi > lo)
      rc = read_range(ctx, in, src, t, spans[t].lo + (lo - at), spans[t].lo + (hi - at), b);
    at += len;
  }
  free(spans);
  return sm_agree(ctx, rc);
}

/* ---- exchange: variants x all samples -> samples x all variants ----------------------- */

/* Local. Send buffer: for each destination rank, its samples' pairs, variant-major. */
static int pack_send(sm_ctx *ctx, const vcf_block *b, int n_samples, uint8_t **out, int *counts,
                     int *displs) {
  *out = sm_malloc(ctx, (size_t)(b->n > 0 ? b->n : 1) * (size_t)n_samples * 2);
  if (!*out)
    return SM_ERR;
  int64_t at = 0;
  for (int d = 0; d < ctx->size; d++) {
    int64_t lo, hi;
    sm_partition(n_samples, ctx->size, d, &lo, &hi);
    if (b->n * (hi - lo) * 2 > INT_MAX || at > INT_MAX)
      return sm_fail(ctx, SM_EINPUT,
                     "genotype exchange exceeds 2 GiB per rank pair; use more "
                     "ranks");
    displs[d] = (int)at;
    counts[d] = (int)(b->n * (hi - lo) * 2);
    for (int64_t v = 0; v < b->n; v++) {
      memcpy(*out + at, b->gt + (v * n_samples + lo) * 2, (size_t)(hi - lo) * 2);
      at += (hi - lo) * 2;
    }
  }
  return SM_OK;
}

/* Collective. How many variants each rank read. */
static int gather_counts(sm_ctx *ctx, int64_t mine, int64_t *nvar) {
  SM_MPI_CHECK(ctx, MPI_Allgather(&mine, 1, MPI_INT64_T, nvar, 1, MPI_INT64_T, ctx->comm));
  return SM_OK;
}

/* Collective. The exchange itself (counts and displacements in bytes). */
static int alltoallv(sm_ctx *ctx, const uint8_t *send, const int *sc, const int *sd, uint8_t *recv,
                     const int *rcn, const int *rd) {
  SM_MPI_CHECK(ctx, MPI_Alltoallv(send, sc, sd, MPI_BYTE, recv, rcn, rd, MPI_BYTE, ctx->comm));
  return SM_OK;
}

/* Collective. Alltoallv of the genotypes: *pairs is (n_vars_total x my samples x 2),
 * variant-major in global variant order. */
static int exchange(sm_ctx *ctx, const vcf_block *b, int n_samples, int64_t n_total,
                    uint8_t **pairs) {
  int size = ctx->size;
  int *sc = sm_calloc(ctx, (size_t)size * 4, sizeof(int)), *sd = sc + size, *rcn = sc + 2 * size,
      *rd = sc + 3 * size;
  int64_t lo, hi, *nvar = sm_calloc(ctx, (size_t)size, sizeof(int64_t)), mine = b->n;
  sm_partition(n_samples, size, ctx->rank, &lo, &hi);
  uint8_t *send = NULL;
  int rc = sc && nvar ? pack_send(ctx, b, n_samples, &send, sc, sd) : SM_ERR;
  *pairs = rc == SM_OK ? sm_malloc(ctx, (size_t)(n_total * (hi - lo) * 2 + 1)) : NULL;
  rc = sm_agree(ctx, *pairs ? rc : SM_ERR);

  /* what comes from each rank: its variants for this rank's samples */
  if (rc == SM_OK)
    rc = gather_counts(ctx, mine, nvar);
  int64_t at = 0;
  for (int s = 0; s < size && rc == SM_OK; s++) {
    rd[s] = (int)at;
    rcn[s] = (int)(nvar[s] * (hi - lo) * 2);
    at += rcn[s];
  }
  if (rc == SM_OK)
    rc = alltoallv(ctx, send, sc, sd, *pairs, rcn, rd);
  free(send), free(sc), free(nvar);
  return sm_agree(ctx, rc);
}

/* ---- rows ----------------------------------------------------------------------------- */

/* Local. Rows from the pairs: two haplotypes per sample when phased, else 0/1/2. */
static int make_rows(sm_ctx *ctx, const vcf_in *in, const uint8_t *pairs, int64_t n_vars,
                     int phased, sm_hapmat *m) {
  int64_t lo, hi;
  sm_partition(in->n_samples, ctx->size, ctx->rank, &lo, &hi);
  int64_t ns = hi - lo, per = phased ? 2 : 1;
  memset(m, 0, sizeof(*m));
  m->n_rows = ns * per, m->n_vars = n_vars, m->ploidy_coded = !phased;
  size_t rows = (size_t)(m->n_rows > 0 ? m->n_rows : 1);
  m->g = sm_malloc(ctx, rows * (size_t)(n_vars > 0 ? n_vars : 1));
  m->person = sm_calloc(ctx, rows, sizeof(int64_t));
  m->row_id = sm_calloc(ctx, rows, sizeof(char *));
  if (!m->g || !m->person || !m->row_id)
    return SM_ERR;
  for (int64_t s = 0; s < ns; s++)
    for (int64_t k = 0; k < per; k++) {
      int64_t row = s * per + k;
      const char *name = in->hdr->samples[lo + s];
      size_t len = strlen(name) + 3;
      if (!(m->row_id[row] = malloc(len)))
        return sm_fail(ctx, SM_ERR, "out of memory");
      snprintf(m->row_id[row], len, phased ? "%s_%c" : "%s", name, (int)('A' + k));
      m->person[row] = lo + s;
      for (int64_t v = 0; v < n_vars; v++) {
        const uint8_t *p = pairs + (v * ns + s) * 2;
        int miss = p[0] == NO_ALLELE || p[1] == NO_ALLELE;
        m->g[row * n_vars + v] = phased ? p[k] : miss ? NO_ALLELE : (uint8_t)(p[0] + p[1]);
      }
    }
  return SM_OK;
}

/* Collective. Sum n doubles over ranks in place. */
static int sum_all(sm_ctx *ctx, double *x, int64_t n) {
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, ctx->comm));
  return SM_OK;
}

/* Local. Per variant: the sum of called values and of their maxima (sum[nv + v]). */
static void allele_sums(const sm_hapmat *m, double *sum) {
  int64_t nv = m->n_vars;
  for (int64_t i = 0; i < m->n_rows; i++)
    for (int64_t v = 0; v < nv; v++) {
      uint8_t a = m->g[i * nv + v];
      if (a != NO_ALLELE)
        sum[v] += a, sum[nv + v] += m->ploidy_coded ? 2 : 1;
    }
}

/* Collective. Missing calls become the major allele (genotypes: 0 or 2) of the variant. */
static int impute(sm_ctx *ctx, sm_hapmat *m, int64_t *n_missing) {
  int64_t nv = m->n_vars, local = 0;
  double *sum = sm_calloc(ctx, (size_t)(2 * nv + 1), sizeof(double));
  SM_TRY(sm_agree(ctx, sum ? SM_OK : SM_ERR));
  allele_sums(m, sum);
  int rc = sm_agree(ctx, sum_all(ctx, sum, 2 * nv));
  for (int64_t i = 0; i < m->n_rows && rc == SM_OK; i++)
    for (int64_t v = 0; v < nv; v++)
      if (m->g[i * nv + v] == NO_ALLELE) {
        int major = sum[v] > 0.5 * sum[nv + v];
        m->g[i * nv + v] = (uint8_t)(major ? (m->ploidy_coded ? 2 : 1) : 0);
        local++;
      }
  free(sum);
  SM_TRY(rc);
  SM_MPI_CHECK(ctx, MPI_Allreduce(&local, n_missing, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  return SM_OK;
}

static void block_free(vcf_block *b) {
  sm_variants_free(&b->vars);
  free(b->gt);
}

/* Collective. Read the variant blocks (indexed: by range on every rank; else rank 0). */
static int read_blocks(sm_ctx *ctx, vcf_in *in, const sm_source_spec *src, vcf_block *b) {
  int indexed = in->tbx || in->idx, all = 0;
  SM_MPI_CHECK(ctx, MPI_Allreduce(&indexed, &all, 1, MPI_INT, MPI_MIN, ctx->comm));
  if (all)
    return read_indexed(ctx, in, src, b);
  sm_log(ctx, SM_LOG_INFO,
         "%s is not an indexed BGZF file: rank 0 reads it and scatters the samples "
         "(bgzip and tabix -p vcf it to read in parallel)",
         src->path);
  return sm_agree(ctx, ctx->rank == 0 ? read_all(ctx, in, src, b) : SM_OK);
}

/* Collective. Logs what was read: phasing, skipped sites, missing calls. */
static int summarise(sm_ctx *ctx, const sm_source_spec *src, const vcf_block *b, int *phased) {
  int64_t loc[3] = {b->called_diploid, b->unphased, b->skipped}, tot[3];
  SM_MPI_CHECK(ctx, MPI_Allreduce(loc, tot, 3, MPI_INT64_T, MPI_SUM, ctx->comm));
  *phased = tot[1] == 0 && tot[0] > 0;
  if (tot[2] > 0)
    sm_log(ctx, SM_LOG_INFO, "%s: %lld multi-allelic sites skipped (data.multiallelic: skip)",
           src->path, (long long)tot[2]);
  sm_log(ctx, SM_LOG_INFO, "%s: %s genotypes: %s", src->path, *phased ? "phased" : "unphased",
         *phased ? "two haplotype rows per sample" : "one 0/1/2 genotype row per sample");
  return SM_OK;
}

int sm_vcf_read(sm_ctx *ctx, const sm_source_spec *src, sm_hapmat *out, sm_variants *vars) {
  memset(out, 0, sizeof(*out));
  memset(vars, 0, sizeof(*vars));
  vcf_in in;
  vcf_block b = {0};
  uint8_t *pairs = NULL;
  int phased = 0, rc = sm_agree(ctx, input_open(ctx, src->path, &in));

  /* variant blocks, then every rank's samples over all variants */
  if (rc == SM_OK)
    rc = read_blocks(ctx, &in, src, &b);
  if (rc == SM_OK)
    rc = summarise(ctx, src, &b, &phased);
  if (rc == SM_OK)
    rc = sm_variants_allgather(ctx, &b.vars, vars);
  if (rc == SM_OK && vars->n == 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: no variants", src->path);
  if (rc == SM_OK)
    rc = exchange(ctx, &b, in.n_samples, vars->n, &pairs);
  if (rc == SM_OK)
    rc = sm_agree(ctx, make_rows(ctx, &in, pairs, vars->n, phased, out));

  /* missing calls: kept, or the major allele */
  int64_t n_missing = 0;
  if (rc == SM_OK && src->impute_missing) {
    rc = impute(ctx, out, &n_missing);
    if (rc == SM_OK)
      sm_log(ctx, SM_LOG_INFO, "%s: %lld missing calls imputed with the major allele", src->path,
             (long long)n_missing);
  }
  free(pairs);
  block_free(&b);
  input_close(&in);
  return rc;
}

int sm_genome_read(sm_ctx *ctx, const sm_source_spec *src, sm_hapmat *out, sm_variants *vars) {
  if (strcmp(src->format, "hapt") == 0)
    return sm_hapt_read(ctx, src->path, src->legend, out, vars);
  if (strcmp(src->format, "vcf") == 0)
    return sm_vcf_read(ctx, src, out, vars);
  return sm_fail(ctx, SM_EINPUT, "%s: data.format '%s' is not genomic", src->path, src->format);
}
