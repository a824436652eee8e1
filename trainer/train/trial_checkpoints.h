/* A trial's checkpoints, in safetensors:
 *   last.safetensors       everything a resume needs: head and suffix weights, both
 *                          optimizers' moments and steps, schedule and callback counters, the record
 *   last.prev.safetensors  the one before (the epoch before): kept so a damaged last has a backup
 *   best.safetensors       the best weights by layer name (head, then a fine-tuned suffix), with
 *                          the class names and epoch: what trainer predict/evaluate load
 * Tensor and metadata names are the file format: they never change. Each file carries a
 * checksum of its bytes (checkpoint.h) and its key: metadata "format" (its role: a trial
 * state or a head) and "config_digest" (the trial it belongs to, config_digest()).
 * Reading for a resume trusts only a file whose checksum and key both match:
 *   last damaged (bytes, key, truncated, or no checksum: an older writer's) -> last.prev,
 *     said in the log; the damaged file is kept as last.damaged.safetensors
 *   both damaged, or best damaged -> an error naming the file and how to restart the trial
 *     (trainer train DIR/config.yaml --out DIR --restart). */
#ifndef TL_TRIAL_CHECKPOINTS_H
#define TL_TRIAL_CHECKPOINTS_H

#include <stdio.h>

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
    FILE *log;                      /* where a fallback to last.prev is said (may be NULL) */
    HeadTrainer *ht;                /* head params, head optimizer */
    Finetune *ft;                   /* suffix params and optimizer when ft->enabled */
    Callbacks *cb;
    LrSchedule *sched;
    TrialRecord *rec;
} TrialState;

/* last.safetensors (the one there before becomes last.prev.safetensors). */
int trial_state_save(const TrialState *s, Err *e);
/* Loads last.safetensors (or, when it is damaged, last.prev.safetensors) when there is one;
 * the callbacks (cbc, train_log.csv) start once the history is known, then take their saved
 * counters. Returns 1 when a state was loaded, 0 when there is none, -1 on error. */
int trial_state_load(TrialState *s, const CallbacksConfig *cbc, Err *e);
/* best.safetensors from rec->best_params, with ds's class names, the epoch and the
 * monitored value under c's checkpoint monitor name. */
int trial_best_save(const TrialState *s, const TrialConfig *c, const Dataset *ds, int epoch, double monitor, Err *e);
/* rec->best_params from best.safetensors when there is one (1), else 0; -1 on error (a
 * damaged file: the message names it and says how to restart the trial). */
int trial_best_load(TrialState *s, Err *e);

#endif
