/* The sweep's one status line on rank 0, printed as trials finish:
 *   [dropout] 5/12 done, 1 failed | best val_acc 0.8123 (dropout=0.4 seed=42) | 3m02s, ETA 4m10s
 * ETA = wall time per trial finished in this run (counted from the end of phase 1) x
 * trials left (it already reflects how many ranks run at once). */
#ifndef SWEEP_PROGRESS_H
#define SWEEP_PROGRESS_H

#include <stddef.h>

#include "expand.h"
#include "results.h"

typedef struct Progress {
    int total;              /* trials in scope */
    int finished;           /* done + diverged + failed + pruned */
    int failed, diverged, pruned;
    int finished_before;    /* already finished when this run started */
    double t_start;         /* seconds, monotonic clock: the sweep started */
    double t_trials;        /* trials started (after phase 1): the ETA's clock */
    int best;               /* trial index, -1 = none yet */
    double best_acc;
} Progress;

void progress_init(Progress *p, int total, double now);
/* Phase 2 begins: the ETA counts from here. */
void progress_trials_start(Progress *p, double now);
/* Counts a finished trial; before_start = it was finished by an earlier run. */
void progress_add(Progress *p, int trial, SweepTrialStatus st, double val_accuracy, int before_start);
void progress_line(const Progress *p, const TrialSet *ts, const char *name, double now, char *out, size_t n);
/* 45s, 3m05s, 2h07m. */
void format_duration(double seconds, char *out, size_t n);

#endif
