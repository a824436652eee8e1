#include "expand.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/rng.h"

/* "{hidden: 512, dropout: 0.5}" for a mapping value; "[1, 2]" for a list. */
static size_t node_flow_text(const YamlNode *v, char *out, size_t n) {
    size_t k = 0;
    if (n == 0) return 0;
    out[0] = 0;
    if (v->kind == YAML_SCALAR) return (size_t)snprintf(out, n, "%s", v->scalar);
    k += (size_t)snprintf(out, n, "%c", v->kind == YAML_MAP ? '{' : '[');
    for (size_t i = 0; i < v->n && k < n; i++) {
        if (i) k += (size_t)snprintf(out + k, n - k, ", ");
        if (k < n && v->kind == YAML_MAP) k += (size_t)snprintf(out + k, n - k, "%s: ", v->keys[i]);
        if (k < n) k += node_flow_text(v->items[i], out + k, n - k);
    }
    if (k < n) k += (size_t)snprintf(out + k, n - k, "%c", v->kind == YAML_MAP ? '}' : ']');
    return k;
}

static void value_texts(const YamlNode *v, char *canonical, char *compact) {
    if (v->kind == YAML_SCALAR) {
        value_canonical(v->scalar, v->quoted, canonical, VALUE_TEXT_MAX);
        value_compact(v->scalar, v->quoted, compact, VALUE_TEXT_MAX);
        return;
    }
    node_flow_text(v, canonical, VALUE_TEXT_MAX);
    value_compact(canonical, 1, compact, VALUE_TEXT_MAX);
}

/* A scalar node made in code that still points at the axis's line in the sweep file. */
static YamlNode *scalar_at(const SweepSpec *s, const Axis *a, const char *text) {
    YamlNode *n = yaml_new_scalar(text);
    if (n) n->line = a->node->line, n->file = s->file;
    return n;
}

double axis_round(const Axis *a, double v) {
    char text[64];
    if (a->dist == DIST_LIST) return v;   /* an index */
    if (a->dist == DIST_INT_UNIFORM) v = round(v);
    else if (a->dist == DIST_UNIFORM || a->dist == DIST_LOG_UNIFORM) {
        snprintf(text, sizeof text, "%.4g", v);
        v = strtod(text, NULL);
    }
    return v < a->lo ? a->lo : v > a->hi ? a->hi : v;
}

int sweep_n_dims(const SweepSpec *s) {
    int n = 0;
    for (int i = 0; i < s->n_axes; i++) n += s->axes[i].group < 0;
    return n + s->n_groups;
}

/* Axis i's draw for trial t from its stream (seed, RNG_SWEEP, t, i). */
static double draw_axis(const SweepSpec *s, const Axis *a, long trial, int axis) {
    Rng r;
    rng_init(&r, (uint64_t)s->seed, RNG_SWEEP, (uint32_t)trial, (uint32_t)axis);
    if (a->dist == DIST_LIST) return rng_below(&r, (uint32_t)a->n_values);
    if (a->dist == DIST_INT_UNIFORM) {
        double span = a->hi - a->lo + 1;
        return a->lo + (span > 4294967295.0 ? floor(rng_double(&r) * span) : (double)rng_below(&r, (uint32_t)span));
    }
    double u = rng_double(&r);
    if (a->dist == DIST_LOG_UNIFORM) return axis_round(a, exp(log(a->lo) + u * (log(a->hi) - log(a->lo))));
    return axis_round(a, a->lo + u * (a->hi - a->lo));
}

/* Number of values in zip group g. */
static size_t group_size(const SweepSpec *s, int g) {
    for (int i = 0; i < s->n_axes; i++)
        if (s->axes[i].group == g) return s->axes[i].n_values;
    return 1;
}

void sweep_random_draw(const SweepSpec *s, long t, double *x) {
    int d = 0;
    for (int i = 0; i < s->n_axes; i++)
        if (s->axes[i].group < 0) x[d++] = draw_axis(s, &s->axes[i], t, i);
    for (int g = 0; g < s->n_groups; g++) {
        Rng r;
        rng_init(&r, (uint64_t)s->seed, RNG_SWEEP, (uint32_t)t, 1000000u + (uint32_t)g);
        x[d++] = rng_below(&r, (uint32_t)group_size(s, g));
    }
}

void sweep_tpe_dims(const SweepSpec *s, TpeDim *dims) {
    int d = 0;
    for (int i = 0; i < s->n_axes; i++) {
        const Axis *a = &s->axes[i];
        if (a->group >= 0) continue;
        TpeKind k = a->dist == DIST_LIST ? TPE_CHOICE : a->dist == DIST_INT_UNIFORM ? TPE_INT
                    : a->dist == DIST_LOG_UNIFORM ? TPE_LOG_UNIFORM : TPE_UNIFORM;
        dims[d++] = (TpeDim){.kind = k, .lo = a->lo, .hi = a->hi, .n_choices = (int)a->n_values};
    }
    for (int g = 0; g < s->n_groups; g++) dims[d++] = (TpeDim){.kind = TPE_CHOICE, .n_choices = (int)group_size(s, g)};
}

