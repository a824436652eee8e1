/* The state of a running trial, shared by trial.c (the loop) and trial_state.c
 * (last.safetensors / best.safetensors). Not part of the library's interface. */
#ifndef TL_TRIAL_INTERNAL_H
#define TL_TRIAL_INTERNAL_H

#include "data/dataset.h"
#include "model/head.h"
#include "train/callbacks.h"
#include "train/feature_cache.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "train/trial.h"

/* Per-epoch logs kept for result.csv and resume (capacity = train.epochs). */
typedef struct History {
    int n;
    float *accuracy, *loss, *val_accuracy, *val_loss, *lr;
    double *seconds;
} History;

typedef struct Trial {
    const TrialConfig *cfg;
    const TrialOptions *opt;
    char cache_dir[1024];
    Dataset ds;
    Backend *be;
    FeatureExtractor fx;
    TrialEntries te;
    float *train_x;                 /* (views, n_train, 2048); views = max(1, n_train_views) */
    float *val_x, *test_x;          /* (n, 2048) */
    int *train_y, *val_y, *test_y;
    Head head;
    Optimizer optim;
    LrSchedule sched;
    Callbacks cb;
    float *best_params;             /* (n_params): the ModelCheckpoint copy */
    int have_best;
    float *batch_x;                 /* (batch, 2048) gathered rows */
    int *batch_y, *order;
    History hist;
    int next_epoch;                 /* first epoch still to run */
    int finished;                   /* stopped early or diverged in an earlier run */
    int diverged;
    int best_epoch;                 /* epoch of the best monitored value, -1 = none */
    double best_monitor;
    double untrained_val_accuracy;
    double elapsed;                 /* seconds spent in earlier runs of this trial */
    char config_digest[33];
} Trial;

/* last.safetensors: everything a resume needs. */
int trial_state_save(const Trial *t, Err *e);
/* Loads the state if there is one; init_callbacks runs once the history is known.
 * Returns 1 when a state was loaded, 0 when there is none, -1 on error. */
int trial_state_load(Trial *t, int (*init_callbacks)(Trial *t, Err *e), Err *e);
/* best.safetensors: the head's weights by name, with class names and epoch. */
int trial_best_save(const Trial *t, int epoch, double monitor, Err *e);
int trial_best_load(Trial *t, Err *e);

#endif
