#include "train/callbacks.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"

/* ---------------------------------------------------------------- logs */

int logs_get(const EpochLogs *l, const char *key, double *value) {
    if (strcmp(key, "loss") == 0) *value = l->loss;
    else if (strcmp(key, "accuracy") == 0) *value = l->accuracy;
    else if (strcmp(key, "lr") == 0) *value = l->lr;
    else if (strcmp(key, "val_loss") == 0 && l->has_val) *value = l->val_loss;
    else if (strcmp(key, "val_accuracy") == 0 && l->has_val) *value = l->val_accuracy;
    else return 0;
    return 1;
}

int logs_check_key(const char *key, const char *what, Err *e) {
    static const char *keys[] = {"loss", "accuracy", "val_loss", "val_accuracy"};
    for (int i = 0; i < 4; i++) if (strcmp(key, keys[i]) == 0) return 0;
    return err_fail(e, "%s: unknown monitor '%s' (loss | accuracy | val_loss | val_accuracy)", what, key);
}

int monitor_mode_max(const char *mode, const char *monitor, int *mode_max, Err *e) {
    if (strcmp(mode, "min") == 0) *mode_max = 0;
    else if (strcmp(mode, "max") == 0) *mode_max = 1;
    else if (strcmp(mode, "auto") == 0 || !mode[0]) *mode_max = strstr(monitor, "acc") != NULL;
    else return err_fail(e, "mode '%s' unknown (auto | min | max)", mode);
    return 0;
}

/* ---------------------------------------------------------------- EarlyStopping */

int early_stopping_init(EarlyStopping *es, const EarlyStoppingConfig *cfg, size_t n_weights, Err *e) {
    memset(es, 0, sizeof *es);
    es->cfg = *cfg;
    if (logs_check_key(cfg->monitor, "early_stopping", e) ||
        monitor_mode_max(cfg->mode, cfg->monitor, &es->mode_max, e)) return -1;
    if (cfg->patience < 0) return err_fail(e, "early_stopping: patience must be >= 0 (got %d)", cfg->patience);
    es->min_delta = es->mode_max ? fabs(cfg->min_delta) : -fabs(cfg->min_delta);
    es->st.best = es->mode_max ? -INFINITY : INFINITY;
    es->n_weights = n_weights;
    if (cfg->restore_best) {
        es->best_weights = tl_malloc(e, n_weights * sizeof(float), "early stopping best weights");
        if (!es->best_weights) return -1;
    }
    return 0;
}

static int es_improved(const EarlyStopping *es, double current) {
    double shifted = current - es->min_delta;
    return es->mode_max ? shifted > es->st.best : shifted < es->st.best;
}

static void es_keep_weights(EarlyStopping *es, const float *weights) {
    if (!es->best_weights) return;
    memcpy(es->best_weights, weights, es->n_weights * sizeof(float));
    es->st.has_best_weights = 1;
}

int early_stopping_epoch_end(EarlyStopping *es, int epoch, const EpochLogs *logs, float *weights, int *restored) {
    EarlyStoppingState *st = &es->st;
    double current;
    *restored = 0;
    if (!logs_get(logs, es->cfg.monitor, &current)) return 0;   /* Keras warns and skips */
    if (!st->has_best_weights) es_keep_weights(es, weights);
    st->wait++;
    if (es_improved(es, current)) {
        st->best = current;
        st->best_epoch = epoch;
        es_keep_weights(es, weights);
        st->wait = 0;
        return 0;
    }
    if (st->wait < es->cfg.patience || epoch == 0) return 0;
    st->stopped_epoch = epoch;
    if (st->has_best_weights) {
        memcpy(weights, es->best_weights, es->n_weights * sizeof(float));
        *restored = 1;
    }
    return 1;
}

void early_stopping_free(EarlyStopping *es) {
    free(es->best_weights);
    es->best_weights = NULL;
}

/* ---------------------------------------------------------------- ModelCheckpoint */

