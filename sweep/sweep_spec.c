#include "sweep_spec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trial_id.h"

static const char *kind_name(const YamlNode *n) {
    return n->kind == YAML_MAP ? "a mapping" : n->kind == YAML_SEQ ? "a list" : "a scalar";
}

/* Checks one mapping level: every key must have been read (marked used). */
static int check_keys_read(const YamlNode *map, const char *file, const char *prefix, const char *owner,
                           const char *allowed, Err *e) {
    for (size_t i = 0; i < map->n; i++)
        if (!map->used[i])
            return err_fail(e, "%s:%d: unknown key '%s%s' (%s takes %s)", file, map->key_lines[i], prefix,
                            map->keys[i], owner, allowed);
    return 0;
}

static int get_string(YamlNode *map, const char *key, const char *file, char *out, size_t n, int *line, Err *e) {
    YamlNode *v = yaml_map_get(map, key);
    if (!v) return 1;
    const char *s;
    if (yaml_as_string(v, key, &s, e)) return -1;
    if (strlen(s) >= n) return err_fail(e, "%s:%d: key '%s' is longer than %zu characters", file, v->line, key, n - 1);
    snprintf(out, n, "%s", s);
    if (line) *line = v->line;
    return 0;
}

static int valid_name(const char *s) {
    if (!*s || *s == '.' || *s == '-') return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *s)) return 0;
    return 1;
}

static int valid_path(const char *p) {
    int seg = 0;
    for (; *p; p++) {
        if (*p == '.') { if (seg == 0) return 0; seg = 0; continue; }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
        seg++;
    }
    return seg > 0;
}

static int push_axis(SweepSpec *s, Axis *a, Err *e) {
    Axis *na = realloc(s->axes, (size_t)(s->n_axes + 1) * sizeof *na);
    TL_CHECK_ALLOC(e, na);
    s->axes = na;
    s->axes[s->n_axes++] = *a;
    return 0;
}

/* Grid lists may not repeat a value: two trials would be the same trial. */
static int check_distinct(const SweepSpec *s, const Axis *a, Err *e) {
    for (size_t i = 0; i < a->n_values; i++) {
        const YamlNode *vi = a->values[i];
        if (vi->kind != YAML_SCALAR) continue;
        char ti[VALUE_TEXT_MAX], tj[VALUE_TEXT_MAX];
        value_canonical(vi->scalar, vi->quoted, ti, sizeof ti);
        for (size_t j = 0; j < i; j++) {
            const YamlNode *vj = a->values[j];
            if (vj->kind != YAML_SCALAR) continue;
            value_canonical(vj->scalar, vj->quoted, tj, sizeof tj);
            if (strcmp(ti, tj) == 0)
                return err_fail(e, "%s:%d: axis '%s' lists the value %s twice", s->file, vi->line, a->path, ti);
        }
    }
    return 0;
}

static int take_list(const SweepSpec *s, Axis *a, const YamlNode *seq, Err *e) {
    if (seq->n == 0) return err_fail(e, "%s:%d: axis '%s' has no values", s->file, seq->line, a->path);
    a->dist = DIST_LIST;
    a->n_values = seq->n;
    a->values = malloc(seq->n * sizeof *a->values);
    TL_CHECK_ALLOC(e, a->values);
    for (size_t i = 0; i < seq->n; i++) a->values[i] = seq->items[i];
    return s->random ? 0 : check_distinct(s, a, e);
}

/* {uniform|log_uniform|int_uniform: [lo, hi]} */
static int take_range(const SweepSpec *s, Axis *a, const char *dist, const YamlNode *v, Err *e) {
    if (v->kind != YAML_SEQ || v->n != 2)
        return err_fail(e, "%s:%d: axis '%s': %s takes [low, high]", s->file, v->line, a->path, dist);
    char key[AXIS_PATH_MAX + 32];
    snprintf(key, sizeof key, "%s.%s", a->path, dist);
    if (yaml_as_double(v->items[0], key, &a->lo, e) || yaml_as_double(v->items[1], key, &a->hi, e)) return -1;
    if (!(a->lo < a->hi))
        return err_fail(e, "%s:%d: axis '%s': %s needs low < high (got %g, %g)", s->file, v->line, a->path, dist, a->lo, a->hi);
    if (strcmp(dist, "log_uniform") == 0) {
        a->dist = DIST_LOG_UNIFORM;
        if (a->lo <= 0) return err_fail(e, "%s:%d: axis '%s': log_uniform needs low > 0", s->file, v->line, a->path);
    } else if (strcmp(dist, "int_uniform") == 0) {
        a->dist = DIST_INT_UNIFORM;
        if (a->lo != floor(a->lo) || a->hi != floor(a->hi))
            return err_fail(e, "%s:%d: axis '%s': int_uniform bounds must be integers", s->file, v->line, a->path);
    } else {
        a->dist = DIST_UNIFORM;
    }
    return 0;
}

