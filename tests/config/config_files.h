/* Test support: experiment files in a temporary directory that every rank can see. */
#ifndef SYNTHMPI_TESTS_CONFIG_FILES_H
#define SYNTHMPI_TESTS_CONFIG_FILES_H

#include <stddef.h>

/* Collective: rank 0 makes a fresh directory under $TMPDIR (or /tmp); every rank gets its
 * absolute path in dir. Returns 0 on success. */
int tmp_dir_make(char *dir, size_t size);

/* Collective: rank 0 writes text to dir/name (creating dir/sub/ folders as needed); every
 * rank gets the path. */
void tmp_file_write(const char *dir, const char *name, const char *text, char *path, size_t size);

/* Collective: rank 0 removes the directory and everything under it. */
void tmp_dir_remove(const char *dir);

#endif
