/* File-system helpers: atomic writes (temp file + rename), directories, whole-file reads,
 * copies and tree removal. */
#ifndef TL_FSUTIL_H
#define TL_FSUTIL_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

/* mkdir -p. */
int fs_mkdir_p(const char *path, Err *e);
int fs_exists(const char *path);
int fs_is_dir(const char *path);
/* Reads a whole file; *out is malloc'ed and NUL-terminated (size excludes the NUL). */
int fs_read_all(const char *path, char **out, size_t *size, Err *e);

/* Atomic write: open PATH.tmp.<pid>, write, then fs_atomic_commit renames it over PATH
 * (fsync first). fs_atomic_abort removes the temp file. A crash leaves PATH untouched. */
typedef struct AtomicFile {
    FILE *f;
    char path[1024];
    char tmp[1100];
} AtomicFile;

int fs_atomic_open(AtomicFile *af, const char *path, Err *e);
int fs_atomic_commit(AtomicFile *af, Err *e);
void fs_atomic_abort(AtomicFile *af);
/* Writes bytes atomically in one call. */
int fs_write_atomic(const char *path, const void *data, size_t size, Err *e);

/* rm -r without following symlinks; a missing path is fine. Returns 0 or -1 with a message. */
int fs_remove_tree(const char *path, Err *e);
/* Copies src to dst, which must not exist yet (O_EXCL), through buf (buf_size bytes, reused
 * by the caller across copies). Returns 0 or -1 naming the file. */
int fs_copy_file(const char *src, const char *dst, void *buf, size_t buf_size, Err *e);

/* path join into buf (size n): "a" + "b" -> "a/b". Returns buf. */
char *fs_join(char *buf, size_t n, const char *a, const char *b);

#endif
