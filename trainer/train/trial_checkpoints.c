#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "train/checkpoint.h"
#include "train/trial_checkpoints.h"

static const char *STATE_FORMAT = "resnet-sweep trial state v1";

static int add_history(Checkpoint *ck, const History *h, Err *e) {
    int64_t n = h->n;
    return ckpt_add_f32(ck, "hist.accuracy", h->accuracy, 1, &n, e) || ckpt_add_f32(ck, "hist.loss", h->loss, 1, &n, e) ||
           ckpt_add_f32(ck, "hist.val_accuracy", h->val_accuracy, 1, &n, e) ||
           ckpt_add_f32(ck, "hist.val_loss", h->val_loss, 1, &n, e) || ckpt_add_f32(ck, "hist.lr", h->lr, 1, &n, e) ||
           ckpt_add_f64(ck, "hist.seconds", h->seconds, 1, &n, e) ? -1 : 0;
}

/* The checkpoint writer borrows data until it writes: es_state (5) and plateau (4) are
 * the caller's. */
static int add_callback_state(Checkpoint *ck, const TrialState *s, double *es_state, double *plateau, Err *e) {
    const Callbacks *cb = s->cb;
    const EarlyStoppingState *es = &cb->es.st;
    const PlateauState *p = &s->sched->plateau;
    double es_v[5] = {es->best, es->wait, es->best_epoch, es->stopped_epoch, es->has_best_weights};
    double pl_v[4] = {p->best, p->wait, p->cooldown_counter, p->reductions};
    memcpy(es_state, es_v, sizeof es_v);
    memcpy(plateau, pl_v, sizeof pl_v);
    int64_t five = 5, four = 4, nw = (int64_t)s->rec->n_weights;
    if (ckpt_add_f64(ck, "es.state", es_state, 1, &five, e) || ckpt_add_f64(ck, "sched.plateau", plateau, 1, &four, e) ||
        ckpt_add_scalar_f64(ck, "sched.lr", s->sched->lr, e) || ckpt_add_scalar_f64(ck, "ckpt.best", cb->ckpt.best, e) ||
        ckpt_add_scalar_i64(ck, "cb.diverged", cb->diverged, e))
        return -1;
    if (cb->es.best_weights && ckpt_add_f32(ck, "es.best_weights", cb->es.best_weights, 1, &nw, e)) return -1;
    return 0;
}

/* Fine-tuning: the suffix parameters by view name (from `params`, laid out as s.params), */
static int add_suffix_params(Checkpoint *ck, const ResnetSuffix *s, const float *params, Err *e) {
    for (int i = 0; i < s->n_views; i++) {
        const SuffixView *v = &s->views[i];
        int64_t shape[4] = {v->shape[0], v->shape[1], v->shape[2], v->shape[3]};
        if (ckpt_add_f32(ck, v->name, params + v->offset, v->ndim, shape, e)) return -1;
    }
    return 0;
}

static int get_suffix_params(const CkptReader *r, const ResnetSuffix *s, float *params, Err *e) {
    for (int i = 0; i < s->n_views; i++)
        if (ckpt_get_f32(r, s->views[i].name, params + s->views[i].offset, s->views[i].size, e)) return -1;
    return 0;
}

/* ... and the suffix optimizer's moments and step. */
static int add_suffix_state(Checkpoint *ck, const Finetune *ft, Err *e) {
    if (!ft->enabled) return 0;
    int64_t n = (int64_t)ft->s.n_params;
    return add_suffix_params(ck, &ft->s, ft->s.params, e) || ckpt_add_f32(ck, "suffix_opt.m", ft->optim.m, 1, &n, e) ||
           (ft->optim.v && ckpt_add_f32(ck, "suffix_opt.v", ft->optim.v, 1, &n, e)) ||
           ckpt_add_scalar_i64(ck, "suffix_opt.iterations", ft->optim.iterations, e) ? -1 : 0;
}

static int load_suffix_state(const CkptReader *r, Finetune *ft, Err *e) {
    if (!ft->enabled) return 0;
    size_t n = ft->s.n_params;
    int64_t it;
    if (get_suffix_params(r, &ft->s, ft->s.params, e) || ckpt_get_f32(r, "suffix_opt.m", ft->optim.m, n, e) ||
        (ft->optim.v && ckpt_get_f32(r, "suffix_opt.v", ft->optim.v, n, e)) || ckpt_get_i64(r, "suffix_opt.iterations", &it, 1, e))
        return -1;
    ft->optim.iterations = it;
    return 0;
}

/* The record's counters (the history is added apart). */
static int add_record(Checkpoint *ck, const TrialRecord *r, Err *e) {
    return ckpt_add_scalar_i64(ck, "trial.next_epoch", r->next_epoch, e) || ckpt_add_scalar_i64(ck, "trial.finished", r->finished, e) ||
           ckpt_add_scalar_i64(ck, "trial.best_epoch", r->best_epoch, e) ||
           ckpt_add_scalar_f64(ck, "trial.best_monitor", r->best_monitor, e) ||
           ckpt_add_scalar_f64(ck, "trial.untrained_val_accuracy", r->untrained_val_accuracy, e) ||
           ckpt_add_scalar_f64(ck, "trial.elapsed", r->elapsed, e) ? -1 : 0;
}

