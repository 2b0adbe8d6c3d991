/* The clipped-sum tests of test_ctgan_dp_clip.c with packs of one row (pac 1), and the
 * check that a row's fake partner and clipped gradient do not depend on the other rows of
 * the sample. */
#define CTGAN_DP_PAC 1
#include "test_ctgan_dp_clip.c"
