/* sweep_resolve: base + axis values + the sweep's own settings -> one validated
 * TrialConfig per trial (see expand.h). */
#include "expand.h"

#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"

/* Every axis must name a key a trial config has; feature_cache.dir belongs to the sweep. */
static int check_axis_paths(const SweepSpec *s, Err *e) {
    for (int i = 0; i < s->n_axes; i++) {
        const Axis *a = &s->axes[i];
        if (strcmp(a->path, "feature_cache.dir") == 0)
            return err_fail(e, "%s:%d: axis 'feature_cache.dir' is set by the sweep (runs/<name>/cache)", s->file, a->line);
        if (strcmp(a->path, "feature_cache.max_gib") == 0)
            return err_fail(e, "%s:%d: axis 'feature_cache.max_gib' bounds the sweep's whole cache: set it in base", s->file, a->line);
        if (!config_has_key(a->path))
            return err_fail(e, "%s:%d: axis '%s' is not a trial config key", s->file, a->line, a->path);
    }
    return 0;
}

/* "file:line" of a key in the trial tree, for messages. */
static void where(const SweepSpec *s, const YamlNode *tree, const char *path, char *out, size_t n) {
    const YamlNode *v = yaml_path_peek(tree, path);
    snprintf(out, n, "%s:%d", v && v->file ? v->file : s->file, v ? v->line : s->base->line);
}

static int make_absolute(char *path, size_t n, const char *cwd, Err *e) {
    if (!cwd || path[0] == '/' || path[0] == 0) return 0;
    char buf[CONFIG_PATH_MAX];
    const char *rel = strncmp(path, "./", 2) == 0 ? path + 2 : path;
    if (snprintf(buf, sizeof buf, "%s/%s", cwd, rel) >= (int)sizeof buf || strlen(buf) >= n)
        return err_fail(e, "path too long: %s/%s", cwd, rel);
    snprintf(path, n, "%s", buf);
    return 0;
}

static int resolve_weights(const SweepSpec *s, SweepTrial *t, YamlNode *tree, const ResolveOptions *o, Err *e) {
    ModelConfig *m = &t->cfg.model;
    if (strncmp(m->weights, "random:", 7) == 0) return 0;
    char abs[CONFIG_PATH_MAX], at[1200];
    snprintf(abs, sizeof abs, "%s", m->weights);
    if (make_absolute(abs, sizeof abs, o->cwd, e)) return -1;
    if (fs_exists(abs)) { snprintf(m->weights, sizeof m->weights, "%s", abs); return 0; }
    if (s->weights_fallback[0]) {
        snprintf(m->weights, sizeof m->weights, "%s", s->weights_fallback);
        t->weights_fallback = 1;
        return 0;
    }
    if (!o->check_files) return 0;
    where(s, tree, "model.weights", at, sizeof at);
    return err_fail(e, "%s: model.weights '%s' not found (a Keras .h5 file, or random:SEED)", at, m->weights);
}

/* The sweep's settings on top of the trial's own: absolute paths (config.yaml then runs
 * from any directory) and the feature cache: <sweep>/cache, unless the sweep's base names
 * an absolute feature_cache.dir (e.g. node-local scratch on a cluster). */
static int apply_sweep_settings(const SweepSpec *s, SweepTrial *t, YamlNode *tree, const ResolveOptions *o, Err *e) {
    TrialConfig *c = &t->cfg;
    char at[1200], train_dir[CONFIG_PATH_MAX + 16];
    if (o->sweep_dir && c->feature_cache.dir[0] != '/' && snprintf(c->feature_cache.dir, sizeof c->feature_cache.dir, "%s/cache", o->sweep_dir) >=
                            (int)sizeof c->feature_cache.dir)
        return err_fail(e, "sweep folder path too long: %s", o->sweep_dir);
    if (make_absolute(c->data.root, sizeof c->data.root, o->cwd, e)) return -1;
    snprintf(train_dir, sizeof train_dir, "%s/train", c->data.root);
    if (o->check_files && !fs_is_dir(train_dir)) {
        where(s, tree, "data.root", at, sizeof at);
        return err_fail(e, "%s: data.root '%s' has no train/ folder (expected %s/<class>/*.jpg)", at, c->data.root, train_dir);
    }
    return resolve_weights(s, t, tree, o, e);
}

static int resolve_trial(const SweepSpec *s, TrialSet *ts, int ti, const ResolveOptions *o, Err *e) {
    SweepTrial *t = &ts->trials[ti];
    YamlNode *tree = yaml_clone(s->base);
    if (!tree) return err_fail(e, "out of memory");
    int rc = 0;
    for (int i = 0; i < s->n_axes && rc == 0; i++) {
        YamlNode *v = yaml_clone(t->values[i]);
        rc = v ? yaml_path_set(tree, s->axes[i].path, v, e) : err_fail(e, "out of memory");
    }
    config_defaults(&t->cfg);
    if (rc == 0) rc = config_from_yaml(&t->cfg, tree, s->file, e);
    if (rc == 0) rc = apply_sweep_settings(s, t, tree, o, e);
    yaml_free(tree);
    return rc ? err_context(e, "trial %s", t->id) : 0;
}

/* Trial t's cache group: that of the first earlier trial with the same key, else the
 * next new one (groups are numbered in order of first appearance). */
static int cache_group_of(const TrialSet *ts, int t, Err *e) {
    char *key = malloc(2 * CACHE_KEY_MAX), *other = key + CACHE_KEY_MAX;
    TL_CHECK_ALLOC(e, key);
    trial_cache_key(&ts->trials[t].cfg, key, CACHE_KEY_MAX);
    int next = 0, group = -1;
    for (int u = 0; u < t && group < 0; u++) {
        if (ts->trials[u].cache_group != next) continue;   /* not its group's first trial */
        next++;
        trial_cache_key(&ts->trials[u].cfg, other, CACHE_KEY_MAX);
        if (strcmp(key, other) == 0) group = ts->trials[u].cache_group;
    }
    free(key);
    return group >= 0 ? group : next;
}

static int assign_cache_group(TrialSet *ts, int t, Err *e) {
    int g = cache_group_of(ts, t, e);
    if (g < 0) return -1;
    ts->trials[t].cache_group = g;
    if (g >= ts->n_cache_groups) ts->n_cache_groups = g + 1;
    return 0;
}

int sweep_resolve_added(const SweepSpec *s, TrialSet *ts, int t, const ResolveOptions *o, Err *e) {
    config_free(&ts->trials[t].cfg);
    if (resolve_trial(s, ts, t, o, e)) return -1;
    return assign_cache_group(ts, t, e);
}

int sweep_resolve(const SweepSpec *s, TrialSet *ts, const ResolveOptions *o, Err *e) {
    /* The base alone first, so its mistakes are reported once, at their own lines. This
     * also marks the base's keys as read for the unknown-key check. */
    TrialConfig base;
    config_defaults(&base);
    int rc = config_from_yaml(&base, s->base, s->file, e);
    config_free(&base);
    if (rc) return err_context(e, "base");
    if (check_axis_paths(s, e)) return -1;
    ts->resolved = 1;   /* from here on every cfg holds defaults at least: free them all */
    for (int t = 0; t < ts->n; t++) config_defaults(&ts->trials[t].cfg);
    ts->n_cache_groups = 0;
    for (int t = 0; t < ts->n; t++)
        if (sweep_resolve_added(s, ts, t, o, e)) return -1;
    return 0;
}