/* The head's parameters and its optimizer's moments and step. */
static int add_head_state(Checkpoint *ck, const HeadTrainer *ht, Err *e) {
    int64_t n = (int64_t)ht->head.n_params;
    return ckpt_add_f32(ck, "head.params", ht->head.params, 1, &n, e) || ckpt_add_f32(ck, "opt.m", ht->optim.m, 1, &n, e) ||
           (ht->optim.v && ckpt_add_f32(ck, "opt.v", ht->optim.v, 1, &n, e)) ||
           ckpt_add_scalar_i64(ck, "opt.iterations", ht->optim.iterations, e) ? -1 : 0;
}

int trial_state_save(const TrialState *s, Err *e) {
    double es_state[5], plateau[4];
    Checkpoint ck;
    ckpt_init(&ck);
    int rc = ckpt_set_meta(&ck, "format", STATE_FORMAT, e) || ckpt_set_meta(&ck, "config_digest", s->config_digest, e) ||
             add_head_state(&ck, s->ht, e) || add_callback_state(&ck, s, es_state, plateau, e) ||
             add_history(&ck, &s->rec->hist, e) || add_record(&ck, s->rec, e) || add_suffix_state(&ck, s->ft, e) ? -1 : 0;
    char path[1100];
    if (rc == 0) rc = ckpt_write_atomic(&ck, fs_join(path, sizeof path, s->out_dir, "last.safetensors"), e);
    ckpt_free(&ck);
    return rc;
}

static int get_scalar(const CkptReader *r, const char *name, double *out, Err *e) {
    return ckpt_get_f64(r, name, out, 1, e);
}

static int load_history(const CkptReader *r, History *h, Err *e) {
    const CkptTensor *tn = ckpt_find(r, "hist.loss");
    if (!tn) return err_fail(e, "missing history");
    size_t n = (size_t)ckpt_numel(tn);
    h->n = (int)n;
    return ckpt_get_f32(r, "hist.accuracy", h->accuracy, n, e) || ckpt_get_f32(r, "hist.loss", h->loss, n, e) ||
           ckpt_get_f32(r, "hist.val_accuracy", h->val_accuracy, n, e) ||
           ckpt_get_f32(r, "hist.val_loss", h->val_loss, n, e) || ckpt_get_f32(r, "hist.lr", h->lr, n, e) ||
           ckpt_get_f64(r, "hist.seconds", h->seconds, n, e) ? -1 : 0;
}

static int load_callbacks(const CkptReader *r, TrialState *s, Err *e) {
    double es[5], plateau[4], lr, best;
    if (ckpt_get_f64(r, "es.state", es, 5, e) || ckpt_get_f64(r, "sched.plateau", plateau, 4, e) ||
        get_scalar(r, "sched.lr", &lr, e) || get_scalar(r, "ckpt.best", &best, e))
        return -1;
    int64_t div;
    if (ckpt_get_i64(r, "cb.diverged", &div, 1, e)) return -1;
    Callbacks *cb = s->cb;
    EarlyStoppingState *st = &cb->es.st;
    st->best = es[0]; st->wait = (int)es[1]; st->best_epoch = (int)es[2]; st->stopped_epoch = (int)es[3];
    st->has_best_weights = (int)es[4];
    PlateauState *p = &s->sched->plateau;
    p->best = plateau[0]; p->wait = (int)plateau[1]; p->cooldown_counter = (int)plateau[2]; p->reductions = (int)plateau[3];
    s->sched->lr = (float)lr;
    cb->ckpt.best = best;
    cb->diverged = (int)div;
    if (cb->es.best_weights && st->has_best_weights &&
        ckpt_get_f32(r, "es.best_weights", cb->es.best_weights, s->rec->n_weights, e))
        return -1;
    return 0;
}

static int load_head_state(const CkptReader *r, HeadTrainer *ht, Err *e) {
    size_t n = ht->head.n_params;
    int64_t it;
    if (ckpt_get_f32(r, "head.params", ht->head.params, n, e) || ckpt_get_f32(r, "opt.m", ht->optim.m, n, e) ||
        (ht->optim.v && ckpt_get_f32(r, "opt.v", ht->optim.v, n, e)) || ckpt_get_i64(r, "opt.iterations", &it, 1, e))
        return -1;
    ht->optim.iterations = it;
    return 0;
}

