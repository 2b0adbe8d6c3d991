/* A main for the fuzz targets where libFuzzer is not linked (any compiler): runs the
 * target once on each file named, and on each file of each folder named. Used by ctest to
 * replay the seed corpora and the regression inputs in every build. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run the target on one file. Returns 0, or 1 when the file cannot be read. */
static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  size_t got = buf && n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
  fclose(f);
  if (!buf || (long)got != n) {
    free(buf);
    fprintf(stderr, "replay: cannot read %s\n", path);
    return 1;
  }
  LLVMFuzzerTestOneInput(buf, got);
  free(buf);
  return 0;
}

/* A file, or every regular file in a folder (not recursive). Returns the failures. */
static int replay_path(const char *path, long *count) {
  struct stat sb;
  if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    *count += 1;
    return replay_file(path);
  }
  DIR *d = opendir(path);
  if (!d)
    return 1;
  int bad = 0;
  char file[4096];
  for (struct dirent *ent; (ent = readdir(d));) {
    snprintf(file, sizeof file, "%s/%s", path, ent->d_name);
    if (ent->d_name[0] != '.' && stat(file, &sb) == 0 && S_ISREG(sb.st_mode)) {
      *count += 1;
      bad += replay_file(file);
    }
  }
  closedir(d);
  return bad;
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize(&argc, &argv) != 0) {
    fprintf(stderr, "replay: the target could not start\n");
    return 1;
  }
  int bad = 0;
  long count = 0;
  for (int i = 1; i < argc; i++)
    bad += replay_path(argv[i], &count);
  printf("replay: %ld inputs, %d unreadable\n", count, bad);
  return bad == 0 && count > 0 ? 0 : 1;
}
