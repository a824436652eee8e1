/* The state of a running trial, shared by trial.c (the loop) and trial_state.c
 * (last.safetensors / best.safetensors). Not part of the library's interface. */
#ifndef TL_TRIAL_INTERNAL_H
#define TL_TRIAL_INTERNAL_H

#include "data/dataset.h"
#include "data/loader.h"
#include "model/head.h"
#include "model/head_cuda.h"
#include "model/resnet_train.h"
#include "train/boundary_cache.h"
#include "train/callbacks.h"
#include "train/feature_cache.h"
#include "model/optimizer.h"
#include "train/schedule.h"
#include "train/trial.h"

/* Fine-tuning (model.trainable != head; trial_finetune.c). Epochs before start_epoch
 * (finetune.after_epochs) train the head alone on cached features; from start_epoch on,
 * every step runs images -> frozen prefix (bb, BN folded) -> suffix (trainable convs, BN
 * with frozen statistics) -> head, and back into the suffix. When augmentation is off and
 * the boundary activations fit feature_cache.boundary_mib, the prefix runs once per image
 * into the boundary cache (fp16 on disk) and every step reads its batch from there. */
typedef struct Finetune {
    int enabled;
    int start_epoch;                /* first fine-tuning epoch */
    Backbone bb;                    /* frozen prefix, max_batch = train.batch_size */
    ResnetSuffix s;                 /* trainable suffix, same max_batch */
    Optimizer optim;                /* over s.params; ranges = the trainable views */
    Loader *train_loader;           /* augmented when augment.strength > 0 */
    Loader *eval_loader;            /* unaugmented (validation, test) */
    float *d_features;              /* (batch, 2048) host: d(loss)/d(features) from the head */
    float *weights;                 /* (n_weights) head then suffix: the callbacks' weights vector */
    int use_boundary;               /* 1: train and validate the suffix from the boundary cache */
    int boundary_filled;            /* both tables open */
    int *rows;                      /* (batch) row indices of a validation batch */
    BoundaryCache boundary;
} Finetune;

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
    Finetune ft;
    size_t n_weights;               /* head.n_params (+ ft.s.n_params when fine-tuning) */
    float *best_params;             /* (n_weights): the ModelCheckpoint copy, head then suffix */
    int have_best;
    float *batch_x;                 /* (batch, 2048) gathered rows */
    int *batch_y, *order;
    History hist;
    /* GPU head (backend cuda; trial.c): head epochs on cached features train and validate
     * on the device; head/optim above stay the source of truth (uploaded before, downloaded
     * after each such epoch). NULL / unused on other backends. */
    GpuHead *gpu;                   /* made at the first GPU epoch */
    int *gpu_rows, *gpu_labels;     /* (n_train) host: the epoch's feature row and label per position */
    int next_epoch;                 /* first epoch still to run */
    int finished;                   /* stopped early or diverged in an earlier run */
    int diverged;
    int best_epoch;                 /* epoch of the best monitored value, -1 = none */
    double best_monitor;
    double untrained_val_accuracy;
    double elapsed;                 /* seconds spent in earlier runs of this trial */
    char config_digest[33];
} Trial;

/* trial_finetune.c. finetune_create: nothing when model.trainable is head; else checks
 * the backend can train, builds prefix, suffix, optimizer and loaders, logs the path. */
int finetune_create(Trial *t, Err *e);
void finetune_free(Finetune *ft);
/* 1 when epoch runs the fine-tuning loop. */
int finetune_epoch(const Trial *t, int epoch);
/* One fine-tuning epoch over the images (order: the epoch's shuffle); fills logs->loss,
 * logs->accuracy. Returns 0, 1 when a stop was requested mid-epoch, -1 on error. */
int finetune_train_epoch(Trial *t, int epoch, float lr, EpochLogs *logs, Err *e);
/* Features of every image of a split, unaugmented, through prefix + suffix: dst (n, 2048). */
int finetune_features(Trial *t, const DatasetSplit *split, float *dst, Err *e);
/* The weights vector (n_weights): head params then suffix params. */
void trial_weights_get(const Trial *t, float *dst);
void trial_weights_set(Trial *t, const float *src);
/* train_phases.csv (epoch,phase) for the finished epochs, rewritten atomically. */
int finetune_write_phases(const Trial *t, Err *e);
/* The epoch's training order (RNG_SHUFFLE keyed by seed and epoch) into t->order. */
void trial_epoch_order(Trial *t, int epoch);

/* A progress bar for the running epoch on a terminal (opt->progress); nothing otherwise. */
void trial_progress(const Trial *t, int epoch, int step, int steps, float loss, float accuracy);

/* last.safetensors: everything a resume needs. */
int trial_state_save(const Trial *t, Err *e);
/* Loads the state if there is one; init_callbacks runs once the history is known.
 * Returns 1 when a state was loaded, 0 when there is none, -1 on error. */
int trial_state_load(Trial *t, int (*init_callbacks)(Trial *t, Err *e), Err *e);
/* best.safetensors: the head's weights by name, with class names and epoch. */
int trial_best_save(const Trial *t, int epoch, double monitor, Err *e);
int trial_best_load(Trial *t, Err *e);

#endif
