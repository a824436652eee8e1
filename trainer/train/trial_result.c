/* result.csv: one row, written last and atomically (columns: train/result_columns.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fsutil.h"
#include "train/result_columns.h"
#include "train/trial_result.h"

const char *trial_status_name(TrialStatus s) {
    switch (s) {
    case TRIAL_DONE: return "done";
    case TRIAL_DIVERGED: return "diverged";
    case TRIAL_FAILED: return "failed";
    case TRIAL_PRUNED: return "pruned";
    default: return "interrupted";
    }
}

/* Numbers as %.9g; NaN (not measured) as an empty field. */
static void put_num(FILE *f, double v) {
    if (!isnan(v)) fprintf(f, "%.9g", v);
}

/* A CSV field: quoted, with quotes doubled and newlines turned into spaces. */
static void put_text(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputs("\"\"", f);
        else fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('"', f);
}

static void put_row(FILE *f, const TrialResult *r) {
    const double num[N_RESULT_COLUMNS] = {
        [RESULT_COL_VAL_LOSS] = r->val_loss, [RESULT_COL_VAL_ACCURACY] = r->val_accuracy,
        [RESULT_COL_TRAIN_LOSS] = r->train_loss, [RESULT_COL_TRAIN_ACCURACY] = r->train_accuracy,
        [RESULT_COL_GAP] = r->gap, [RESULT_COL_FINAL_GAP] = r->final_gap,
        [RESULT_COL_UNTRAINED_VAL_ACCURACY] = r->untrained_val_accuracy, [RESULT_COL_TEST_LOSS] = r->test_loss,
        [RESULT_COL_TEST_ACCURACY] = r->test_accuracy, [RESULT_COL_TEST_TOP5] = r->test_top5,
        [RESULT_COL_SECONDS] = r->seconds, [RESULT_COL_SECONDS_PER_EPOCH] = r->seconds_per_epoch};
    for (int c = 0; c < N_RESULT_COLUMNS; c++) {
        if (c) fputc(',', f);
        switch ((ResultColumn)c) {
        case RESULT_COL_TRIAL: put_text(f, r->trial); break;
        case RESULT_COL_STATUS: fputs(trial_status_name(r->status), f); break;
        case RESULT_COL_EPOCHS: fprintf(f, "%d", r->epochs); break;
        case RESULT_COL_BEST_EPOCH: fprintf(f, "%d", r->best_epoch); break;
        case RESULT_COL_MESSAGE: put_text(f, r->message); break;
        default: put_num(f, num[c]);
        }
    }
    fputc('\n', f);
}

int trial_result_write(const char *path, const TrialResult *r, Err *e) {
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    result_columns_header(af.f);
    put_row(af.f, r);
    return fs_atomic_commit(&af, e);
}

void trial_name_from_dir(const char *dir, char *out, size_t n) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", dir);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
    const char *slash = strrchr(buf, '/');
    snprintf(out, n, "%s", slash ? slash + 1 : buf);
}
