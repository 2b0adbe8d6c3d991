/* Training batches: the keyed permutation is a bijection, and at any rank count the ranks'
 * shares of every global batch partition it exactly, each share in position order. */
#include <stdlib.h>
#include <string.h>

#include "models/trainer.h"
#include "synthmpi/rng.h"
#include "test_util.h"

/* Every position maps into [0, n) and no row is hit twice. */
static void check_bijection(uint64_t n, uint64_t seed, uint64_t epoch) {
  sm_permutation p;
  sm_permutation_init(&p, n, seed, SM_STREAM_NN_BATCH, epoch);
  unsigned char *seen = calloc(n, 1);
  uint64_t bad = 0, twice = 0, fixed = 0;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t g = sm_permutation_apply(&p, i);
    if (g >= n) {
      bad++;
      continue;
    }
    twice += seen[g];
    seen[g] = 1;
    fixed += g == i;
  }
  if (bad || twice)
    fprintf(stderr, "n %llu: %llu out of range, %llu repeated\n", (unsigned long long)n,
            (unsigned long long)bad, (unsigned long long)twice);
  CHECK(bad == 0 && twice == 0);

  /* a shuffle, not the identity: about one fixed point is expected */
  if (n >= 500)
    CHECK(fixed < n / 50);
  free(seen);
}

/* Two epochs (and two seeds) give different orders. */
static void check_epochs_differ(uint64_t n) {
  sm_permutation a, b, c;
  sm_permutation_init(&a, n, 1, SM_STREAM_NN_BATCH, 0);
  sm_permutation_init(&b, n, 1, SM_STREAM_NN_BATCH, 1);
  sm_permutation_init(&c, n, 2, SM_STREAM_NN_BATCH, 0);
  uint64_t same_epoch = 0, same_seed = 0;
  for (uint64_t i = 0; i < n; i++) {
    same_epoch += sm_permutation_apply(&a, i) == sm_permutation_apply(&b, i);
    same_seed += sm_permutation_apply(&a, i) == sm_permutation_apply(&c, i);
  }
  CHECK(same_epoch < n / 50 && same_seed < n / 50);
}

/* Rank 0's reference: the local rows rank r should get for one batch, from the definition
 * (positions in order, each row kept by the rank whose block holds it). */
static int64_t reference_rows(const sm_permutation *p, int64_t batch, int64_t step, int size, int r,
                              int64_t *out) {
  int64_t lo, hi, m = 0, n = (int64_t)p->n;
  sm_partition(n, size, r, &lo, &hi);
  for (int64_t pos = step * batch; pos < (step + 1) * batch && pos < n; pos++) {
    int64_t g = (int64_t)sm_permutation_apply(p, (uint64_t)pos);
    if (g >= lo && g < hi)
      out[m++] = g - lo;
  }
  return m;
}

/* Every rank's share of every batch of two epochs, gathered and checked on rank 0. */
static void check_partition(int64_t n, int64_t batch, int rank, int size) {
  int64_t lo, hi, steps = sm_batches_per_epoch(n, batch);
  sm_partition(n, size, rank, &lo, &hi);
  int64_t *rows = malloc((size_t)batch * sizeof(int64_t));
  int64_t *all = malloc((size_t)batch * size * sizeof(int64_t));
  int64_t *want = malloc((size_t)batch * sizeof(int64_t));
  int counts[64], displs[64];
  int64_t covered = 0;
  for (uint64_t epoch = 0; epoch < 2; epoch++) {
    sm_permutation p;
    sm_permutation_init(&p, (uint64_t)n, 7, SM_STREAM_NN_BATCH, epoch);
    for (int64_t s = 0; s < steps; s++) {
      int64_t global = -1;
      int m = (int)sm_batch_rows(&p, batch, s, lo, hi - lo, rows, &global);
      int64_t expect = (s + 1) * batch < n ? batch : n - s * batch;
      CHECK(global == expect);

      /* gather the shares in rank order */
      MPI_Allgather(&m, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
      int total = 0;
      for (int r = 0; r < size; r++) {
        displs[r] = total;
        total += counts[r];
      }
      CHECK(total == global);
      MPI_Gatherv(rows, m, MPI_INT64_T, all, counts, displs, MPI_INT64_T, 0, MPI_COMM_WORLD);
      for (int r = 0; rank == 0 && r < size; r++) {
        int64_t k = reference_rows(&p, batch, s, size, r, want);
        CHECK(k == counts[r]);
        CHECK(k != counts[r] || memcmp(want, all + displs[r], (size_t)k * sizeof(int64_t)) == 0);
      }
      covered += total;
    }
  }
  if (rank == 0)
    printf("n %lld batch %lld: %lld steps per epoch, %lld rows over 2 epochs at %d ranks\n",
           (long long)n, (long long)batch, (long long)steps, (long long)covered, size);
  CHECK(covered == 2 * n);
  free(rows);
  free(all);
  free(want);
}

/* Even shares (every rank holding every row): gathered in rank order, the shares of a batch
 * are its rows in position order, and no two shares differ by more than one row. */
static void check_even_shares(int64_t n, int64_t batch, int rank, int size) {
  int64_t steps = sm_batches_per_epoch(n, batch), covered = 0;
  int64_t *rows = malloc((size_t)batch * sizeof(int64_t));
  int64_t *all = malloc((size_t)batch * size * sizeof(int64_t));
  int counts[64], displs[64];
  sm_permutation p;
  sm_permutation_init(&p, (uint64_t)n, 9, SM_STREAM_NN_BATCH, 1);
  for (int64_t s = 0; s < steps; s++) {
    int64_t global = -1;
    int m = (int)sm_batch_share(&p, batch, s, rank, size, rows, &global);
    MPI_Allgather(&m, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    int total = 0, least = m, most = m;
    for (int r = 0; r < size; r++) {
      displs[r] = total;
      total += counts[r];
      least = counts[r] < least ? counts[r] : least;
      most = counts[r] > most ? counts[r] : most;
    }
    CHECK(total == global && most - least <= 1);
    MPI_Gatherv(rows, m, MPI_INT64_T, all, counts, displs, MPI_INT64_T, 0, MPI_COMM_WORLD);
    for (int64_t k = 0; rank == 0 && k < total; k++)
      CHECK(all[k] == (int64_t)sm_permutation_apply(&p, (uint64_t)(s * batch + k)));
    covered += total;
  }
  CHECK(covered == n);
  free(rows);
  free(all);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  /* bijection for several sizes, seeds and epochs */
  const uint64_t sizes[] = {1, 2, 7, 500, 32561};
  for (int i = 0; i < 5; i++)
    for (uint64_t e = 0; e < 3; e++)
      check_bijection(sizes[i], 1 + e * 1000003, e);
  check_epochs_differ(32561);
  CHECK(sm_batches_per_epoch(32561, 500) == 66);
  CHECK(sm_batches_per_epoch(37, 500) == 1);
  CHECK(sm_batches_per_epoch(500, 500) == 1);

  /* the shares of each global batch at this rank count, against the definition */
  check_partition(32561, 500, rank, size);
  check_partition(500, 64, rank, size);
  check_partition(37, 500, rank, size);
  check_partition(7, 3, rank, size);
  check_partition(2, 1, rank, size);
  check_even_shares(32561, 500, rank, size);
  check_even_shares(7, 3, rank, size);
  check_even_shares(2, 1, rank, size);
  return test_finish();
}
