/* One trial end to end (Keras Model.fit on cached features, then the test evaluation):
 *   prepare: dataset and feature tables (trial_data.c), head (head_trainer.c), fine-tuning
 *            (finetune.c), schedule, callbacks, record (trial_record.c); resume from the
 *            checkpoints (trial_checkpoints.c)
 *   for epoch: lr = schedule; shuffle; train the head on cached features (CPU or GPU) or
 *              fine-tune on images; evaluate validation (inference mode, + L2 as Keras);
 *              callbacks; checkpoints
 *   finish: test metrics with the best weights, confusion.csv, errors.csv.
 * A Trial is a value of this file: every other file is given the parts it works on. */
#include "train/trial.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "train/callbacks.h"
#include "train/finetune.h"
#include "train/head_trainer.h"
#include "train/schedule.h"
#include "train/trial_checkpoints.h"
#include "train/trial_data.h"
#include "train/trial_record.h"

typedef struct Trial {
    const TrialConfig *cfg;
    const TrialOptions *opt;
    Backend *be;
    TrialData data;                 /* trial_data.h: dataset, feature tables, labels, epoch order */
    HeadTrainer ht;                 /* head_trainer.h: head, optimizer, batch buffers, GPU head */
    Finetune ft;                    /* finetune.h: the trainable backbone suffix (ft.enabled) */
    LrSchedule sched;
    Callbacks cb;
    TrialRecord rec;                /* trial_record.h: history, counters, best weights */
    float *weights;                 /* (rec.n_weights) fine-tuning: head then suffix, the callbacks' weights vector */
    char config_digest[33];         /* of the resolved config (config_emit) */
    int pruned_after;               /* the sweep stopped the trial after this epoch; -1 = not */
} Trial;

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

/* The parts the checkpoints hold. */
static TrialState state_of(Trial *t) {
    return (TrialState){.out_dir = t->opt->out_dir, .config_digest = t->config_digest, .ht = &t->ht, .ft = &t->ft,
                        .cb = &t->cb, .sched = &t->sched, .rec = &t->rec};
}

static int setup_model(Trial *t, Err *e) {
    const TrialConfig *c = t->cfg;
    if (head_trainer_create(&t->ht, c, t->data.ds.n_classes, e)) return -1;
    if (finetune_create(&t->ft, c, t->be, &t->data, &t->ht.optim.spec, t->opt, e)) return -1;
    size_t n_weights = t->ht.head.n_params + (t->ft.enabled ? t->ft.s.n_params : 0);
    if (schedule_init(&t->sched, &c->schedule, c->train.lr, c->train.epochs, e) ||
        trial_record_create(&t->rec, c->train.epochs, n_weights, e))
        return -1;
    if (t->ft.enabled && !(t->weights = tl_malloc(e, n_weights * sizeof(float), "weights vector"))) return -1;
    /* Resume restores counters over the fresh state. */
    TrialState st = state_of(t);
    return trial_state_load(&st, &c->callbacks, e) < 0 || trial_best_load(&st, e) < 0 ? -1 : 0;
}

/* The head on the GPU for head epochs on cached features (backend cuda). */
static int gpu_head_wanted(const Trial *t) { return backend_has(t->be, BACKEND_CAP_GPU); }

/* The weights vector (n_weights): head params then, when fine-tuning, suffix params. */
static void weights_get(const Trial *t, float *dst) {
    memcpy(dst, t->ht.head.params, t->ht.head.n_params * sizeof(float));
    if (t->ft.enabled) memcpy(dst + t->ht.head.n_params, t->ft.s.params, t->ft.s.n_params * sizeof(float));
}

static void weights_set(Trial *t, const float *src) {
    memcpy(t->ht.head.params, src, t->ht.head.n_params * sizeof(float));
    if (t->ft.enabled) memcpy(t->ft.s.params, src + t->ht.head.n_params, t->ft.s.n_params * sizeof(float));
}

static void log_epoch(const Trial *t, int epoch, const EpochLogs *l) {
    FILE *f = t->opt->log;
    if (!f) return;
    fprintf(f, "epoch %3d/%d  loss %.4f  accuracy %.4f  val_loss %.4f  val_accuracy %.4f  lr %.3g  %.2fs%s\n", epoch + 1,
            t->cfg->train.epochs, l->loss, l->accuracy, l->val_loss, l->val_accuracy, l->lr, l->seconds,
            !t->ft.enabled ? "" : finetune_epoch(&t->ft, epoch) ? "  phase finetune" : "  phase head");
    fflush(f);
}

