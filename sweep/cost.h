/* What a sweep will cost, said before it starts (`sweep --dry-run`, the first lines of a
 * run, report.md): the feature cache groups phase 1 fills, its backbone passes (training
 * views, validation, test: the images of every table still missing, each table counted
 * once however many groups share it), the cache's bytes on disk against its limit
 * (feature_cache.max_gib), an estimate of phase 1's time from a short measurement of the
 * backbone on this machine and backend, and the trials and epochs of phase 2.
 * The tables are found exactly as the trainer keys them (train/feature_cache.h), so the
 * passes counted here are the images phase 1 then computes. */
#ifndef SWEEP_COST_H
#define SWEEP_COST_H

#include <stdio.h>

#include "backend/backend.h"
#include "sweep_run.h"

enum { COST_TRAIN, COST_VALIDATION, COST_TEST, COST_SPLITS };
enum { COST_SETUPS_MAX = 16, COST_MEASURE_BATCHES = 3 };

/* One backbone setup (weights, backbone, image size, interpolation, device, precision):
 * its images/s are measured once and every pass it makes costs the same. */
typedef struct CostSetup {
    char name[CONFIG_PATH_MAX + 128];
    int trial;                  /* a trial of it whose tables have missing images (-1: none) */
    long passes;                /* images it computes ... */
    int groups;                 /* ... in this many cache groups (a phase-1 process each) */
    double setup_seconds;       /* what such a process pays before its first chunk (max over ranks) */
    Backend *be;                /* open while the plan is made (for the keys) */
    char backend[16];           /* its name ("cpu", "cuda") ... */
    int threads;                /* ... and threads, kept when it is closed */
    double rate;                /* images/s (summed over ranks in a run); 0 = not measured */
} CostSetup;

typedef struct SweepCost {
    int planned;                /* 1 once cost_plan succeeded */
    int groups;                 /* cache groups with trials to run that read the cache */
    long passes[COST_SPLITS];   /* images through the backbone still to compute */
    long total[COST_SPLITS];    /* images of the tables the sweep reads, computed or not */
    int train_tables;           /* distinct training tables (views) ... */
    int pools;                  /* ... in this many pools (sets of views of one group) */
    int train_images;           /* images per training table (-1 when they differ) */
    double bytes_total;         /* the tables on disk */
    double bytes_new;           /* of which still to write */
    char cache_dir[CONFIG_PATH_MAX];
    char dtype[8];              /* fp32, fp16, or "mixed" when groups differ */
    double limit;               /* bytes: bytes_new may not exceed it (auto) or bytes_total (max_gib) */
    int limit_auto;
    double free_bytes;          /* on the cache folder's filesystem */
    CostSetup setups[COST_SETUPS_MAX];
    int n_setups;
    int threads;                /* asked for (0: every core) */
    int ranks, image_size;      /* how the rate was measured */
    char measure_note[512];     /* why a setup could not be measured ("" when all were) */
    int trials;                 /* phase 2: trials to run ... */
    long epochs;                /* ... and their train.epochs summed (early stopping may end them sooner) */
} SweepCost;

/* Finds every table the trials in todo read (on backends opened with threads / gpu) and
 * what is missing, the limit and phase 2's trials and epochs. Measures nothing yet. */
int cost_plan(SweepCost *c, const SweepPlan *p, const int *todo, int n_todo, int threads, int gpu, Err *e);
/* Each setup with passes to make: images/s over COST_MEASURE_BATCHES batches (this process).
 * A setup that cannot be measured (an unreadable image among the first) stays at rate 0,
 * with the reason in c->measure_note: the trials report such problems themselves. */
void cost_measure(SweepCost *c, const SweepPlan *p);
/* Closes the backends the plan opened. */
void cost_free(SweepCost *c);
/* Estimated seconds of phase 1: per setup, its groups x setup_seconds + passes / rate
 * (the ranks of a group start at once and split its images); 0 when nothing is to
 * compute, -1 when not measured. */
double cost_seconds(const SweepCost *c);
/* The cost lines, each after `prefix`. */
void cost_print(const SweepCost *c, FILE *f, const char *prefix);
/* Fails with the figures when the cache would not fit its limit. */
int cost_check_limit(const SweepCost *c, Err *e);
/* <sweep_dir>/cost.txt: the lines, for report.md (rewritten unless nothing was to compute
 * and an earlier run's file is there); then cost_phase1_done adds the time phase 1 took. */
int cost_write(const SweepCost *c, const char *sweep_dir, Err *e);
int cost_phase1_done(const SweepCost *c, const char *sweep_dir, double seconds, Err *e);
/* "1m05s" (or "12.3s" under a minute). */
void cost_duration(double seconds, char *out, size_t n);

#endif