static int take_distribution(const SweepSpec *s, Axis *a, YamlNode *map, Err *e) {
    static const char *allowed = "uniform, log_uniform, int_uniform or choice";
    if (map->n != 1)
        return err_fail(e, "%s:%d: axis '%s' takes one of %s", s->file, map->line, a->path, allowed);
    const char *dist = map->keys[0];
    const YamlNode *v = map->items[0];
    map->used[0] = 1;
    int known = !strcmp(dist, "uniform") || !strcmp(dist, "log_uniform") || !strcmp(dist, "int_uniform") ||
                !strcmp(dist, "choice");
    if (!known)
        return err_fail(e, "%s:%d: axis '%s': unknown distribution '%s' (use %s)", s->file, map->key_lines[0], a->path, dist, allowed);
    if (!s->random)
        return err_fail(e, "%s:%d: axis '%s' uses '%s', which needs sweep.method: random or tpe (grid axes are lists)",
                        s->file, map->key_lines[0], a->path, dist);
    if (strcmp(dist, "choice") == 0) {
        if (v->kind != YAML_SEQ) return err_fail(e, "%s:%d: axis '%s': choice takes a list", s->file, v->line, a->path);
        return take_list(s, a, v, e);
    }
    return take_range(s, a, dist, v, e);
}

static int parse_axis(SweepSpec *s, const char *path, int key_line, YamlNode *v, int group, Err *e) {
    Axis a = {0};
    a.group = group;
    a.node = v;
    a.line = key_line;
    if (!valid_path(path) || strlen(path) >= sizeof a.path)
        return err_fail(e, "%s:%d: axis '%s' is not a dotted key path like model.head.dropout", s->file, key_line, path);
    snprintf(a.path, sizeof a.path, "%s", path);
    for (int i = 0; i < s->n_axes; i++)
        if (strcmp(s->axes[i].path, path) == 0)
            return err_fail(e, "%s:%d: axis '%s' is swept twice (also line %d)", s->file, key_line, path, s->axes[i].line);
    int rc;
    if (v->kind == YAML_SEQ) rc = take_list(s, &a, v, e);
    else if (v->kind == YAML_MAP && group < 0) rc = take_distribution(s, &a, v, e);
    else if (group >= 0) rc = err_fail(e, "%s:%d: zipped axis '%s' must be a list, not %s", s->file, v->line, path, kind_name(v));
    else rc = err_fail(e, "%s:%d: axis '%s' must be a list of values%s, not %s", s->file, v->line, path,
                       s->random ? " or {uniform|log_uniform|int_uniform|choice: ...}" : "", kind_name(v));
    if (rc == 0) rc = push_axis(s, &a, e);
    if (rc) free(a.values);
    return rc;
}

static int parse_axes(SweepSpec *s, YamlNode *axes, Err *e) {
    if (axes->kind != YAML_MAP)
        return err_fail(e, "%s:%d: sweep.axes must be a mapping of dotted key -> values", s->file, axes->line);
    for (size_t i = 0; i < axes->n; i++) {
        axes->used[i] = 1;
        if (parse_axis(s, axes->keys[i], axes->key_lines[i], axes->items[i], -1, e)) return -1;
    }
    return 0;
}

