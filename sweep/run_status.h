/* runs/<name>/sweep_status: what the sweep says about its own run, for a wrapper script and
 * `sweep --status` (Open MPI's mpirun returns 1 on SIGINT/SIGTERM whatever its ranks return,
 * so its status cannot tell an interrupt from a failure):
 *   line 1  "<state> <code>": running -, done 0, failed 1, interrupted 130, error 2
 *   line 2  "host H pid P started YYYY-MM-DD HH:MM:SS [ended YYYY-MM-DD HH:MM:SS]"
 * Rank 0 writes it (atomically): `running` once the sweep has its lock and starts, `interrupted
 * 130` as soon as a stop is asked (mpirun SIGKILLs the ranks a second after SIGTERM), and the
 * final word when it ends. A sweep refused before it started (exit 2: bad file, an edit that
 * changes trials that ran, another sweep running there) leaves the file as it was. A `running`
 * left by a sweep that was killed (its process gone on this host, or its lock's heartbeat
 * older than DIR_LOCK_STALE_SECONDS) reads as interrupted (run_status_now). */
#ifndef SWEEP_RUN_STATUS_H
#define SWEEP_RUN_STATUS_H

#include <stddef.h>

#include "core/error.h"
#include "core/host.h"

typedef struct RunStatus {
    char state[16];             /* running | done | failed | interrupted | error */
    int code;                   /* the exit status; -1 while running */
    char host[HOST_NAME_MAX_LEN];
    long pid;
    long started, ended;        /* unix times; ended 0 while running */
} RunStatus;

/* The word for an exit status: 0 done, 1 failed, 130 interrupted, else error. */
const char *run_status_word(int code);
/* A RunStatus for this process, now: state running. */
void run_status_start(RunStatus *st);
/* Sets the final word (from code) and the end time, and writes it. */
int run_status_finish(const char *sweep_dir, RunStatus *st, int code, Err *e);
int run_status_write(const char *sweep_dir, const RunStatus *st, Err *e);
/* The same without waiting for the disk (fs_write_atomic_nosync): the "interrupted" word. */
int run_status_write_now(const char *sweep_dir, const RunStatus *st, Err *e);
/* 0 and *st when sweep_dir/sweep_status exists and reads; -1 otherwise. */
int run_status_read(const char *sweep_dir, RunStatus *st);
/* The state as it stands now into line: what the file says, except that a `running` whose
 * sweep is gone reads "interrupted (...why...)". Returns the effective state word. */
const char *run_status_now(const char *sweep_dir, const RunStatus *st, char *line, size_t n);

#endif
