/* The trial loop (Keras Model.fit on cached features, spec section 8.1):
 *   for epoch: lr = schedule; shuffle; for batch: gather features (a view per image),
 *              head forward (training mode) -> CE + L2 -> backward -> optimizer step;
 *              evaluate validation (inference mode, + L2 as Keras); callbacks; checkpoints. */
#include "train/trial_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fsutil.h"
#include "core/hash.h"
#include "train/metrics.h"
#include "train/model_spec.h"
#include "model/head_cuda.h"
#include "model/loss.h"

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int config_digest(const TrialConfig *c, char out[33], Err *e) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return err_fail(e, "out of memory");
    int rc = config_emit(c, f, e);
    fclose(f);
    if (rc == 0) {
        Hash128 h;
        hash_init(&h);
        hash_bytes(&h, text, len);
        hash_hex(&h, out);
    }
    free(text);
    return rc;
}

static int history_alloc(History *h, int epochs, Err *e) {
    memset(h, 0, sizeof *h);
    float *f = tl_calloc(e, 5 * (size_t)epochs, sizeof(float), "history");
    h->seconds = tl_calloc(e, (size_t)epochs, sizeof(double), "history");
    if (!f || !h->seconds) { free(f); return -1; }
    h->accuracy = f;
    h->loss = f + epochs;
    h->val_accuracy = f + 2 * epochs;
    h->val_loss = f + 3 * epochs;
    h->lr = f + 4 * epochs;
    return 0;
}

static int init_callbacks(Trial *t, Err *e) {
    char csv[1100];
    fs_join(csv, sizeof csv, t->opt->out_dir, "train_log.csv");
    return callbacks_init(&t->cb, &t->cfg->callbacks, t->n_weights, csv, t->hist.n, e);
}

static int setup_model(Trial *t, Err *e) {
    const TrialConfig *c = t->cfg;
    HeadSpec hs = model_head_spec(c, t->data.ds.n_classes, c->train.batch_size);
    OptimizerSpec os = model_optimizer_spec(c);
    if (head_create(&t->head, &hs, e) || optimizer_create(&t->optim, &os, t->head.n_params, e)) return -1;
    for (int i = 0; i < t->head.n_views; i++)
        if (t->head.views[i].trainable && optimizer_add_range(&t->optim, t->head.views[i].offset, t->head.views[i].size, e)) return -1;
    if (finetune_create(t, e)) return -1;
    t->n_weights = t->head.n_params + (t->ft.enabled ? t->ft.s.n_params : 0);
    if (schedule_init(&t->sched, &c->schedule, c->train.lr, c->train.epochs, e) || history_alloc(&t->hist, c->train.epochs, e))
        return -1;
    t->best_params = tl_malloc(e, t->n_weights * sizeof(float), "best weights");
    t->batch_x = tl_malloc(e, (size_t)c->train.batch_size * FEATURE_DIM * sizeof(float), "batch");
    t->batch_y = tl_malloc(e, sizeof(int) * (size_t)c->train.batch_size, "batch labels");
    if (!t->best_params || !t->batch_x || !t->batch_y) return -1;
    t->best_epoch = -1;
    t->best_monitor = NAN;
    /* Resume restores counters over the fresh state. */
    return trial_state_load(t, init_callbacks, e) < 0 || trial_best_load(t, e) < 0 ? -1 : 0;
}

/* Inference over a table: mean loss (CE + L2, as Keras's val_loss), accuracy, top-5. */
static void evaluate(Trial *t, const float *x, const int *y, int n, double *loss, double *acc, double *top5, Confusion *cm) {
    int B = t->cfg->train.batch_size, C = t->data.ds.n_classes;
    MeanMetric lm = {0, 0}, am = {0, 0};
    long in5 = 0;
    float l2 = loss_l2(&t->head, (float)t->cfg->model.head.l2, 0);
    for (int s = 0; s < n; s += B) {
        int b = n - s < B ? n - s : B;
        head_forward(&t->head, x + (size_t)s * FEATURE_DIM, b, 0, 0, 0);
        float ce = loss_xent(t->head.logits, y + s, b, C, t->cfg->train.label_smoothing, NULL);
        mean_update(&lm, (ce + l2) * b, (float)b);
        mean_update(&am, (float)count_correct(t->head.logits, y + s, b, C), (float)b);
        in5 += count_top_k(t->head.logits, y + s, b, C, 5 < C ? 5 : C);
        if (cm) confusion_add(cm, t->head.logits, y + s, b);
    }
    *loss = mean_result(&lm);
    *acc = mean_result(&am);
    if (top5) *top5 = n ? (double)in5 / n : NAN;
}

