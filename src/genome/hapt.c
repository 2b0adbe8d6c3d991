/* The .hapt reader: "tag id a1 a2 ... an" per haplotype, with a .legend of the variants.
 *
 * Each rank reads its own byte range of the .hapt file. Range starts move forward to the
 * first line of a person (a line whose id differs from the line before it), so rows never
 * straddle ranks and both haplotypes (id_A, id_B) of one person stay on one rank. Line
 * numbers and person indices are global: each rank counts its own, an exclusive scan adds
 * those of the ranks before it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "genome/genome_internal.h"

/* One rank's part of the file. */
typedef struct hapt_range {
  char *text;     /* (len + 1) the bytes of [lo, hi), NUL-terminated */
  int64_t lo, hi; /* byte range */
  int64_t len;
  int64_t line0; /* global 1-based line number of the first line */
} hapt_range;

/* The person an id names: the id without a trailing _A/_B (or .1/.2). Copies at most
 * size - 1 bytes. */
static void person_of(const char *id, size_t n, char *out, size_t size) {
  if (n >= 2 && (id[n - 2] == '_' || id[n - 2] == '.') && strchr("AB12", id[n - 1]))
    n -= 2;
  if (n >= size)
    n = size - 1;
  memcpy(out, id, n);
  out[n] = '\0';
}

/* The id field (second token) of the line at p: start and length. */
static void line_id(const char *p, const char *end, const char **id, size_t *n) {
  while (p < end && *p != ' ' && *p != '\t' && *p != '\n')
    p++;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  *id = p;
  while (p < end && *p != ' ' && *p != '\t' && *p != '\n')
    p++;
  *n = (size_t)(p - *id);
}

/* Local. Read bytes [lo, hi) of f into a NUL-terminated buffer. */
static int read_bytes(sm_ctx *ctx, FILE *f, const char *path, int64_t lo, int64_t hi, char **out) {
  *out = sm_malloc(ctx, (size_t)(hi - lo) + 1);
  if (!*out)
    return SM_ERR;
  if (hi > lo && (fseeko(f, (off_t)lo, SEEK_SET) != 0 ||
                  fread(*out, 1, (size_t)(hi - lo), f) != (size_t)(hi - lo)))
    return sm_fail(ctx, SM_EINPUT, "%s: cannot read bytes %lld..%lld: %s", path, (long long)lo,
                   (long long)hi, strerror(errno));
  (*out)[hi - lo] = '\0';
  return SM_OK;
}

/* Local. A line whose id ends in _B (or .2) continues the person of the line before. */
static int continues_person(const char *line) {
  const char *id;
  size_t n;
  line_id(line, line + strlen(line), &id, &n);
  return n >= 2 && (id[n - 2] == '_' || id[n - 2] == '.') && (id[n - 1] == 'B' || id[n - 1] == '2');
}

/* Local. Skip the rest of the current line; returns the bytes skipped (0 at end of file). */
static int64_t skip_line(FILE *f, char *buf, size_t size) {
  int64_t n = 0;
  while (fgets(buf, (int)size, f)) {
    size_t len = strlen(buf);
    n += (int64_t)len;
    if (len && buf[len - 1] == '\n')
      break;
  }
  return n;
}

/* Local. The first byte at or after `from` that starts a person's first line (or size):
 * the next line start, moved past one more line when that line is a person's second
 * haplotype. */
static int64_t person_start(FILE *f, int64_t from, int64_t size) {
  char buf[1 << 12];
  if (from <= 0)
    return 0;
  if (fseeko(f, (off_t)(from - 1), SEEK_SET) != 0)
    return size;
  int64_t pos = from - 1 + skip_line(f, buf, sizeof buf);
  if (pos >= size)
    return size;

  /* the first line from pos: its head tells whether it continues a person */
  if (!fgets(buf, sizeof buf, f))
    return size;
  if (!continues_person(buf))
    return pos;
  size_t len = strlen(buf);
  pos += (int64_t)len;
  if (len && buf[len - 1] != '\n')
    pos += skip_line(f, buf, sizeof buf);
  return pos < size ? pos : size;
}

/* Collective. This rank's byte range: starts found locally, ends are the next rank's
 * start; then the global number of the first line. */
