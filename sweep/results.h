/* A trial's outcome, read from <sweep>/<trial>/result.csv (written last and atomically
 * by `trainer train`, or by the sweep when the trainer could not write it). */
#ifndef SWEEP_RESULTS_H
#define SWEEP_RESULTS_H

#include "core/error.h"
#include "csv.h"
#include "train/result_columns.h"   /* RESULT_COLUMNS: summary.csv repeats them after the axes */

typedef enum SweepTrialStatus {
    STATUS_PENDING = 0,     /* never started (no folder state) */
    STATUS_INTERRUPTED,     /* started, no result.csv yet: a rerun continues it */
    STATUS_DONE,
    STATUS_DIVERGED,
    STATUS_FAILED,
    STATUS_PRUNED,          /* stopped early by sweep.early_stop; --retry-pruned continues it */
} SweepTrialStatus;

typedef struct TrialResult {
    SweepTrialStatus status;
    double val_accuracy, val_loss, gap, seconds;   /* NAN when absent */
    char message[512];
    CsvTable csv;            /* the result.csv as read (0 rows when absent) */
} TrialResult;

const char *status_name(SweepTrialStatus s);
/* 1 for done, diverged and pruned: the trial ended and a rerun skips it. */
int status_finished(SweepTrialStatus s);

/* Reads dir/result.csv. A missing file is not an error: status pending, or interrupted
 * when dir/last.safetensors (or its backup last.prev.safetensors) exists. An unreadable one reads as failed (message says why). */
int result_read(const char *dir, TrialResult *r);
void result_free(TrialResult *r);

/* Writes dir/result.csv for a trial the trainer could not finish by itself
 * (crash, kill, missing output): status failed and the message. */
int result_write_failure(const char *dir, const char *trial, const char *message, double seconds, Err *e);

#endif