/* The report's best epoch and weights. ModelCheckpoint(save_best_only) writes them after
 * any EarlyStopping restore; with the checkpoint off they are still kept in memory. */
static int keep_best(Trial *t, const TrialState *st, int epoch, const EpochLogs *logs, int save_best, Err *e) {
    const CallbacksConfig *cb = &t->cfg->callbacks;
    double value;
    int improved = trial_record_improved(&t->rec, cb, logs, &value);
    if (improved) { t->rec.best_epoch = epoch; t->rec.best_monitor = value; }
    if (!(cb->checkpoint_enabled ? save_best : improved)) return 0;
    weights_get(t, t->rec.best_params);
    t->rec.have_best = 1;
    return cb->checkpoint_enabled ? trial_best_save(st, t->cfg, &t->data.ds, epoch, value, e) : 0;
}

static int after_epoch(Trial *t, int epoch, EpochLogs *logs, Err *e) {
    TrialState st = state_of(t);
    EpochActions act;
    /* Fine-tuning: the callbacks see head and suffix as one weights vector. */
    float *w = t->ft.enabled ? t->weights : t->ht.head.params;
    if (t->ft.enabled) weights_get(t, w);
    if (callbacks_epoch_end(&t->cb, &t->sched, epoch, logs, w, &act, e)) return -1;
    if (t->ft.enabled && act.restored) weights_set(t, w);
    trial_record_push(&t->rec, logs);
    if (keep_best(t, &st, epoch, logs, act.save_best, e)) return -1;
    t->rec.next_epoch = epoch + 1;
    t->rec.finished = act.stop;
    t->rec.diverged = act.diverged;
    log_epoch(t, epoch, logs);
    return trial_state_save(&st, e) || finetune_write_phases(&t->ft, t->rec.hist.n, t->opt->out_dir, e) ? -1 : 0;
}

/* The epoch's rate (the schedule) and training order. */
static Epoch begin_epoch(Trial *t, int epoch) {
    const TrialConfig *c = t->cfg;
    int n = t->data.ds.train.n, B = c->train.batch_size;
    Epoch ep = {.index = epoch, .epochs = c->train.epochs, .steps = (n + B - 1) / B, .lr = schedule_epoch_begin(&t->sched, epoch),
                .order = t->data.order, .progress = t->opt->progress};
    epoch_order(t->data.order, n, c->train.seed, epoch);
    return ep;
}

static void validate(Trial *t, EpochLogs *logs) {
    HeadScores v;
    head_evaluate(&t->ht.head, t->cfg, t->data.val_x, t->data.val_y, t->data.ds.validation.n, &v, NULL);
    logs->val_loss = (float)v.loss;
    logs->val_accuracy = (float)v.accuracy;
}

/* The epoch's training, fine-tuning or the head alone (on the GPU with backend cuda), then
 * the validation. Returns 0, 1 when a stop was requested mid-epoch, -1 on error. */
static int train_epoch(Trial *t, const Epoch *ep, EpochLogs *logs, Err *e) {
    int on_gpu = 0;                 /* the GPU head also ran the validation */
    if (finetune_epoch(&t->ft, ep->index)) {
        int rc = finetune_train_epoch(&t->ft, &t->ht, ep, &t->cb, logs, e);
        if (rc) return rc;
        if (finetune_features(&t->ft, &t->data.ds.validation, t->data.val_x, e)) return -1;
    } else {
        if (t->data.te.n_train_views == 0 && trial_data_recompute_train(&t->data, ep->index, e)) return -1;
        on_gpu = gpu_head_wanted(t);
        if (on_gpu && head_trainer_gpu_epoch(&t->ht, t->be, &t->data, ep, &t->cb, t->opt->log, logs, e)) return -1;
        if (!on_gpu) head_trainer_epoch(&t->ht, &t->data, ep, &t->cb, logs);
    }
    if (!on_gpu) validate(t, logs);
    logs->has_val = 1;
    return 0;
}

/* The sweep's early stopping, asked after `epoch` when the trial would go on: 0 go on,
 * 1 stopped (pruned), -1 interrupted while waiting for the answer. */
static int ask_to_go_on(Trial *t, int epoch) {
    if (!t->opt->between_epochs || t->rec.finished || epoch + 1 >= t->cfg->train.epochs) return 0;
    int rc = t->opt->between_epochs(t->opt->between_epochs_ctx, epoch);
    if (rc == 1) t->pruned_after = epoch, t->rec.finished = 1;
    return rc;
}

