#include "train/head_trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/loss.h"
#include "train/model_spec.h"

int head_trainer_create(HeadTrainer *ht, const TrialConfig *c, int n_classes, Err *e) {
    ht->cfg = c;
    HeadSpec hs = model_head_spec(c, n_classes, c->train.batch_size);
    OptimizerSpec os = model_optimizer_spec(c);
    Head *h = &ht->head;
    if (head_create(h, &hs, e) || optimizer_create(&ht->optim, &os, h->n_params, e)) return -1;
    for (int i = 0; i < h->n_views; i++)
        if (h->views[i].trainable && optimizer_add_range(&ht->optim, h->views[i].offset, h->views[i].size, e)) return -1;
    ht->batch_x = tl_malloc(e, (size_t)c->train.batch_size * FEATURE_DIM * sizeof(float), "batch");
    ht->batch_y = tl_malloc(e, sizeof(int) * (size_t)c->train.batch_size, "batch labels");
    return ht->batch_x && ht->batch_y ? 0 : -1;
}

void head_trainer_free(HeadTrainer *ht) {
    gpu_head_free(ht->gpu);
    free(ht->gpu_rows);
    free(ht->gpu_labels);
    optimizer_free(&ht->optim);
    head_free(&ht->head);
    free(ht->batch_x);
    free(ht->batch_y);
}

float head_trainer_step(HeadTrainer *ht, const float *x, const int *y, int b, const Epoch *ep, int step, float *d_x,
                        int *correct) {
    Head *h = &ht->head;
    int C = h->spec.classes;
    head_forward(h, x, b, 1, (uint32_t)ep->index, (uint32_t)step);
    float ce = loss_xent(h->logits, y, b, C, ht->cfg->train.label_smoothing, h->dlogits);
    head_backward(h, h->dlogits, d_x);
    float l2 = loss_l2(h, (float)ht->cfg->model.head.l2, 1);
    *correct = count_correct(h->logits, y, b, C);
    optimizer_step(&ht->optim, h->params, h->grads, ep->lr);
    return ce + l2;
}

/* The batch at positions start..start+b of the epoch's order: feature rows and labels. */
static void gather_batch(HeadTrainer *ht, const TrialData *d, const Epoch *ep, int start, int b) {
    int n = d->ds.train.n;
    for (int k = 0; k < b; k++) {
        int i = ep->order[start + k];
        int view = epoch_view(ht->cfg->train.seed, d->te.n_train_views, ep->index, i);
        const float *row = d->train_x + ((size_t)view * n + i) * FEATURE_DIM;
        memcpy(ht->batch_x + (size_t)k * FEATURE_DIM, row, FEATURE_DIM * sizeof(float));
        ht->batch_y[k] = d->train_y[i];
    }
}

void head_trainer_epoch(HeadTrainer *ht, const TrialData *d, const Epoch *ep, Callbacks *cb, EpochLogs *logs) {
    int n = d->ds.train.n, B = ht->cfg->train.batch_size;
    MeanMetric lm = {0, 0}, am = {0, 0};
    for (int s = 0, step = 0; s < n; s += B, step++) {
        int b = n - s < B ? n - s : B, correct;
        gather_batch(ht, d, ep, s, b);
        float loss = head_trainer_step(ht, ht->batch_x, ht->batch_y, b, ep, step, NULL, &correct);
        mean_update(&lm, loss * b, (float)b);
        mean_update(&am, (float)correct, (float)b);
        epoch_progress(ep, step, mean_result(&lm), mean_result(&am));
        if (callbacks_batch_end(cb, mean_result(&lm))) break;
    }
    logs->loss = mean_result(&lm);
    logs->accuracy = mean_result(&am);
}

/* ---- The head on the GPU: head epochs on cached features run their training steps and
 * validation on a GpuHead (model/head_cuda.h): the CPU loop's steps, masks and sums, up to
 * GEMM and exp/log rounding. head and optim are uploaded before and downloaded after each
 * such epoch, so callbacks, checkpoints, EarlyStopping restores and fine-tuning epochs
 * keep working on the host copies. */