static void gather_batch(Trial *t, const Epoch *ep, int start, int b) {
    int n = t->data.ds.train.n;
    for (int k = 0; k < b; k++) {
        int i = ep->order[start + k];
        int view = epoch_view(t->cfg->train.seed, t->data.te.n_train_views, ep->index, i);
        const float *row = t->data.train_x + ((size_t)view * n + i) * FEATURE_DIM;
        memcpy(t->batch_x + (size_t)k * FEATURE_DIM, row, FEATURE_DIM * sizeof(float));
        t->batch_y[k] = t->data.train_y[i];
    }
}

/* One epoch of training steps on cached features; fills logs->loss and logs->accuracy. */
static void train_epoch(Trial *t, const Epoch *ep, EpochLogs *logs) {
    const TrialConfig *c = t->cfg;
    int n = t->data.ds.train.n, B = c->train.batch_size, C = t->data.ds.n_classes;
    MeanMetric lm = {0, 0}, am = {0, 0};
    for (int s = 0, step = 0; s < n; s += B, step++) {
        int b = n - s < B ? n - s : B;
        gather_batch(t, ep, s, b);
        head_forward(&t->head, t->batch_x, b, 1, (uint32_t)ep->index, (uint32_t)step);
        float ce = loss_xent(t->head.logits, t->batch_y, b, C, c->train.label_smoothing, t->head.dlogits);
        head_backward(&t->head, t->head.dlogits, NULL);
        float l2 = loss_l2(&t->head, (float)c->model.head.l2, 1);
        mean_update(&lm, (ce + l2) * b, (float)b);
        mean_update(&am, (float)count_correct(t->head.logits, t->batch_y, b, C), (float)b);
        optimizer_step(&t->optim, t->head.params, t->head.grads, ep->lr);
        epoch_progress(ep, step, mean_result(&lm), mean_result(&am));
        if (callbacks_batch_end(&t->cb, mean_result(&lm))) break;
    }
    logs->loss = mean_result(&lm);
    logs->accuracy = mean_result(&am);
}

/* ---- The head on the GPU (backend cuda): head epochs on cached features run their
 * training steps and validation on a GpuHead (model/head_cuda.h): the CPU loop's steps,
 * masks and sums, up to GEMM and exp/log rounding. t->head and t->optim are uploaded
 * before and downloaded after each such epoch, so callbacks, checkpoints, EarlyStopping
 * restores and fine-tuning epochs keep working on the host copies. */

static int gpu_head_wanted(const Trial *t) { return strcmp(t->be->name, "cuda") == 0; }

/* At the first GPU epoch: device tables (training views x n_train rows, validation). */
static int gpu_head_open(Trial *t, Err *e) {
    int n = t->data.ds.train.n, views = t->data.te.n_train_views ? t->data.te.n_train_views : 1;
    GpuHeadLoss loss = {.label_smoothing = t->cfg->train.label_smoothing, .l2 = (float)t->cfg->model.head.l2,
                        .terminate_on_nan = t->cb.cfg.terminate_on_nan};
    t->gpu_rows = tl_malloc(e, sizeof(int) * (size_t)(n ? n : 1), "GPU epoch rows");
    t->gpu_labels = tl_malloc(e, sizeof(int) * (size_t)(n ? n : 1), "GPU epoch labels");
    if (!t->gpu_rows || !t->gpu_labels ||
        gpu_head_create(&t->gpu, t->be, &t->head, &t->optim, views * n, t->data.ds.validation.n, &loss, e) ||
        gpu_head_upload_eval(t->gpu, t->data.val_x, t->data.val_y, t->data.ds.validation.n, e) ||
        (t->data.te.n_train_views && gpu_head_upload_train(t->gpu, t->data.train_x, views * n, e)))
        return -1;
    if (t->opt->log)
        fprintf(t->opt->log, "head: trains on the GPU (float32 cuBLAS whatever model.precision; %d x %d training rows "
                             "and %d validation rows on the device)\n", views, n, t->data.ds.validation.n);
    return 0;
}