static int run_epochs(Trial *t, double t_start, Err *e) {
    /* A resumed trial first hears the answer for its last logged epoch again. */
    int asked = t->rec.hist.n > 0 ? ask_to_go_on(t, t->rec.hist.n - 1) : 0;
    if (asked) return asked < 0 ? 1 : 0;
    for (int epoch = t->rec.next_epoch; epoch < t->cfg->train.epochs && !t->rec.finished; epoch++) {
        double t0 = now_seconds();
        Epoch ep = begin_epoch(t, epoch);
        EpochLogs logs = {0};
        int rc = train_epoch(t, &ep, &logs, e);
        if (rc) return rc;
        logs.seconds = now_seconds() - t0;
        t->rec.elapsed += now_seconds() - t_start;
        t_start = now_seconds();
        if (after_epoch(t, epoch, &logs, e)) return -1;
        if (t->opt->stop && *t->opt->stop) return 1;
        if ((asked = ask_to_go_on(t, epoch)) != 0) return asked < 0 ? 1 : 0;
    }
    t->rec.finished = 1;
    return 0;
}

/* Test metrics with the best weights and the confusion: on test when there is one, else
 * on validation (the test columns then stay NaN). */
static int test_scores(Trial *t, TrialResult *res, Confusion *cm, Err *e) {
    const TrialData *d = &t->data;
    int test = d->ds.test.n > 0;
    const DatasetSplit *split = test ? &d->ds.test : &d->ds.validation;
    float *x = test ? d->test_x : d->val_x;
    /* After fine-tuning the cached features are stale: recompute them with the best weights. */
    if (finetune_epoch(&t->ft, t->rec.hist.n - 1) && finetune_features(&t->ft, split, x, e)) return -1;
    HeadScores sc;
    head_evaluate(&t->ht.head, t->cfg, x, test ? d->test_y : d->val_y, split->n, &sc, cm);
    res->test_loss = test ? sc.loss : NAN;
    res->test_accuracy = test ? sc.accuracy : NAN;
    res->test_top5 = test ? sc.top5 : NAN;
    return 0;
}

static int write_confusion_files(const Trial *t, const Confusion *cm, Err *e) {
    const char *const *names = (const char *const *)t->data.ds.class_names;
    char p1[1100], p2[1100];
    return write_confusion_csv(fs_join(p1, sizeof p1, t->opt->out_dir, "confusion.csv"), cm, names, e) ||
           write_errors_csv(fs_join(p2, sizeof p2, t->opt->out_dir, "errors.csv"), cm, names, 20, e) ? -1 : 0;
}

/* result.csv's row, confusion.csv and errors.csv. */
static int finish(Trial *t, TrialResult *res, Err *e) {
    if (t->rec.have_best) weights_set(t, t->rec.best_params);
    res->status = t->rec.diverged || t->cb.diverged ? TRIAL_DIVERGED : t->pruned_after >= 0 ? TRIAL_PRUNED : TRIAL_DONE;
    if (res->status == TRIAL_PRUNED)
        snprintf(res->message, sizeof res->message, "stopped after epoch %d by the sweep's early_stop", t->pruned_after);
    trial_record_result(&t->rec, res);
    Confusion cm;
    if (confusion_create(&cm, t->data.ds.n_classes, e)) return -1;
    int rc = test_scores(t, res, &cm, e) || write_confusion_files(t, &cm, e) ? -1 : 0;
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
    finetune_free(&t->ft);
    head_trainer_free(&t->ht);
    trial_record_free(&t->rec);
    free(t->weights);
    trial_data_free(&t->data);
    backend_destroy(t->be);
}

int trial_run(const TrialConfig *cfg, const TrialOptions *opt, TrialResult *res, Err *e) {
    double t_start = now_seconds();
    Trial t;
    memset(&t, 0, sizeof t);
    t.cfg = cfg;
    t.opt = opt;
    t.pruned_after = -1;
    memset(res, 0, sizeof *res);
    trial_name_from_dir(opt->out_dir, res->trial, sizeof res->trial);
    int rc = prepare(&t, e);
    if (rc == 0 && t.rec.next_epoch == 0 && t.rec.hist.n == 0) {
        HeadScores v;
        head_evaluate(&t.ht.head, cfg, t.data.val_x, t.data.val_y, t.data.ds.validation.n, &v, NULL);
        t.rec.untrained_val_accuracy = v.accuracy;
    }
    if (rc == 0) rc = run_epochs(&t, t_start, e);
    /* A stop request can also end feature extraction early: that is an interrupt too. */
    if (rc == 1 || (rc < 0 && opt->stop && *opt->stop)) { res->status = TRIAL_INTERRUPTED; rc = 1; }
    else if (rc == 0) rc = finish(&t, res, e);
    trial_free(&t);
    return rc < 0 ? -1 : 0;
}
