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

/* Atomic write: open PATH.tmp.<pid>.<host>, write, then fs_atomic_commit renames it over
 * PATH (fsync first). fs_atomic_abort removes the temp file. A crash leaves PATH untouched
 * and the temp file behind (fs_remove_dead_tmp). */
typedef struct AtomicFile {
    FILE *f;
    char path[1024];
    char tmp[1200];
} AtomicFile;

int fs_atomic_open(AtomicFile *af, const char *path, Err *e);
int fs_atomic_commit(AtomicFile *af, Err *e);
void fs_atomic_abort(AtomicFile *af);
/* Writes bytes atomically in one call. */
int fs_write_atomic(const char *path, const void *data, size_t size, Err *e);
/* The same without the fsync: readers still see the old or the new file, never a part, but
 * a machine crash may lose the write. For a word that must land quickly (a sweep's
 * "interrupted" status: mpirun SIGKILLs a second after its SIGTERM, and an fsync on a busy
 * disk can take longer than that). */
int fs_write_atomic_nosync(const char *path, const void *data, size_t size, Err *e);

/* rm -r without following symlinks; a missing path is fine. Returns 0 or -1 with a message. */
int fs_remove_tree(const char *path, Err *e);
/* Copies src to dst, which must not exist yet (O_EXCL), through buf (buf_size bytes, reused
 * by the caller across copies). Returns 0 or -1 naming the file. */
int fs_copy_file(const char *src, const char *dst, void *buf, size_t buf_size, Err *e);

/* Removes the temp files of atomic writes whose writer is dead from folder dir and, levels
 * deep, its subfolders (a feature cache: <dir>/<key>/chunk-*, levels 1):
 * NAME.tmp.<pid>.<host> (or NAME.tmp.<pid>, an older writer's, taken as this host's) when
 * <host> is this host and no process <pid> exists, or when <host> is another and the file
 * has not changed for foreign_age seconds (its writer's host cannot be asked; on a shared
 * folder that age is the only sign it died). Regular files only. Their count is added to
 * *removed (may be NULL). A missing folder is fine. */
int fs_remove_dead_tmp(const char *dir, int levels, double foreign_age, int *removed, Err *e);
/* A temp file written on another host, unchanged this long, is taken as its dead writer's
 * where nothing else (a lock) says so. */
enum { FS_FOREIGN_TMP_SECONDS = 3600 };

/* path join into buf (size n): "a" + "b" -> "a/b". Returns buf. */
char *fs_join(char *buf, size_t n, const char *a, const char *b);

#endif
