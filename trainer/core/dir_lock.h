/* An exclusive lock held for a whole run: a trainer on its --out folder (DIR/.lock), a
 * sweep on runs/<name> (.sweep.lock), a sweep rank on the trial it runs. Two signs, since
 * a folder may be shared between hosts:
 *   flock(2) on the file: exact on one host (the kernel drops it when the holder dies, even
 *     on kill -9); across hosts only where the filesystem shares locks (NFSv4, Lustre with
 *     -o flock), which a program cannot find out;
 *   the holder's line in the file, "pid host unix-start what", and its heartbeat: a thread
 *     touches the file every DIR_LOCK_HEARTBEAT_SECONDS. A line naming another host whose
 *     heartbeat is younger than DIR_LOCK_STALE_SECONDS counts as held even when flock says
 *     free; older, the holder is taken as gone (its node died) and the lock is taken over.
 *     A line naming this host whose process is gone is taken over at once.
 * A child that inherits the descriptor (DIR_LOCK_INHERITABLE) holds the same lock; a process
 * given DIR_LOCK_ADOPT uses such an inherited descriptor instead of waiting for it: the
 * sweep takes <trial>/.lock and the `trainer train` it starts adopts it, so the two never
 * wait for each other, and a trainer left running by a killed rank keeps the trial locked.
 * Released on dir_lock_release (the line is cleared) or when the process ends. */
#ifndef TL_DIR_LOCK_H
#define TL_DIR_LOCK_H

#include <pthread.h>
#include <stddef.h>

#include "error.h"
#include "host.h"

enum { DIR_LOCK_HEARTBEAT_SECONDS = 5, DIR_LOCK_STALE_SECONDS = 60 };
enum { DIR_LOCK_INHERITABLE = 1, DIR_LOCK_ADOPT = 2 };

typedef struct DirLockHolder {
    long pid;                       /* 0: nobody named */
    char host[HOST_NAME_MAX_LEN];
    long since;                     /* unix time the holder took it */
    char what[96];                  /* "trainer train", "sweep dropout (rank 0)", ... */
    double silent;                  /* seconds since its last heartbeat */
} DirLockHolder;

typedef struct DirLock {
    int fd;                         /* -1: not held */
    int adopted;                    /* fd was inherited from the parent that holds it */
    char path[1100];
    pthread_t beat;
    int beating, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} DirLock;

/* Tries once to take the lock file `path` (created when missing). Returns 0 when taken
 * (note: "" or a line saying whose stale lock was taken over), 1 when someone else holds
 * it (*held names them; e says "PATH is held by ..."), -1 on error. */
int dir_lock_try(DirLock *l, const char *path, const char *what, int flags, DirLockHolder *held, char *note,
                 size_t note_n, Err *e);
/* Stops the heartbeat, clears the holder line, closes. A zeroed DirLock (never tried) or one
 * that was refused is fine. */
void dir_lock_release(DirLock *l);
/* The holder line of a lock file, read without locking: 0 when it names someone. */
int dir_lock_read_holder(const char *path, DirLockHolder *h);
/* "trainer train, PID 123 on host node1 since 2026-11-27 19:20:01 (heartbeat 3 s ago)" */
void dir_lock_describe(const DirLockHolder *h, char *out, size_t n);

#endif
