/* Fine-tuning the backbone from model.trainable on (issue 6), on the CPU or CUDA backend.
 *
 *   for batch (the epoch's shuffled order, augmentation view 1000000 + epoch as views: 0):
 *     images -> frozen prefix (BN folded) -> suffix (BN frozen statistics) -> features (b, 2048)
 *     head forward (training) -> CE + L2 -> head backward with d(features)
 *     suffix backward -> head optimizer step (lr), suffix optimizer step (backbone lr)
 *
 * Without augmentation the prefix's output is the same every epoch: when the train and
 * validation boundary activations fit feature_cache.boundary_mib, they are computed once
 * into the boundary cache (fp16 on disk, boundary_cache.h) and each step reads its rows
 * and runs only the suffix; otherwise the prefix runs again on every step. The log says
 * which. Both optimizers share the schedule: lr_backbone = lr * backbone_lr / train.lr
 * when train.backbone_lr > 0, else lr. The suffix's params and grads are host arrays on
 * every backend (resnet_train.h), so the optimizer steps and the weights vector stay on
 * the host; the suffix uploads the parameters at each forward and downloads the gradients
 * at each backward. On a backend with a device optimizer (cuda) the suffix is device-
 * resident instead: params and the suffix optimizer's m, v go up at the start of each
 * fine-tuning epoch (and before each features pass: the host copy may have been restored),
 * the suffix optimizer steps on the device, and params, m, v come back at the epoch's end,
 * before the callbacks, checkpoints and the weights vector read them. */
#include "train/trial_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fsutil.h"
#include "core/rng.h"
#include "model/loss.h"
#include "train/metrics.h"

int finetune_epoch(const Trial *t, int epoch) { return t->ft.enabled && epoch >= t->ft.start_epoch; }

static int create_loaders(Trial *t, Err *e) {
    const TrialConfig *c = t->cfg;
    LoaderConfig lc = {.threads = t->be->threads > 0 ? t->be->threads : 2, .image_size = c->data.image_size,
                       .interp = strcmp(c->data.interpolation, "bilinear") ? INTERP_NEAREST : INTERP_BILINEAR,
                       .fast_decode = c->data.fast_decode, .augment = NULL, .seed = (uint64_t)c->train.seed,
                       .batch_capacity = c->train.batch_size, .depth = 3};
    if (loader_create(&t->ft.eval_loader, &lc, e)) return -1;
    if (c->augment.strength > 0) lc.augment = &c->augment;
    return loader_create(&t->ft.train_loader, &lc, e);
}

