/* The batched normal draws against one draw at a time, tails included. */
#include <mpi.h>
#include <stdio.h>

#include "synthmpi/rng.h"
#include "test_util.h"

/* n batched draws equal n single draws from a twin stream, bit for bit. */
static int check_batch(int n, uint64_t row) {
  float batch[300];
  sm_rng a, b;
  sm_rng_init(&a, 42, SM_STREAM_NN_NOISE, row);
  sm_rng_init(&b, 42, SM_STREAM_NN_NOISE, row);
  sm_rng_normals(&a, batch, n);
  int tails = 0;
  for (int i = 0; i < n; i++) {
    double one = sm_normal_from_u32(sm_rng_u32(&b));
    CHECK(batch[i] == (float)one);
    tails += one < -1.97 || one > 1.97;
  }

  /* the streams stay in step after the batch */
  CHECK(sm_rng_u32(&a) == sm_rng_u32(&b));
  return tails;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);

  /* lengths around the block size, and enough rows that the tails are exercised */
  const int lengths[] = {0, 1, 3, 63, 64, 65, 128, 300};
  int tails = 0;
  for (uint64_t row = 0; row < 50; row++)
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++)
      tails += check_batch(lengths[k], row);
  printf("tail draws compared: %d\n", tails);
  CHECK(tails > 100);
  return test_finish();
}