static int parse_zip(SweepSpec *s, YamlNode *zip, Err *e) {
    if (zip->kind != YAML_SEQ)
        return err_fail(e, "%s:%d: sweep.zip must be a list of groups ({axis: [values], axis: [values]})", s->file, zip->line);
    for (size_t g = 0; g < zip->n; g++) {
        YamlNode *grp = zip->items[g];
        if (grp->kind != YAML_MAP || grp->n == 0)
            return err_fail(e, "%s:%d: each sweep.zip group is a mapping of axes that move together", s->file, grp->line);
        int first = s->n_axes;
        for (size_t i = 0; i < grp->n; i++) {
            grp->used[i] = 1;
            if (parse_axis(s, grp->keys[i], grp->key_lines[i], grp->items[i], (int)g, e)) return -1;
            if (s->axes[s->n_axes - 1].n_values != s->axes[first].n_values)
                return err_fail(e, "%s:%d: zipped axis '%s' has %zu values but '%s' has %zu (a zip group moves together)",
                                s->file, grp->key_lines[i], grp->keys[i], s->axes[s->n_axes - 1].n_values,
                                s->axes[first].path, s->axes[first].n_values);
        }
        s->n_groups++;
    }
    return 0;
}

/* An optional number key of an options mapping: an integer in lo..hi, or any number in
 * (lo, hi]. */
static int get_number_in(const SweepSpec *s, YamlNode *map, const char *prefix, const char *key, double lo, double hi,
                         int integer, double *out, Err *e) {
    YamlNode *v = yaml_map_get(map, key);
    if (!v) return 0;
    char path[64];
    double x;
    long i;
    snprintf(path, sizeof path, "%s%s", prefix, key);
    if (integer ? yaml_as_int(v, path, &i, e) : yaml_as_double(v, path, &x, e)) return -1;
    if (integer) x = (double)i;
    if (integer && (x < lo || x > hi))
        return err_fail(e, "%s:%d: %s must be in %.0f..%.0f, got %.0f", s->file, v->line, path, lo, hi, x);
    if (!integer && !(x > lo && x <= hi)) return err_fail(e, "%s:%d: %s must be in (%g, %g], got %g", s->file, v->line, path, lo, hi, x);
    *out = x;
    return 0;
}

static int get_int_in(const SweepSpec *s, YamlNode *map, const char *prefix, const char *key, long lo, long hi, int *out,
                      Err *e) {
    double x = *out;
    int rc = get_number_in(s, map, prefix, key, (double)lo, (double)hi, 1, &x, e);
    *out = (int)x;
    return rc;
}

/* metric (one of `allowed`, space separated) and mode (min | max; default: max for
 * accuracies, min otherwise). */
static int get_metric_mode(const SweepSpec *s, YamlNode *map, const char *prefix, const char *allowed, char *metric,
                           size_t n, int *maximize, Err *e) {
    int line = map->line;
    char key[64], mode[8] = "";
    snprintf(key, sizeof key, "%smetric", prefix);
    if (get_string(map, "metric", s->file, metric, n, &line, e) < 0) return -1;
    char padded[PRUNE_METRIC_MAX + 2];
    snprintf(padded, sizeof padded, " %s ", metric);
    char list[256];
    snprintf(list, sizeof list, " %s ", allowed);
    if (!strstr(list, padded)) return err_fail(e, "%s:%d: %s must be one of %s, not '%s'", s->file, line, key, allowed, metric);
    *maximize = strstr(metric, "accuracy") != NULL;
    if (get_string(map, "mode", s->file, mode, sizeof mode, &line, e) < 0) return -1;
    if (mode[0] && strcmp(mode, "min") != 0 && strcmp(mode, "max") != 0)
        return err_fail(e, "%s:%d: %smode must be min or max, not '%s'", s->file, line, prefix, mode);
    if (mode[0]) *maximize = strcmp(mode, "max") == 0;
    return 0;
}

static int parse_tpe(SweepSpec *s, YamlNode *map, Err *e) {
    if (map->kind != YAML_MAP)
        return err_fail(e, "%s:%d: sweep.tpe must be a mapping (startup_trials, candidates, gamma, prior_weight, metric, mode)",
                        s->file, map->line);
    TpeOptions *o = &s->tpe;
    if (get_int_in(s, map, "sweep.tpe.", "startup_trials", 1, SWEEP_MAX_TRIALS, &o->startup_trials, e) ||
        get_int_in(s, map, "sweep.tpe.", "candidates", 1, 100000, &o->candidates, e) ||
        get_number_in(s, map, "sweep.tpe.", "gamma", 0, 1, 0, &o->gamma, e) ||
        get_number_in(s, map, "sweep.tpe.", "prior_weight", 0, 1e6, 0, &o->prior_weight, e) ||
        get_metric_mode(s, map, "sweep.tpe.", "val_accuracy val_loss gap final_gap", s->objective.metric,
                        sizeof s->objective.metric, &s->objective.maximize, e))
        return -1;
    return check_keys_read(map, s->file, "sweep.tpe.", "sweep.tpe",
                           "startup_trials, candidates, gamma, prior_weight, metric, mode", e);
}