static int load_record(const CkptReader *r, TrialRecord *rec, Err *e) {
    int64_t next, finished, best_epoch;
    if (load_history(r, &rec->hist, e) || ckpt_get_i64(r, "trial.next_epoch", &next, 1, e) ||
        ckpt_get_i64(r, "trial.finished", &finished, 1, e) || ckpt_get_i64(r, "trial.best_epoch", &best_epoch, 1, e) ||
        get_scalar(r, "trial.best_monitor", &rec->best_monitor, e) ||
        get_scalar(r, "trial.untrained_val_accuracy", &rec->untrained_val_accuracy, e) ||
        get_scalar(r, "trial.elapsed", &rec->elapsed, e))
        return -1;
    rec->next_epoch = (int)next;
    rec->finished = (int)finished;
    rec->best_epoch = (int)best_epoch;
    return 0;
}

static int load_state(const CkptReader *r, const char *path, TrialState *s, Err *e) {
    const char *fmt = ckpt_meta(r, "format"), *digest = ckpt_meta(r, "config_digest");
    if (!fmt || strcmp(fmt, STATE_FORMAT)) return err_fail(e, "%s: not a trial state file", path);
    if (!digest || strcmp(digest, s->config_digest))
        return err_fail(e, "%s: belongs to a different configuration (delete the folder or use another --out)", path);
    return load_head_state(r, s->ht, e) || load_record(r, s->rec, e) || load_suffix_state(r, s->ft, e) ? -1 : 0;
}

/* Callbacks start after the history is known (train_log.csv keeps the finished rows). */
static int init_callbacks(TrialState *s, const CallbacksConfig *cbc, Err *e) {
    char csv[1100];
    fs_join(csv, sizeof csv, s->out_dir, "train_log.csv");
    return callbacks_init(s->cb, cbc, s->rec->n_weights, csv, s->rec->hist.n, e);
}

int trial_state_load(TrialState *s, const CallbacksConfig *cbc, Err *e) {
    char path[1100];
    fs_join(path, sizeof path, s->out_dir, "last.safetensors");
    if (!fs_exists(path)) return init_callbacks(s, cbc, e);
    CkptReader r;
    if (ckpt_open(path, &r, e)) return -1;
    /* The callbacks then take their saved counters. */
    int rc = load_state(&r, path, s, e) || init_callbacks(s, cbc, e) || load_callbacks(&r, s, e) ? -1 : 0;
    ckpt_close(&r);
    return rc ? err_context(e, "resuming from %s", path) : 1;
}

/* Class names joined by newlines, for predict. */
static char *joined_classes(const Dataset *ds) {
    size_t len = 1;
    for (int i = 0; i < ds->n_classes; i++) len += strlen(ds->class_names[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < ds->n_classes; i++) p += sprintf(p, "%s%s", i ? "\n" : "", ds->class_names[i]);
    *p = 0;
    return s;
}

int trial_best_save(const TrialState *s, const TrialConfig *c, const Dataset *ds, int epoch, double monitor, Err *e) {
    const Head *head = &s->ht->head;
    const float *best = s->rec->best_params;
    Checkpoint ck;
    ckpt_init(&ck);
    char *classes = joined_classes(ds), num[64];
    int rc = classes ? 0 : err_fail(e, "out of memory");
    for (int i = 0; rc == 0 && i < head->n_views; i++) {
        const ParamView *v = &head->views[i];
        int64_t shape[2] = {v->shape[0], v->shape[1]};
        rc = ckpt_add_f32(&ck, v->name, best + v->offset, v->ndim, shape, e);
    }
    if (rc == 0 && s->ft->enabled) rc = add_suffix_params(&ck, &s->ft->s, best + head->n_params, e) ||
                                        ckpt_set_meta(&ck, "trainable", c->model.trainable, e);
    snprintf(num, sizeof num, "%d", epoch);
    if (rc == 0) rc = ckpt_set_meta(&ck, "format", "resnet-sweep head v1", e) || ckpt_set_meta(&ck, "classes", classes, e) ||
                      ckpt_set_meta(&ck, "epoch", num, e) || ckpt_set_meta(&ck, "config_digest", s->config_digest, e);
    snprintf(num, sizeof num, "%.9g", monitor);
    if (rc == 0) rc = ckpt_set_meta(&ck, c->callbacks.checkpoint_monitor, num, e);
    char path[1100];
    if (rc == 0) rc = ckpt_write_atomic(&ck, fs_join(path, sizeof path, s->out_dir, "best.safetensors"), e);
    free(classes);
    ckpt_free(&ck);
    return rc;
}

int trial_best_load(TrialState *s, Err *e) {
    const Head *head = &s->ht->head;
    float *best = s->rec->best_params;
    char path[1100];
    fs_join(path, sizeof path, s->out_dir, "best.safetensors");
    if (!fs_exists(path)) return 0;
    CkptReader r;
    if (ckpt_open(path, &r, e)) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < head->n_views; i++) {
        const ParamView *v = &head->views[i];
        rc = ckpt_get_f32(&r, v->name, best + v->offset, v->size, e);
    }
    if (rc == 0 && s->ft->enabled) rc = get_suffix_params(&r, &s->ft->s, best + head->n_params, e);
    ckpt_close(&r);
    if (rc) return err_context(e, "%s", path);
    s->rec->have_best = 1;
    return 1;
}
