/* Fine-tuning the backbone from model.trainable on, on the CPU or CUDA backend.
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
#include "train/finetune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/fsutil.h"
#include "train/metrics.h"

int finetune_epoch(const Finetune *ft, int epoch) { return ft->enabled && epoch >= ft->start_epoch; }

static int create_loaders(Finetune *ft, const Backend *be, Err *e) {
    const TrialConfig *c = ft->cfg;
    LoaderConfig lc = {.threads = be->threads > 0 ? be->threads : 2, .image_size = c->data.image_size,
                       .interp = strcmp(c->data.interpolation, "bilinear") ? INTERP_NEAREST : INTERP_BILINEAR,
                       .augment = NULL, .seed = (uint64_t)c->train.seed, .batch_capacity = c->train.batch_size, .depth = 3};
    if (loader_create(&ft->eval_loader, &lc, e)) return -1;
    if (c->augment.strength > 0) lc.augment = &c->augment;
    return loader_create(&ft->train_loader, &lc, e);
}

/* The prefix and suffix from the config's weights; the suffix optimizer over its trainable views. */
static int create_model(Finetune *ft, Backend *be, const OptimizerSpec *os, Err *e) {
    const TrialConfig *c = ft->cfg;
    ResnetWeights w;
    int rc = resnet_weights_open_named(&w, c->model.backbone, c->model.weights, e);
    if (rc) return -1;
    int B = c->train.batch_size;
    rc = backbone_create(&ft->bb, be, c->model.backbone, &w, c->data.image_size, B, e) ||
         resnet_suffix_create(&ft->s, be, c->model.backbone, &w, c->model.trainable, c->data.image_size, B,
                              c->model.train_bn_affine, e) ? -1 : 0;
    resnet_weights_free(&w);
    if (rc) return -1;
    if (optimizer_create(&ft->optim, os, ft->s.n_params, e)) return -1;
    for (int i = 0; i < ft->s.n_views; i++) {
        const SuffixView *v = &ft->s.views[i];
        if (v->trainable && optimizer_add_range(&ft->optim, v->offset, v->size, e)) return -1;
    }
    if (be->train->optimizer_step && resnet_suffix_keep_on_device(&ft->s, ft->optim.v != NULL, e)) return -1;
    ft->d_features = tl_malloc(e, (size_t)B * FEATURE_DIM * sizeof(float), "feature gradients");
    return ft->d_features ? 0 : -1;
}

/* Cache the prefix's output at the boundary, or recompute it every step: the prefix is
 * constant per image only without augmentation, and the cache must fit the budget.
 * Writes the reason (one log line) into why. */
static int plan_boundary(Finetune *ft, Backend *be, char *why, size_t n, Err *e) {
    const TrialConfig *c = ft->cfg;
    const TrialData *d = ft->data;
    const ResnetArch *a = &ft->s.arch;
    if (ft->s.first_conv == 0) return snprintf(why, n, "boundary cache: none (trainable: all leaves nothing frozen)"), 0;
    if (c->augment.strength > 0)
        return snprintf(why, n, "boundary cache: off: augmentation on (augment.strength %g), every epoch's images differ: "
                                "recomputing the frozen prefix", c->augment.strength), 0;
    double mib = boundary_cache_bytes(a, ft->s.first_conv, c->data.image_size, d->ds.train.n, d->ds.validation.n) / 1048576.0;
    if (mib > c->feature_cache.boundary_mib)
        return snprintf(why, n, "boundary cache: %.1f MiB over budget %d MiB: recomputing the frozen prefix", mib,
                        c->feature_cache.boundary_mib), 0;
    BoundaryCache *bc = &ft->boundary;
    if (boundary_cache_init(bc, be, c, &d->fx.weights_digest, a, ft->s.first_conv, &d->ds, d->cache_dir,
                            c->train.batch_size, e))
        return -1;
    bc->stop = ft->stop;
    bc->log = ft->log;
    ft->rows = tl_malloc(e, sizeof(int) * (size_t)c->train.batch_size, "boundary rows");
    if (!ft->rows) return -1;
    ft->use_boundary = 1;
    char name[64];
    boundary_name(a, ft->s.first_conv, name, sizeof name);
    snprintf(why, n, "boundary cache: %s (%dx%dx%d fp16) of %d train + %d validation images, %.1f MiB within budget %d MiB, "
                     "in %s: training the suffix from it", name, bc->side, bc->side, bc->channels, d->ds.train.n,
             d->ds.validation.n, mib, c->feature_cache.boundary_mib, d->cache_dir);
    return 0;
}