/* At the first GPU epoch: device tables (training views x n_train rows, validation). */
static int gpu_open(HeadTrainer *ht, Backend *be, const TrialData *d, int terminate_on_nan, FILE *log, Err *e) {
    const TrialConfig *c = ht->cfg;
    int n = d->ds.train.n, views = d->te.n_train_views ? d->te.n_train_views : 1;
    GpuHeadLoss loss = {.label_smoothing = c->train.label_smoothing, .l2 = (float)c->model.head.l2,
                        .terminate_on_nan = terminate_on_nan};
    ht->gpu_rows = tl_malloc(e, sizeof(int) * (size_t)(n ? n : 1), "GPU epoch rows");
    ht->gpu_labels = tl_malloc(e, sizeof(int) * (size_t)(n ? n : 1), "GPU epoch labels");
    if (!ht->gpu_rows || !ht->gpu_labels ||
        gpu_head_create(&ht->gpu, be, &ht->head, &ht->optim, views * n, d->ds.validation.n, &loss, e) ||
        gpu_head_upload_eval(ht->gpu, d->val_x, d->val_y, d->ds.validation.n, e) ||
        (d->te.n_train_views && gpu_head_upload_train(ht->gpu, d->train_x, views * n, e)))
        return -1;
    if (log)
        fprintf(log, "head: trains on the GPU (float32 cuBLAS whatever model.precision; %d x %d training rows "
                     "and %d validation rows on the device)\n", views, n, d->ds.validation.n);
    return 0;
}

int head_trainer_gpu_epoch(HeadTrainer *ht, Backend *be, const TrialData *d, const Epoch *ep, Callbacks *cb, FILE *log,
                           EpochLogs *logs, Err *e) {
    int n = d->ds.train.n;
    if (!ht->gpu && gpu_open(ht, be, d, cb->cfg.terminate_on_nan, log, e)) return -1;
    if (d->te.n_train_views == 0 && gpu_head_upload_train(ht->gpu, d->train_x, n, e)) return -1;   /* recomputed */
    for (int k = 0; k < n; k++) {
        int i = ep->order[k];
        ht->gpu_rows[k] = epoch_view(ht->cfg->train.seed, d->te.n_train_views, ep->index, i) * n + i;
        ht->gpu_labels[k] = d->train_y[i];
    }
    GpuHeadStats st;
    float vl, va;
    if (gpu_head_upload_params(ht->gpu, &ht->head, &ht->optim, e) ||
        gpu_head_train_epoch(ht->gpu, ht->gpu_rows, ht->gpu_labels, n, ep->lr, (uint32_t)ep->index, &st, e) ||
        gpu_head_evaluate(ht->gpu, d->ds.validation.n, &vl, &va, e) || gpu_head_download_params(ht->gpu, &ht->head, &ht->optim, e))
        return -1;
    logs->loss = st.loss;
    logs->accuracy = st.accuracy;
    logs->val_loss = vl;
    logs->val_accuracy = va;
    /* TerminateOnNaN: the device stopped at the step where the CPU loop breaks; the running
     * loss it ended with marks the trial diverged the same way. */
    callbacks_batch_end(cb, st.loss);
    return 0;
}

void head_evaluate(Head *h, const TrialConfig *c, const float *x, const int *y, int n, HeadScores *s, Confusion *cm) {
    int B = c->train.batch_size, C = h->spec.classes;
    MeanMetric lm = {0, 0}, am = {0, 0};
    long in5 = 0;
    float l2 = loss_l2(h, (float)c->model.head.l2, 0);
    for (int at = 0; at < n; at += B) {
        int b = n - at < B ? n - at : B;
        head_forward(h, x + (size_t)at * FEATURE_DIM, b, 0, 0, 0);
        float ce = loss_xent(h->logits, y + at, b, C, c->train.label_smoothing, NULL);
        mean_update(&lm, (ce + l2) * b, (float)b);
        mean_update(&am, (float)count_correct(h->logits, y + at, b, C), (float)b);
        in5 += count_top_k(h->logits, y + at, b, C, 5 < C ? 5 : C);
        if (cm) confusion_add(cm, h->logits, y + at, b);
    }
    s->loss = mean_result(&lm);
    s->accuracy = mean_result(&am);
    s->top5 = n ? (double)in5 / n : NAN;
}
