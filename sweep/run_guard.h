/* What rank 0 holds and says for a sweep's whole run:
 *   runs/<name>/.sweep.lock   the sweep's lock (core/dir_lock.h): a second sweep on the same
 *                             folder is refused before anything runs, naming the PID and host
 *                             of the first (instead of running phase 1 twice and writing into
 *                             the same rank logs); a sweep killed with -9 leaves no lock
 *                             behind on its host, and one whose node died is taken over once
 *                             its heartbeat is DIR_LOCK_STALE_SECONDS old
 *   runs/<name>/sweep_status  running / done 0 / failed 1 / interrupted 130 (run_status.h)
 * and, once it holds the lock, removes the temp files of dead writers from the sweep folder
 * and its feature cache folders (trial folders: each trainer does, under the trial's lock). */
#ifndef SWEEP_RUN_GUARD_H
#define SWEEP_RUN_GUARD_H

#include "core/dir_lock.h"
#include "run_status.h"
#include "sweep_run.h"

typedef struct RunGuard {
    DirLock lock;               /* never copied: its heartbeat thread holds its address */
    RunStatus status;
    int started;                /* sweep_status written */
    int interrupt_said;
    char dir[SWEEP_PATH_MAX];
} RunGuard;

/* Takes the sweep's lock. 0 taken, -1 refused or failed (e says by whom, and what to do). */
int run_guard_take(RunGuard *g, const SweepPlan *p, int ranks, Err *e);
/* sweep_status: running. */
int run_guard_start(RunGuard *g, Err *e);
/* sweep_status: interrupted 130, at once (once). */
void run_guard_interrupted(RunGuard *g);
/* The final word (when started) and the lock released. A zeroed guard is fine. */
void run_guard_end(RunGuard *g, int code);
/* Dead writers' temp files in the sweep folder and in each trial's feature cache folder
 * (and its entries); *removed counts them. */
int run_guard_clean_tmp(const SweepPlan *p, int *removed, Err *e);

#endif
