/* The .hapt and VCF readers at any rank count: row and person counts, both haplotypes of a
 * person on one rank, a checksum of every allele equal to a serial reference read, and the
 * person split the same at every rank count. */
#include <htslib/vcf.h>
#include <string.h>

#include "genome/genome_internal.h"
#include "synthmpi/rng.h"
#include "test_util.h"

/* Weight of allele (person, row within person, variant) in the checksum. */
static double weight(int64_t person, int64_t k, int64_t j) {
  return (double)(sm_hash64((uint64_t)(person * 4 + k) * 1000003u + (uint64_t)j) % 1000);
}

/* Collective. Sum of weight * (allele + 1) over every called allele; missing count. */
static void checksum(const sm_hapmat *m, double *sum, double *missing) {
  double local[2] = {0, 0};
  for (int64_t i = 0; i < m->n_rows; i++) {
    int64_t k = i > 0 && m->person[i - 1] == m->person[i];
    for (int64_t j = 0; j < m->n_vars; j++) {
      uint8_t a = m->g[i * m->n_vars + j];
      if (a == SM_ALLELE_MISSING)
        local[1] += 1;
      else
        local[0] += weight(m->person[i], k, j) * (a + 1);
    }
  }
  double all[2];
  MPI_Allreduce(local, all, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  *sum = all[0], *missing = all[1];
}

/* Serial reference of the .hapt checksum: plain line reading, persons in file order. */
static double hapt_reference(const char *path, int64_t *rows) {
  FILE *f = fopen(path, "r");
  static char line[1 << 16];
  char prev[256] = "";
  double sum = 0;
  int64_t person = -1, k = 0;
  *rows = 0;
  while (f && fgets(line, sizeof line, f)) {
    char tag[64], id[256];
    int off = 0;
    if (sscanf(line, "%63s %255s %n", tag, id, &off) < 2)
      continue;
    id[strlen(id) - 2] = '\0';
    k = strcmp(id, prev) == 0 ? k + 1 : 0;
    person += k == 0;
    snprintf(prev, sizeof prev, "%s", id);
    int64_t j = 0;
    for (char *p = line + off; *p; p++)
      if (*p == '0' || *p == '1')
        sum += weight(person, k, j++) * (*p - '0' + 1);
    (*rows)++;
  }
  if (f)
    fclose(f);
  return sum;
}

/* Serial reference of a VCF checksum through htslib's plain reader (phased files). */
static double vcf_reference(const char *path, double *missing) {
  htsFile *fp = hts_open(path, "r");
  bcf_hdr_t *h = bcf_hdr_read(fp);
  bcf1_t *rec = bcf_init();
  int32_t *gt = NULL;
  int ngt = 0, ns = bcf_hdr_nsamples(h);
  double sum = 0;
  *missing = 0;
  for (int64_t j = 0; bcf_read(fp, h, rec) == 0; j++) {
    bcf_get_genotypes(h, rec, &gt, &ngt);
    for (int s = 0; s < ns; s++)
      for (int k = 0; k < 2; k++) {
        int32_t g = gt[2 * s + k];
        if (bcf_gt_is_missing(g) || g == bcf_int32_vector_end)
          *missing += 1;
        else
          sum += weight(s, k, j) * (bcf_gt_allele(g) + 1);
      }
  }
  free(gt);
  bcf_destroy(rec);
  bcf_hdr_destroy(h);
  hts_close(fp);
  return sum;
}

/* Local: rows of one person are adjacent, never split between ranks (checked with the
 * neighbours' first and last persons). */
static void check_grouping(const sm_hapmat *m, int per_person) {
  int64_t ends[2] = {m->n_rows ? m->person[0] : -1, m->n_rows ? m->person[m->n_rows - 1] : -2};
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int64_t *all = malloc(sizeof(int64_t) * 2 * (size_t)size);
  MPI_Allgather(ends, 2, MPI_INT64_T, all, 2, MPI_INT64_T, MPI_COMM_WORLD);
  for (int r = 0; r + 1 < size; r++)
    if (all[2 * r + 1] >= 0 && all[2 * (r + 1)] >= 0)
      CHECK(all[2 * r + 1] < all[2 * (r + 1)]);
  free(all);
  for (int64_t i = 0; i < m->n_rows; i += per_person) {
    CHECK(i + per_person <= m->n_rows);
    for (int k = 1; k < per_person && i + k < m->n_rows; k++)
      CHECK(m->person[i + k] == m->person[i]);
  }
}

/* The split: person p is held out iff its own draw is below the fraction, rows together. */
static void check_split(sm_ctx *ctx, const sm_hapmat *all, int64_t persons) {
  sm_hapmat train, hold;
  CHECK(sm_hapmat_split(ctx, all, 0.1, 805, &train, &hold) == SM_OK);
  double got[2] = {0, 0}, want = 0, want_rows = 0;
  for (int64_t i = 0; i < hold.n_rows; i++)
    got[0] += (double)(hold.person[i] + 1), got[1] += 1;
  MPI_Allreduce(MPI_IN_PLACE, got, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  for (int64_t p = 0; p < persons; p++) {
    sm_rng r;
    sm_rng_init(&r, 805, SM_STREAM_HOLDOUT, (uint64_t)p);
    if (sm_rng_uniform(&r) < 0.1)
      want += 2.0 * (double)(p + 1), want_rows += 2;
  }
  CHECK_CLOSE(got[0], want, 0.0);
  CHECK_CLOSE(got[1], want_rows, 0.0);
  check_grouping(&hold, 2);
  check_grouping(&train, 2);
  if (ctx->rank == 0)
    printf("split: %.0f held-out rows of %lld persons\n", got[1], (long long)persons);
  sm_hapmat_free(&train);
  sm_hapmat_free(&hold);
}

static void test_hapt(sm_ctx *ctx) {
  char hapt[4096], legend[4096];
  snprintf(hapt, sizeof hapt, "%s", test_data("genomes/yelmen805/805_SNP_1000G_real.hapt"));
  snprintf(legend, sizeof legend, "%s", test_data("genomes/yelmen805/805_SNP.legend"));
  sm_hapmat m;
  sm_variants v;
  CHECK(sm_hapt_read(ctx, hapt, legend, &m, &v) == SM_OK);
  int64_t rows = 0, ref_rows = 0;
  sm_hapmat_rows_total(ctx, &m, &rows);
  CHECK(rows == 5008);
  CHECK(v.n == 805 && m.n_vars == 805);
  CHECK(v.pos[0] == 1243896 && strcmp(v.chrom[0], "1") == 0 && strcmp(v.ref[0], "C") == 0);
  check_grouping(&m, 2);
  for (int64_t i = 0; i < m.n_rows; i++)
    CHECK(m.row_id[i] && strlen(m.row_id[i]) > 2);

  /* the checksum against a serial read on rank 0 */
  double sum, missing, want = 0;
  checksum(&m, &sum, &missing);
  if (ctx->rank == 0)
    want = hapt_reference(hapt, &ref_rows);
  MPI_Bcast(&want, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  CHECK_CLOSE(sum, want, 0.0);
  CHECK(missing == 0);
  if (ctx->rank == 0)
    printf("hapt: %lld rows, checksum %.0f (reference %.0f)\n", (long long)rows, sum, want);
  check_split(ctx, &m, rows / 2);
  sm_hapmat_free(&m);
  sm_variants_free(&v);
}

/* path: indexed (ranks read regions) or plain gzip (rank 0 reads, scatters). */
static void test_vcf(sm_ctx *ctx, const char *rel, int64_t want_rows, int64_t want_vars) {
  char path[4096];
  snprintf(path, sizeof path, "%s", test_data(rel));
  sm_source_spec src = {.path = path, .format = "vcf"};
  sm_hapmat m;
  sm_variants v;
  CHECK(sm_vcf_read(ctx, &src, &m, &v) == SM_OK);
  int64_t rows = 0;
  sm_hapmat_rows_total(ctx, &m, &rows);
  CHECK(rows == want_rows);
  CHECK(v.n == want_vars);
  CHECK(!m.ploidy_coded);
  check_grouping(&m, 2);
  double sum, missing, want = 0, want_missing = 0;
  checksum(&m, &sum, &missing);
  if (ctx->rank == 0)
    want = vcf_reference(path, &want_missing);
  MPI_Bcast(&want, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Bcast(&want_missing, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  CHECK_CLOSE(sum, want, 0.0);
  CHECK_CLOSE(missing, want_missing, 0.0);
  if (ctx->rank == 0)
    printf("%s: %lld rows x %lld variants, checksum %.0f (reference %.0f), %.0f missing\n", rel,
           (long long)rows, (long long)v.n, sum, want, missing);
  sm_hapmat_free(&m);
  sm_variants_free(&v);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  test_hapt(&ctx);
  test_vcf(&ctx, "vcf/VariantAnnotation_chr22.vcf.gz", 10, 10376);
  test_vcf(&ctx, "vcf/pyvcf_1kg.vcf.gz", 1258, 381);
  sm_ctx_free(&ctx);
  return test_finish();
}
