/* One trial end to end, exactly as a sweep runs it (`trainer train CONFIG --out DIR`):
 * dataset -> cached backbone features -> head training with the Keras callbacks ->
 * test evaluation with the best weights -> DIR/{config.yaml, train_log.csv,
 * best.safetensors, last.safetensors, result.csv, confusion.csv, errors.csv}.
 * A killed trial rerun with the same command resumes from last.safetensors and ends
 * with the same numbers as an uninterrupted run. */
#ifndef TL_TRIAL_H
#define TL_TRIAL_H

#include <signal.h>
#include <stdio.h>

#include "core/error.h"
#include "train/config.h"

typedef struct TrialOptions {
    const char *config_path;        /* for messages */
    const char *out_dir;
    int threads;                    /* 0 = all cores */
    int gpu;                        /* GPU index for device cuda/auto */
    FILE *log;                      /* epoch lines (stdout, or DIR/trainer.log) */
    int progress;                   /* feature-extraction progress on stderr (a terminal) */
    volatile sig_atomic_t *stop;    /* set by SIGINT/SIGTERM: stop after the epoch's backup */
} TrialOptions;

typedef enum TrialStatus { TRIAL_DONE, TRIAL_DIVERGED, TRIAL_FAILED, TRIAL_INTERRUPTED } TrialStatus;

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
/* Runs (or resumes) the trial. Returns 0 when it ran to an end (res->status done or
 * diverged) or was interrupted (status interrupted, no result.csv); -1 on failure (the
 * caller writes a failed result.csv with the message). */
int trial_run(const TrialConfig *cfg, const TrialOptions *opt, TrialResult *res, Err *e);
int trial_result_write(const char *path, const TrialResult *r, Err *e);
/* Name of a trial from its out dir (the last path component). */
void trial_name_from_dir(const char *dir, char *out, size_t n);

#endif
