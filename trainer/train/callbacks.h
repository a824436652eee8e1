/* Keras callbacks of the recipe, as plain structs of numbers (save them for resume).
 * Epoch end runs, in Keras's list order (the order the recipe passes them to fit):
 *   EarlyStopping -> ReduceLROnPlateau (train/schedule.h) -> ModelCheckpoint -> CSVLogger
 * callbacks_epoch_end does all four and says what the caller must do: stop, write the
 * best checkpoint now (the weights are already restored when EarlyStopping stopped).
 *
 *   for epoch: lr = schedule_epoch_begin(&sched, epoch)
 *              for step: ... if (callbacks_batch_end(&cb, mean_result(&loss_m))) break;
 *              logs = {accuracy, loss, val_accuracy, val_loss, has_val, seconds}
 *              callbacks_epoch_end(&cb, &sched, epoch, &logs, h.params, &act, e)
 *              if (act.save_best) write best checkpoint;  if (act.stop) break;
 */
#ifndef TL_CALLBACKS_H
#define TL_CALLBACKS_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"
#include "train/config.h"
#include "train/schedule.h"

/* What Keras's logs dict holds at epoch end (float32 values, as the metrics are). */
typedef struct EpochLogs {
    float accuracy, loss;          /* training-mode epoch means */
    float val_accuracy, val_loss;  /* inference mode; meaningful only when has_val */
    int has_val;
    float lr;                      /* set by schedule_epoch_end: the lr used this epoch */
    double seconds;                /* epoch wall time (our extra CSV column) */
} EpochLogs;

/* Looks up "loss" | "accuracy" | "val_loss" | "val_accuracy" | "lr". Returns 1 and sets
 * *value when present, 0 when missing (val_* without validation data, unknown key). */
int logs_get(const EpochLogs *l, const char *key, double *value);
/* 0 when key names a logs value; else -1 with a message naming what. */
int logs_check_key(const char *key, const char *what, Err *e);
/* "auto" | "min" | "max" -> 1 for max; auto = max when "acc" is in the monitor name. */
int monitor_mode_max(const char *mode, const char *monitor, int *mode_max, Err *e);

/* ---- EarlyStopping: improvement is strict current - min_delta' op best, Keras's
 * arithmetic (min_delta' = -|min_delta| in min mode); restores only when it stops. */
typedef struct EarlyStoppingState {
    double best;                   /* +inf (min) / -inf (max) at train begin */
    int wait;
    int best_epoch;
    int stopped_epoch;             /* 0 until it stops */
    int has_best_weights;          /* best_weights holds a copy */
} EarlyStoppingState;

typedef struct EarlyStopping {
    EarlyStoppingConfig cfg;
    int mode_max;
    double min_delta;              /* signed as Keras: +|d| for max, -|d| for min */
    EarlyStoppingState st;
    float *best_weights;           /* (n_weights) when cfg.restore_best, else NULL */
    size_t n_weights;
} EarlyStopping;

int early_stopping_init(EarlyStopping *es, const EarlyStoppingConfig *cfg, size_t n_weights, Err *e);
/* weights: (n_weights) all weights incl. BN moving statistics. Returns 1 when training
 * must stop; then *restored = 1 if the best weights were copied back into weights. */
int early_stopping_epoch_end(EarlyStopping *es, int epoch, const EpochLogs *logs, float *weights, int *restored);
void early_stopping_free(EarlyStopping *es);

/* ---- ModelCheckpoint(save_best_only): save when current < best (strict, no
 * min_delta; > in max mode). NaN never saves. */
typedef struct ModelCheckpoint {
    char monitor[32];
    int mode_max;
    double best;
} ModelCheckpoint;

int model_checkpoint_init(ModelCheckpoint *mc, const char *monitor, const char *mode, Err *e);
/* Returns 1 when the caller must write the best checkpoint now. */
int model_checkpoint_epoch_end(ModelCheckpoint *mc, const EpochLogs *logs);

/* ---- TerminateOnNaN: Keras checks the running epoch loss after every batch. */
int terminate_on_nan(float running_loss);

/* ---- CSVLogger: train_log.csv, header
 * "epoch,accuracy,loss,lr,val_accuracy,val_loss,seconds", lines end "\r\n", epoch 0-based,
 * floats as the shortest string that reads back as the same float32 (Python/numpy layout:
 * "0.001", "4.0000003e-05", "1.0", "nan"); "NA" for val_* without validation data.
 * Flushed after every row. */
typedef struct CsvLogger {
    FILE *f;
    char path[1024];
    int header_written;
} CsvLogger;

/* finished_epochs = 0: start a new file (truncate). > 0 (resume): keep the header and
 * the first finished_epochs rows, drop the rest, append from there. */
int csv_logger_open(CsvLogger *c, const char *path, int finished_epochs, Err *e);
int csv_logger_write(CsvLogger *c, int epoch, const EpochLogs *logs, Err *e);
void csv_logger_close(CsvLogger *c);
/* Shortest round-trip text of a float32 value in Python's repr layout. Returns length. */
int csv_format_float(char *buf, size_t n, float v);

/* ---- All callbacks of a trial. */
typedef struct Callbacks {
    CallbacksConfig cfg;
    EarlyStopping es;              /* used when cfg.early_stopping.enabled */
    ModelCheckpoint ckpt;          /* used when cfg.checkpoint_enabled */
    CsvLogger csv;                 /* used when cfg.csv_log */
    int diverged;                  /* TerminateOnNaN fired */
} Callbacks;

typedef struct EpochActions {
    int stop;                      /* leave the epoch loop after this epoch */
    int restored;                  /* EarlyStopping copied the best weights back */
    int save_best;                 /* write best checkpoint now (after any restore) */
    int diverged;                  /* stop because the loss became NaN/inf: status diverged */
} EpochActions;

/* n_weights: length of the weights vector passed at epoch end. csv_path: train_log.csv
 * (ignored when cfg->csv_log is 0). finished_epochs: 0, or epochs already done on resume. */
int callbacks_init(Callbacks *cb, const CallbacksConfig *cfg, size_t n_weights,
                   const char *csv_path, int finished_epochs, Err *e);
/* After each training batch with the running epoch loss; 1 = stop the epoch now. */
int callbacks_batch_end(Callbacks *cb, float running_loss);
/* Sets logs->lr (via the schedule, which may lower the lr for the next epoch), runs the
 * callbacks in Keras order, fills *act. weights: (n_weights), may be overwritten. */
int callbacks_epoch_end(Callbacks *cb, LrSchedule *sched, int epoch, EpochLogs *logs,
                        float *weights, EpochActions *act, Err *e);
void callbacks_free(Callbacks *cb);

#endif
