/* sweep --status RUNDIR: where a sweep stands, from its files alone (so it works from any
 * shell or node that sees the runs folder, while the sweep runs or after it ended):
 *   result.csv      done / diverged / pruned / failed, the trial's val accuracy
 *   running         "host rank pid start": a rank is running the trial now (its mtime is the
 *                   rank's heartbeat, every 30 s: stale or dead-process markers read interrupted)
 *   train_log.csv   epochs logged so far, best val accuracy so far
 *   last.safetensors without result.csv and without `running`: interrupted
 *   sweep_status    the sweep's own word on its run (run_status.h): running, done, failed,
 *                   interrupted; a `running` whose sweep is gone reads interrupted
 * ETA = mean wall time of the trials finished so far x trials left / trials running now. */
#include "sweep_run.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "run_status.h"

typedef struct TrialState {
    char status[96];        /* e.g. "running on h2/rank 3" */
    int epochs_logged, running;
    int epochs;             /* train.epochs from the trial's config.yaml; 0 = not written yet */
    double best_val;        /* NAN: none yet */
} TrialState;

/* Epochs in train_log.csv and the best val_accuracy among them. */
static void read_log(const char *dir, TrialState *st) {
    char path[SWEEP_PATH_MAX + TRIAL_ID_MAX + 32];
    snprintf(path, sizeof path, "%s/train_log.csv", dir);
    CsvTable t;
    Err e;
    if (!fs_exists(path) || csv_read_file(&t, path, &e)) return;
    st->epochs_logged = t.n_rows;
    for (int r = 0; r < t.n_rows; r++) {
        const char *v = csv_get(&t, r, "val_accuracy");
        char *end;
        double x = strtod(v, &end);
        if (*v && !*end && (isnan(st->best_val) || x > st->best_val)) st->best_val = x;
    }
    csv_free(&t);
}

/* "running on HOST/rank R", or "interrupted" when the marker's process is gone (checked
 * when it ran on this host) or its heartbeat (the file's mtime) is stale (any host). */
static void read_running(const char *dir, TrialState *st) {
    char path[SWEEP_PATH_MAX + TRIAL_ID_MAX + 32], *text, host[64], me[64] = "";
    snprintf(path, sizeof path, "%s/running", dir);
    struct stat sb;
    if (stat(path, &sb) != 0 || fs_read_all(path, &text, NULL, NULL)) return;
    int rank = -1;
    long pid = 0, since = 0;
    int n = sscanf(text, "%63s %d %ld %ld", host, &rank, &pid, &since);
    free(text);
    if (n != 4) return;
    gethostname(me, sizeof me - 1);
    if (strcmp(host, me) == 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
        snprintf(st->status, sizeof st->status, "interrupted (rank %d on %s is gone)", rank, host);
        return;
    }
    double quiet = difftime(time(NULL), sb.st_mtime);
    if (quiet > HEARTBEAT_STALE_SECONDS) {
        snprintf(st->status, sizeof st->status, "interrupted (%s/rank %d silent %.0fs)", host, rank, quiet);
        return;
    }
    st->running = 1;
    snprintf(st->status, sizeof st->status, "running on %s/rank %d", host, rank);
}

static void trial_state(const SweepPlan *p, int t, TrialState *st) {
    char dir[SWEEP_PATH_MAX + TRIAL_ID_MAX];
    plan_trial_dir(p, t, dir, sizeof dir);
    memset(st, 0, sizeof *st);
    st->best_val = NAN;
    read_log(dir, st);
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    TrialConfig cfg;
    Err e;
    if (fs_exists(path) && config_load_file(&cfg, path, &e) == 0) st->epochs = cfg.train.epochs, config_free(&cfg);
    SweepTrialStatus s = p->results[t].status;
    if (status_finished(s) || s == STATUS_FAILED) {
        snprintf(st->status, sizeof st->status, "%s", status_name(s));
        if (!isnan(p->results[t].val_accuracy)) st->best_val = p->results[t].val_accuracy;
        return;
    }
    read_running(dir, st);
    if (!st->status[0]) snprintf(st->status, sizeof st->status, "%s", status_name(s));
}

/* Seconds left: finished trials' mean time x trials left (a running one counts by the
 * share of its epochs still to go), over the number running now (at least 1). */