/* The prefix and suffix from the config's weights; the suffix optimizer over its trainable views. */
static int create_model(Trial *t, Err *e) {
    const TrialConfig *c = t->cfg;
    Finetune *ft = &t->ft;
    ResnetWeights w;
    int rc = resnet_weights_open_named(&w, c->model.backbone, c->model.weights, e);
    if (rc) return -1;
    int B = c->train.batch_size;
    rc = backbone_create(&ft->bb, t->be, c->model.backbone, &w, c->data.image_size, B, e) ||
         resnet_suffix_create(&ft->s, t->be, c->model.backbone, &w, c->model.trainable, c->data.image_size, B,
                              c->model.train_bn_affine, e) ? -1 : 0;
    resnet_weights_free(&w);
    if (rc) return -1;
    OptimizerSpec os = t->optim.spec;
    if (optimizer_create(&ft->optim, &os, ft->s.n_params, e)) return -1;
    for (int i = 0; i < ft->s.n_views; i++) {
        const SuffixView *v = &ft->s.views[i];
        if (v->trainable && optimizer_add_range(&ft->optim, v->offset, v->size, e)) return -1;
    }
    if (t->be->train->optimizer_step && resnet_suffix_keep_on_device(&ft->s, ft->optim.v != NULL, e)) return -1;
    ft->d_features = tl_malloc(e, (size_t)B * FEATURE_DIM * sizeof(float), "feature gradients");
    return ft->d_features ? 0 : -1;
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Cache the prefix's output at the boundary, or recompute it every step: the prefix is
 * constant per image only without augmentation, and the cache must fit the budget.
 * Writes the reason (one log line) into why. */
static int plan_boundary(Trial *t, char *why, size_t n, Err *e) {
    const TrialConfig *c = t->cfg;
    Finetune *ft = &t->ft;
    const ResnetArch *a = &ft->s.arch;
    if (ft->s.first_conv == 0) return snprintf(why, n, "boundary cache: none (trainable: all leaves nothing frozen)"), 0;
    if (c->augment.strength > 0)
        return snprintf(why, n, "boundary cache: off: augmentation on (augment.strength %g), every epoch's images differ: "
                                "recomputing the frozen prefix", c->augment.strength), 0;
    double mib = boundary_cache_bytes(a, ft->s.first_conv, c->data.image_size, t->ds.train.n, t->ds.validation.n) / 1048576.0;
    if (mib > c->feature_cache.boundary_mib)
        return snprintf(why, n, "boundary cache: %.1f MiB over budget %d MiB: recomputing the frozen prefix", mib,
                        c->feature_cache.boundary_mib), 0;
    BoundaryCache *bc = &ft->boundary;
    if (boundary_cache_init(bc, t->be, c, &t->fx.weights_digest, a, ft->s.first_conv, &t->ds, t->cache_dir,
                            c->train.batch_size, e))
        return -1;
    bc->stop = t->opt->stop;
    ft->rows = tl_malloc(e, sizeof(int) * (size_t)c->train.batch_size, "boundary rows");
    if (!ft->rows) return -1;
    ft->use_boundary = 1;
    char name[64];
    boundary_name(a, ft->s.first_conv, name, sizeof name);
    snprintf(why, n, "boundary cache: %s (%dx%dx%d fp16) of %d train + %d validation images, %.1f MiB within budget %d MiB, "
                     "in %s: training the suffix from it", name, bc->side, bc->side, bc->channels, t->ds.train.n,
             t->ds.validation.n, mib, c->feature_cache.boundary_mib, t->cache_dir);
    return 0;
}

static void log_path(const Trial *t, const char *boundary) {
    const Finetune *ft = &t->ft;
    FILE *f = t->opt->log;
    if (!f) return;
    size_t trainable = 0;
    for (int i = 0; i < ft->s.n_views; i++) trainable += ft->s.views[i].trainable ? ft->s.views[i].size : 0;
    fprintf(f, "fine-tuning from %s (%s on): %s; %zu suffix parameters, %zu trainable; %s\n", t->cfg->model.trainable,
            ft->s.arch.convs[ft->s.first_conv].conv,
            ft->s.first_conv == 0 ? "no frozen prefix"
            : ft->use_boundary    ? "frozen prefix read from the boundary cache"
                                  : "frozen prefix recomputed every step",
            ft->s.n_params, trainable, ft->start_epoch > 0 ? "head alone on cached features first" : "from the first epoch");
    fprintf(f, "%s\n", boundary);
    if (ft->start_epoch > 0) fprintf(f, "phase head: epochs 1..%d; phase finetune: epochs %d..%d\n", ft->start_epoch,
                                     ft->start_epoch + 1, t->cfg->train.epochs);
    fflush(f);
}

/* Opens (computing on first use) the boundary tables; once per trial. */
static int boundary_ready(Trial *t, Err *e) {
    Finetune *ft = &t->ft;
    if (!ft->use_boundary || ft->boundary_filled) return 0;
    BoundaryTable *tables[2] = {&ft->boundary.train, &ft->boundary.validation};
    for (int i = 0; i < 2; i++) {
        double t0 = seconds_now();
        int computed = 0;
        if (tables[i]->n && boundary_table_fill(&ft->boundary, tables[i], &ft->bb, ft->eval_loader, &computed, e)) return -1;
        if (t->opt->log)
            fprintf(t->opt->log, "boundary cache: %s %s (%d images%s%.1f s)\n", tables[i]->split,
                    computed ? "computed" : "found", tables[i]->n, computed ? ", " : ", opened in ", seconds_now() - t0);
    }
    if (t->opt->log) fflush(t->opt->log);
    ft->boundary_filled = 1;
    return 0;
}

int finetune_create(Trial *t, Err *e) {
    const TrialConfig *c = t->cfg;
    Finetune *ft = &t->ft;
    if (!strcmp(c->model.trainable, "head")) return 0;
    if (!t->be->train)
        return err_fail(e, "model.trainable '%s': backend '%s' has no training ops; fine-tuning runs on train.device: cpu or cuda",
                        c->model.trainable, t->be->name);
    ft->enabled = 1;
    ft->start_epoch = c->finetune.after_epochs;
    if (create_model(t, e) || create_loaders(t, e)) return err_context(e, "fine-tuning from %s", c->model.trainable);
    ft->weights = tl_malloc(e, (t->head.n_params + ft->s.n_params) * sizeof(float), "weights vector");
    if (!ft->weights) return -1;
    char why[1600];
    if (plan_boundary(t, why, sizeof why, e)) return err_context(e, "fine-tuning from %s", c->model.trainable);
    log_path(t, why);
    return 0;
}

void finetune_free(Finetune *ft) {
    if (!ft->enabled) return;
    if (ft->train_loader) loader_destroy(ft->train_loader);
    if (ft->eval_loader) loader_destroy(ft->eval_loader);
    optimizer_free(&ft->optim);
    if (ft->s.params) resnet_suffix_free(&ft->s);
    if (ft->bb.convs) backbone_free(&ft->bb);
    if (ft->use_boundary) boundary_cache_free(&ft->boundary);
    free(ft->rows);
    free(ft->d_features);
    free(ft->weights);
    memset(ft, 0, sizeof *ft);
}

void trial_weights_get(const Trial *t, float *dst) {
    memcpy(dst, t->head.params, t->head.n_params * sizeof(float));
    if (t->ft.enabled) memcpy(dst + t->head.n_params, t->ft.s.params, t->ft.s.n_params * sizeof(float));
}

void trial_weights_set(Trial *t, const float *src) {
    memcpy(t->head.params, src, t->head.n_params * sizeof(float));
    if (t->ft.enabled) memcpy(t->ft.s.params, src + t->head.n_params, t->ft.s.n_params * sizeof(float));
}

/* optimizer_step of the suffix, on the device when the suffix is device-resident (the
 * host counter advances the same way). */
static int suffix_optimizer_step(Finetune *ft, float lr_bb, Err *e) {
    Optimizer *o = &ft->optim;
    if (!ft->s.device_resident) { optimizer_step(o, ft->s.params, ft->s.grads, lr_bb); return 0; }
    if (resnet_suffix_optimizer_step(&ft->s, &o->spec, o->iterations, lr_bb, o->ranges, o->n_ranges, e)) return -1;
    o->iterations++;
    return 0;
}

/* Device-resident suffix: the host params and the suffix optimizer's moments to the device
 * (epoch start) or back (epoch end). No-ops otherwise. */
static int suffix_state_to_device(Finetune *ft, Err *e) {
    if (!ft->s.device_resident) return 0;
    return resnet_suffix_params_to_device(&ft->s, e) || resnet_suffix_opt_to_device(&ft->s, ft->optim.m, ft->optim.v, e) ? -1 : 0;
}

static int suffix_state_to_host(Finetune *ft, Err *e) {
    if (!ft->s.device_resident) return 0;
    return resnet_suffix_params_to_host(&ft->s, e) || resnet_suffix_opt_to_host(&ft->s, ft->optim.m, ft->optim.v, e) ? -1 : 0;
}

/* One step on a batch whose suffix input x and labels are ready; the batch's CE + L2
 * through *loss and its correct count. */
static int train_step(Trial *t, const float *x, const int *labels, int n, int epoch, int step, float lr, float lr_bb,
                      float *loss, int *correct, Err *e) {
    const TrialConfig *c = t->cfg;
    Finetune *ft = &t->ft;
    int C = t->ds.n_classes;
    if (resnet_suffix_features(&ft->s, x, n, t->batch_x, e)) return -1;
    head_forward(&t->head, t->batch_x, n, 1, (uint32_t)epoch, (uint32_t)step);
    float ce = loss_xent(t->head.logits, labels, n, C, c->train.label_smoothing, t->head.dlogits);
    head_backward(&t->head, t->head.dlogits, ft->d_features);
    float l2 = loss_l2(&t->head, (float)c->model.head.l2, 1);
    if (resnet_suffix_backward(&ft->s, ft->d_features, n, NULL, e)) return -1;
    optimizer_step(&t->optim, t->head.params, t->head.grads, lr);
    if (suffix_optimizer_step(ft, lr_bb, e)) return -1;
    *loss = ce + l2;
    *correct = count_correct(t->head.logits, labels, n, C);
    return 0;
}

/* The running epoch: its learning rates, step counter and metrics. */
typedef struct EpochRun {
    int epoch, step, steps;
    float lr, lr_bb;
    MeanMetric loss, accuracy;
} EpochRun;

/* Trains on one batch and does the per-batch bookkeeping. Returns 0 go on, 1 a callback
 * stopped training, 2 a stop was requested, -1 error. */
static int epoch_step(Trial *t, EpochRun *r, const float *x, const int *labels, int n, Err *e) {
    float loss = 0;
    int correct = 0;
    if (train_step(t, x, labels, n, r->epoch, r->step++, r->lr, r->lr_bb, &loss, &correct, e)) return -1;
    mean_update(&r->loss, loss * n, (float)n);
    mean_update(&r->accuracy, (float)correct, (float)n);
    trial_progress(t, r->epoch, r->step - 1, r->steps, mean_result(&r->loss), mean_result(&r->accuracy));
    if (callbacks_batch_end(&t->cb, mean_result(&r->loss))) return 1;
    return t->opt->stop && *t->opt->stop ? 2 : 0;
}

/* The epoch over the images: the prefix runs on every batch (augmented when configured). */
static int epoch_from_images(Trial *t, EpochRun *r, Err *e) {
    Finetune *ft = &t->ft;
    if (loader_start(ft->train_loader, t->ds.train.items, t->order, t->ds.train.n, t->cfg->train.batch_size,
                     (uint32_t)(1000000 + r->epoch), e))
        return -1;
    LoaderBatch *b;
    int got = 0, rc = 0;
    while (rc == 0 && (got = loader_next(ft->train_loader, &b, e)) == 1) {
        const float *x;
        rc = resnet_prefix_forward(&ft->bb, ft->s.first_conv, b->x, b->count, &x, e) ? -1
             : epoch_step(t, r, x, b->labels, b->count, e);
        loader_release(ft->train_loader, b);
    }
    return rc ? rc : got < 0 ? -1 : 0;
}

/* The epoch over the boundary cache: batches of rows in the same order, no prefix. */
static int epoch_from_boundary(Trial *t, EpochRun *r, Err *e) {
    Finetune *ft = &t->ft;
    int B = t->cfg->train.batch_size, n = t->ds.train.n, rc = 0;
    for (int at = 0; rc == 0 && at < n; at += B) {
        int count = n - at < B ? n - at : B;
        const int *rows = t->order + at;
        for (int i = 0; i < count; i++) t->batch_y[i] = t->train_y[rows[i]];
        const float *x;
        rc = boundary_table_load(&ft->boundary, &ft->boundary.train, rows, count, &x, e) ? -1
             : epoch_step(t, r, x, t->batch_y, count, e);
    }
    return rc;
}

static int train_batches(Trial *t, int epoch, float lr, EpochLogs *logs, Err *e);

/* The epoch's batches between moving the suffix state to the device and back (also after a
 * stop: a checkpoint may follow). */
int finetune_train_epoch(Trial *t, int epoch, float lr, EpochLogs *logs, Err *e) {
    if (suffix_state_to_device(&t->ft, e)) return -1;
    int rc = train_batches(t, epoch, lr, logs, e);
    if (rc >= 0 && suffix_state_to_host(&t->ft, e)) return -1;
    return rc;
}

static int train_batches(Trial *t, int epoch, float lr, EpochLogs *logs, Err *e) {
    const TrialConfig *c = t->cfg;
    Finetune *ft = &t->ft;
    int B = c->train.batch_size;
    EpochRun r = {.epoch = epoch, .steps = (t->ds.train.n + B - 1) / B, .lr = lr,
                  .lr_bb = c->train.backbone_lr > 0 ? (float)(lr * c->train.backbone_lr / c->train.lr) : lr};
    if (boundary_ready(t, e)) return -1;
    trial_epoch_order(t, epoch);
    int rc = ft->use_boundary ? epoch_from_boundary(t, &r, e) : epoch_from_images(t, &r, e);
    if (rc < 0) return -1;
    if (rc == 2) return 1;
    logs->loss = mean_result(&r.loss);
    logs->accuracy = mean_result(&r.accuracy);
    return 0;
}

/* Validation features from the boundary cache. */
static int features_from_boundary(Trial *t, float *dst, Err *e) {
    Finetune *ft = &t->ft;
    int B = t->cfg->train.batch_size, n = ft->boundary.validation.n;
    for (int at = 0; at < n; at += B) {
        int count = n - at < B ? n - at : B;
        for (int i = 0; i < count; i++) ft->rows[i] = at + i;
        const float *x;
        if (boundary_table_load(&ft->boundary, &ft->boundary.validation, ft->rows, count, &x, e) ||
            resnet_suffix_features(&ft->s, x, count, dst + (size_t)at * FEATURE_DIM, e))
            return -1;
    }
    return 0;
}

int finetune_features(Trial *t, const DatasetSplit *split, float *dst, Err *e) {
    Finetune *ft = &t->ft;
    if (ft->s.device_resident && resnet_suffix_params_to_device(&ft->s, e)) return -1;   /* host copy may be restored */
    if (ft->use_boundary && split == &t->ds.validation) return boundary_ready(t, e) || features_from_boundary(t, dst, e) ? -1 : 0;
    if (loader_start(ft->eval_loader, split->items, NULL, split->n, t->cfg->train.batch_size, 0, e)) return -1;
    LoaderBatch *b;
    int r = 0, done = 0;
    while ((r = loader_next(ft->eval_loader, &b, e)) == 1) {
        int rc = resnet_suffix_forward_images(&ft->s, &ft->bb, b->x, b->count, dst + (size_t)done * FEATURE_DIM, e);
        done += b->count;
        loader_release(ft->eval_loader, b);
        if (rc) return -1;
    }
    if (r < 0) return -1;
    return done == split->n ? 0 : err_fail(e, "fine-tuning features: %d of %d images", done, split->n);
}

int finetune_write_phases(const Trial *t, Err *e) {
    if (!t->ft.enabled) return 0;
    char path[1100], *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return err_fail(e, "out of memory");
    fprintf(f, "epoch,phase\n");
    for (int i = 0; i < t->hist.n; i++) fprintf(f, "%d,%s\n", i, finetune_epoch(t, i) ? "finetune" : "head");
    fclose(f);
    int rc = fs_write_atomic(fs_join(path, sizeof path, t->opt->out_dir, "train_phases.csv"), text, len, e);
    free(text);
    return rc;
}
