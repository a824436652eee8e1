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

#include "backend/cpu_onednn.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "core/rng.h"
#include "train/metrics.h"
#include "model/head_cuda.h"
#include "model/loss.h"

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int *labels_of(const DatasetSplit *s, Err *e) {
    int *y = tl_malloc(e, sizeof(int) * (size_t)(s->n ? s->n : 1), "labels");
    for (int i = 0; y && i < s->n; i++) y[i] = s->items[i].label;
    return y;
}

static float *feature_table(size_t rows, Err *e) { return tl_malloc(e, rows * FEATURE_DIM * sizeof(float), "feature table"); }

/* Loads (computing what is missing) every feature table the trial needs. Fine-tuning from
 * the first epoch needs no training features (validation: the untrained accuracy). */
static int load_features(Trial *t, Err *e) {
    TrialEntries *te = &t->te;
    int views = te->n_train_views ? te->n_train_views : 1;
    t->train_x = feature_table((size_t)views * t->ds.train.n, e);
    t->val_x = feature_table((size_t)t->ds.validation.n, e);
    t->test_x = feature_table((size_t)(t->ds.test.n ? t->ds.test.n : 1), e);
    t->train_y = labels_of(&t->ds.train, e);
    t->val_y = labels_of(&t->ds.validation, e);
    t->test_y = labels_of(&t->ds.test, e);
    if (!t->train_x || !t->val_x || !t->test_x || !t->train_y || !t->val_y || !t->test_y) return -1;
    if (feature_entry_get(&t->fx, t->cache_dir, &te->validation, t->val_x, e)) return -1;
    if (t->ds.test.n && feature_entry_get(&t->fx, t->cache_dir, &te->test, t->test_x, e)) return -1;
    if (strcmp(t->cfg->model.trainable, "head") && t->cfg->finetune.after_epochs == 0) return 0;
    for (int v = 0; v < te->n_train_views; v++)
        if (feature_entry_get(&t->fx, t->cache_dir, &te->train[v], t->train_x + (size_t)v * t->ds.train.n * FEATURE_DIM, e))
            return -1;
    return 0;
}

/* views: 0 -> this epoch's augmented training features, recomputed (Keras's own behaviour). */
static int recompute_epoch_features(Trial *t, int epoch, Err *e) {
    FeatureEntry en;
    feature_entry_init(&en, &t->fx, "train", t->ds.train.items, t->ds.train.n, t->te.train_augment, (uint32_t)(1000000 + epoch));
    return feature_entry_get(&t->fx, NULL, &en, t->train_x, e);
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
    HeadSpec hs = {.in_dim = FEATURE_DIM, .hidden = c->model.head.hidden, .classes = t->ds.n_classes,
                   .batchnorm = c->model.head.batchnorm, .dropout = c->model.head.dropout, .max_batch = c->train.batch_size,
                   .seed = (uint64_t)c->train.seed};
    OptimizerSpec os = {.beta_1 = c->train.beta_1, .beta_2 = c->train.beta_2, .epsilon = c->train.epsilon,
                        .momentum = c->train.momentum, .nesterov = c->train.nesterov};
    if (optimizer_kind_parse(c->train.optimizer, &os.kind, e) || head_create(&t->head, &hs, e) ||
        optimizer_create(&t->optim, &os, t->head.n_params, e))
        return -1;
    for (int i = 0; i < t->head.n_views; i++)
        if (t->head.views[i].trainable && optimizer_add_range(&t->optim, t->head.views[i].offset, t->head.views[i].size, e)) return -1;
    if (finetune_create(t, e)) return -1;
    t->n_weights = t->head.n_params + (t->ft.enabled ? t->ft.s.n_params : 0);
    if (schedule_init(&t->sched, &c->schedule, c->train.lr, c->train.epochs, e) || history_alloc(&t->hist, c->train.epochs, e))
        return -1;
    t->best_params = tl_malloc(e, t->n_weights * sizeof(float), "best weights");
    t->batch_x = tl_malloc(e, (size_t)c->train.batch_size * FEATURE_DIM * sizeof(float), "batch");
    t->batch_y = tl_malloc(e, sizeof(int) * (size_t)c->train.batch_size, "batch labels");
    t->order = tl_malloc(e, sizeof(int) * (size_t)t->ds.train.n, "epoch order");
    if (!t->best_params || !t->batch_x || !t->batch_y || !t->order) return -1;
    t->best_epoch = -1;
    t->best_monitor = NAN;
    /* Resume restores counters over the fresh state. */
    return trial_state_load(t, init_callbacks, e) < 0 || trial_best_load(t, e) < 0 ? -1 : 0;
}

