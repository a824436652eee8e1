/* result.csv: one row, written last and atomically. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fsutil.h"
#include "train/trial.h"

const char *trial_status_name(TrialStatus s) {
    switch (s) {
    case TRIAL_DONE: return "done";
    case TRIAL_DIVERGED: return "diverged";
    case TRIAL_FAILED: return "failed";
    default: return "interrupted";
    }
}

/* Numbers as %.9g; NaN (not measured) as an empty field. */
static void put_num(FILE *f, double v) {
    if (isnan(v)) fputs(",", f);
    else fprintf(f, ",%.9g", v);
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

int trial_result_write(const char *path, const TrialResult *r, Err *e) {
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    FILE *f = af.f;
    fputs("trial,status,epochs,best_epoch,val_loss,val_accuracy,train_loss,train_accuracy,gap,final_gap,"
          "untrained_val_accuracy,test_loss,test_accuracy,test_top5,seconds,seconds_per_epoch,message\n", f);
    put_text(f, r->trial);
    fprintf(f, ",%s,%d,%d", trial_status_name(r->status), r->epochs, r->best_epoch);
    double nums[] = {r->val_loss, r->val_accuracy, r->train_loss, r->train_accuracy, r->gap, r->final_gap,
                     r->untrained_val_accuracy, r->test_loss, r->test_accuracy, r->test_top5, r->seconds, r->seconds_per_epoch};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) put_num(f, nums[i]);
    fputc(',', f);
    put_text(f, r->message);
    fputc('\n', f);
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

void trial_cache_dir(const TrialConfig *cfg, const char *out_dir, char *out, size_t n) {
    const char *d = cfg->feature_cache.dir;
    if (d[0] == '/') { snprintf(out, n, "%s", d); return; }
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", out_dir);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/') parent[--len] = 0;
    char *slash = strrchr(parent, '/');
    if (slash) { *slash = 0; snprintf(out, n, "%s/%s", slash == parent ? "/" : parent, d); }
    else snprintf(out, n, "%s", d);
}