/* One head epoch on the GPU: training (logs->loss, accuracy) then validation (val_*). */
static int gpu_epoch(Trial *t, const Epoch *ep, EpochLogs *logs, Err *e) {
    int n = t->data.ds.train.n;
    if (!t->gpu && gpu_head_open(t, e)) return -1;
    if (t->data.te.n_train_views == 0 && gpu_head_upload_train(t->gpu, t->data.train_x, n, e)) return -1;   /* recomputed */
    for (int k = 0; k < n; k++) {
        int i = ep->order[k];
        t->gpu_rows[k] = epoch_view(t->cfg->train.seed, t->data.te.n_train_views, ep->index, i) * n + i;
        t->gpu_labels[k] = t->data.train_y[i];
    }
    GpuHeadStats st;
    float vl, va;
    if (gpu_head_upload_params(t->gpu, &t->head, &t->optim, e) ||
        gpu_head_train_epoch(t->gpu, t->gpu_rows, t->gpu_labels, n, ep->lr, (uint32_t)ep->index, &st, e) ||
        gpu_head_evaluate(t->gpu, t->data.ds.validation.n, &vl, &va, e) ||
        gpu_head_download_params(t->gpu, &t->head, &t->optim, e))
        return -1;
    logs->loss = st.loss;
    logs->accuracy = st.accuracy;
    logs->val_loss = vl;
    logs->val_accuracy = va;
    /* TerminateOnNaN: the device stopped at the step where the CPU loop breaks; the running
     * loss it ended with marks the trial diverged the same way. */
    callbacks_batch_end(&t->cb, st.loss);
    return 0;
}

/* The best-epoch rule of the report: the checkpoint monitor's strict improvement. */
static int monitor_improved(const Trial *t, const EpochLogs *logs, double *value) {
    if (!logs_get(logs, t->cfg->callbacks.checkpoint_monitor, value) || isnan(*value)) return 0;
    int mode_max = 0;
    monitor_mode_max(t->cfg->callbacks.checkpoint_mode, t->cfg->callbacks.checkpoint_monitor, &mode_max, NULL);
    return isnan(t->best_monitor) || (mode_max ? *value > t->best_monitor : *value < t->best_monitor);
}

static void log_epoch(const Trial *t, int epoch, const EpochLogs *l) {
    FILE *f = t->opt->log;
    if (!f) return;
    fprintf(f, "epoch %3d/%d  loss %.4f  accuracy %.4f  val_loss %.4f  val_accuracy %.4f  lr %.3g  %.2fs%s\n", epoch + 1,
            t->cfg->train.epochs, l->loss, l->accuracy, l->val_loss, l->val_accuracy, l->lr, l->seconds,
            !t->ft.enabled ? "" : finetune_epoch(t, epoch) ? "  phase finetune" : "  phase head");
    fflush(f);
}