/* The value node of axis a for a drawn x (an index for lists; a number otherwise). */
static YamlNode *drawn_value(const SweepSpec *s, const Axis *a, double x) {
    char text[64];
    if (a->dist == DIST_LIST) return yaml_clone(a->values[(size_t)x < a->n_values ? (size_t)x : 0]);
    if (a->dist == DIST_INT_UNIFORM) snprintf(text, sizeof text, "%.0f", x);
    else format_number_shortest(x, text, sizeof text);
    return scalar_at(s, a, text);
}

/* Dimension of axis i in a draw: its own, or its zip group's. */
static int axis_dim(const SweepSpec *s, int i) {
    if (s->axes[i].group < 0) return i;   /* independent axes come first */
    return sweep_n_dims(s) - s->n_groups + s->axes[i].group;
}

/* Number of trials of a grid: product over units (independent axes, zip groups). */
static int grid_size(const SweepSpec *s, long *total, Err *e) {
    long n = 1;
    int seen_group[256] = {0};
    for (int i = 0; i < s->n_axes; i++) {
        const Axis *a = &s->axes[i];
        if (a->group >= 0) {
            if (a->group >= 256) return err_fail(e, "%s: more than 256 zip groups", s->file);
            if (seen_group[a->group]++) continue;
        }
        n *= (long)a->n_values;
        if (n > SWEEP_MAX_TRIALS)
            return err_fail(e, "%s:%d: the grid has more than %d trials at axis '%s'", s->file, a->line, SWEEP_MAX_TRIALS, a->path);
    }
    *total = n;
    return 0;
}

/* Grid: value index of every axis for trial t (last unit fastest; zip axes share a digit). */
static void grid_indices(const SweepSpec *s, long t, size_t *idx) {
    long rest = t;
    for (int i = s->n_axes - 1; i >= 0; i--) {
        const Axis *a = &s->axes[i];
        int j = i + 1;   /* a later axis of the same zip group already took the digit */
        while (j < s->n_axes && !(a->group >= 0 && s->axes[j].group == a->group)) j++;
        if (j < s->n_axes) { idx[i] = idx[j]; continue; }
        idx[i] = (size_t)(rest % (long)a->n_values);
        rest /= (long)a->n_values;
    }
}

static int trial_alloc(SweepTrial *t, int n_axes, Err *e) {
    t->values = calloc((size_t)n_axes + 1, sizeof *t->values);
    t->text = calloc((size_t)n_axes + 1, sizeof *t->text);
    if (!t->values || !t->text) return err_fail(e, "out of memory expanding the sweep");
    return 0;
}

/* Trial t's values: grid value indices idx, or (drawn sweeps) the draw x. */
static int fill_trial(const SweepSpec *s, TrialSet *ts, long t, const size_t *idx, const double *x, Err *e) {
    SweepTrial *tr = &ts->trials[t];
    if (trial_alloc(tr, s->n_axes, e)) return -1;
    const char *compact[s->n_axes + 1];
    char (*ctext)[VALUE_TEXT_MAX] = calloc((size_t)s->n_axes + 1, VALUE_TEXT_MAX);
    TL_CHECK_ALLOC(e, ctext);
    for (int i = 0; i < s->n_axes; i++) {
        const Axis *a = &s->axes[i];
        tr->values[i] = x ? drawn_value(s, a, x[axis_dim(s, i)]) : yaml_clone(a->values[idx[i]]);
        if (!tr->values[i]) { free(ctext); return err_fail(e, "out of memory expanding the sweep"); }
        value_texts(tr->values[i], tr->text[i], ctext[i]);
        compact[i] = ctext[i];
    }
    trial_id_make((const char (*)[AXIS_LABEL_MAX])ts->labels, compact, s->n_axes, tr->id);
    free(ctext);
    return 0;
}

/* Trials known before anything runs: the grid, every random draw, or tpe's first
 * startup_trials (always random: they are drawn before any result exists). */
static long known_trials(const SweepSpec *s, Err *e) {
    long total = s->n_trials;
    if (s->method == METHOD_GRID && grid_size(s, &total, e)) return -1;
    if (s->method == METHOD_TPE && s->tpe.startup_trials < total) total = s->tpe.startup_trials;
    return total;
}

