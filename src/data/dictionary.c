/* Category dictionaries merged across ranks.
 *
 * Every rank sorts its own distinct strings, all ranks gather everyone's (one
 * MPI_Allgatherv of packed NUL-terminated strings) and sort and deduplicate the union the
 * same way, so a category seen by one rank only still gets one code on every rank.
 */
#include "data/csv.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int64_t csv_sort_unique(char **strings, int64_t n) {
  if (n <= 0)
    return 0;
  qsort(strings, (size_t)n, sizeof(char *), compare_strings);
  int64_t k = 1;
  for (int64_t i = 1; i < n; i++)
    if (strcmp(strings[i], strings[k - 1]) != 0)
      strings[k++] = strings[i];
  return k;
}

/* Pack n strings into one buffer of NUL-terminated strings (malloc'd). */
static int pack_strings(sm_ctx *ctx, char **strings, int64_t n, char **packed, int *bytes) {
  int64_t total = 0;
  for (int64_t i = 0; i < n; i++)
    total += (int64_t)strlen(strings[i]) + 1;
  if (total > INT_MAX)
    return sm_fail(ctx, SM_ERR, "category strings on rank %d exceed 2 GiB", ctx->rank);
  *packed = sm_malloc(ctx, (size_t)total);
  if (!*packed)
    return SM_ERR;
  for (int64_t i = 0, at = 0; i < n; i++) {
    size_t len = strlen(strings[i]) + 1;
    memcpy(*packed + at, strings[i], len);
    at += (int64_t)len;
  }
  *bytes = (int)total;
  return SM_OK;
}

/* Gather every rank's packed strings into one buffer (malloc'd) of *total bytes. */
static int gather_packed(sm_ctx *ctx, const char *mine, int bytes, char **all, int64_t *total) {
  int *counts = sm_calloc(ctx, (size_t)ctx->size, sizeof(int));
  int *displs = sm_calloc(ctx, (size_t)ctx->size, sizeof(int));
  int rc = counts && displs ? SM_OK : SM_ERR;
  int mrc = MPI_SUCCESS;

  /* sizes first, then the bytes */
  if (rc == SM_OK)
    mrc = MPI_Allgather(&bytes, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm);
  *total = 0;
  for (int r = 0; rc == SM_OK && mrc == MPI_SUCCESS && r < ctx->size; r++) {
    displs[r] = (int)*total;
    *total += counts[r];
  }
  if (rc == SM_OK && mrc == MPI_SUCCESS && *total > INT_MAX)
    rc = sm_fail(ctx, SM_ERR, "category strings over all ranks exceed 2 GiB");
  if (rc == SM_OK && mrc == MPI_SUCCESS && !(*all = sm_malloc(ctx, (size_t)*total)))
    rc = SM_ERR;
  if (rc == SM_OK && mrc == MPI_SUCCESS)
    mrc = MPI_Allgatherv(mine, bytes, MPI_CHAR, *all, counts, displs, MPI_CHAR, ctx->comm);
  free(counts);
  free(displs);
  if (mrc != MPI_SUCCESS)
    return sm_fail_mpi(ctx, mrc, "MPI_Allgatherv(categories)", __FILE__, __LINE__);
  return rc;
}

/* Split a packed buffer into sorted distinct copies, set as col's dictionary. */
static int set_dictionary(sm_ctx *ctx, char *all, int64_t total, sm_column *col) {
  int64_t n = 0;
  for (int64_t at = 0; at < total; at += (int64_t)strlen(all + at) + 1)
    n++;
  char **ptrs = sm_calloc(ctx, (size_t)n, sizeof(char *));
  if (!ptrs)
    return SM_ERR;
  int64_t i = 0;
  for (int64_t at = 0; at < total; at += (int64_t)strlen(all + at) + 1)
    ptrs[i++] = all + at;
  n = csv_sort_unique(ptrs, n);

  /* copies owned by the column */
  int rc = SM_OK;
  col->categories = sm_calloc(ctx, (size_t)n, sizeof(char *));
  col->n_categories = 0;
  for (i = 0; col->categories && i < n; i++) {
    if (!(col->categories[i] = sm_strdup(ptrs[i]))) {
      rc = sm_fail(ctx, SM_ERR, "out of memory building a dictionary");
      break;
    }
    col->n_categories++;
  }
  free(ptrs);
  return col->categories ? rc : SM_ERR;
}

int csv_dictionary_merge(sm_ctx *ctx, char **values, int64_t n, sm_column *col) {
  char **mine = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(char *));
  char *packed = NULL, *all = NULL;
  int bytes = 0;
  int64_t total = 0;

  /* this rank's distinct strings, packed (a failure still joins the gather with 0 bytes
   * so the other ranks are not left waiting) */
  int rc = mine ? SM_OK : SM_ERR;
  if (rc == SM_OK) {
    if (n > 0)
      memcpy(mine, values, (size_t)n * sizeof(char *));
    rc = pack_strings(ctx, mine, csv_sort_unique(mine, n), &packed, &bytes);
  }
  if (rc != SM_OK)
    bytes = 0;

  /* everyone's strings, sorted and deduplicated identically on every rank */
  int grc = gather_packed(ctx, packed, bytes, &all, &total);
  if (rc == SM_OK)
    rc = grc;
  if (rc == SM_OK)
    rc = set_dictionary(ctx, all, total, col);
  free(mine);
  free(packed);
  free(all);
  return rc;
}
