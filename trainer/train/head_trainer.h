/* The classification head trained on cached backbone features (Keras Model.fit on the
 * features): the head and its optimizer, one training step, an epoch on the CPU or on the
 * GPU (backend cuda), and inference over a feature table. Fine-tuning trains the same head
 * with head_trainer_step, on features its backbone suffix computes. */
#ifndef TL_HEAD_TRAINER_H
#define TL_HEAD_TRAINER_H

#include <stdio.h>

#include "backend/backend.h"
#include "core/error.h"
#include "model/head.h"
#include "model/head_cuda.h"
#include "train/callbacks.h"
#include "train/config.h"
#include "train/epoch.h"
#include "train/metrics.h"
#include "model/optimizer.h"
#include "train/trial_data.h"

typedef struct HeadTrainer {
    const TrialConfig *cfg;         /* borrowed */
    Head head;
    Optimizer optim;                /* over the head's trainable views */
    float *batch_x;                 /* (batch, 2048) gathered rows */
    int *batch_y;                   /* (batch) their labels */
    /* GPU head epochs (backend cuda): head and optim above stay the source of truth,
     * uploaded before and downloaded after each such epoch. */
    GpuHead *gpu;                   /* made at the first GPU epoch */
    int *gpu_rows, *gpu_labels;     /* (n_train) host: the epoch's feature row and label per position */
} HeadTrainer;

/* The config's head for n_classes and its optimizer; batches of up to train.batch_size. */
int head_trainer_create(HeadTrainer *ht, const TrialConfig *c, int n_classes, Err *e);
void head_trainer_free(HeadTrainer *ht);

/* One training step on features x (b, 2048) with labels y: head forward (training mode,
 * dropout keyed by epoch and step) -> CE + L2 -> backward (d(loss)/d(x) into d_x unless
 * NULL) -> optimizer step at ep->lr. Returns the batch's loss (CE + L2); *correct = its
 * top-1 hits. */
float head_trainer_step(HeadTrainer *ht, const float *x, const int *y, int b, const Epoch *ep, int step, float *d_x,
                        int *correct);
/* An epoch of steps on the cached training features (the view epoch_view picks per image)
 * in ep->order; fills logs->loss and logs->accuracy. Stops early when cb asks (TerminateOnNaN). */
void head_trainer_epoch(HeadTrainer *ht, const TrialData *d, const Epoch *ep, Callbacks *cb, EpochLogs *logs);
/* The same epoch and the validation on the GPU head; fills logs' training and validation
 * means. Logs the device tables at the first such epoch. */
int head_trainer_gpu_epoch(HeadTrainer *ht, Backend *be, const TrialData *d, const Epoch *ep, Callbacks *cb, FILE *log,
                           EpochLogs *logs, Err *e);

/* Mean loss (CE + L2, as Keras's val_loss), accuracy and top-5 of a table. */
typedef struct HeadScores { double loss, accuracy, top5; } HeadScores;
/* Inference over x (n, 2048) with labels y in batches of train.batch_size (the float32
 * Keras Mean metrics); top5 NaN when n is 0; adds to cm unless NULL. */
void head_evaluate(Head *h, const TrialConfig *c, const float *x, const int *y, int n, HeadScores *s, Confusion *cm);

#endif
