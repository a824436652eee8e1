/* The classification head trained on the GPU (backend "cuda"): the same network, loss,
 * L2 penalty and optimizers as head.c + loss.c + optimizer.c, every step on the device
 * (cuBLAS GEMMs in plain float32 whatever the backend's precision, small kernels for BN,
 * ReLU, dropout, softmax cross-entropy, L2 and the optimizer update).
 *
 * The host Head and Optimizer stay the source of truth between epochs: a GpuHead mirrors
 * their arenas (params, m, v: the same layout) and the caller moves them across:
 *   gpu_head_create(&g, be, &head, &optim, train_rows, eval_rows, &loss, e);
 *   gpu_head_upload_train(g, train_x, rows, e);              // (rows, in), once or per epoch
 *   gpu_head_upload_eval(g, val_x, val_y, n, e);             // (n, in), (n)
 *   per epoch:
 *     gpu_head_upload_params(g, &head, &optim, e);           // host -> device
 *     gpu_head_train_epoch(g, rows_of_epoch, labels, n, lr, epoch, &stats, e);
 *     gpu_head_evaluate(g, n_val, &val_loss, &val_acc, e);
 *     gpu_head_download_params(g, &head, &optim, e);         // device -> host
 *
 * Step k of an epoch takes the positions [k*B, k*B + b) of the epoch's order (B =
 * spec.max_batch, the last batch may be short), exactly as the CPU loop does. Dropout
 * masks are made on the host by dropout_mask() (the same Philox stream, keyed seed, epoch,
 * step) and uploaded, so both devices drop the same units. Losses and counts are summed
 * on the device in the CPU loop's order and read once per epoch. TerminateOnNaN is
 * honoured on the device: after the step whose running loss is NaN or inf, no state
 * changes any more (the CPU loop breaks there).
 *
 * Where it lives: here in model/, beside head.c, because its interface is the model's
 * (Head, Optimizer) and its job is the head's training step. It runs on the CUDA backend's
 * context (stream, cuBLAS handle, device: backend/cuda/cuda_internal.h) and its optimizer
 * launches (cuda_optimizer_launch), so head_cuda.cu includes the backend, a layer below;
 * the backend includes nothing of it. head_cuda_stub.c stands in without CUDA. */
#ifndef TL_HEAD_CUDA_H
#define TL_HEAD_CUDA_H

#include <stdint.h>

#include "backend/backend.h"
#include "core/error.h"
#include "model/head.h"
#include "model/optimizer.h"

typedef struct GpuHead GpuHead;

/* The loss terms of a training step (trial config). */
typedef struct GpuHeadLoss {
    double label_smoothing;     /* train.label_smoothing */
    float l2;                   /* model.head.l2 (lambda) */
    int terminate_on_nan;       /* callbacks.terminate_on_nan: stop the epoch as the CPU loop does */
} GpuHeadLoss;

/* One epoch's logs, as the CPU loop's MeanMetric results. */
typedef struct GpuHeadStats {
    float loss;                 /* mean over samples of CE + L2 (float, as mean_result) */
    float accuracy;
    int steps;                  /* steps applied (< the epoch's steps when stopped on NaN) */
    int stopped;                /* 1: TerminateOnNaN stopped the epoch */
} GpuHeadStats;

/* be must have BACKEND_CAP_GPU (the cuda backend); head and optim give the layout, spec
 * and trainable ranges (their values are uploaded by gpu_head_upload_params). train_rows,
 * eval_rows: capacity of the two feature tables (rows of head->spec.in_dim floats). */
int gpu_head_create(GpuHead **out, Backend *be, const Head *head, const Optimizer *optim, int train_rows,
                    int eval_rows, const GpuHeadLoss *loss, Err *e);
void gpu_head_free(GpuHead *g);

/* x: (rows, in) host; rows <= train_rows. */
int gpu_head_upload_train(GpuHead *g, const float *x, int rows, Err *e);
/* x: (n, in), y: (n) host; n <= eval_rows. */
int gpu_head_upload_eval(GpuHead *g, const float *x, const int *y, int n, Err *e);

/* Parameters, optimizer moments and step count, host -> device and back. */
int gpu_head_upload_params(GpuHead *g, const Head *head, const Optimizer *optim, Err *e);
int gpu_head_download_params(GpuHead *g, Head *head, Optimizer *optim, Err *e);

/* One epoch over n positions: position p uses feature row rows[p] of the training table
 * and label labels[p]. lr: this epoch's learning rate; epoch keys the dropout masks. */
int gpu_head_train_epoch(GpuHead *g, const int *rows, const int *labels, int n, float lr, uint32_t epoch,
                         GpuHeadStats *stats, Err *e);

/* Inference over the first n rows of the eval table in batches of max_batch: mean CE + L2
 * (L2 of the current weights, as Keras's val_loss) and accuracy. */
int gpu_head_evaluate(GpuHead *g, int n, float *loss, float *accuracy, Err *e);

#endif
