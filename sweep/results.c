#include "results.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"

const char *status_name(SweepTrialStatus s) {
    switch (s) {
    case STATUS_PENDING: return "pending";
    case STATUS_INTERRUPTED: return "interrupted";
    case STATUS_DONE: return "done";
    case STATUS_DIVERGED: return "diverged";
    case STATUS_FAILED: return "failed";
    case STATUS_PRUNED: return "pruned";
    }
    return "?";
}

int status_finished(SweepTrialStatus s) { return s == STATUS_DONE || s == STATUS_DIVERGED || s == STATUS_PRUNED; }

static void set_message(TrialResult *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_message(TrialResult *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static double field_number(const CsvTable *t, ResultColumn c) {
    const char *s = csv_get(t, 0, RESULT_COLUMNS[c]);
    char *end;
    double v = strtod(s, &end);
    return *s && *end == 0 ? v : NAN;
}

int result_read(const char *dir, TrialResult *r) {
    memset(r, 0, sizeof *r);
    r->val_accuracy = r->val_loss = r->gap = r->seconds = NAN;
    char path[1200];
    Err e;
    snprintf(path, sizeof path, "%s/result.csv", dir);
    if (!fs_exists(path)) {
        char prev[1200];
        snprintf(path, sizeof path, "%s/last.safetensors", dir);
        snprintf(prev, sizeof prev, "%s/last.prev.safetensors", dir);
        r->status = fs_exists(path) || fs_exists(prev) ? STATUS_INTERRUPTED : STATUS_PENDING;
        return 0;
    }
    r->status = STATUS_FAILED;
    if (csv_read_file(&r->csv, path, &e)) { set_message(r, "%s", e.msg); return 0; }
    if (r->csv.n_rows < 1) { set_message(r, "%s: no data row", path); return 0; }
    const char *st = csv_get(&r->csv, 0, RESULT_COLUMNS[RESULT_COL_STATUS]);
    if (strcmp(st, "done") == 0) r->status = STATUS_DONE;
    else if (strcmp(st, "diverged") == 0) r->status = STATUS_DIVERGED;
    else if (strcmp(st, "pruned") == 0) r->status = STATUS_PRUNED;
    else if (strcmp(st, "failed") != 0) set_message(r, "%s: unknown status '%s'", path, st);
    if (!r->message[0]) set_message(r, "%s", csv_get(&r->csv, 0, RESULT_COLUMNS[RESULT_COL_MESSAGE]));
    r->val_accuracy = field_number(&r->csv, RESULT_COL_VAL_ACCURACY);
    r->val_loss = field_number(&r->csv, RESULT_COL_VAL_LOSS);
    r->gap = field_number(&r->csv, RESULT_COL_GAP);
    r->seconds = field_number(&r->csv, RESULT_COL_SECONDS);
    return 0;
}

void result_free(TrialResult *r) {
    csv_free(&r->csv);
    memset(r, 0, sizeof *r);
}

int result_write_failure(const char *dir, const char *trial, const char *message, double seconds, Err *e) {
    char path[1200];
    snprintf(path, sizeof path, "%s/result.csv", dir);
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    result_columns_header(af.f);
    for (int c = 0; c < N_RESULT_COLUMNS; c++) {
        if (c) fputc(',', af.f);
        switch ((ResultColumn)c) {
        case RESULT_COL_TRIAL: csv_write_field(af.f, trial); break;
        case RESULT_COL_STATUS: fputs("failed", af.f); break;
        case RESULT_COL_EPOCHS: fputs("0", af.f); break;
        case RESULT_COL_SECONDS: fprintf(af.f, "%.3f", seconds); break;
        case RESULT_COL_MESSAGE: csv_write_field(af.f, message); break;
        default: break;
        }
    }
    fputc('\n', af.f);
    return fs_atomic_commit(&af, e);
}