static void log_path(const Finetune *ft, const char *boundary) {
    FILE *f = ft->log;
    if (!f) return;
    size_t trainable = 0;
    for (int i = 0; i < ft->s.n_views; i++) trainable += ft->s.views[i].trainable ? ft->s.views[i].size : 0;
    fprintf(f, "fine-tuning from %s (%s on): %s; %zu suffix parameters, %zu trainable; %s\n", ft->cfg->model.trainable,
            ft->s.arch.convs[ft->s.first_conv].conv,
            ft->s.first_conv == 0 ? "no frozen prefix"
            : ft->use_boundary    ? "frozen prefix read from the boundary cache"
                                  : "frozen prefix recomputed every step",
            ft->s.n_params, trainable, ft->start_epoch > 0 ? "head alone on cached features first" : "from the first epoch");
    fprintf(f, "%s\n", boundary);
    if (ft->start_epoch > 0) fprintf(f, "phase head: epochs 1..%d; phase finetune: epochs %d..%d\n", ft->start_epoch,
                                     ft->start_epoch + 1, ft->cfg->train.epochs);
    fflush(f);
}

/* Opens (computing on first use) the boundary tables; once per trial. */
static int boundary_ready(Finetune *ft, Err *e) {
    if (!ft->use_boundary || ft->boundary_filled) return 0;
    BoundaryTable *tables[2] = {&ft->boundary.train, &ft->boundary.validation};
    for (int i = 0; i < 2; i++) {
        double t0 = now_seconds();
        int computed = 0;
        if (tables[i]->n && boundary_table_fill(&ft->boundary, tables[i], &ft->bb, ft->eval_loader, &computed, e)) return -1;
        if (ft->log)
            fprintf(ft->log, "boundary cache: %s %s (%d images%s%.1f s)\n", tables[i]->split,
                    computed ? "computed" : "found", tables[i]->n, computed ? ", " : ", opened in ", now_seconds() - t0);
    }
    if (ft->log) fflush(ft->log);
    ft->boundary_filled = 1;
    return 0;
}

