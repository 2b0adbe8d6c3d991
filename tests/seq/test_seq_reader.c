/* The FASTA reader on the real files at 1, 2 and 3 ranks: windows, strides, the tail and
 * seeded splits, case folding, letters other than ACGT, bgzip input and bad files. */
#include <htslib/bgzf.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seq/seq_internal.h"
#include "seq_fixture.h"
#include "synthmpi/rng.h"
#include "test_util.h"

static sm_ctx ctx;
static char tmpdir[256];

/* Gather a set and compare it with the expected windows (codes of strings). */
static void check_windows(const char *what, const sm_seqset *s, char **want, int n_want) {
  sm_seqset all;
  CHECK(sm_seq_allgather(&ctx, s, &all) == SM_OK);
  CHECK(s->n_total == n_want);
  if (all.n != n_want) {
    fprintf(stderr, "%s: %lld windows, want %d\n", what, (long long)all.n, n_want);
    test_failures++;
    sm_seqset_free(&all);
    return;
  }
  int64_t bad = 0;
  for (int i = 0; i < n_want; i++) {
    int64_t len = all.offset[i + 1] - all.offset[i];
    if (len != (int64_t)strlen(want[i])) {
      bad++;
      continue;
    }
    for (int64_t p = 0; p < len; p++)
      bad += all.codes[all.offset[i] + p] != ref_code(want[i][p]);
  }
  if (bad)
    fprintf(stderr, "%s: %lld windows or bases differ from the reference\n", what, (long long)bad);
  CHECK(bad == 0);
  sm_seqset_free(&all);
}

/* The reference windows of seq[lo, hi): length win every stride. */
static int ref_windows(const char *seq, int64_t lo, int64_t hi, int64_t win, int64_t stride,
                       char **out, int n) {
  for (int64_t p = lo; p + win <= hi; p += stride) {
    out[n] = calloc((size_t)win + 1, 1);
    memcpy(out[n++], seq + p, (size_t)win);
  }
  return n;
}

static void free_strings(char **v, int n) {
  for (int i = 0; i < n; i++)
    free(v[i]);
}

/* Lambda: first 90 % trains in 1000-base windows, the last 10 % is held out. */
static void test_lambda_tail(const char *path) {
  ref_fasta r;
  ref_fasta_read(test_data("dna/lambda_virus.fa"), &r);
  CHECK(r.n == 1);
  int64_t len = (int64_t)strlen(r.seq[0]), cut = len - (int64_t)(len * 0.1 + 0.5);
  char *train[64], *hold[64];
  int nt = ref_windows(r.seq[0], 0, cut, 1000, 1000, train, 0);
  int nh = ref_windows(r.seq[0], cut, len, 1000, 1000, hold, 0);

  sm_fasta_options o = {.path = path, .window = 1000, .holdout = SM_HOLDOUT_TAIL, .fraction = 0.1};
  sm_seqset t, h;
  sm_fasta_stats st;
  CHECK(sm_fasta_read(&ctx, &o, &t, &h, &st) == SM_OK);
  CHECK(st.records == 1 && st.bases == len && st.non_acgt == 0);
  check_windows("lambda train", &t, train, nt);
  check_windows("lambda holdout", &h, hold, nh);
  if (ctx.rank == 0)
    printf("%s: %d training and %d held-out windows, cut at %lld of %lld\n", path, nt, nh,
           (long long)cut, (long long)len);
  sm_seqset_free(&t);
  sm_seqset_free(&h);
  free_strings(train, nt);
  free_strings(hold, nh);
  ref_fasta_free(&r);
}

/* Parts for choosing the order: overlapping training windows wholly before, or wholly
 * after, the line 10 % from the end of the training part; none across it. */
static void test_choose_parts(void) {
  ref_fasta r;
  ref_fasta_read(test_data("dna/lambda_virus.fa"), &r);
  int64_t len = (int64_t)strlen(r.seq[0]), cut = len - (int64_t)(len * 0.1 + 0.5);
  int64_t line = cut - (int64_t)(cut * 0.1 + 0.5);
  char *fit[128], *score[128];
  int nf = 0, ns = 0;
  for (int64_t p = 0; p + 1000 <= cut; p += 500) {
    char *w = calloc(1001, 1);
    memcpy(w, r.seq[0] + p, 1000);
    if (p + 1000 <= line)
      fit[nf++] = w;
    else if (p >= line)
      score[ns++] = w;
    else
      free(w);
  }
  sm_fasta_options o = {.path = test_data("dna/lambda_virus.fa"),
                        .window = 1000,
                        .stride = 500,
                        .holdout = SM_HOLDOUT_TAIL,
                        .fraction = 0.1};
  sm_fasta_parts parts;
  sm_fasta_stats st;
  CHECK(sm_fasta_read_parts(&ctx, &o, 0.1, &parts, &st) == SM_OK);
  check_windows("choose fit", &parts.choose_fit, fit, nf);
  check_windows("choose score", &parts.choose_score, score, ns);
  CHECK(nf > 0 && ns > 0);
  if (ctx.rank == 0)
    printf("choosing parts: %d counted and %d scored windows, line at %lld\n", nf, ns,
           (long long)line);
  sm_fasta_parts_free(&parts);
  free_strings(fit, nf);
  free_strings(score, ns);
  ref_fasta_free(&r);
}