static int parse_method(SweepSpec *s, YamlNode *sw, Err *e) {
    char method[16] = "grid";
    int line = sw->line;
    if (get_string(sw, "method", s->file, method, sizeof method, &line, e) < 0) return -1;
    if (strcmp(method, "grid") != 0 && strcmp(method, "random") != 0 && strcmp(method, "tpe") != 0)
        return err_fail(e, "%s:%d: sweep.method must be grid, random or tpe, not '%s'", s->file, line, method);
    s->method = strcmp(method, "random") == 0 ? METHOD_RANDOM : strcmp(method, "tpe") == 0 ? METHOD_TPE : METHOD_GRID;
    s->random = s->method != METHOD_GRID;
    tpe_options_default(&s->tpe);
    s->objective = (SweepObjective){.metric = "val_accuracy", .maximize = 1};
    YamlNode *trials = yaml_map_get(sw, "trials"), *seed = yaml_map_get(sw, "seed"), *tpe = yaml_map_get(sw, "tpe");
    if (!s->random && (trials || seed))
        return err_fail(e, "%s:%d: sweep.%s is for method: random or tpe only", s->file, (trials ? trials : seed)->line,
                        trials ? "trials" : "seed");
    if (tpe && s->method != METHOD_TPE) return err_fail(e, "%s:%d: sweep.tpe is for method: tpe only", s->file, tpe->line);
    if (!s->random) return 0;
    if (!trials) return err_fail(e, "%s:%d: method: %s needs sweep.trials (how many trials to draw)", s->file, sw->line, method);
    if (yaml_as_int(trials, "sweep.trials", &s->n_trials, e)) return -1;
    if (s->n_trials < 1 || s->n_trials > SWEEP_MAX_TRIALS)
        return err_fail(e, "%s:%d: sweep.trials must be in 1..%d", s->file, trials->line, SWEEP_MAX_TRIALS);
    if (seed && yaml_as_int(seed, "sweep.seed", &s->seed, e)) return -1;
    return tpe ? parse_tpe(s, tpe, e) : 0;
}

/* Keys of one early-stopping method given to the other are mistakes worth naming. */
static int refuse_keys(const SweepSpec *s, YamlNode *map, const char *const *keys, const char *method, Err *e) {
    for (int i = 0; keys[i]; i++) {
        YamlNode *v = yaml_map_peek(map, keys[i]);
        if (v) return err_fail(e, "%s:%d: sweep.early_stop.%s is for method: %s", s->file, v->line, keys[i], method);
    }
    return 0;
}

static int parse_early_stop_method(SweepSpec *s, YamlNode *map, Err *e) {
    static const char *const asha_keys[] = {"grace_epochs", "reduction_factor", "max_epochs", NULL};
    static const char *const median_keys[] = {"startup_trials", "warmup_epochs", "min_trials", NULL};
    char method[16] = "";
    int line = map->line;
    if (get_string(map, "method", s->file, method, sizeof method, &line, e) < 0) return -1;
    if (!method[0]) return err_fail(e, "%s:%d: sweep.early_stop needs method: asha or median", s->file, map->line);
    if (strcmp(method, "asha") != 0 && strcmp(method, "median") != 0)
        return err_fail(e, "%s:%d: sweep.early_stop.method must be asha or median, not '%s'", s->file, line, method);
    int asha = strcmp(method, "asha") == 0;
    prune_options_default(&s->early_stop, asha ? PRUNE_ASHA : PRUNE_MEDIAN);
    s->early_stop.line = map->line;
    return refuse_keys(s, map, asha ? median_keys : asha_keys, asha ? "median" : "asha", e);
}

