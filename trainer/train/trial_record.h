/* What a trial has done so far: one row of logs per finished epoch, the counters a resume
 * restores, and the best weights the report evaluates. last.safetensors saves all of it
 * (trial_checkpoints.c); result.csv's numbers come from it. */
#ifndef TL_TRIAL_RECORD_H
#define TL_TRIAL_RECORD_H

#include <stddef.h>

#include "core/error.h"
#include "train/callbacks.h"
#include "train/config.h"
#include "train/trial_result.h"

/* Per-epoch logs (capacity = train.epochs). */
typedef struct History {
    int n;
    float *accuracy, *loss, *val_accuracy, *val_loss, *lr;
    double *seconds;
} History;

typedef struct TrialRecord {
    History hist;
    int next_epoch;                 /* first epoch still to run */
    int finished;                   /* stopped early or diverged in an earlier run */
    int diverged;                   /* TerminateOnNaN stopped the epoch loop */
    int best_epoch;                 /* epoch of the best monitored value, -1 = none */
    double best_monitor;            /* its value (callbacks.checkpoint.monitor); NaN = none */
    double untrained_val_accuracy;
    double elapsed;                 /* seconds spent in this trial over all its runs */
    size_t n_weights;               /* head params (+ suffix params when fine-tuning) */
    float *best_params;             /* (n_weights): the ModelCheckpoint copy, head then suffix */
    int have_best;
} TrialRecord;

/* An empty record for train.epochs epochs and n_weights weights; best_epoch -1. */
int trial_record_create(TrialRecord *r, int epochs, size_t n_weights, Err *e);
void trial_record_free(TrialRecord *r);
/* Appends an epoch's logs to the history. */
void trial_record_push(TrialRecord *r, const EpochLogs *logs);
/* The report's best-epoch rule: the checkpoint monitor's strict improvement over
 * best_monitor; *value = the monitored value. */
int trial_record_improved(const TrialRecord *r, const CallbacksConfig *cb, const EpochLogs *logs, double *value);
/* result.csv's numbers from the history: epochs, the best epoch's row and gap, the last
 * epoch's gap, the untrained accuracy, seconds. */
void trial_record_result(const TrialRecord *r, TrialResult *res);

#endif
