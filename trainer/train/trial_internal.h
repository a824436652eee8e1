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
#include "train/epoch.h"
#include "train/feature_cache.h"
#include "train/finetune.h"
#include "train/head_trainer.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "train/trial_data.h"
#include "train/trial_record.h"
#include "train/trial.h"

typedef struct Trial {
    const TrialConfig *cfg;
    const TrialOptions *opt;
    Backend *be;
    TrialData data;                 /* trial_data.h: dataset, feature tables, labels, epoch order */
    HeadTrainer ht;                 /* head_trainer.h: head, optimizer, batch buffers, GPU head */
    LrSchedule sched;
    Callbacks cb;
    Finetune ft;                    /* finetune.h: the trainable backbone suffix (ft.enabled) */
    TrialRecord rec;                /* trial_record.h: history, counters, best weights */
    float *weights;                 /* (rec.n_weights) fine-tuning: head then suffix, the callbacks' weights vector */
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