static int read_range(sm_ctx *ctx, const char *path, hapt_range *r) {
  struct stat st;
  FILE *f = fopen(path, "rb");
  int64_t size = 0;
  int rc = SM_OK;
  if (!f || stat(path, &st) != 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: cannot open: %s", path, strerror(errno));
  else
    size = (int64_t)st.st_size;
  if (rc != SM_OK && f)
    fclose(f);
  SM_TRY(sm_agree(ctx, rc));

  /* every rank's start, gathered */
  int64_t start = person_start(f, size * ctx->rank / ctx->size, size);
  int64_t *starts = sm_calloc(ctx, (size_t)ctx->size + 1, sizeof(int64_t));
  if (!starts) {
    fclose(f);
    return SM_ERR;
  }
  SM_MPI_CHECK(ctx, MPI_Allgather(&start, 1, MPI_INT64_T, starts, 1, MPI_INT64_T, ctx->comm));
  r->lo = start;
  r->hi = size;
  for (int k = ctx->rank + 1; k < ctx->size; k++)
    if (starts[k] > r->lo) {
      r->hi = starts[k];
      break;
    }
  if (ctx->rank > 0 && starts[ctx->rank - 1] >= r->lo)
    r->hi = r->lo; /* a previous rank already owns everything from here */
  free(starts);
  rc = read_bytes(ctx, f, path, r->lo, r->hi, &r->text);
  fclose(f);
  SM_TRY(sm_agree(ctx, rc));
  r->len = r->hi - r->lo;

  /* global line numbers: lines of the ranks before this one */
  int64_t lines = 0;
  for (int64_t i = 0; i < r->len; i++)
    lines += r->text[i] == '\n';
  if (r->len > 0 && r->text[r->len - 1] != '\n')
    lines++;
  int64_t before = 0;
  SM_MPI_CHECK(ctx, MPI_Exscan(&lines, &before, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  r->line0 = (ctx->rank == 0 ? 0 : before) + 1;
  return SM_OK;
}

/* Local. Count the non-empty lines of the range. */
static int64_t count_rows(const hapt_range *r) {
  int64_t n = 0;
  for (const char *p = r->text; *p;) {
    const char *e = strchr(p, '\n');
    e = e ? e : p + strlen(p);
    n += e > p;
    p = *e ? e + 1 : e;
  }
  return n;
}

/* Local. Parse one line's alleles into g (n_vars); SM_EINPUT with file:line. */
static int parse_alleles(sm_ctx *ctx, const char *path, int64_t line, const char *p,
                         const char *end, int64_t n_vars, uint8_t *g) {
  int64_t j = 0;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
      p++;
    if (p >= end)
      break;
    const char *tok = p;
    while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
      p++;
    if (p - tok != 1 || (*tok != '0' && *tok != '1'))
      return sm_fail(ctx, SM_EINPUT, "%s:%lld: allele %lld is '%.*s', expected 0 or 1", path,
                     (long long)line, (long long)j + 1, (int)(p - tok < 32 ? p - tok : 32), tok);
    if (j < n_vars)
      g[j] = (uint8_t)(*tok - '0');
    j++;
  }
  if (j != n_vars)
    return sm_fail(ctx, SM_EINPUT, "%s:%lld: %lld alleles, but the legend lists %lld variants",
                   path, (long long)line, (long long)j, (long long)n_vars);
  return SM_OK;
}

/* Local. Parse the rows of the range: ids, alleles and local person numbers (0-based on
 * this rank; the caller adds the global offset). */
static int parse_rows(sm_ctx *ctx, const char *path, const hapt_range *r, int64_t n_vars,
                      sm_hapmat *m, int64_t *n_persons) {
  char prev[256] = "", cur[256];
  int64_t row = 0, line = r->line0, person = -1;
  for (const char *p = r->text; *p; line++) {
    const char *e = strchr(p, '\n');
    e = e ? e : p + strlen(p);
    if (e == p) {
      p = *e ? e + 1 : e;
      continue;
    }

    /* tag, id, then the alleles */
    const char *id;
    size_t n;
    line_id(p, e, &id, &n);
    if (n == 0)
      return sm_fail(ctx, SM_EINPUT, "%s:%lld: expected 'tag id alleles...'", path,
                     (long long)line);
    SM_TRY(parse_alleles(ctx, path, line, id + n, e, n_vars, m->g + row * n_vars));
    if (!(m->row_id[row] = sm_calloc(ctx, n + 1, 1)))
      return SM_ERR;
    memcpy(m->row_id[row], id, n);

    /* a new person when the id (less _A/_B) changes */
    person_of(id, n, cur, sizeof cur);
    if (person < 0 || strcmp(cur, prev) != 0)
      person++;
    memcpy(prev, cur, sizeof prev);
    m->person[row++] = person;
    p = *e ? e + 1 : e;
  }
  *n_persons = person + 1;
  return SM_OK;
}

/* Local. Split a legend id "chrom:pos_ref_alt" into its chromosome ("" without a colon). */
static char *chrom_of(const char *id) {
  const char *colon = strchr(id, ':');
  size_t n = colon ? (size_t)(colon - id) : 0;
  char *out = malloc(n + 1);
  if (out) {
    memcpy(out, id, n);
    out[n] = '\0';
  }
  return out;
}

/* Local. One legend line "id position a0 a1" into variant j. */
static int legend_line(sm_ctx *ctx, const char *path, int64_t line, char *text, sm_variants *v,
                       int64_t j) {
  char *save = NULL, *tok[4];
  int n = 0;
  for (char *t = strtok_r(text, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save))
    if (n < 4)
      tok[n++] = t;
    else
      n = 5;
  char *end = NULL;
  long long pos = n == 4 ? strtoll(tok[1], &end, 10) : 0;
  if (n != 4 || !end || *end || pos < 1)
    return sm_fail(ctx, SM_EINPUT, "%s:%lld: expected 'id position a0 a1' with a position >= 1",
                   path, (long long)line);
  v->id[j] = sm_strdup(tok[0]);
  v->ref[j] = sm_strdup(tok[2]);
  v->alt[j] = sm_strdup(tok[3]);
  v->chrom[j] = chrom_of(tok[0]);
  v->pos[j] = pos;
  if (!v->id[j] || !v->ref[j] || !v->alt[j] || !v->chrom[j])
    return sm_fail(ctx, SM_ERR, "out of memory reading %s", path);
  return SM_OK;
}

/* Local (rank 0). The legend: a header line, then one variant per line. */
static int read_legend(sm_ctx *ctx, const char *path, sm_variants *v) {
  FILE *f = fopen(path, "r");
  if (!f)
    return sm_fail(ctx, SM_EINPUT, "%s: cannot open: %s", path, strerror(errno));
  char line[4096];
  int64_t n = 0;
  while (fgets(line, sizeof line, f))
    n += strspn(line, " \t\r\n") < strlen(line);
  n = n > 0 ? n - 1 : 0;
  int rc = sm_variants_alloc(ctx, v, n);
  rewind(f);

  /* the header, then the variants */
  int64_t j = 0, lineno = 0;
  while (rc == SM_OK && fgets(line, sizeof line, f)) {
    lineno++;
    if (strspn(line, " \t\r\n") == strlen(line) || lineno == 1)
      continue;
    rc = legend_line(ctx, path, lineno, line, v, j++);
  }
  fclose(f);
  if (rc == SM_OK && n == 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: no variants (a header line, then 'id position a0 a1')", path);
  return rc;
}

/* Local. Allocate the rank's matrix for rows of n_vars alleles. */
static int hapmat_alloc(sm_ctx *ctx, sm_hapmat *m, int64_t rows, int64_t n_vars) {
  memset(m, 0, sizeof(*m));
  m->n_rows = rows;
  m->n_vars = n_vars;
  size_t r = (size_t)(rows > 0 ? rows : 1);
  m->g = sm_malloc(ctx, r * (size_t)(n_vars > 0 ? n_vars : 1));
  m->person = sm_calloc(ctx, r, sizeof(int64_t));
  m->row_id = sm_calloc(ctx, r, sizeof(char *));
  return m->g && m->person && m->row_id ? SM_OK : SM_ERR;
}

int sm_hapt_read(sm_ctx *ctx, const char *hapt_path, const char *legend_path, sm_hapmat *out,
                 sm_variants *vars) {
  memset(out, 0, sizeof(*out));
  memset(vars, 0, sizeof(*vars));

  /* the legend on rank 0, then on every rank */
  int rc = ctx->rank == 0 ? read_legend(ctx, legend_path, vars) : SM_OK;
  SM_TRY(sm_agree(ctx, rc));
  SM_TRY(sm_variants_bcast(ctx, vars));

  /* this rank's rows */
  hapt_range r = {0};
  rc = read_range(ctx, hapt_path, &r);
  int64_t persons = 0;
  if (rc == SM_OK)
    rc = sm_agree(ctx, hapmat_alloc(ctx, out, count_rows(&r), vars->n));
  if (rc == SM_OK)
    rc = sm_agree(ctx, parse_rows(ctx, hapt_path, &r, vars->n, out, &persons));
  free(r.text);
  SM_TRY(rc);

  /* global person indices */
  int64_t before = 0, total = 0;
  SM_MPI_CHECK(ctx, MPI_Exscan(&persons, &before, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Allreduce(&persons, &total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  for (int64_t i = 0; i < out->n_rows; i++)
    out->person[i] += ctx->rank == 0 ? 0 : before;
  SM_TRY(sm_hapmat_rows_total(ctx, out, &total));
  if (total == 0)
    return sm_fail(ctx, SM_EINPUT, "%s: no haplotype rows", hapt_path);
  return SM_OK;
}