static int parse_early_stop(SweepSpec *s, YamlNode *map, Err *e) {
    if (map->kind != YAML_MAP)
        return err_fail(e, "%s:%d: sweep.early_stop must be a mapping ({method: asha|median, metric, ...})", s->file, map->line);
    if (parse_early_stop_method(s, map, e)) return -1;
    PruneOptions *o = &s->early_stop;
    const char *p = "sweep.early_stop.";
    if (get_metric_mode(s, map, p, "val_loss val_accuracy loss accuracy", o->metric, sizeof o->metric, &o->maximize, e) ||
        get_int_in(s, map, p, "grace_epochs", 1, 100000, &o->grace_epochs, e) ||
        get_int_in(s, map, p, "reduction_factor", 2, 1000, &o->reduction_factor, e) ||
        get_int_in(s, map, p, "max_epochs", 1, 1000000, &o->max_epochs, e) ||
        get_int_in(s, map, p, "startup_trials", 0, SWEEP_MAX_TRIALS, &o->startup_trials, e) ||
        get_int_in(s, map, p, "warmup_epochs", 0, 1000000, &o->warmup_epochs, e) ||
        get_int_in(s, map, p, "min_trials", 1, SWEEP_MAX_TRIALS, &o->min_trials, e))
        return -1;
    if (o->method == PRUNE_ASHA && o->max_epochs && o->max_epochs <= o->grace_epochs)
        return err_fail(e, "%s:%d: sweep.early_stop.max_epochs (%d) must be above grace_epochs (%d): no rung lies below it",
                        s->file, yaml_map_peek(map, "max_epochs")->line, o->max_epochs, o->grace_epochs);
    return check_keys_read(map, s->file, p, "sweep.early_stop",
                           o->method == PRUNE_ASHA ? "method, metric, mode, grace_epochs, reduction_factor, max_epochs"
                                                   : "method, metric, mode, startup_trials, warmup_epochs, min_trials", e);
}

static int parse_sweep(SweepSpec *s, YamlNode *sw, Err *e) {
    if (sw->kind != YAML_MAP)
        return err_fail(e, "%s:%d: key 'sweep' must be a mapping (method, axes, zip)", s->file, sw->line);
    if (parse_method(s, sw, e)) return -1;
    YamlNode *axes = yaml_map_get(sw, "axes"), *zip = yaml_map_get(sw, "zip");
    if (axes && parse_axes(s, axes, e)) return -1;
    if (zip && parse_zip(s, zip, e)) return -1;
    if (s->random && s->n_axes == 0)
        return err_fail(e, "%s:%d: method: %s needs at least one axis", s->file, sw->line, s->method == METHOD_TPE ? "tpe" : "random");
    YamlNode *early = yaml_map_get(sw, "early_stop");
    if (early && parse_early_stop(s, early, e)) return -1;
    return check_keys_read(sw, s->file, "sweep.", "sweep", "method, axes, zip, trials, seed, tpe, early_stop", e);
}

static int parse_root(SweepSpec *s, Err *e) {
    YamlNode *root = s->doc.root;
    if (!root || root->kind != YAML_MAP)
        return err_fail(e, "%s:%d: a sweep file is a mapping with keys name, base and sweep", s->file, root ? root->line : 1);
    int rc = get_string(root, "name", s->file, s->name, sizeof s->name, NULL, e);
    if (rc < 0) return -1;
    if (rc > 0) return err_fail(e, "%s:%d: missing key 'name' (the sweep's folder under runs/)", s->file, root->line);
    if (!valid_name(s->name))
        return err_fail(e, "%s:%d: name '%s' must be letters, digits, '.', '_' or '-' (it names a folder)", s->file,
                        yaml_map_peek(root, "name")->line, s->name);
    if (get_string(root, "description", s->file, s->description, sizeof s->description, NULL, e) < 0) return -1;
    if (get_string(root, "weights_fallback", s->file, s->weights_fallback, sizeof s->weights_fallback,
                   &s->weights_fallback_line, e) < 0) return -1;
    s->base = yaml_map_get(root, "base");
    if (!s->base) return err_fail(e, "%s:%d: missing key 'base' (a trial config)", s->file, root->line);
    if (s->base->kind != YAML_MAP) return err_fail(e, "%s:%d: key 'base' must be a mapping (a trial config)", s->file, s->base->line);
    YamlNode *sw = yaml_map_get(root, "sweep");
    if (!sw) return err_fail(e, "%s:%d: missing key 'sweep' (method and axes)", s->file, root->line);
    if (parse_sweep(s, sw, e)) return -1;
    return check_keys_read(root, s->file, "", "a sweep file", "name, description, base, sweep, weights_fallback", e);
}

