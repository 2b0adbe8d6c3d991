/* Set an integer attribute of an object in an HDF5 file, in place:
 *   h5_set_attr FILE OBJECT NAME VALUE
 * e.g. h5_set_attr model.h5 /model sample_steps 20 (bench/tabddpm_sampling.sh uses it to
 * sample one fitted TabDDPM model with several numbers of reverse steps). Serial HDF5 calls
 * on one process; exits 0 when the attribute was written, 1 otherwise. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

/* Replace (or create) the int64 attribute name of obj with value. */
static int set_attr(hid_t obj, const char *name, long long value) {
  if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0)
    return 1;
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(obj, name, H5T_NATIVE_LLONG, space, H5P_DEFAULT, H5P_DEFAULT);
  int bad = space < 0 || attr < 0 || H5Awrite(attr, H5T_NATIVE_LLONG, &value) < 0;
  if (attr >= 0)
    H5Aclose(attr);
  if (space >= 0)
    H5Sclose(space);
  return bad;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: h5_set_attr FILE OBJECT NAME VALUE\n");
    return 1;
  }
  char *end = NULL;
  long long value = strtoll(argv[4], &end, 10);
  if (!end || *end) {
    fprintf(stderr, "h5_set_attr: '%s' is not an integer\n", argv[4]);
    return 1;
  }

  /* open, write, close */
  hid_t file = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t obj = file >= 0 ? H5Oopen(file, argv[2], H5P_DEFAULT) : -1;
  int bad = obj < 0 || set_attr(obj, argv[3], value);
  if (obj >= 0)
    H5Oclose(obj);
  if (file >= 0 && H5Fclose(file) < 0)
    bad = 1;
  if (bad)
    fprintf(stderr, "h5_set_attr: could not set %s on %s in %s\n", argv[3], argv[2], argv[1]);
  return bad;
}
