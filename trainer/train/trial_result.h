/* A trial's outcome: its status and the row of result.csv (trial_result.c writes it
 * through the column table of train/result_columns.h). */
#ifndef TL_TRIAL_RESULT_H
#define TL_TRIAL_RESULT_H

#include <stddef.h>

#include "core/error.h"

/* pruned: stopped between epochs by the sweep's early stopping (TrialOptions.between_epochs). */
typedef enum TrialStatus { TRIAL_DONE, TRIAL_DIVERGED, TRIAL_FAILED, TRIAL_INTERRUPTED, TRIAL_PRUNED } TrialStatus;

/* result.csv's row (columns: train/result_columns.h). Epoch numbers are 0-based, as train_log.csv. */
typedef struct TrialResult {
    char trial[256];
    TrialStatus status;
    int epochs, best_epoch;
    double val_loss, val_accuracy, train_loss, train_accuracy, gap, final_gap, untrained_val_accuracy;
    double test_loss, test_accuracy, test_top5;
    double seconds, seconds_per_epoch;
    char message[512];
} TrialResult;

const char *trial_status_name(TrialStatus s);
int trial_result_write(const char *path, const TrialResult *r, Err *e);
/* Name of a trial from its out dir (the last path component). */
void trial_name_from_dir(const char *dir, char *out, size_t n);

#endif
