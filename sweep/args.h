/* Command line of the sweep program. */
#ifndef SWEEP_ARGS_H
#define SWEEP_ARGS_H

#include "core/error.h"

typedef struct SweepArgs {
    const char *file;           /* the sweep YAML; optional with --aggregate (RUNDIR/sweep.yaml) */
    const char *runs;           /* --runs DIR: output root (default "runs") */
    int dry_run;                /* --dry-run: print the trial table, run nothing */
    const char *only;           /* --only PATTERN[,PATTERN]: trial ids (fnmatch patterns) */
    int retry_failed;           /* --retry-failed */
    int retry_pruned;           /* --retry-pruned: continue pruned trials to their whole budget */
    const char *aggregate;      /* --aggregate RUNDIR: only write summary.csv and report.md */
    const char *status;         /* --status RUNDIR: print where the sweep stands */
    const char *trainer;        /* --trainer PATH (default: $TRAINER, then next to this program) */
    int threads;                /* --threads N per rank (default: node cores / local ranks) */
    int help;
} SweepArgs;

int sweep_args_parse(SweepArgs *a, int argc, char **argv, Err *e);
extern const char SWEEP_USAGE[];

/* 1 when id matches one of the comma-separated fnmatch patterns (or patterns is NULL). */
int trial_selected(const char *patterns, const char *id);

#endif
