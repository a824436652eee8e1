/* A trial's checkpoints, in safetensors:
 *   last.safetensors  everything a resume needs: head and suffix weights, both optimizers'
 *                     moments and steps, schedule and callback counters, the record
 *   best.safetensors  the best weights by layer name (head, then a fine-tuned suffix), with
 *                     the class names and epoch: what trainer predict/evaluate load
 * Tensor and metadata names are the file format: they never change. */
#ifndef TL_TRIAL_CHECKPOINTS_H
#define TL_TRIAL_CHECKPOINTS_H

#include "core/error.h"
#include "data/dataset.h"
#include "train/callbacks.h"
#include "train/config.h"
#include "train/finetune.h"
#include "train/head_trainer.h"
#include "train/schedule.h"
#include "train/trial_record.h"

/* The parts of a running trial its checkpoints hold: borrowed, each owned by its file. */
typedef struct TrialState {
    const char *out_dir;            /* the trial's folder */
    const char *config_digest;      /* of the resolved config: a state file belongs to one */
    HeadTrainer *ht;                /* head params, head optimizer */
    Finetune *ft;                   /* suffix params and optimizer when ft->enabled */
    Callbacks *cb;
    LrSchedule *sched;
    TrialRecord *rec;
} TrialState;

int trial_state_save(const TrialState *s, Err *e);
/* Loads last.safetensors when there is one; the callbacks (cbc, train_log.csv) start once
 * the history is known, then take their saved counters. Returns 1 when a state was loaded,
 * 0 when there is none, -1 on error. */
int trial_state_load(TrialState *s, const CallbacksConfig *cbc, Err *e);
/* best.safetensors from rec->best_params, with ds's class names, the epoch and the
 * monitored value under c's checkpoint monitor name. */
int trial_best_save(const TrialState *s, const TrialConfig *c, const Dataset *ds, int epoch, double monitor, Err *e);
/* rec->best_params from best.safetensors when there is one (1), else 0; -1 on error. */
int trial_best_load(TrialState *s, Err *e);

#endif
