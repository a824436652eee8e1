#include "progress.h"

#include <math.h>
#include <stdio.h>

void progress_init(Progress *p, int total, double now) {
    *p = (Progress){.total = total, .t_start = now, .t_trials = now, .best = -1, .best_acc = -INFINITY};
}

void progress_trials_start(Progress *p, double now) { p->t_trials = now; }

void progress_add(Progress *p, int trial, SweepTrialStatus st, double val_accuracy, int before_start) {
    p->finished++;
    p->finished_before += before_start;
    p->failed += st == STATUS_FAILED;
    p->diverged += st == STATUS_DIVERGED;
    p->pruned += st == STATUS_PRUNED;
    if (st == STATUS_DONE && !isnan(val_accuracy) && val_accuracy > p->best_acc) p->best = trial, p->best_acc = val_accuracy;
}

void format_duration(double seconds, char *out, size_t n) {
    long s = seconds < 0 ? 0 : (long)(seconds + 0.5);
    if (s < 60) snprintf(out, n, "%lds", s);
    else if (s < 3600) snprintf(out, n, "%ldm%02lds", s / 60, s % 60);
    else snprintf(out, n, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
}

void progress_line(const Progress *p, const TrialSet *ts, const char *name, double now, char *out, size_t n) {
    size_t k = (size_t)snprintf(out, n, "[%s] %d/%d done", name, p->finished, p->total);
    if (p->failed && k < n) k += (size_t)snprintf(out + k, n - k, ", %d failed", p->failed);
    if (p->diverged && k < n) k += (size_t)snprintf(out + k, n - k, ", %d diverged", p->diverged);
    if (p->pruned && k < n) k += (size_t)snprintf(out + k, n - k, ", %d pruned", p->pruned);
    if (p->best >= 0 && k < n) {
        k += (size_t)snprintf(out + k, n - k, " | best val_acc %.4f (", p->best_acc);
        const SweepTrial *t = &ts->trials[p->best];
        for (int i = 0; i < ts->n_axes && k < n; i++)
            k += (size_t)snprintf(out + k, n - k, "%s%s=%s", i ? " " : "", ts->labels[i], t->text[i]);
        if (ts->n_axes == 0 && k < n) k += (size_t)snprintf(out + k, n - k, "%s", t->id);
        if (k < n) k += (size_t)snprintf(out + k, n - k, ")");
    }
    char el[32], eta[32] = "?";
    format_duration(now - p->t_start, el, sizeof el);
    int ran = p->finished - p->finished_before, left = p->total - p->finished;
    if (left <= 0) snprintf(eta, sizeof eta, "0s");
    else if (ran > 0) format_duration((now - p->t_trials) / ran * left, eta, sizeof eta);
    if (k < n) snprintf(out + k, n - k, " | %s, ETA %s", el, eta);
}
