/* synthmpi export --format vcf: a genotype release as bgzipped VCF (htslib), indexed with
 * tabix.
 *
 * Haplotype releases: consecutive rows 2i and 2i + 1 form synthetic individual i with a
 * phased genotype (an odd last row is a haploid call). Genotype releases (0/1/2): unphased
 * 0/0, 0/1, 1/1. The VCF is variant-major and the release row-major, so rank 0 reads the
 * release in slabs of all rows x VARIANTS_PER_SLAB variants while the other ranks wait at
 * the next agreement. */
#include <htslib/hts.h>
#include <htslib/tbx.h>
#include <htslib/vcf.h>
#include <stdlib.h>
#include <string.h>

#include "genome/genome_internal.h"
#include "io/h5util.h"
#include "io/io.h"

#define VARIANTS_PER_SLAB 64

/* What is being written. */
typedef struct vcf_out {
  htsFile *fp;
  bcf_hdr_t *hdr;
  bcf1_t *rec;
  int32_t *gt;      /* (n_samples * 2) */
  int64_t rows;     /* rows of the release */
  int64_t samples;  /* individuals in the VCF */
  int ploidy_coded; /* rows are genotypes */
} vcf_out;

static void out_close(vcf_out *o) {
  if (o->rec)
    bcf_destroy(o->rec);
  if (o->hdr)
    bcf_hdr_destroy(o->hdr);
  if (o->fp)
    hts_close(o->fp);
  free(o->gt);
  memset(o, 0, sizeof(*o));
}

