#include "dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "pid host since what\n" from fd (any offset), and the file's heartbeat age. */
static int read_holder_fd(int fd, DirLockHolder *h) {
    memset(h, 0, sizeof *h);
    char line[256] = "";
    ssize_t got = pread(fd, line, sizeof line - 1, 0);
    if (got <= 0) return -1;
    line[got] = 0;
    if (sscanf(line, "%ld %63s %ld %95[^\n]", &h->pid, h->host, &h->since, h->what) < 3 || h->pid <= 0) {
        memset(h, 0, sizeof *h);
        return -1;
    }
    struct stat st;
    h->silent = fstat(fd, &st) == 0 ? difftime(time(NULL), st.st_mtime) : 0;
    return 0;
}

int dir_lock_read_holder(const char *path, DirLockHolder *h) {
    memset(h, 0, sizeof *h);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = read_holder_fd(fd, h);
    close(fd);
    return rc;
}

void dir_lock_describe(const DirLockHolder *h, char *out, size_t n) {
    char when[32] = "?";
    time_t t = (time_t)h->since;
    struct tm tm;
    if (localtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, n, "%s, PID %ld on host %s since %s (heartbeat %.0f s ago)", h->what[0] ? h->what : "?", h->pid, h->host,
             when, h->silent < 0 ? 0 : h->silent);
}

/* A descriptor this process inherited that holds the lock on the same file as fd (a
 * parent took it and started us), or -1. flock on it succeeds: same open file. */
static int inherited_holder(int fd) {
    struct stat mine, other;
    if (fstat(fd, &mine) != 0) return -1;
    for (int k = 3; k < 1024; k++)
        if (k != fd && fstat(k, &other) == 0 && other.st_dev == mine.st_dev && other.st_ino == mine.st_ino &&
            flock(k, LOCK_EX | LOCK_NB) == 0)
            return k;
    return -1;
}

static void *heartbeat(void *arg) {
    DirLock *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += DIR_LOCK_HEARTBEAT_SECONDS;
        pthread_cond_timedwait(&l->cv, &l->mu, &until);
        if (!l->stop) futimens(l->fd, NULL);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static int write_holder(DirLock *l, const char *what, Err *e) {
    char host[HOST_NAME_MAX_LEN], line[256];
    host_name(host);
    int n = snprintf(line, sizeof line, "%ld %s %ld %s\n", (long)getpid(), host, (long)time(NULL), what);
    if (n >= (int)sizeof line) n = (int)sizeof line - 1, line[n - 1] = '\n';
    if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, line, (size_t)n, 0) != n)
        return err_fail(e, "%s: cannot write: %s", l->path, strerror(errno));
    return 0;
}

static int start_heartbeat(DirLock *l, Err *e) {
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->stop = 0;
    int rc = pthread_create(&l->beat, NULL, heartbeat, l);
    if (rc) return err_fail(e, "%s: pthread_create failed: %s", l->path, strerror(rc));
    l->beating = 1;
    return 0;
}

/* Whether the holder line left in a file we could flock still holds: only one of another
 * host whose heartbeat is fresh (flock may not reach across hosts), or, where flock does not
 * work at all, one of this host whose process lives. Else note what is taken over. */
static int line_still_holds(const DirLockHolder *h, int have_flock, char *note, size_t note_n) {
    if (!h->pid || h->pid == (long)getpid()) return 0;
    ProcState ps = host_process_state(h->host, h->pid);
    if (ps == PROC_ELSEWHERE && h->silent < DIR_LOCK_STALE_SECONDS) return 1;
    if (ps == PROC_ALIVE && !have_flock) return 1;
    char who[256];
    dir_lock_describe(h, who, sizeof who);
    if (ps == PROC_ELSEWHERE) snprintf(note, note_n, "took over the lock of %s: silent for over %d s, taken as gone", who, DIR_LOCK_STALE_SECONDS);
    else if (ps == PROC_GONE) snprintf(note, note_n, "took over the lock of %s: that process is gone", who);
    return 0;
}

static int refuse(DirLock *l, DirLockHolder *held, const DirLockHolder *h, Err *e) {
    char who[256];
    if (held) *held = *h;
    if (h->pid) dir_lock_describe(h, who, sizeof who);
    else snprintf(who, sizeof who, "another process (it has not written its name yet)");
    err_fail(e, "%s is held by %s", l->path, who);
    close(l->fd);
    l->fd = -1;
    return 1;
}

int dir_lock_try(DirLock *l, const char *path, const char *what, int flags, DirLockHolder *held, char *note, size_t note_n,
                 Err *e) {
    memset(l, 0, sizeof *l);
    if (note && note_n) note[0] = 0;
    snprintf(l->path, sizeof l->path, "%s", path);
    l->fd = open(path, O_RDWR | O_CREAT | (flags & DIR_LOCK_INHERITABLE ? 0 : O_CLOEXEC), 0644);
    if (l->fd < 0) return err_fail(e, "%s: cannot open: %s", path, strerror(errno));
    int have_flock = 1;
    DirLockHolder h;
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        int er = errno, inh = er == EWOULDBLOCK && (flags & DIR_LOCK_ADOPT) ? inherited_holder(l->fd) : -1;
        if (inh >= 0) close(l->fd), l->fd = inh, l->adopted = 1;
        else if (er == EWOULDBLOCK) return read_holder_fd(l->fd, &h), refuse(l, held, &h, e);
        else if (er == ENOLCK || er == EOPNOTSUPP || er == ENOSYS) have_flock = 0;
        else { close(l->fd); l->fd = -1; return err_fail(e, "%s: flock failed: %s", path, strerror(er)); }
    }
    char local[512] = "";
    read_holder_fd(l->fd, &h);
    if (!l->adopted && line_still_holds(&h, have_flock, local, sizeof local)) return refuse(l, held, &h, e);
    if (note && note_n) snprintf(note, note_n, "%s", local);
    if (write_holder(l, what, e) || start_heartbeat(l, e)) { dir_lock_release(l); return -1; }
    return 0;
}

void dir_lock_release(DirLock *l) {
    if (!l->path[0]) return;    /* never tried */
    if (l->beating) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->beat, NULL);
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        l->beating = 0;
    }
    if (l->fd >= 0) {
        /* Nobody is named any more: a reader on another host does not wait for us. */
        if (ftruncate(l->fd, 0) != 0) { /* the kernel drops the flock anyway */ }
        close(l->fd);
    }
    l->fd = -1;
}
