/* Test support: experiment files in a temporary directory that every rank can see. */
#define _XOPEN_SOURCE 700
#include "config_files.h"

#include <ftw.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tmp_dir_make(char *dir, size_t size) {
  int rank = 0, ok = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    const char *base = getenv("TMPDIR");
    snprintf(dir, size, "%s/synthmpi-config-XXXXXX", base && *base ? base : "/tmp");
    ok = mkdtemp(dir) != NULL;
  }

  /* everyone uses rank 0's directory */
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Bcast(dir, (int)size, MPI_CHAR, 0, MPI_COMM_WORLD);
  return ok ? 0 : -1;
}

void tmp_file_write(const char *dir, const char *name, const char *text, char *path, size_t size) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  snprintf(path, size, "%s/%s", dir, name);
  if (rank == 0) {
    /* make the folders of a name such as sub/x.yaml */
    for (char *p = strchr(path + strlen(dir) + 1, '/'); p; p = strchr(p + 1, '/')) {
      *p = '\0';
      mkdir(path, 0700);
      *p = '/';
    }
    FILE *f = fopen(path, "wb");
    if (f) {
      fwrite(text, 1, strlen(text), f);
      fclose(f);
    } else {
      fprintf(stderr, "cannot write %s\n", path);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  return remove(path);
}

void tmp_dir_remove(const char *dir) {
  int rank = 0;
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0 && strstr(dir, "synthmpi-config-"))
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  MPI_Barrier(MPI_COMM_WORLD);
}