int model_checkpoint_init(ModelCheckpoint *mc, const char *monitor, const char *mode, Err *e) {
    memset(mc, 0, sizeof *mc);
    if (logs_check_key(monitor, "checkpoint", e) || monitor_mode_max(mode, monitor, &mc->mode_max, e)) return -1;
    snprintf(mc->monitor, sizeof mc->monitor, "%s", monitor);
    mc->best = mc->mode_max ? -INFINITY : INFINITY;
    return 0;
}

int model_checkpoint_epoch_end(ModelCheckpoint *mc, const EpochLogs *logs) {
    double current;
    if (!logs_get(logs, mc->monitor, &current)) return 0;
    if (!(mc->mode_max ? current > mc->best : current < mc->best)) return 0;
    mc->best = current;
    return 1;
}

/* ---------------------------------------------------------------- TerminateOnNaN */

int terminate_on_nan(float running_loss) { return isnan(running_loss) || isinf(running_loss); }

/* ---------------------------------------------------------------- CSVLogger */

static const char CSV_HEADER[] = "epoch,accuracy,loss,lr,val_accuracy,val_loss,seconds\r\n";

/* digits (no point) and decimal exponent of the shortest %.*e that reads back as v. */
static void shortest_digits(float v, char digits[16], int *nd, int *exp10) {
    char sci[40];
    for (int p = 1; p <= 9; p++) {
        snprintf(sci, sizeof sci, "%.*e", p - 1, (double)v);
        if (strtof(sci, NULL) == v) break;
    }
    const char *s = sci + (sci[0] == '-');
    *nd = 0;
    for (; *s && *s != 'e'; s++) if (*s != '.') digits[(*nd)++] = *s;
    *exp10 = atoi(s + 1);
    while (*nd > 1 && digits[*nd - 1] == '0') (*nd)--;
    digits[*nd] = 0;
}

int csv_format_float(char *buf, size_t n, float v) {
    if (isnan(v)) return snprintf(buf, n, "nan");
    if (isinf(v)) return snprintf(buf, n, v < 0 ? "-inf" : "inf");
    if (v == 0.0f) return snprintf(buf, n, signbit(v) ? "-0.0" : "0.0");
    char d[16], out[64];
    int nd, e10, k = 0;
    shortest_digits(v, d, &nd, &e10);
    if (v < 0) out[k++] = '-';
    double a = fabs((double)v);
    if (!(a >= 1e-4 && a < 1e16)) {          /* numpy/Python switch to exponent form */
        out[k++] = d[0];
        if (nd > 1) { out[k++] = '.'; for (int i = 1; i < nd; i++) out[k++] = d[i]; }
        k += snprintf(out + k, sizeof out - k, "e%c%02d", e10 < 0 ? '-' : '+', abs(e10));
        return snprintf(buf, n, "%s", out);
    }
    int decpt = e10 + 1;                     /* digits before the decimal point */
    if (decpt <= 0) {                        /* 0.000ddd */
        out[k++] = '0'; out[k++] = '.';
        for (int i = 0; i < -decpt; i++) out[k++] = '0';
        for (int i = 0; i < nd; i++) out[k++] = d[i];
    } else {                                 /* ddd.ddd, ddd00.0 */
        for (int i = 0; i < decpt; i++) out[k++] = i < nd ? d[i] : '0';
        out[k++] = '.';
        if (decpt >= nd) out[k++] = '0';
        for (int i = decpt; i < nd; i++) out[k++] = d[i];
    }
    out[k] = 0;
    return snprintf(buf, n, "%s", out);
}

/* Byte offset just past the first `lines` lines of text, or -1 if it has fewer. */
static long offset_after_lines(const char *text, size_t size, int lines) {
    size_t pos = 0;
    for (int i = 0; i < lines; i++) {
        const char *nl = memchr(text + pos, '\n', size - pos);
        if (!nl) return -1;
        pos = (size_t)(nl - text) + 1;
    }
    return (long)pos;
}

/* Resume: keep the header and `rows` data rows, cut the rest off. */
static int csv_truncate_to_rows(const char *path, int rows, Err *e) {
    char *text;
    size_t size;
    if (fs_read_all(path, &text, &size, e)) return err_context(e, "resuming the CSV log");
    long keep = offset_after_lines(text, size, rows + 1);
    int header_ok = strncmp(text, CSV_HEADER, sizeof CSV_HEADER - 1) == 0;
    free(text);
    if (!header_ok) return err_fail(e, "%s: unexpected header; cannot resume this log", path);
    if (keep < 0) return err_fail(e, "%s: holds fewer than the %d finished epochs to resume from", path, rows);
    if (truncate(path, keep) != 0) return err_fail(e, "%s: cannot truncate: %s", path, strerror(errno));
    return 0;
}