static int after_epoch(Trial *t, int epoch, EpochLogs *logs, Err *e) {
    EpochActions act;
    /* Fine-tuning: the callbacks see head and suffix as one weights vector. */
    float *w = t->ft.enabled ? t->ft.weights : t->head.params;
    if (t->ft.enabled) trial_weights_get(t, w);
    if (callbacks_epoch_end(&t->cb, &t->sched, epoch, logs, w, &act, e)) return -1;
    if (t->ft.enabled && act.restored) trial_weights_set(t, w);
    History *h = &t->hist;
    h->accuracy[h->n] = logs->accuracy;
    h->loss[h->n] = logs->loss;
    h->val_accuracy[h->n] = logs->val_accuracy;
    h->val_loss[h->n] = logs->val_loss;
    h->lr[h->n] = logs->lr;
    h->seconds[h->n] = logs->seconds;
    h->n++;
    double value;
    int improved = monitor_improved(t, logs, &value);
    if (improved) { t->best_epoch = epoch; t->best_monitor = value; }
    /* ModelCheckpoint(save_best_only) writes after any EarlyStopping restore; with the
     * checkpoint off, the report's best weights are still kept in memory. */
    if (t->cfg->callbacks.checkpoint_enabled ? act.save_best : improved) {
        trial_weights_get(t, t->best_params);
        t->have_best = 1;
        if (t->cfg->callbacks.checkpoint_enabled && trial_best_save(t, epoch, value, e)) return -1;
    }
    t->next_epoch = epoch + 1;
    t->finished = act.stop;
    t->diverged = act.diverged;
    log_epoch(t, epoch, logs);
    return trial_state_save(t, e) || finetune_write_phases(t, e) ? -1 : 0;
}

static int run_epochs(Trial *t, double t_start, Err *e) {
    const TrialConfig *c = t->cfg;
    for (int epoch = t->next_epoch; epoch < c->train.epochs && !t->finished; epoch++) {
        double t0 = now_seconds();
        Epoch ep = {.index = epoch, .epochs = c->train.epochs, .lr = schedule_epoch_begin(&t->sched, epoch),
                    .steps = (t->data.ds.train.n + c->train.batch_size - 1) / c->train.batch_size, .order = t->data.order,
                    .progress = t->opt->progress};
        epoch_order(t->data.order, t->data.ds.train.n, c->train.seed, epoch);
        EpochLogs logs = {0};
        int on_gpu = 0;                 /* the GPU head also ran the validation */
        if (finetune_epoch(t, epoch)) {
            int rc = finetune_train_epoch(t, &ep, &logs, e);
            if (rc) return rc;
            if (finetune_features(t, &t->data.ds.validation, t->data.val_x, e)) return -1;
        } else {
            if (t->data.te.n_train_views == 0 && trial_data_recompute_train(&t->data, epoch, e)) return -1;
            on_gpu = gpu_head_wanted(t);
            if (on_gpu && gpu_epoch(t, &ep, &logs, e)) return -1;
            if (!on_gpu) train_epoch(t, &ep, &logs);
        }
        if (!on_gpu) {
            double vl, va;
            evaluate(t, t->data.val_x, t->data.val_y, t->data.ds.validation.n, &vl, &va, NULL, NULL);
            logs.val_loss = (float)vl;
            logs.val_accuracy = (float)va;
        }
        logs.has_val = 1;
        logs.seconds = now_seconds() - t0;
        t->elapsed += now_seconds() - t_start;
        t_start = now_seconds();
        if (after_epoch(t, epoch, &logs, e)) return -1;
        if (t->opt->stop && *t->opt->stop) return 1;
    }
    t->finished = 1;
    return 0;
}

