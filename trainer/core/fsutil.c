#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

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
    char host[HOST_NAME_MAX_LEN];
    host_name(host);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld.%s", path, (long)getpid(), host);
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return err_fail(e, "%s: cannot create: %s", af->tmp, strerror(errno));
    return 0;
}

static int atomic_commit(AtomicFile *af, int durable, Err *e) {
    int bad = ferror(af->f) || fflush(af->f) != 0 || (durable && fsync(fileno(af->f)) != 0);
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

int fs_atomic_commit(AtomicFile *af, Err *e) { return atomic_commit(af, 1, e); }

void fs_atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    unlink(af->tmp);
}

static int write_whole(const char *path, const void *data, size_t size, int durable, Err *e) {
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    if (size && fwrite(data, 1, size, af.f) != size) { fs_atomic_abort(&af); return err_fail(e, "%s: write failed", path); }
    return atomic_commit(&af, durable, e);
}

int fs_write_atomic(const char *path, const void *data, size_t size, Err *e) { return write_whole(path, data, size, 1, e); }

int fs_write_atomic_nosync(const char *path, const void *data, size_t size, Err *e) {
    return write_whole(path, data, size, 0, e);
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

/* NAME.tmp.<pid>[.<host>]: the writer's pid and host ("" when the name has none). */
static int parse_tmp_name(const char *name, long *pid, const char **host) {
    const char *tmp = NULL;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) tmp = p;
    if (!tmp || tmp == name) return 0;
    char *end;
    errno = 0;
    *pid = strtol(tmp + 5, &end, 10);
    if (end == tmp + 5 || errno || *pid <= 0 || (*end && *end != '.')) return 0;
    *host = *end ? end + 1 : "";
    return 1;
}

/* One folder's entries: temp files judged, subfolders (levels > 0) walked. */
static int remove_dead_in(DIR *d, const char *dir, int levels, double foreign_age, int *removed, Err *e) {
    for (struct dirent *de; (de = readdir(d));) {
        long pid;
        const char *host;
        char path[2048];
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode) && levels > 0) {
            if (fs_remove_dead_tmp(path, levels - 1, foreign_age, removed, e)) return -1;
            continue;
        }
        if (!S_ISREG(st.st_mode) || !parse_tmp_name(de->d_name, &pid, &host)) continue;
        ProcState ps = host_process_state(host, pid);
        int dead = ps == PROC_GONE || (ps == PROC_ELSEWHERE && difftime(time(NULL), st.st_mtime) > foreign_age);
        if (!dead) continue;
        if (unlink(path) != 0 && errno != ENOENT) return err_fail(e, "%s: cannot remove: %s", path, strerror(errno));
        (*removed)++;
    }
    return 0;
}

int fs_remove_dead_tmp(const char *dir, int levels, double foreign_age, int *removed, Err *e) {
    int none = 0;
    if (!removed) removed = &none;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : err_fail(e, "%s: cannot list: %s", dir, strerror(errno));
    int rc = remove_dead_in(d, dir, levels, foreign_age, removed, e);
    closedir(d);
    return rc;
}