static double eta_seconds(const SweepPlan *p, const TrialState *st) {
    double sum = 0, left = 0;
    int n = 0, running = 0;
    for (int t = 0; t < p->ts.n; t++) {
        if (!p->selected[t]) continue;
        const TrialResult *r = &p->results[t];
        if (status_finished(r->status) && !isnan(r->seconds)) sum += r->seconds, n++;
        if (status_finished(r->status) || r->status == STATUS_FAILED) continue;
        int epochs = st[t].epochs;
        left += epochs > 0 ? 1.0 - (double)st[t].epochs_logged / epochs : 1.0;
        running += st[t].running;
    }
    return n ? sum / n * left / (running > 0 ? running : 1) : NAN;
}

enum { COUNT_RUNNING = STATUS_PRUNED + 1 };   /* counts[] index past the statuses */

static void print_status(const SweepPlan *p, const TrialState *st, FILE *f) {
    int wid = 5, counts[COUNT_RUNNING + 1] = {0}, best = -1;
    for (int t = 0; t < p->ts.n; t++) {
        if (!p->selected[t]) continue;
        if ((int)strlen(p->ts.trials[t].id) > wid) wid = (int)strlen(p->ts.trials[t].id);
        counts[st[t].running ? COUNT_RUNNING : (int)p->results[t].status]++;
        if (status_finished(p->results[t].status) && !isnan(st[t].best_val) && (best < 0 || st[t].best_val > st[best].best_val))
            best = t;
    }
    fprintf(f, "sweep %s (%s): %d done, %d diverged, %d failed, %d running, %d interrupted, %d pending", p->spec.name,
            p->sweep_dir, counts[STATUS_DONE], counts[STATUS_DIVERGED], counts[STATUS_FAILED], counts[COUNT_RUNNING],
            counts[STATUS_INTERRUPTED], counts[STATUS_PENDING]);
    if (counts[STATUS_PRUNED]) fprintf(f, ", %d pruned", counts[STATUS_PRUNED]);
    if (best >= 0) fprintf(f, "; best val_acc %.4f (%s)", st[best].best_val, p->ts.trials[best].id);
    double eta = eta_seconds(p, st);
    char el[32] = "?";
    if (!isnan(eta)) format_duration(eta, el, sizeof el);
    fprintf(f, "; ETA %s\n%4s  %-*s  %-44s  %-9s  %s\n", counts[COUNT_RUNNING] + counts[STATUS_INTERRUPTED] + counts[STATUS_PENDING] ? el : "0s",
            "#", wid, "trial", "status", "epoch", "best val_acc");
    for (int t = 0; t < p->ts.n; t++) {
        if (!p->selected[t]) continue;
        char ep[32] = "-", acc[32] = "";
        if (st[t].epochs) snprintf(ep, sizeof ep, "%d of %d", st[t].epochs_logged, st[t].epochs);
        if (!isnan(st[t].best_val)) snprintf(acc, sizeof acc, "%.4f", st[t].best_val);
        fprintf(f, "%4d  %-*s  %-44s  %-9s  %s\n", t + 1, wid, p->ts.trials[t].id, st[t].status, ep, acc);
    }
}

int sweep_status(const SweepArgs *a) {
    SweepArgs load = *a;
    load.aggregate = a->status;
    load.file = NULL;
    SweepPlan p;
    Err e;
    if (plan_load(&p, &load, 0, &e)) {
        fprintf(stderr, "sweep: %s\n", e.msg);
        plan_free(&p);
        return 2;
    }
    TrialState *st = calloc((size_t)p.ts.n + 1, sizeof *st);
    if (!st) { plan_free(&p); fprintf(stderr, "sweep: out of memory\n"); return 1; }
    for (int t = 0; t < p.ts.n; t++) trial_state(&p, t, &st[t]);
    print_status(&p, st, stdout);
    RunStatus rs;
    char line[512];
    if (run_status_read(p.sweep_dir, &rs) == 0) {
        run_status_now(p.sweep_dir, &rs, line, sizeof line);
        printf("sweep run: %s\n", line);
    } else {
        printf("sweep run: no sweep_status (never started, or started before this version)\n");
    }
    free(st);
    plan_free(&p);
    return 0;
}
