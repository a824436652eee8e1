/* Learning-rate schedules, per epoch. The lr is stored as float32 like the optimizer's lr
 * variable in Keras.
 *   constant     lr
 *   step         lr * gamma^floor(e / step_size)
 *   exponential  lr * decay_rate^(e / decay_epochs)
 *   cosine       e < W: lr * (e + 1) / W (linear warm-up, reaches lr at epoch W - 1);
 *                then min_lr + (lr - min_lr) * (1 + cos(pi * (e - W) / (epochs - W))) / 2
 *   plateau      ReduceLROnPlateau (Keras's arithmetic): lr changes only in schedule_epoch_end.
 * Use:
 *   float lr = schedule_epoch_begin(&s, epoch);          // lr for every step of the epoch
 *   ... train, evaluate ...
 *   logs.lr = schedule_epoch_end(&s, have_val, val_loss);  // lr used during the epoch
 * The whole LrSchedule is a plain struct of numbers: save and restore it for resume. */
#ifndef TL_SCHEDULE_H
#define TL_SCHEDULE_H

#include "core/error.h"
#include "train/config.h"

typedef enum ScheduleKind { SCHED_CONSTANT, SCHED_STEP, SCHED_EXPONENTIAL, SCHED_COSINE, SCHED_PLATEAU } ScheduleKind;

/* ReduceLROnPlateau counters (Keras names). */
typedef struct PlateauState {
    double best;              /* +inf (min mode) or -inf (max mode) at train begin */
    int wait;
    int cooldown_counter;
    int reductions;           /* how many times lr was lowered (informational) */
} PlateauState;

typedef struct LrSchedule {
    ScheduleConfig cfg;       /* copy of the trial's schedule block */
    ScheduleKind kind;
    double base_lr;           /* train.lr */
    int epochs;               /* train.epochs (cosine needs the length) */
    int mode_max;             /* plateau: 1 when the monitor contains "acc" */
    float lr;                 /* current float32 learning rate */
    PlateauState plateau;
} LrSchedule;

/* Checks the config (name, ranges) and sets lr for epoch 0. */
int schedule_init(LrSchedule *s, const ScheduleConfig *cfg, double base_lr, int epochs, Err *e);
/* Closed-form lr of epoch e (0-based), rounded to float32; plateau: the current lr. */
float schedule_lr_for_epoch(const LrSchedule *s, int epoch);
/* Sets and returns the lr for this epoch's steps. */
float schedule_epoch_begin(LrSchedule *s, int epoch);
/* Epoch end: returns the lr to log (the one used during this epoch, before any change).
 * For plateau, current is the monitored value (have_current = 0 when it is missing, as
 * Keras warns and skips) and lr may be lowered for the next epoch. */
float schedule_epoch_end(LrSchedule *s, int have_current, double current);

#endif