/* Inference over a table: mean loss (CE + L2, as Keras's val_loss), accuracy, top-5. */
static void evaluate(Trial *t, const float *x, const int *y, int n, double *loss, double *acc, double *top5, Confusion *cm) {
    int B = t->cfg->train.batch_size, C = t->ds.n_classes;
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

/* Which cached view image i uses in this epoch. */
static int view_of(const Trial *t, int epoch, int i) {
    int views = t->te.n_train_views;
    if (views <= 1) return 0;
    Rng r;
    rng_init(&r, (uint64_t)t->cfg->train.seed, RNG_VIEW, (uint32_t)epoch, (uint32_t)i);
    return (int)rng_below(&r, (uint32_t)views);
}

static void gather_batch(Trial *t, int epoch, int start, int b) {
    int n = t->ds.train.n;
    for (int k = 0; k < b; k++) {
        int i = t->order[start + k];
        const float *row = t->train_x + ((size_t)view_of(t, epoch, i) * n + i) * FEATURE_DIM;
        memcpy(t->batch_x + (size_t)k * FEATURE_DIM, row, FEATURE_DIM * sizeof(float));
        t->batch_y[k] = t->train_y[i];
    }
}

void trial_epoch_order(Trial *t, int epoch) {
    int n = t->ds.train.n;
    for (int i = 0; i < n; i++) t->order[i] = i;
    Rng r;
    rng_init(&r, (uint64_t)t->cfg->train.seed, RNG_SHUFFLE, (uint32_t)epoch, 0);
    rng_shuffle(&r, t->order, n);
}

void trial_progress(const Trial *t, int epoch, int step, int steps, float loss, float accuracy) {
    if (!t->opt->progress || (step % (steps / 40 + 1) && step + 1 != steps)) return;
    enum { WIDTH = 30 };
    int filled = (int)((long)(step + 1) * WIDTH / steps);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[WIDTH] = 0;
    fprintf(stderr, "\repoch %d/%d [%s] %d/%d  loss %.4f  accuracy %.4f", epoch + 1, t->cfg->train.epochs, bar, step + 1, steps,
            loss, accuracy);
    if (step + 1 == steps) fputs("\r\033[K", stderr); /* the epoch line replaces the bar */
    fflush(stderr);
}

/* One epoch of training steps on cached features; fills logs->loss and logs->accuracy. */
static void train_epoch(Trial *t, int epoch, float lr, EpochLogs *logs) {
    const TrialConfig *c = t->cfg;
    int n = t->ds.train.n, B = c->train.batch_size, C = t->ds.n_classes;
    trial_epoch_order(t, epoch);
    MeanMetric lm = {0, 0}, am = {0, 0};
    for (int s = 0, step = 0; s < n; s += B, step++) {
        int b = n - s < B ? n - s : B;
        gather_batch(t, epoch, s, b);
        head_forward(&t->head, t->batch_x, b, 1, (uint32_t)epoch, (uint32_t)step);
        float ce = loss_xent(t->head.logits, t->batch_y, b, C, c->train.label_smoothing, t->head.dlogits);
        head_backward(&t->head, t->head.dlogits, NULL);
        float l2 = loss_l2(&t->head, (float)c->model.head.l2, 1);
        mean_update(&lm, (ce + l2) * b, (float)b);
        mean_update(&am, (float)count_correct(t->head.logits, t->batch_y, b, C), (float)b);
        optimizer_step(&t->optim, t->head.params, t->head.grads, lr);
        trial_progress(t, epoch, step, (n + B - 1) / B, mean_result(&lm), mean_result(&am));
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
    int n = t->ds.train.n, views = t->te.n_train_views ? t->te.n_train_views : 1;
    GpuHeadLoss loss = {.label_smoothing = t->cfg->train.label_smoothing, .l2 = (float)t->cfg->model.head.l2,
                        .terminate_on_nan = t->cb.cfg.terminate_on_nan};
    t->gpu_rows = tl_malloc(e, sizeof(int) * (size_t)(n ? n : 1), "GPU epoch rows");
    t->gpu_labels = tl_malloc(e, sizeof(int) * (size_t)(n ? n : 1), "GPU epoch labels");
    if (!t->gpu_rows || !t->gpu_labels ||
        gpu_head_create(&t->gpu, t->be, &t->head, &t->optim, views * n, t->ds.validation.n, &loss, e) ||
        gpu_head_upload_eval(t->gpu, t->val_x, t->val_y, t->ds.validation.n, e) ||
        (t->te.n_train_views && gpu_head_upload_train(t->gpu, t->train_x, views * n, e)))
        return -1;
    if (t->opt->log)
        fprintf(t->opt->log, "head: trains on the GPU (float32 cuBLAS whatever model.precision; %d x %d training rows "
                             "and %d validation rows on the device)\n", views, n, t->ds.validation.n);
    return 0;
}

/* One head epoch on the GPU: training (logs->loss, accuracy) then validation (val_*). */
static int gpu_epoch(Trial *t, int epoch, float lr, EpochLogs *logs, Err *e) {
    int n = t->ds.train.n;
    if (!t->gpu && gpu_head_open(t, e)) return -1;
    if (t->te.n_train_views == 0 && gpu_head_upload_train(t->gpu, t->train_x, n, e)) return -1;   /* recomputed */
    trial_epoch_order(t, epoch);
    for (int k = 0; k < n; k++) {
        int i = t->order[k];
        t->gpu_rows[k] = view_of(t, epoch, i) * n + i;
        t->gpu_labels[k] = t->train_y[i];
    }
    GpuHeadStats st;
    float vl, va;
    if (gpu_head_upload_params(t->gpu, &t->head, &t->optim, e) ||
        gpu_head_train_epoch(t->gpu, t->gpu_rows, t->gpu_labels, n, lr, (uint32_t)epoch, &st, e) ||
        gpu_head_evaluate(t->gpu, t->ds.validation.n, &vl, &va, e) ||
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
        float lr = schedule_epoch_begin(&t->sched, epoch);
        EpochLogs logs = {0};
        int on_gpu = 0;                 /* the GPU head also ran the validation */
        if (finetune_epoch(t, epoch)) {
            int rc = finetune_train_epoch(t, epoch, lr, &logs, e);
            if (rc) return rc;
            if (finetune_features(t, &t->ds.validation, t->val_x, e)) return -1;
        } else {
            if (t->te.n_train_views == 0 && recompute_epoch_features(t, epoch, e)) return -1;
            on_gpu = gpu_head_wanted(t);
            if (on_gpu && gpu_epoch(t, epoch, lr, &logs, e)) return -1;
            if (!on_gpu) train_epoch(t, epoch, lr, &logs);
        }
        if (!on_gpu) {
            double vl, va;
            evaluate(t, t->val_x, t->val_y, t->ds.validation.n, &vl, &va, NULL, NULL);
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
    float *x = t->ds.test.n ? t->test_x : t->val_x;
    const int *y = t->ds.test.n ? t->test_y : t->val_y;
    int n = t->ds.test.n ? t->ds.test.n : t->ds.validation.n;
    /* After fine-tuning the cached features are stale: recompute them with the best weights. */
    if (finetune_epoch(t, h->n - 1) && finetune_features(t, t->ds.test.n ? &t->ds.test : &t->ds.validation, x, e))
        return -1;
    Confusion cm;
    if (confusion_create(&cm, t->ds.n_classes, e)) return -1;
    double loss, acc, top5;
    evaluate(t, x, y, n, &loss, &acc, &top5, &cm);
    res->test_loss = t->ds.test.n ? loss : NAN;
    res->test_accuracy = t->ds.test.n ? acc : NAN;
    res->test_top5 = t->ds.test.n ? top5 : NAN;
    char p1[1100], p2[1100];
    int rc = write_confusion_csv(fs_join(p1, sizeof p1, t->opt->out_dir, "confusion.csv"), &cm,
                                 (const char *const *)t->ds.class_names, e) ||
             write_errors_csv(fs_join(p2, sizeof p2, t->opt->out_dir, "errors.csv"), &cm,
                              (const char *const *)t->ds.class_names, 20, e) ? -1 : 0;
    confusion_free(&cm);
    return rc;
}

/* trainer.log: what computes the backbone. On the CPU: the precision and oneDNN's
 * instruction set (avx512_core_amx: AMX tiles; avx512_core_bf16: AVX-512 BF16), and at the
 * end the oneDNN kernels its convolutions got (none when every feature came from the cache). */
static void log_backend(const Trial *t) {
    if (!t->opt->log) return;
    const Backend *be = t->be;
    int cpu = !strcmp(be->name, "cpu");
    fprintf(t->opt->log, "backend: %s, precision %s%s%s\n", be->name, be->precision ? be->precision : t->cfg->model.precision,
            cpu ? ", oneDNN instruction set " : "", cpu ? cpu_isa_name() : "");
}

static void log_kernels(const Trial *t) {
    if (t->opt->log && t->be->kernels[0]) fprintf(t->opt->log, "backbone kernels: %s\n", t->be->kernels);
}

static int prepare(Trial *t, Err *e) {
    const TrialConfig *c = t->cfg;
    if (!c->data.root[0]) return err_fail(e, "data.root is required");
    if (dataset_open(&c->data, c->train.seed, &t->ds, e))
        return err_context(e, "%s: data.root", t->opt->config_path ? t->opt->config_path : "config");
    if (t->ds.report[0] && t->opt->log) fprintf(t->opt->log, "%s", t->ds.report);
    if (t->ds.validation.n == 0) return err_fail(e, "%s: no validation images (add validation/ or set data.validation_split)", c->data.root);
    if (config_digest(c, t->config_digest, e)) return -1;
    trial_cache_dir(c, t->opt->out_dir, t->cache_dir, sizeof t->cache_dir);
    if (backend_open(&t->be, c->train.device, t->opt->gpu, c->model.precision, t->opt->threads, e)) return -1;
    log_backend(t);
    if (feature_extractor_init(&t->fx, c, t->be, t->be->threads, e) || trial_entries_init(&t->te, &t->fx, &t->ds, e)) return -1;
    t->fx.stop = t->opt->stop;
    t->fx.progress = t->opt->progress;
    return load_features(t, e) || setup_model(t, e) ? -1 : 0;
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
    free(t->best_params); free(t->batch_x); free(t->batch_y); free(t->order);
    free(t->train_x); free(t->val_x); free(t->test_x);
    free(t->train_y); free(t->val_y); free(t->test_y);
    trial_entries_free(&t->te);
    feature_extractor_free(&t->fx);
    backend_destroy(t->be);
    dataset_free(&t->ds);
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
        evaluate(&t, t.val_x, t.val_y, t.ds.validation.n, &loss, &acc, NULL, NULL);
        t.untrained_val_accuracy = acc;
    }
    if (rc == 0) rc = run_epochs(&t, t_start, e);
    if (t.be) log_kernels(&t);
    /* A stop request can also end feature extraction early: that is an interrupt too. */
    if (rc == 1 || (rc < 0 && opt->stop && *opt->stop)) { res->status = TRIAL_INTERRUPTED; rc = 1; }
    else if (rc == 0) rc = finish(&t, res, e);
    trial_free(&t);
    return rc < 0 ? -1 : 0;
}