/* chr17 (soft-masked, lower case): overlapping windows, case folded. */
static void test_chr17_overlap(void) {
  ref_fasta r;
  ref_fasta_read(test_data("dna/chr17.hg19.part.fa"), &r);
  int64_t len = (int64_t)strlen(r.seq[0]);
  char **want = calloc((size_t)len, sizeof(char *));
  int n = ref_windows(r.seq[0], 0, len, 500, 250, want, 0);
  sm_fasta_options o = {.path = test_data("dna/chr17.hg19.part.fa"), .window = 500, .stride = 250};
  sm_seqset t, h;
  sm_fasta_stats st;
  CHECK(sm_fasta_read(&ctx, &o, &t, &h, &st) == SM_OK);
  check_windows("chr17 windows", &t, want, n);
  CHECK(h.n_total == 0);
  sm_seqset_free(&t);
  sm_seqset_free(&h);
  free_strings(want, n);
  free(want);
  ref_fasta_free(&r);
}

/* genes.fasta: whole records, a seeded quarter held out by global record index. */
static void test_genes_fraction(void) {
  ref_fasta r;
  ref_fasta_read(test_data("dna/genes.fasta"), &r);
  char *train[64], *hold[64];
  int nt = 0, nh = 0;
  for (int i = 0; i < r.n; i++) {
    sm_rng g;
    sm_rng_init(&g, 7, SM_STREAM_HOLDOUT, (uint64_t)i);
    if (sm_rng_uniform(&g) < 0.25)
      hold[nh++] = r.seq[i];
    else
      train[nt++] = r.seq[i];
  }
  sm_fasta_options o = {.path = test_data("dna/genes.fasta"),
                        .holdout = SM_HOLDOUT_FRACTION,
                        .fraction = 0.25,
                        .split_seed = 7};
  sm_seqset t, h;
  sm_fasta_stats st;
  CHECK(sm_fasta_read(&ctx, &o, &t, &h, &st) == SM_OK);
  CHECK(st.records == 20 && r.n == 20);
  check_windows("genes train", &t, train, nt);
  check_windows("genes holdout", &h, hold, nh);
  CHECK(nh > 0 && nt > 0);
  sm_seqset_free(&t);
  sm_seqset_free(&h);
  ref_fasta_free(&r);
}

/* Letters other than ACGT: windows skipped, or replaced by random bases. */
static void test_non_acgt(void) {
  char path[300];
  snprintf(path, sizeof path, "%s/n.fa", tmpdir);
  write_file(path, ">a\nACGTNACGT\nACGT\n\n>b desc\nacgtacgtac\n");
  char *skip[] = {"ACGT", "TACG", "ACGT", "ACGT"};
  sm_fasta_options o = {.path = path, .window = 4, .stride = 4};
  sm_seqset t, h;
  sm_fasta_stats st;
  CHECK(sm_fasta_read(&ctx, &o, &t, &h, &st) == SM_OK);
  CHECK(st.non_acgt == 1 && st.skipped_windows == 1 && st.bases == 23);
  check_windows("skip", &t, skip, 4);
  sm_seqset_free(&t);
  sm_seqset_free(&h);

  /* random: the N becomes a base, nothing else changes */
  o.non_acgt = SM_NON_ACGT_RANDOM;
  o.seed = 3;
  sm_seqset all;
  CHECK(sm_fasta_read(&ctx, &o, &t, &h, &st) == SM_OK);
  CHECK(st.skipped_windows == 0 && t.n_total == 5);
  CHECK(sm_seq_allgather(&ctx, &t, &all) == SM_OK);
  if (all.n == 5) {
    CHECK(all.codes[4] <= 3);
    CHECK(all.codes[5] == SM_BASE_A && all.codes[6] == SM_BASE_C && all.codes[7] == SM_BASE_G);
  }
  sm_seqset_free(&all);
  sm_seqset_free(&t);
  sm_seqset_free(&h);
}

/* A bgzipped copy reads the same as the plain file. */
static void test_bgzip(void) {
  char path[300];
  snprintf(path, sizeof path, "%s/lambda.fa.gz", tmpdir);
  if (ctx.rank == 0) {
    FILE *in = fopen(test_data("dna/lambda_virus.fa"), "rb");
    BGZF *out = bgzf_open(path, "w");
    char buf[4096];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
      CHECK(bgzf_write(out, buf, n) == (ssize_t)n);
    CHECK(in && out);
    if (in)
      fclose(in);
    if (out)
      bgzf_close(out);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  test_lambda_tail(path);
}

/* Files that are not usable FASTA: SM_EINPUT on every rank. */
static void test_bad_files(void) {
  char path[300];
  sm_seqset t, h;
  sm_fasta_stats st;
  sm_fasta_options o = {.path = path, .window = 4};
  const char *texts[] = {"", "ACGT\nACGT\n", "\n\n", ">only a header\n", ">a\nAC\n"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    snprintf(path, sizeof path, "%s/bad%zu.fa", tmpdir, i);
    write_file(path, texts[i]);
    int rc = sm_fasta_read(&ctx, &o, &t, &h, &st);
    if (rc != SM_EINPUT)
      fprintf(stderr, "bad file %zu: status %d, want %d\n", i, rc, SM_EINPUT);
    CHECK(rc == SM_EINPUT);
    if (ctx.rank == 0)
      printf("bad file %zu: %s\n", i, ctx.msg);
  }
  snprintf(path, sizeof path, "%s/missing.fa", tmpdir);
  CHECK(sm_fasta_read(&ctx, &o, &t, &h, &st) == SM_EINPUT);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  int pid = (int)getpid();
  MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/synthmpi-seq-reader-%d", pid);
  if (ctx.rank == 0)
    CHECK(mkdir(tmpdir, 0700) == 0);
  MPI_Barrier(MPI_COMM_WORLD);

  test_lambda_tail(test_data("dna/lambda_virus.fa"));
  test_chr17_overlap();
  test_choose_parts();
  test_genes_fraction();
  test_non_acgt();
  test_bgzip();
  test_bad_files();

  MPI_Barrier(MPI_COMM_WORLD);
  if (ctx.rank == 0) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0);
  }
  sm_ctx_free(&ctx);
  return test_finish();
}