/* Test metrics with the best weights, confusion.csv and errors.csv. */
static int finish(Trial *t, TrialResult *res, Err *e) {
    if (t->have_best) trial_weights_set(t, t->best_params);
    const History *h = &t->hist;
    int b = t->best_epoch, last = h->n - 1;
    res->status = t->diverged || t->cb.diverged ? TRIAL_DIVERGED : TRIAL_DONE;
    res->epochs = h->n;
    res->best_epoch = b;
    res->val_loss = b >= 0 ? h->val_loss[b] : NAN;
    res->val_accuracy = b >= 0 ? h->val_accuracy[b] : NAN;
    res->train_loss = b >= 0 ? h->loss[b] : NAN;
    res->train_accuracy = b >= 0 ? h->accuracy[b] : NAN;
    res->gap = b >= 0 ? (double)h->accuracy[b] - h->val_accuracy[b] : NAN;
    res->final_gap = last >= 0 ? (double)h->accuracy[last] - h->val_accuracy[last] : NAN;
    res->untrained_val_accuracy = t->untrained_val_accuracy;
    double sum = 0;
    for (int i = 0; i < h->n; i++) sum += h->seconds[i];
    res->seconds_per_epoch = h->n ? sum / h->n : NAN;
    res->seconds = t->elapsed;
    /* Confusion on test when there is one, else on validation. */
    float *x = t->data.ds.test.n ? t->data.test_x : t->data.val_x;
    const int *y = t->data.ds.test.n ? t->data.test_y : t->data.val_y;
    int n = t->data.ds.test.n ? t->data.ds.test.n : t->data.ds.validation.n;
    /* After fine-tuning the cached features are stale: recompute them with the best weights. */
    if (finetune_epoch(t, h->n - 1) && finetune_features(t, t->data.ds.test.n ? &t->data.ds.test : &t->data.ds.validation, x, e))
        return -1;
    Confusion cm;
    if (confusion_create(&cm, t->data.ds.n_classes, e)) return -1;
    double loss, acc, top5;
    evaluate(t, x, y, n, &loss, &acc, &top5, &cm);
    res->test_loss = t->data.ds.test.n ? loss : NAN;
    res->test_accuracy = t->data.ds.test.n ? acc : NAN;
    res->test_top5 = t->data.ds.test.n ? top5 : NAN;
    char p1[1100], p2[1100];
    int rc = write_confusion_csv(fs_join(p1, sizeof p1, t->opt->out_dir, "confusion.csv"), &cm,
                                 (const char *const *)t->data.ds.class_names, e) ||
             write_errors_csv(fs_join(p2, sizeof p2, t->opt->out_dir, "errors.csv"), &cm,
                              (const char *const *)t->data.ds.class_names, 20, e) ? -1 : 0;
    confusion_free(&cm);
    return rc;
}

static int prepare(Trial *t, Err *e) {
    const TrialConfig *c = t->cfg;
    if (trial_data_open(&t->data, c, t->opt, e) || config_digest(c, t->config_digest, e)) return -1;
    if (backend_open(&t->be, c->train.device, t->opt->gpu, c->model.precision, t->opt->threads, e)) return -1;
    return trial_data_load_features(&t->data, c, t->be, t->opt, e) || setup_model(t, e) ? -1 : 0;
}

static void trial_free(Trial *t) {
    callbacks_free(&t->cb);
    gpu_head_free(t->gpu);
    free(t->gpu_rows);
    free(t->gpu_labels);
    finetune_free(&t->ft);
    optimizer_free(&t->optim);
    head_free(&t->head);
    free(t->hist.accuracy);
    free(t->hist.seconds);
    free(t->best_params); free(t->batch_x); free(t->batch_y);
    trial_data_free(&t->data);
    backend_destroy(t->be);
}

int trial_run(const TrialConfig *cfg, const TrialOptions *opt, TrialResult *res, Err *e) {
    double t_start = now_seconds();
    Trial t;
    memset(&t, 0, sizeof t);
    t.cfg = cfg;
    t.opt = opt;
    memset(res, 0, sizeof *res);
    trial_name_from_dir(opt->out_dir, res->trial, sizeof res->trial);
    int rc = prepare(&t, e);
    if (rc == 0 && t.next_epoch == 0 && t.hist.n == 0) {
        double loss, acc;
        evaluate(&t, t.data.val_x, t.data.val_y, t.data.ds.validation.n, &loss, &acc, NULL, NULL);
        t.untrained_val_accuracy = acc;
    }
    if (rc == 0) rc = run_epochs(&t, t_start, e);
    /* A stop request can also end feature extraction early: that is an interrupt too. */
    if (rc == 1 || (rc < 0 && opt->stop && *opt->stop)) { res->status = TRIAL_INTERRUPTED; rc = 1; }
    else if (rc == 0) rc = finish(&t, res, e);
    trial_free(&t);
    return rc < 0 ? -1 : 0;
}
