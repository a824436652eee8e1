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

static YamlNode *sample_axis(const SweepSpec *s, const Axis *a, long trial, int axis) {
    Rng r;
    rng_init(&r, (uint64_t)s->seed, RNG_SWEEP, (uint32_t)trial, (uint32_t)axis);
    char text[64];
    if (a->dist == DIST_LIST) return yaml_clone(a->values[rng_below(&r, (uint32_t)a->n_values)]);
    if (a->dist == DIST_INT_UNIFORM) {
        double span = a->hi - a->lo + 1;
        snprintf(text, sizeof text, "%.0f", a->lo + (span > 4294967295.0 ? floor(rng_double(&r) * span)
                                                                         : (double)rng_below(&r, (uint32_t)span)));
        return scalar_at(s, a, text);
    }
    double u = rng_double(&r), v;
    if (a->dist == DIST_LOG_UNIFORM) v = exp(log(a->lo) + u * (log(a->hi) - log(a->lo)));
    else v = a->lo + u * (a->hi - a->lo);
    snprintf(text, sizeof text, "%.4g", v);
    v = strtod(text, NULL);
    if (v < a->lo) v = a->lo;
    if (v > a->hi) v = a->hi;
    format_number_shortest(v, text, sizeof text);
    return scalar_at(s, a, text);
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

static int trial_alloc(Trial *t, int n_axes, Err *e) {
    t->values = calloc((size_t)n_axes + 1, sizeof *t->values);
    t->text = calloc((size_t)n_axes + 1, sizeof *t->text);
    if (!t->values || !t->text) return err_fail(e, "out of memory expanding the sweep");
    return 0;
}

static int fill_trial(const SweepSpec *s, TrialSet *ts, long t, size_t *idx, Err *e) {
    Trial *tr = &ts->trials[t];
    if (trial_alloc(tr, s->n_axes, e)) return -1;
    if (!s->random) grid_indices(s, t, idx);
    const char *compact[s->n_axes + 1];
    char (*ctext)[VALUE_TEXT_MAX] = calloc((size_t)s->n_axes + 1, VALUE_TEXT_MAX);
    TL_CHECK_ALLOC(e, ctext);
    for (int i = 0; i < s->n_axes; i++) {
        const Axis *a = &s->axes[i];
        if (!s->random) tr->values[i] = yaml_clone(a->values[idx[i]]);
        else if (a->group >= 0) tr->values[i] = yaml_clone(a->values[idx[a->group]]);
        else tr->values[i] = sample_axis(s, a, t, i);
        if (!tr->values[i]) { free(ctext); return err_fail(e, "out of memory expanding the sweep"); }
        value_texts(tr->values[i], tr->text[i], ctext[i]);
        compact[i] = ctext[i];
    }
    trial_id_make((const char (*)[AXIS_LABEL_MAX])ts->labels, compact, s->n_axes, tr->id);
    free(ctext);
    return 0;
}

/* Random search: one index per zip group for trial t. */
static void zip_draws(const SweepSpec *s, long t, size_t *idx) {
    for (int g = 0; g < s->n_groups; g++) {
        size_t n = 0;
        for (int i = 0; i < s->n_axes; i++) if (s->axes[i].group == g) n = s->axes[i].n_values;
        Rng r;
        rng_init(&r, (uint64_t)s->seed, RNG_SWEEP, (uint32_t)t, 1000000u + (uint32_t)g);
        idx[g] = rng_below(&r, (uint32_t)n);
    }
}

int sweep_expand(const SweepSpec *s, TrialSet *ts, Err *e) {
    memset(ts, 0, sizeof *ts);
    long total = s->n_trials;
    if (!s->random && grid_size(s, &total, e)) return -1;
    ts->n_axes = s->n_axes;
    ts->labels = calloc((size_t)s->n_axes + 1, sizeof *ts->labels);
    ts->trials = calloc((size_t)total, sizeof *ts->trials);
    size_t *idx = calloc((size_t)s->n_axes + (size_t)s->n_groups + 1, sizeof *idx);
    char (*ids)[TRIAL_ID_MAX] = calloc((size_t)total, sizeof *ids);
    const char **paths = calloc((size_t)s->n_axes + 1, sizeof *paths);
    int rc = (!ts->labels || !ts->trials || !idx || !ids || !paths) ? err_fail(e, "out of memory expanding the sweep") : 0;
    if (rc == 0) {
        ts->n = (int)total;
        for (int i = 0; i < s->n_axes; i++) paths[i] = s->axes[i].path;
        axis_labels(paths, s->n_axes, ts->labels);
    }
    for (long t = 0; rc == 0 && t < total; t++) {
        if (s->random) zip_draws(s, t, idx);
        rc = fill_trial(s, ts, t, idx, e);
        if (rc == 0) memcpy(ids[t], ts->trials[t].id, TRIAL_ID_MAX);
    }
    int renamed = rc == 0 ? trial_ids_dedupe(ids, (int)total) : 0;
    if (renamed < 0) rc = err_fail(e, "out of memory making %ld trial ids unique", total);
    if (renamed > 0)
        for (long t = 0; t < total; t++) memcpy(ts->trials[t].id, ids[t], TRIAL_ID_MAX);
    free(idx), free(ids), free(paths);
    if (rc) trial_set_free(ts);
    return rc;
}

void trial_set_free(TrialSet *ts) {
    for (int t = 0; t < ts->n; t++) {
        Trial *tr = &ts->trials[t];
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
             "data=%s|%d|%s|%.17g|%.17g model=%s|%s|%s aug=%.17g|%d|%.17g|%.17g|%.17g|%.17g|%.17g|%.17g|%.17g|%s "
             "views=%d seed=%ld",
             d->root, d->image_size, d->interpolation, d->validation_split, d->train_fraction,
             c->model.backbone, c->model.weights, c->model.precision,
             a->strength, a->horizontal_flip, a->rotation, a->width_shift, a->height_shift, a->zoom, a->shear,
             a->brightness, a->channel_shift, a->fill, c->feature_cache.views, c->train.seed);
}
