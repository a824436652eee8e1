/* Fine-tuning the backbone from model.trainable on (model.trainable != head), on the CPU
 * or CUDA backend. Epochs before start_epoch (finetune.after_epochs) train the head alone
 * on cached features (head_trainer.h); from start_epoch on, every step runs images ->
 * frozen prefix (bb, BN folded) -> suffix (trainable convs, BN with frozen statistics) ->
 * head, and back into the suffix. When augmentation is off and the boundary activations
 * fit feature_cache.boundary_mib, the prefix runs once per image into the boundary cache
 * (fp16 on disk) and every step reads its batch from there. */
#ifndef TL_FINETUNE_H
#define TL_FINETUNE_H

#include <signal.h>
#include <stdio.h>

#include "backend/backend.h"
#include "core/error.h"
#include "data/loader.h"
#include "model/resnet_train.h"
#include "train/boundary_cache.h"
#include "train/callbacks.h"
#include "train/epoch.h"
#include "train/head_trainer.h"
#include "model/optimizer.h"
#include "train/trial_options.h"
#include "train/trial_data.h"

typedef struct Finetune {
    int enabled;
    int start_epoch;                /* first fine-tuning epoch */
    const TrialConfig *cfg;         /* borrowed, as the three below */
    const TrialData *data;          /* the images, their labels, the feature cache's folder */
    FILE *log;                      /* the path, boundary cache lines; NULL: none */
    volatile sig_atomic_t *stop;    /* set: leave the epoch after the running batch */
    Backbone bb;                    /* frozen prefix, max_batch = train.batch_size */
    ResnetSuffix s;                 /* trainable suffix, same max_batch */
    Optimizer optim;                /* over s.params; ranges = the trainable views */
    Loader *train_loader;           /* augmented when augment.strength > 0 */
    Loader *eval_loader;            /* unaugmented (validation, test) */
    float *d_features;              /* (batch, 2048) host: d(loss)/d(features) from the head */
    int use_boundary;               /* 1: train and validate the suffix from the boundary cache */
    int boundary_filled;            /* both tables open */
    int *rows;                      /* (batch) row indices of a validation batch */
    BoundaryCache boundary;
} Finetune;

/* Nothing when model.trainable is head; else checks be can train, builds prefix, suffix,
 * its optimizer (os: the head's settings) and loaders, plans the boundary cache and logs
 * the path to opt->log. */
int finetune_create(Finetune *ft, const TrialConfig *c, Backend *be, const TrialData *d, const OptimizerSpec *os,
                    const TrialOptions *opt, Err *e);
void finetune_free(Finetune *ft);
/* 1 when epoch runs the fine-tuning loop. */
int finetune_epoch(const Finetune *ft, int epoch);
/* One fine-tuning epoch over the images in ep->order, training the suffix and ht's head;
 * fills logs->loss, logs->accuracy. Returns 0, 1 when a stop was requested mid-epoch, -1
 * on error. */
int finetune_train_epoch(Finetune *ft, HeadTrainer *ht, const Epoch *ep, Callbacks *cb, EpochLogs *logs, Err *e);
/* Features of every image of a split, unaugmented, through prefix + suffix: dst (n, 2048). */
int finetune_features(Finetune *ft, const DatasetSplit *split, float *dst, Err *e);
/* out_dir/train_phases.csv (epoch,phase) for the first `epochs` epochs, rewritten atomically. */
int finetune_write_phases(const Finetune *ft, int epochs, const char *out_dir, Err *e);

#endif