int sweep_expand(const SweepSpec *s, TrialSet *ts, Err *e) {
    memset(ts, 0, sizeof *ts);
    long total = known_trials(s, e);
    if (total < 0) return -1;
    ts->n_axes = s->n_axes;
    ts->labels = calloc((size_t)s->n_axes + 1, sizeof *ts->labels);
    ts->trials = calloc((size_t)total + 1, sizeof *ts->trials);
    ts->cap = (int)total + 1;
    size_t *idx = calloc((size_t)s->n_axes + 1, sizeof *idx);
    double *x = calloc((size_t)sweep_n_dims(s) + 1, sizeof *x);
    char (*ids)[TRIAL_ID_MAX] = calloc((size_t)total + 1, sizeof *ids);
    const char **paths = calloc((size_t)s->n_axes + 1, sizeof *paths);
    int rc = (!ts->labels || !ts->trials || !idx || !x || !ids || !paths) ? err_fail(e, "out of memory expanding the sweep") : 0;
    if (rc == 0) {
        ts->n = (int)total;
        for (int i = 0; i < s->n_axes; i++) paths[i] = s->axes[i].path;
        axis_labels(paths, s->n_axes, ts->labels);
    }
    for (long t = 0; rc == 0 && t < total; t++) {
        if (s->random) sweep_random_draw(s, t, x);
        else grid_indices(s, t, idx);
        rc = fill_trial(s, ts, t, idx, s->random ? x : NULL, e);
        if (rc == 0) memcpy(ids[t], ts->trials[t].id, TRIAL_ID_MAX);
    }
    int renamed = rc == 0 ? trial_ids_dedupe(ids, (int)total) : 0;
    if (renamed < 0) rc = err_fail(e, "out of memory making %ld trial ids unique", total);
    if (renamed > 0)
        for (long t = 0; t < total; t++) memcpy(ts->trials[t].id, ids[t], TRIAL_ID_MAX);
    free(idx), free(x), free(ids), free(paths);
    if (rc) trial_set_free(ts);
    return rc;
}

int trial_set_add_draw(const SweepSpec *s, TrialSet *ts, const double *x, Err *e) {
    if (ts->n + 1 > ts->cap) {
        int cap = 2 * (ts->cap > ts->n ? ts->cap : ts->n) + 1;
        SweepTrial *tr = realloc(ts->trials, (size_t)cap * sizeof *tr);
        TL_CHECK_ALLOC(e, tr);
        memset(tr + ts->n, 0, (size_t)(cap - ts->n) * sizeof *tr);
        ts->trials = tr, ts->cap = cap;
    }
    if (fill_trial(s, ts, ts->n, NULL, x, e)) {
        SweepTrial *tr = &ts->trials[ts->n];
        for (int i = 0; tr->values && i < ts->n_axes; i++) yaml_free(tr->values[i]);
        free(tr->values), free(tr->text);
        memset(tr, 0, sizeof *tr);
        return -1;
    }
    char (*ids)[TRIAL_ID_MAX] = calloc((size_t)ts->n + 1, sizeof *ids);
    TL_CHECK_ALLOC(e, ids);
    for (int t = 0; t <= ts->n; t++) memcpy(ids[t], ts->trials[t].id, TRIAL_ID_MAX);
    trial_ids_dedupe(ids, ts->n + 1);   /* earlier ids are unique already: only the new one can change */
    memcpy(ts->trials[ts->n].id, ids[ts->n], TRIAL_ID_MAX);
    free(ids);
    if (ts->resolved) config_defaults(&ts->trials[ts->n].cfg);
    ts->n++;
    return 0;
}

void trial_set_free(TrialSet *ts) {
    for (int t = 0; t < ts->n; t++) {
        SweepTrial *tr = &ts->trials[t];
        for (int i = 0; tr->values && i < ts->n_axes; i++) yaml_free(tr->values[i]);
        free(tr->values);
        free(tr->text);
        if (ts->resolved) config_free(&tr->cfg);
    }
    free(ts->trials);
    free(ts->labels);
    memset(ts, 0, sizeof *ts);
}

int trial_set_find(const TrialSet *ts, const char *id) {
    for (int t = 0; t < ts->n; t++)
        if (strcmp(ts->trials[t].id, id) == 0) return t;
    return -1;
}

void trial_cache_key(const TrialConfig *c, char *out, size_t n) {
    const DataConfig *d = &c->data;
    const AugmentConfig *a = &c->augment;
    snprintf(out, n,
             "data=%s|%d|%s|%.17g|%.17g|%d model=%s|%s|%s aug=%.17g|%d|%.17g|%.17g|%.17g|%.17g|%.17g|%.17g|%.17g|%s "
             "views=%d seed=%ld dtype=%s",
             d->root, d->image_size, d->interpolation, d->validation_split, d->train_fraction, d->fast_decode,
             c->model.backbone, c->model.weights, PRECISION_NAMES[c->model.precision],
             a->strength, a->horizontal_flip, a->rotation, a->width_shift, a->height_shift, a->zoom, a->shear,
             a->brightness, a->channel_shift, a->fill, c->feature_cache.views, config_cache_seed(c), c->feature_cache.dtype);
}