int finetune_create(Finetune *ft, const TrialConfig *c, Backend *be, const TrialData *d, const OptimizerSpec *os,
                    const TrialOptions *opt, Err *e) {
    if (!strcmp(c->model.trainable, "head")) return 0;
    if (!be->train)
        return err_fail(e, "model.trainable '%s': backend '%s' has no training ops; fine-tuning runs on train.device: cpu or cuda",
                        c->model.trainable, be->name);
    *ft = (Finetune){.enabled = 1, .start_epoch = c->finetune.after_epochs, .cfg = c, .data = d, .log = opt->log,
                     .stop = opt->stop};
    char why[1600];
    if (create_model(ft, be, os, e) || create_loaders(ft, be, e) || plan_boundary(ft, be, why, sizeof why, e))
        return err_context(e, "fine-tuning from %s", c->model.trainable);
    log_path(ft, why);
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
    memset(ft, 0, sizeof *ft);
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

/* The running epoch: what it trains besides the suffix, the backbone's learning rate, the
 * step counter and the metrics. */
typedef struct EpochRun {
    const Epoch *ep;
    HeadTrainer *ht;
    Callbacks *cb;                  /* callbacks_batch_end after each step (TerminateOnNaN) */
    int step;
    float lr_bb;
    MeanMetric loss, accuracy;
} EpochRun;

/* One step on a batch whose suffix input x and labels are ready: suffix forward, the head's
 * step (head_trainer_step, which also gives d(loss)/d(features)), suffix backward and step.
 * The batch's CE + L2 through *loss and its correct count. */
static int train_step(Finetune *ft, const EpochRun *r, const float *x, const int *labels, int n, float *loss, int *correct,
                      Err *e) {
    HeadTrainer *ht = r->ht;
    if (resnet_suffix_features(&ft->s, x, n, ht->batch_x, e)) return -1;
    *loss = head_trainer_step(ht, ht->batch_x, labels, n, r->ep, r->step, ft->d_features, correct);
    return resnet_suffix_backward(&ft->s, ft->d_features, n, NULL, e) || suffix_optimizer_step(ft, r->lr_bb, e) ? -1 : 0;
}

/* Trains on one batch and does the per-batch bookkeeping. Returns 0 go on, 1 a callback
 * stopped training, 2 a stop was requested, -1 error. */
static int epoch_step(Finetune *ft, EpochRun *r, const float *x, const int *labels, int n, Err *e) {
    float loss = 0;
    int correct = 0;
    if (train_step(ft, r, x, labels, n, &loss, &correct, e)) return -1;
    mean_update(&r->loss, loss * n, (float)n);
    mean_update(&r->accuracy, (float)correct, (float)n);
    epoch_progress(r->ep, r->step++, mean_result(&r->loss), mean_result(&r->accuracy));
    if (callbacks_batch_end(r->cb, mean_result(&r->loss))) return 1;
    return ft->stop && *ft->stop ? 2 : 0;
}

/* The epoch over the images: the prefix runs on every batch (augmented when configured). */
static int epoch_from_images(Finetune *ft, EpochRun *r, Err *e) {
    const DatasetSplit *train = &ft->data->ds.train;
    if (loader_start(ft->train_loader, train->items, r->ep->order, train->n, ft->cfg->train.batch_size,
                     (uint32_t)(1000000 + r->ep->index), e))
        return -1;
    LoaderBatch *b;
    int got = 0, rc = 0;
    while (rc == 0 && (got = loader_next(ft->train_loader, &b, e)) == 1) {
        const float *x;
        rc = resnet_prefix_forward(&ft->bb, ft->s.first_conv, b->x, b->count, &x, e) ? -1
             : epoch_step(ft, r, x, b->labels, b->count, e);
        loader_release(ft->train_loader, b);
    }
    return rc ? rc : got < 0 ? -1 : 0;
}

/* The epoch over the boundary cache: batches of rows in the same order, no prefix. */
static int epoch_from_boundary(Finetune *ft, EpochRun *r, Err *e) {
    int B = ft->cfg->train.batch_size, n = ft->data->ds.train.n, rc = 0;
    int *labels = r->ht->batch_y;
    for (int at = 0; rc == 0 && at < n; at += B) {
        int count = n - at < B ? n - at : B;
        const int *rows = r->ep->order + at;
        for (int i = 0; i < count; i++) labels[i] = ft->data->train_y[rows[i]];
        const float *x;
        rc = boundary_table_load(&ft->boundary, &ft->boundary.train, rows, count, &x, e) ? -1
             : epoch_step(ft, r, x, labels, count, e);
    }
    return rc;
}

static int train_batches(Finetune *ft, EpochRun *r, EpochLogs *logs, Err *e);

/* The epoch's batches between moving the suffix state to the device and back (also after a
 * stop: a checkpoint may follow). */
int finetune_train_epoch(Finetune *ft, HeadTrainer *ht, const Epoch *ep, Callbacks *cb, EpochLogs *logs, Err *e) {
    const TrainConfig *c = &ft->cfg->train;
    float lr = ep->lr;
    EpochRun r = {.ep = ep, .ht = ht, .cb = cb, .lr_bb = c->backbone_lr > 0 ? (float)(lr * c->backbone_lr / c->lr) : lr};
    if (suffix_state_to_device(ft, e)) return -1;
    int rc = train_batches(ft, &r, logs, e);
    if (rc >= 0 && suffix_state_to_host(ft, e)) return -1;
    return rc;
}

static int train_batches(Finetune *ft, EpochRun *r, EpochLogs *logs, Err *e) {
    if (boundary_ready(ft, e)) return -1;
    int rc = ft->use_boundary ? epoch_from_boundary(ft, r, e) : epoch_from_images(ft, r, e);
    if (rc < 0) return -1;
    if (rc == 2) return 1;
    logs->loss = mean_result(&r->loss);
    logs->accuracy = mean_result(&r->accuracy);
    return 0;
}

/* Validation features from the boundary cache. */
static int features_from_boundary(Finetune *ft, float *dst, Err *e) {
    int B = ft->cfg->train.batch_size, n = ft->boundary.validation.n;
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

int finetune_features(Finetune *ft, const DatasetSplit *split, float *dst, Err *e) {
    if (ft->s.device_resident && resnet_suffix_params_to_device(&ft->s, e)) return -1;   /* host copy may be restored */
    if (ft->use_boundary && split == &ft->data->ds.validation) return boundary_ready(ft, e) || features_from_boundary(ft, dst, e) ? -1 : 0;
    if (loader_start(ft->eval_loader, split->items, NULL, split->n, ft->cfg->train.batch_size, 0, e)) return -1;
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

int finetune_write_phases(const Finetune *ft, int epochs, const char *out_dir, Err *e) {
    if (!ft->enabled) return 0;
    char path[1100], *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return err_fail(e, "out of memory");
    fprintf(f, "epoch,phase\n");
    for (int i = 0; i < epochs; i++) fprintf(f, "%d,%s\n", i, finetune_epoch(ft, i) ? "finetune" : "head");
    fclose(f);
    int rc = fs_write_atomic(fs_join(path, sizeof path, out_dir, "train_phases.csv"), text, len, e);
    free(text);
    return rc;
}
