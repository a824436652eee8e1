#include "prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

int pruner_init(Pruner *p, const PruneOptions *o, int max_epochs, Err *e) {
    memset(p, 0, sizeof *p);
    p->o = *o;
    p->max_epochs = o->max_epochs > 0 ? o->max_epochs : max_epochs;
    if (o->method == PRUNE_ASHA && o->grace_epochs >= p->max_epochs)
        return err_fail(e, "early_stop: grace_epochs %d leaves no rung below the %d epochs a trial trains (max_epochs)",
                        o->grace_epochs, p->max_epochs);
    return 0;
}

void pruner_free(Pruner *p) {
    for (int t = 0; t < p->n_curves; t++) free(p->curves[t].v);
    free(p->curves);
    memset(p, 0, sizeof *p);
}

static PruneCurve *curve_of(Pruner *p, int trial, Err *e) {
    if (trial < 0) { err_fail(e, "early_stop: trial index %d", trial); return NULL; }
    if (trial >= p->n_curves) {
        int n = trial + 1 > 2 * p->n_curves ? trial + 1 : 2 * p->n_curves;
        PruneCurve *c = realloc(p->curves, (size_t)n * sizeof *c);
        if (!c) { err_fail(e, "out of memory (early_stop)"); return NULL; }
        memset(c + p->n_curves, 0, (size_t)(n - p->n_curves) * sizeof *c);
        p->curves = c, p->n_curves = n;
    }
    return &p->curves[trial];
}

int pruner_record(Pruner *p, int trial, int epoch, double value, Err *e) {
    PruneCurve *c = curve_of(p, trial, e);
    if (!c) return -1;
    if (epoch < 0 || epoch > c->n)
        return err_fail(e, "early_stop: trial %d reported epoch %d after %d epochs (epochs come in order)", trial, epoch, c->n);
    if (epoch == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        double *v = realloc(c->v, (size_t)cap * sizeof *v);
        TL_CHECK_ALLOC(e, v);
        c->v = v, c->cap = cap;
    }
    c->v[epoch] = p->o.maximize ? value : -value;
    if (epoch == c->n) c->n++;
    return 0;
}