int csv_logger_open(CsvLogger *c, const char *path, int finished_epochs, Err *e) {
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    if (finished_epochs > 0 && csv_truncate_to_rows(path, finished_epochs, e)) return -1;
    c->f = fopen(path, finished_epochs > 0 ? "ab" : "wb");
    if (!c->f) return err_fail(e, "%s: cannot open: %s", path, strerror(errno));
    c->header_written = finished_epochs > 0;
    return 0;
}

int csv_logger_write(CsvLogger *c, int epoch, const EpochLogs *l, Err *e) {
    char acc[40], loss[40], lr[40], vacc[40] = "NA", vloss[40] = "NA", secs[40];
    csv_format_float(acc, sizeof acc, l->accuracy);
    csv_format_float(loss, sizeof loss, l->loss);
    csv_format_float(lr, sizeof lr, l->lr);
    if (l->has_val) {
        csv_format_float(vacc, sizeof vacc, l->val_accuracy);
        csv_format_float(vloss, sizeof vloss, l->val_loss);
    }
    csv_format_float(secs, sizeof secs, (float)l->seconds);
    if (!c->header_written && fputs(CSV_HEADER, c->f) == EOF)
        return err_fail(e, "%s: write failed: %s", c->path, strerror(errno));
    c->header_written = 1;
    if (fprintf(c->f, "%d,%s,%s,%s,%s,%s,%s\r\n", epoch, acc, loss, lr, vacc, vloss, secs) < 0 || fflush(c->f) != 0)
        return err_fail(e, "%s: write failed: %s", c->path, strerror(errno));
    return 0;
}

void csv_logger_close(CsvLogger *c) {
    if (c->f) fclose(c->f);
    c->f = NULL;
}

/* ---------------------------------------------------------------- all callbacks */

int callbacks_init(Callbacks *cb, const CallbacksConfig *cfg, size_t n_weights,
                   const char *csv_path, int finished_epochs, Err *e) {
    memset(cb, 0, sizeof *cb);
    cb->cfg = *cfg;
    if (cfg->early_stopping.enabled && early_stopping_init(&cb->es, &cfg->early_stopping, n_weights, e))
        return -1;
    if (cfg->checkpoint_enabled &&
        model_checkpoint_init(&cb->ckpt, cfg->checkpoint_monitor, cfg->checkpoint_mode, e)) {
        callbacks_free(cb);
        return -1;
    }
    if (cfg->csv_log && csv_logger_open(&cb->csv, csv_path, finished_epochs, e)) {
        callbacks_free(cb);
        return -1;
    }
    return 0;
}

int callbacks_batch_end(Callbacks *cb, float running_loss) {
    if (cb->cfg.terminate_on_nan && terminate_on_nan(running_loss)) cb->diverged = 1;
    return cb->diverged;
}

int callbacks_epoch_end(Callbacks *cb, LrSchedule *sched, int epoch, EpochLogs *logs,
                        float *weights, EpochActions *act, Err *e) {
    memset(act, 0, sizeof *act);
    if (cb->cfg.early_stopping.enabled)
        act->stop = early_stopping_epoch_end(&cb->es, epoch, logs, weights, &act->restored);
    double current = 0;
    int have = logs_get(logs, sched->cfg.monitor, &current);
    logs->lr = schedule_epoch_end(sched, have, current);
    if (cb->cfg.checkpoint_enabled) act->save_best = model_checkpoint_epoch_end(&cb->ckpt, logs);
    if (cb->cfg.csv_log && csv_logger_write(&cb->csv, epoch, logs, e)) return -1;
    act->diverged = cb->diverged;
    act->stop |= cb->diverged;
    return 0;
}

void callbacks_free(Callbacks *cb) {
    early_stopping_free(&cb->es);
    csv_logger_close(&cb->csv);
}
