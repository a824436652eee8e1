#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_mkdir_p(const char *path, Err *e) {
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return err_fail(e, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return err_fail(e, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return err_fail(e, "%s: cannot create directory: %s", buf, strerror(errno));
    if (!fs_is_dir(buf)) return err_fail(e, "%s: exists and is not a directory", buf);
    return 0;
}

int fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fs_read_all(const char *path, char **out, size_t *size, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_fail(e, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) { fclose(f); return err_fail(e, "%s: out of memory", path); }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); fclose(f); return err_fail(e, "%s: out of memory", path); }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return err_fail(e, "%s: read error", path); }
    buf[n] = 0;
    *out = buf;
    if (size) *size = n;
    return 0;
}

int fs_atomic_open(AtomicFile *af, const char *path, Err *e) {
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return err_fail(e, "%s: cannot create: %s", af->tmp, strerror(errno));
    return 0;
}

int fs_atomic_commit(AtomicFile *af, Err *e) {
    int bad = ferror(af->f) || fflush(af->f) != 0 || fsync(fileno(af->f)) != 0;
    if (fclose(af->f) != 0) bad = 1;
    af->f = NULL;
    if (bad) { unlink(af->tmp); return err_fail(e, "%s: write failed: %s", af->path, strerror(errno)); }
    if (rename(af->tmp, af->path) != 0) {
        int er = errno;
        unlink(af->tmp);
        return err_fail(e, "%s: cannot rename into place: %s", af->path, strerror(er));
    }
    return 0;
}

void fs_atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    unlink(af->tmp);
}

int fs_write_atomic(const char *path, const void *data, size_t size, Err *e) {
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    if (size && fwrite(data, 1, size, af.f) != size) { fs_atomic_abort(&af); return err_fail(e, "%s: write failed", path); }
    return fs_atomic_commit(&af, e);
}

char *fs_join(char *buf, size_t n, const char *a, const char *b) {
    size_t la = strlen(a);
    if (la && a[la - 1] == '/') snprintf(buf, n, "%s%s", a, b);
    else snprintf(buf, n, "%s/%s", a, b);
    return buf;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int fs_remove_tree(const char *path, Err *e) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return err_fail(e, "%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

/* Writes all of buf[0..n) to fd. */
static int write_all(int fd, const char *buf, size_t n, const char *path, Err *e) {
    for (size_t off = 0; off < n; ) {
        ssize_t put = write(fd, buf + off, n - off);
        if (put < 0) return err_fail(e, "%s: write error: %s", path, strerror(errno));
        off += (size_t)put;
    }
    return 0;
}

int fs_copy_file(const char *src, const char *dst, void *buf, size_t buf_size, Err *e) {
    int in = open(src, O_RDONLY);
    if (in < 0) return err_fail(e, "%s: cannot open: %s", src, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (out < 0) { close(in); return err_fail(e, "%s: cannot create: %s", dst, strerror(errno)); }
    int rc = 0;
    for (;;) {
        ssize_t got = read(in, buf, buf_size);
        if (got < 0) { rc = err_fail(e, "%s: read error: %s", src, strerror(errno)); break; }
        if (got == 0 || (rc = write_all(out, buf, (size_t)got, dst, e))) break;
    }
    close(in);
    if (close(out) != 0 && rc == 0) rc = err_fail(e, "%s: write error: %s", dst, strerror(errno));
    return rc;
}