int pruner_complete(Pruner *p, int trial, Err *e) {
    PruneCurve *c = curve_of(p, trial, e);
    if (!c) return -1;
    c->complete = 1;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double pruner_quantile(double *values, int n, double q) {
    if (n == 0) return NAN;
    qsort(values, (size_t)n, sizeof *values, cmp_double);
    double pos = q * (n - 1);
    int lo = (int)floor(pos);
    if (lo >= n - 1) return values[n - 1];
    return values[lo] + (pos - lo) * (values[lo + 1] - values[lo]);
}

int pruner_rungs(const Pruner *p, int *epochs, int max) {
    int n = 0;
    if (p->o.method != PRUNE_ASHA) return 0;
    for (long r = p->o.grace_epochs; r < p->max_epochs; r *= p->o.reduction_factor) {
        if (n < max) epochs[n] = (int)r;
        n++;
    }
    return n;
}

/* Non-NaN values recorded after `epoch` by the trials that reached it (but one). */
static int values_at(const Pruner *p, int epoch, int exclude_trial, int complete_only, double *out, int *n_any) {
    int n = 0, any = 0;
    for (int t = 0; t < p->n_curves; t++) {
        const PruneCurve *c = &p->curves[t];
        if (t == exclude_trial || c->n <= epoch || (complete_only && !c->complete)) continue;
        any++;
        if (!isnan(c->v[epoch])) out[n++] = c->v[epoch];
    }
    if (n_any) *n_any = any;
    return n;
}

int pruner_rung_values(const Pruner *p, int k, int exclude_trial, double *values) {
    int rungs[64], n = pruner_rungs(p, rungs, 64);
    if (k < 0 || k >= n || k >= 64) return 0;
    return values_at(p, rungs[k] - 1, exclude_trial, 0, values, NULL);
}

static PruneDecision asha_decide(const Pruner *p, int trial, int epoch, double v, double *buf) {
    int rungs[64], n = pruner_rungs(p, rungs, 64), at_rung = 0;
    for (int k = 0; k < n && k < 64; k++) at_rung |= rungs[k] == epoch + 1;
    if (!at_rung) return PRUNE_CONTINUE;
    if (isnan(v)) return PRUNE_STOP;
    int m = values_at(p, epoch, trial, 0, buf, NULL);
    if (m == 0) return PRUNE_CONTINUE;
    double cutoff = pruner_quantile(buf, m, 1.0 - 1.0 / p->o.reduction_factor);
    return v < cutoff ? PRUNE_STOP : PRUNE_CONTINUE;
}

static PruneDecision median_decide(const Pruner *p, const PruneCurve *c, int trial, int epoch, double *buf) {
    int completed = 0;
    for (int t = 0; t < p->n_curves; t++) completed += t != trial && p->curves[t].complete;
    if (completed == 0 || completed < p->o.startup_trials || epoch < p->o.warmup_epochs) return PRUNE_CONTINUE;
    double best = NAN;
    for (int k = 0; k <= epoch; k++)
        if (!isnan(c->v[k]) && (isnan(best) || c->v[k] > best)) best = c->v[k];
    if (isnan(best)) return PRUNE_STOP;
    int reached, m = values_at(p, epoch, trial, 1, buf, &reached);
    if (reached < p->o.min_trials || m == 0) return PRUNE_CONTINUE;
    return best < pruner_quantile(buf, m, 0.5) ? PRUNE_STOP : PRUNE_CONTINUE;
}

PruneDecision pruner_decide(const Pruner *p, int trial, int epoch) {
    if (trial < 0 || trial >= p->n_curves || epoch < 0 || epoch >= p->curves[trial].n) return PRUNE_CONTINUE;
    const PruneCurve *c = &p->curves[trial];
    double *buf = malloc((size_t)p->n_curves * sizeof *buf);
    if (!buf) return PRUNE_CONTINUE;   /* out of memory: never stop a trial for it */
    PruneDecision d = PRUNE_CONTINUE;
    if (p->o.method == PRUNE_ASHA) d = asha_decide(p, trial, epoch, c->v[epoch], buf);
    else if (p->o.method == PRUNE_MEDIAN) d = median_decide(p, c, trial, epoch, buf);
    free(buf);
    return d;
}

int pruner_report(Pruner *p, int trial, int epoch, double value, PruneDecision *d, Err *e) {
    *d = PRUNE_CONTINUE;
    if (pruner_record(p, trial, epoch, value, e)) return -1;
    *d = pruner_decide(p, trial, epoch);
    return 0;
}

static double field_value(const char *s) {
    char *end;
    double v = strtod(s, &end);
    return *s && *end == 0 ? v : NAN;
}

static int check_log_columns(const char *metric, const CsvTable *t, const char *path, Err *e) {
    if (csv_col(t, "epoch") < 0 || csv_col(t, metric) < 0)
        return err_fail(e, "%s: no column 'epoch' or '%s' (early_stop.metric)", path, metric);
    return 0;
}

int pruner_log_value(const char *path, const char *metric, int epoch, double *value, Err *e) {
    CsvTable t;
    if (csv_read_file(&t, path, e)) return -1;
    int rc = check_log_columns(metric, &t, path, e), found = 0;
    for (int r = t.n_rows - 1; r >= 0 && rc == 0 && !found; r--)
        if (field_value(csv_get(&t, r, "epoch")) == epoch) *value = field_value(csv_get(&t, r, metric)), found = 1;
    if (rc == 0 && !found) rc = err_fail(e, "%s: no row for epoch %d", path, epoch);
    csv_free(&t);
    return rc;
}

int pruner_replay_log(Pruner *p, int trial, const char *path, int complete, int *n_rows, Err *e) {
    *n_rows = 0;
    CsvTable t;
    FILE *f = fopen(path, "r");
    if (!f) return complete ? pruner_complete(p, trial, e) : 0;
    fclose(f);
    if (csv_read_file(&t, path, e)) return -1;
    int rc = check_log_columns(p->o.metric, &t, path, e);
    for (int r = 0; r < t.n_rows && rc == 0; r++) {
        double epoch = field_value(csv_get(&t, r, "epoch"));
        if (isnan(epoch) || epoch != floor(epoch)) rc = err_fail(e, "%s: row %d: epoch '%s' is not a number", path, r + 2, csv_get(&t, r, "epoch"));
        else if ((rc = pruner_record(p, trial, (int)epoch, field_value(csv_get(&t, r, p->o.metric)), e)) != 0) err_context(e, "%s", path);
        else (*n_rows)++;
    }
    csv_free(&t);
    if (rc == 0 && complete) rc = pruner_complete(p, trial, e);
    return rc;
}
