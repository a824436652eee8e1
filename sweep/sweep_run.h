/* The sweep program's phases. Data flow (all ranks unless said):
 *   load + expand + validate every trial  ->  rank 0: folders, config.yaml per trial,
 *   which trials still need to run (broadcast)  ->  phase 1: feature cache, each rank one
 *   shard per cache group  ->  phase 2: claim trials from the shared counter, run each
 *   as a `trainer train` child  ->  rank 0: summary.csv + report.md, exit status. */
#ifndef SWEEP_RUN_H
#define SWEEP_RUN_H

#include <signal.h>
#include <stdio.h>

#include "args.h"
#include "expand.h"
#include "progress.h"
#include "results.h"

enum { SWEEP_PATH_MAX = 1024 };
/* A rank touches <trial>/running this often while it runs the trial; `sweep --status` calls
 * a marker stale after 4 missed beats. */
enum { HEARTBEAT_SECONDS = 30, HEARTBEAT_STALE_SECONDS = 4 * HEARTBEAT_SECONDS };

/* What every mode (run, dry run, aggregate) loads first. */
typedef struct SweepPlan {
    SweepSpec spec;
    TrialSet ts;
    char sweep_dir[SWEEP_PATH_MAX];  /* absolute <runs>/<name> (or the --aggregate folder) */
    char cwd[SWEEP_PATH_MAX];        /* relative data.root and model.weights are against it */
    TrialResult *results;            /* per trial, as found on disk */
    int *selected;                   /* per trial: in scope of --only */
    int capacity;                    /* of results and selected: the trials there can be (tpe: sweep.trials) */
} SweepPlan;

/* Loads, expands and (resolve != 0) validates the sweep; reads every trial's result. */
int plan_load(SweepPlan *p, const SweepArgs *a, int resolve, Err *e);
void plan_free(SweepPlan *p);
/* <sweep_dir>/<trial id> */
void plan_trial_dir(const SweepPlan *p, int t, char *out, size_t n);
/* Rereads results[t] from disk. */
void plan_reload_result(SweepPlan *p, int t);

/* Trials that need to run now: selected, not finished; failed and pruned ones only with
 * --retry-failed and --retry-pruned. todo: room for p->capacity. */
int plan_todo(const SweepPlan *p, const SweepArgs *a, int *todo);
/* Rank 0 before any trial runs: folders, sweep.yaml copy, config.yaml per trial to run. */
int plan_prepare_dirs(SweepPlan *p, const char *sweep_file, const int *todo, int n_todo, Err *e);
/* Trial t's folder and config.yaml; a failed or pruned result of a trial run again is kept
 * as result.failed.csv or result.pruned.csv. */
int plan_prepare_trial(SweepPlan *p, int t, Err *e);
/* tpe, rank 0: trial t was just drawn (study_ask appended it): its config, cache group,
 * result (pending, unless its folder holds one) and folder. */
int plan_add_drawn(SweepPlan *p, int t, Err *e);
/* tpe, other ranks: the trials rank 0 drew since, read back from study.csv (rank 0 appends
 * and closes it before it sends a drawn trial out). */
int plan_sync_drawn(SweepPlan *p, Err *e);
/* summary.csv and report.md from what is on disk now. */
int plan_aggregate(SweepPlan *p, Err *e);
/* The --dry-run table. */
void plan_print_table(const SweepPlan *p, FILE *f);
/* Trials in scope that failed. */
int plan_count_failed(const SweepPlan *p);
/* Trials in scope that have not run to their end (pending or interrupted). */
int plan_count_unfinished(const SweepPlan *p);
/* The largest train.epochs of the (resolved) trials: early stopping's default budget. */
int plan_max_epochs(const SweepPlan *p);
/* 1 when the trial's config reads backbone features from the cache (phase 1 is for it). */
int trial_uses_cache(const TrialConfig *c);
/* The trial phase 1 fills cache group g with: the first of todo in g that reads the cache;
 * -1 when none does (the group is skipped). */
int plan_group_first(const SweepPlan *p, const int *todo, int n_todo, int g);

/* Modes. Each returns the process exit status (0, 1, 2 or 130). */
int sweep_dry_run(const SweepArgs *a);
int sweep_aggregate_only(const SweepArgs *a);
/* --status RUNDIR: each trial's state and the sweep's ETA, from the files alone. */
int sweep_status(const SweepArgs *a);
/* Under MPI (initialised by the caller). signals counts SIGINT/SIGTERM received. */
int sweep_run_mpi(const SweepArgs *a, volatile sig_atomic_t *signals);

#endif