static int finish_load(SweepSpec *s, int rc) {
    if (rc) sweep_spec_free(s);
    return rc;
}

int sweep_spec_load(SweepSpec *s, const char *path, Err *e) {
    memset(s, 0, sizeof *s);
    if (yaml_load_file(&s->doc, path, e)) return -1;
    s->file = s->doc.file;
    return finish_load(s, parse_root(s, e));
}

int sweep_spec_parse(SweepSpec *s, const char *text, const char *name, Err *e) {
    memset(s, 0, sizeof *s);
    if (yaml_load_string(&s->doc, text, name, e)) return -1;
    s->file = s->doc.file;
    return finish_load(s, parse_root(s, e));
}

void sweep_spec_free(SweepSpec *s) {
    for (int i = 0; i < s->n_axes; i++) free(s->axes[i].values);
    free(s->axes);
    yaml_doc_free(&s->doc);
    memset(s, 0, sizeof *s);
}

/* "; early stop: asha on val_loss (min), rungs at 4 * 3^k epochs below 30". */
static size_t describe_early_stop(const PruneOptions *o, char *out, size_t n) {
    if (o->method == PRUNE_NONE || n == 0) return 0;
    size_t k = (size_t)snprintf(out, n, "; early stop: %s on %s (%s)", prune_method_name(o->method), o->metric,
                                o->maximize ? "max" : "min");
    if (k >= n) return k;
    if (o->method == PRUNE_ASHA) {
        char below[48] = "train.epochs";
        if (o->max_epochs) snprintf(below, sizeof below, "%d", o->max_epochs);
        return k + (size_t)snprintf(out + k, n - k, ", rungs at %d * %d^k epochs below %s", o->grace_epochs,
                                    o->reduction_factor, below);
    }
    return k + (size_t)snprintf(out + k, n - k, ", after %d completed trial%s and %d warm-up epoch%s", o->startup_trials,
                                o->startup_trials == 1 ? "" : "s", o->warmup_epochs, o->warmup_epochs == 1 ? "" : "s");
}

/* ": 40 trials, the first 10 drawn at random, the others by TPE ...". */
static size_t describe_count(const SweepSpec *s, long n_trials, char *out, size_t n) {
    if (n == 0) return 0;
    if (s->method != METHOD_TPE) return (size_t)snprintf(out, n, ": %ld trial%s", n_trials, n_trials == 1 ? "" : "s");
    long first = s->tpe.startup_trials < s->n_trials ? s->tpe.startup_trials : s->n_trials;
    return (size_t)snprintf(out, n,
                            ": %ld trial%s, the first %ld drawn at random, the others drawn adaptively (TPE) from the "
                            "finished trials' %s (%s)",
                            s->n_trials, s->n_trials == 1 ? "" : "s", first, s->objective.metric,
                            s->objective.maximize ? "max" : "min");
}

void sweep_spec_describe(const SweepSpec *s, long n_trials, char *out, size_t n) {
    const char *what = s->method == METHOD_TPE ? "tpe over" : s->random ? "random search over" : "grid over";
    size_t k = (size_t)snprintf(out, n, "%s", what);
    for (int i = 0; i < s->n_axes && k < n; i++) {
        const Axis *a = &s->axes[i];
        const char *sep = i ? "," : "";
        if (a->dist == DIST_LIST && !s->random)
            k += (size_t)snprintf(out + k, n - k, "%s %s (%zu%s)", sep, a->path, a->n_values, a->group >= 0 ? ", zipped" : "");
        else if (a->dist == DIST_LIST)
            k += (size_t)snprintf(out + k, n - k, "%s %s (%s %zu)", sep, a->path, a->group >= 0 ? "zipped, one of" : "choice of",
                                  a->n_values);
        else
            k += (size_t)snprintf(out + k, n - k, "%s %s (%s %g..%g)", sep, a->path,
                                  a->dist == DIST_UNIFORM ? "uniform" : a->dist == DIST_LOG_UNIFORM ? "log-uniform" : "integers",
                                  a->lo, a->hi);
    }
    if (s->n_axes == 0 && k < n) k += (size_t)snprintf(out + k, n - k, " nothing (the base config alone)");
    if (k < n) k += describe_count(s, n_trials, out + k, n - k);
    if (k < n) describe_early_stop(&s->early_stop, out + k, n - k);
}