/* Rank 0. The header: GT, one contig line per chromosome (in first-seen order), samples. */
static int write_header(sm_ctx *ctx, vcf_out *o, const sm_variants *v) {
  char line[512];
  o->hdr = bcf_hdr_init("w");
  if (!o->hdr)
    return sm_fail(ctx, SM_ERR, "cannot create a VCF header");
  bcf_hdr_append(o->hdr, "##source=synthmpi " SM_VERSION " (synthetic genotypes)");
  bcf_hdr_append(o->hdr, "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">");
  for (int64_t j = 0; j < v->n; j++) {
    const char *c = v->chrom[j][0] ? v->chrom[j] : "unknown";
    if (bcf_hdr_name2id(o->hdr, c) >= 0)
      continue;
    snprintf(line, sizeof line, "##contig=<ID=%s>", c);
    if (bcf_hdr_append(o->hdr, line) < 0 || bcf_hdr_sync(o->hdr) < 0)
      return sm_fail(ctx, SM_EINPUT, "chromosome name '%s' is not valid in VCF", c);
  }
  for (int64_t s = 0; s < o->samples; s++) {
    snprintf(line, sizeof line, "synth_%lld", (long long)s + 1);
    if (bcf_hdr_add_sample(o->hdr, line) < 0)
      return sm_fail(ctx, SM_ERR, "cannot add sample %s", line);
  }
  if (bcf_hdr_sync(o->hdr) < 0 || bcf_hdr_write(o->fp, o->hdr) < 0)
    return sm_fail(ctx, SM_ERR, "cannot write the VCF header");
  return SM_OK;
}

/* Rank 0. The genotype field of sample s from column j of a slab (rows x width). */
static void sample_gt(const vcf_out *o, const uint8_t *slab, int64_t width, int64_t j, int64_t s,
                      int32_t *gt) {
  if (o->ploidy_coded) {
    uint8_t x = slab[s * width + j];
    gt[0] = x > 2 ? bcf_gt_missing : bcf_gt_unphased(x >= 2);
    gt[1] = x > 2 ? bcf_gt_missing : bcf_gt_unphased(x >= 1);
    return;
  }
  for (int k = 0; k < 2; k++) {
    int64_t row = 2 * s + k;
    uint8_t x = row < o->rows ? slab[row * width + j] : 0;
    gt[k] = row >= o->rows ? bcf_int32_vector_end
            : x > 1        ? bcf_gt_missing
            : k == 0       ? bcf_gt_unphased(x)
                           : bcf_gt_phased(x);
  }
}

/* Rank 0. One record: variant j of v, its genotypes from column jj of the slab. */
static int write_record(sm_ctx *ctx, vcf_out *o, const sm_variants *v, int64_t j,
                        const uint8_t *slab, int64_t width, int64_t jj) {
  bcf_clear(o->rec);
  o->rec->rid = bcf_hdr_name2id(o->hdr, v->chrom[j][0] ? v->chrom[j] : "unknown");
  o->rec->pos = v->pos[j] - 1;
  char alleles[1024];
  int no_alt = strcmp(v->alt[j], ".") == 0 || !v->alt[j][0];
  snprintf(alleles, sizeof alleles, no_alt ? "%s" : "%s,%s", v->ref[j], v->alt[j]);
  bcf_update_id(o->hdr, o->rec, v->id[j]);
  bcf_update_alleles_str(o->hdr, o->rec, alleles);
  for (int64_t s = 0; s < o->samples; s++)
    sample_gt(o, slab, width, jj, s, o->gt + 2 * s);
  if (bcf_update_genotypes(o->hdr, o->rec, o->gt, (int)(o->samples * 2)) < 0 ||
      bcf_write(o->fp, o->hdr, o->rec) < 0)
    return sm_fail(ctx, SM_ERR, "cannot write variant %s", v->id[j]);
  return SM_OK;
}

/* Rank 0. Variants [j0, j0 + w) of every row of /genotypes into slab (rows x w). */
static int read_slab(sm_ctx *ctx, hid_t d, int64_t rows, int64_t j0, int64_t w, uint8_t *slab) {
  hsize_t start[2] = {0, (hsize_t)j0}, count[2] = {(hsize_t)rows, (hsize_t)w};
  hid_t fspace = H5Dget_space(d), mspace = H5Screate_simple(2, count, NULL);
  SM_H5_CHECK(ctx, fspace);
  SM_H5_CHECK(ctx, mspace);
  SM_H5_CHECK(ctx, H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  SM_H5_CHECK(ctx, H5Dread(d, H5T_NATIVE_UINT8, mspace, fspace, H5P_DEFAULT, slab));
  H5Sclose(mspace);
  H5Sclose(fspace);
  return SM_OK;
}

/* Rank 0. The whole VCF, slab by slab. */
static int write_vcf(sm_ctx *ctx, hid_t file, const sm_variants *v, vcf_out *o, const char *path) {
  o->fp = hts_open(path, "wz");
  o->rec = bcf_init();
  o->gt = sm_malloc(ctx, (size_t)(o->samples > 0 ? o->samples : 1) * 2 * sizeof(int32_t));
  if (!o->fp || !o->rec || !o->gt)
    return sm_fail(ctx, SM_EINPUT, "%s: cannot create the VCF file", path);
  SM_TRY(write_header(ctx, o, v));
  hid_t d = H5Dopen2(file, "genotypes", H5P_DEFAULT);
  SM_H5_CHECK(ctx, d);
  uint8_t *slab = sm_malloc(ctx, (size_t)(o->rows > 0 ? o->rows : 1) * VARIANTS_PER_SLAB);
  int rc = slab ? SM_OK : SM_ERR;
  for (int64_t j0 = 0; j0 < v->n && rc == SM_OK; j0 += VARIANTS_PER_SLAB) {
    int64_t w = v->n - j0 < VARIANTS_PER_SLAB ? v->n - j0 : VARIANTS_PER_SLAB;
    if (o->rows > 0)
      rc = read_slab(ctx, d, o->rows, j0, w, slab);
    for (int64_t jj = 0; jj < w && rc == SM_OK; jj++)
      rc = write_record(ctx, o, v, j0 + jj, slab, w, jj);
  }
  free(slab);
  H5Dclose(d);
  return rc;
}

/* Rank 0. Write to path.partial, rename into place, then the tabix index (a failure to
 * index, e.g. unsorted input variants, is logged, not fatal). */
static int export_rank0(sm_ctx *ctx, hid_t file, const sm_variants *v, vcf_out *o,
                        const char *path) {
  size_t n = strlen(path) + 16;
  char *partial = malloc(n);
  if (!partial)
    return sm_fail(ctx, SM_ERR, "out of memory");
  snprintf(partial, n, "%s.partial", path);
  int rc = write_vcf(ctx, file, v, o, partial);
  int closed = o->fp ? hts_close(o->fp) : 0;
  o->fp = NULL;
  if (rc == SM_OK && closed != 0)
    rc = sm_fail(ctx, SM_ERR, "%s: cannot finish the file", partial);
  if (rc == SM_OK && rename(partial, path) != 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: cannot rename into place", path);
  if (rc != SM_OK)
    remove(partial);
  free(partial);
  if (rc == SM_OK && tbx_index_build(path, 0, &tbx_conf_vcf) != 0)
    sm_log(ctx, SM_LOG_WARN, "%s: not indexed (variants not sorted by position?)", path);
  return rc;
}

int sm_genome_export_vcf(sm_ctx *ctx, const char *release, const char *vcf_path) {
  hid_t file = -1;
  char *format = NULL;
  sm_variants v = {0};
  vcf_out o = {0};
  int64_t coded = 0;
  SM_TRY(sm_io_open(ctx, release, SM_RELEASE_FORMAT, &file, &format));
  free(format);

  /* what the release holds, on every rank; the writing on rank 0 */
  int rc = sm_agree(ctx, sm_genome_read_variants(ctx, file, &v));
  if (rc == SM_OK)
    rc = sm_agree(ctx, sm_h5_get_attr_i64(ctx, file, "rows", &o.rows));
  if (rc == SM_OK)
    rc = sm_agree(ctx, sm_h5_get_attr_i64(ctx, file, "ploidy_coded", &coded));
  o.ploidy_coded = (int)coded;
  o.samples = coded ? o.rows : (o.rows + 1) / 2;
  if (rc == SM_OK)
    rc = sm_agree(ctx, ctx->rank == 0 ? export_rank0(ctx, file, &v, &o, vcf_path) : SM_OK);
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO, "exported %lld variants x %lld samples to %s", (long long)v.n,
           (long long)o.samples, vcf_path);
  out_close(&o);
  sm_variants_free(&v);
  sm_io_close(file);
  return rc;
}
