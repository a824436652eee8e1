#include "train/trial_record.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int trial_record_create(TrialRecord *r, int epochs, size_t n_weights, Err *e) {
    *r = (TrialRecord){.best_epoch = -1, .best_monitor = NAN, .n_weights = n_weights};
    if (history_alloc(&r->hist, epochs, e)) return -1;
    r->best_params = tl_malloc(e, n_weights * sizeof(float), "best weights");
    return r->best_params ? 0 : -1;
}

void trial_record_free(TrialRecord *r) {
    free(r->hist.accuracy);
    free(r->hist.seconds);
    free(r->best_params);
}

void trial_record_push(TrialRecord *r, const EpochLogs *logs) {
    History *h = &r->hist;
    h->accuracy[h->n] = logs->accuracy;
    h->loss[h->n] = logs->loss;
    h->val_accuracy[h->n] = logs->val_accuracy;
    h->val_loss[h->n] = logs->val_loss;
    h->lr[h->n] = logs->lr;
    h->seconds[h->n] = logs->seconds;
    h->n++;
}

int trial_record_improved(const TrialRecord *r, const CallbacksConfig *cb, const EpochLogs *logs, double *value) {
    if (!logs_get(logs, cb->checkpoint_monitor, value) || isnan(*value)) return 0;
    int mode_max = 0;
    monitor_mode_max(cb->checkpoint_mode, cb->checkpoint_monitor, &mode_max, NULL);
    return isnan(r->best_monitor) || (mode_max ? *value > r->best_monitor : *value < r->best_monitor);
}

void trial_record_result(const TrialRecord *r, TrialResult *res) {
    const History *h = &r->hist;
    int b = r->best_epoch, last = h->n - 1;
    res->epochs = h->n;
    res->best_epoch = b;
    res->val_loss = b >= 0 ? h->val_loss[b] : NAN;
    res->val_accuracy = b >= 0 ? h->val_accuracy[b] : NAN;
    res->train_loss = b >= 0 ? h->loss[b] : NAN;
    res->train_accuracy = b >= 0 ? h->accuracy[b] : NAN;
    res->gap = b >= 0 ? (double)h->accuracy[b] - h->val_accuracy[b] : NAN;
    res->final_gap = last >= 0 ? (double)h->accuracy[last] - h->val_accuracy[last] : NAN;
    res->untrained_val_accuracy = r->untrained_val_accuracy;
    double sum = 0;
    for (int i = 0; i < h->n; i++) sum += h->seconds[i];
    res->seconds_per_epoch = h->n ? sum / h->n : NAN;
    res->seconds = r->elapsed;
}
