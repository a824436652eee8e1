#include "cost.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "core/clock.h"
#include "core/fsutil.h"
#include "train/feature_cache.h"

/* The automatic limit leaves a tenth of the free space to everything else (checkpoints,
 * logs, other users). */
static const double AUTO_SHARE = 0.9;

/* The tables counted so far: key plus storage dtype (fp16 and fp32 copies are two files). */
typedef struct Seen {
    char (*keys)[40];
    int n, cap;
} Seen;

/* 1 when new (and now recorded), 0 when seen, -1 out of memory. */
static int seen_add(Seen *s, const FeatureEntry *en, Err *e) {
    char k[40];
    snprintf(k, sizeof k, "%s.%d", en->key, (int)en->dtype);
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->keys[i], k)) return 0;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        void *p = realloc(s->keys, (size_t)cap * sizeof *s->keys);
        TL_CHECK_ALLOC(e, p);
        s->keys = p, s->cap = cap;
    }
    snprintf(s->keys[s->n++], sizeof *s->keys, "%s", k);
    return 1;
}

static int split_kind(const char *split) {
    return !strcmp(split, "train") ? COST_TRAIN : !strcmp(split, "validation") ? COST_VALIDATION : COST_TEST;
}

static void setup_name(const TrialConfig *c, char *out, size_t n) {
    snprintf(out, n, "%s|%s|%d|%s|%s|%s", c->model.weights, c->model.backbone, c->data.image_size, c->data.interpolation,
             DEVICE_NAMES[c->train.device], PRECISION_NAMES[c->model.precision]);
}

/* The setup of config c, opened (its backend) on first sight. */
static CostSetup *setup_of(SweepCost *c, const TrialConfig *cfg, int gpu, Err *e) {
    char name[sizeof c->setups[0].name];
    setup_name(cfg, name, sizeof name);
    for (int i = 0; i < c->n_setups; i++)
        if (!strcmp(c->setups[i].name, name)) return &c->setups[i];
    if (c->n_setups == COST_SETUPS_MAX) {
        err_fail(e, "more than %d backbone setups (weights, backbone, image size, device, precision) in one sweep", COST_SETUPS_MAX);
        return NULL;
    }
    CostSetup *s = &c->setups[c->n_setups];
    *s = (CostSetup){.trial = -1};
    snprintf(s->name, sizeof s->name, "%s", name);
    if (backend_open(&s->be, cfg->train.device, gpu, cfg->model.precision, c->threads, e)) return NULL;
    snprintf(s->backend, sizeof s->backend, "%s", s->be->name);
    s->threads = s->be->threads;
    c->n_setups++;
    return s;
}

static void count_train_table(SweepCost *c, const FeatureEntry *en) {
    c->train_tables++;
    if (en->view == 0) c->pools++;
    if (c->train_tables == 1) c->train_images = en->n;
    else if (c->train_images != en->n) c->train_images = -1;
}

/* Adds the tables of te not counted yet: their images, bytes and what is missing. */
static int count_tables(SweepCost *c, Seen *seen, CostSetup *s, const TrialEntries *te, const char *dir, int trial, Err *e) {
    const FeatureEntry *all[2 + 64];
    int n = trial_entries_list(te, all, 2 + 64);
    long before = s->passes;
    for (int i = 0; i < n; i++) {
        const FeatureEntry *en = all[i];
        int fresh = seen_add(seen, en, e);
        if (fresh < 0) return -1;
        if (!fresh || en->n == 0) continue;
        int k = split_kind(en->split);
        long rows;
        size_t bytes;
        feature_entry_missing(dir, en, &rows, &bytes);
        c->total[k] += en->n;
        c->passes[k] += rows;
        c->bytes_total += (double)feature_entry_bytes(en);
        c->bytes_new += (double)bytes;
        s->passes += rows;
        if (rows && s->trial < 0) s->trial = trial;
        if (k == COST_TRAIN) count_train_table(c, en);
    }
    s->groups += s->passes > before;
    return 0;
}

/* A trial's tables as its trainer keys them: its dataset, extractor and entries. */
typedef struct TrialTables {
    Dataset ds;
    FeatureExtractor fx;
    TrialEntries te;
} TrialTables;

static int tables_open(TrialTables *t, const TrialConfig *cfg, Backend *be, Err *e) {
    memset(t, 0, sizeof *t);
    if (dataset_open(&cfg->data, config_cache_seed(cfg), &t->ds, e)) return err_context(e, "data.root %s", cfg->data.root);
    if (feature_extractor_init(&t->fx, cfg, be, be->threads, e)) return -1;
    return trial_entries_init(&t->te, &t->fx, &t->ds, e);
}

static void tables_close(TrialTables *t) {
    trial_entries_free(&t->te);
    feature_extractor_free(&t->fx);
    dataset_free(&t->ds);
}

static int plan_group(SweepCost *c, Seen *seen, const TrialConfig *cfg, int trial, int gpu, Err *e) {
    CostSetup *s = setup_of(c, cfg, gpu, e);
    if (!s) return -1;
    TrialTables t;
    int rc = tables_open(&t, cfg, s->be, e) || count_tables(c, seen, s, &t.te, cfg->feature_cache.dir, trial, e) ? -1 : 0;
    tables_close(&t);
    return rc;
}

/* The nearest existing folder at or above path. */
static void existing_ancestor(const char *path, char *out, size_t n) {
    snprintf(out, n, "%s", path);
    while (!fs_is_dir(out)) {
        char *slash = strrchr(out, '/');
        if (!slash || slash == out) { snprintf(out, n, "%s", slash == out ? "/" : "."); return; }
        *slash = 0;
    }
}

static int set_limit(SweepCost *c, double max_gib, Err *e) {
    char dir[CONFIG_PATH_MAX];
    existing_ancestor(c->cache_dir, dir, sizeof dir);
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0) return err_fail(e, "%s: statvfs: %s", dir, strerror(errno));
    c->free_bytes = (double)vfs.f_bavail * (double)vfs.f_frsize;
    c->limit_auto = max_gib == CACHE_MAX_GIB_AUTO;
    c->limit = c->limit_auto ? AUTO_SHARE * c->free_bytes : max_gib * 1073741824.0;
    return 0;
}

int cost_plan(SweepCost *c, const SweepPlan *p, const int *todo, int n_todo, int threads, int gpu, Err *e) {
    memset(c, 0, sizeof *c);
    c->threads = threads, c->ranks = 1, c->trials = n_todo;
    const TrialConfig *first = n_todo ? &p->ts.trials[todo[0]].cfg : &p->ts.trials[0].cfg;
    snprintf(c->cache_dir, sizeof c->cache_dir, "%s", first->feature_cache.dir);
    snprintf(c->dtype, sizeof c->dtype, "%s", first->feature_cache.dtype);
    c->image_size = first->data.image_size;
    for (int k = 0; k < n_todo; k++) c->epochs += p->ts.trials[todo[k]].cfg.train.epochs;
    Seen seen = {0};
    int rc = 0;
    for (int g = 0; g < p->ts.n_cache_groups && rc == 0; g++) {
        int t = plan_group_first(p, todo, n_todo, g);
        if (t < 0) continue;
        c->groups++;
        if (strcmp(c->dtype, p->ts.trials[t].cfg.feature_cache.dtype)) snprintf(c->dtype, sizeof c->dtype, "mixed");
        rc = plan_group(c, &seen, &p->ts.trials[t].cfg, t, gpu, e);
    }
    free(seen.keys);
    if (rc || set_limit(c, first->feature_cache.max_gib, e)) return -1;
    c->planned = 1;
    return 0;
}

void cost_measure(SweepCost *c, const SweepPlan *p) {
    for (int i = 0; i < c->n_setups; i++) {
        CostSetup *s = &c->setups[i];
        if (!s->passes || s->trial < 0) continue;
        TrialTables t;
        Err e;
        double t0 = now_seconds(), build = 0;
        int rc = tables_open(&t, &p->ts.trials[s->trial].cfg, s->be, &e);
        double listed = now_seconds() - t0;   /* listing the images, hashing the weights */
        const FeatureEntry *en = t.te.n_train_views ? &t.te.train[0] : &t.te.validation;
        if (rc == 0) rc = feature_extractor_measure(&t.fx, en, COST_MEASURE_BATCHES, &s->rate, &build, &e);
        s->setup_seconds = listed + build;
        tables_close(&t);
        if (rc) s->rate = 0, snprintf(c->measure_note, sizeof c->measure_note, "%s", e.msg);
    }
}

void cost_free(SweepCost *c) {
    for (int i = 0; i < c->n_setups; i++) {
        backend_destroy(c->setups[i].be);
        c->setups[i].be = NULL;
    }
}

double cost_seconds(const SweepCost *c) {
    double s = 0;
    for (int i = 0; i < c->n_setups; i++) {
        if (!c->setups[i].passes) continue;
        if (c->setups[i].rate <= 0) return -1;
        s += c->setups[i].groups * c->setups[i].setup_seconds + c->setups[i].passes / c->setups[i].rate;
    }
    return s;
}

void cost_duration(double seconds, char *out, size_t n) {
    long s = (long)(seconds + 0.5);
    if (seconds < 60) snprintf(out, n, "%.1fs", seconds);
    else if (s < 3600) snprintf(out, n, "%ldm%02lds", s / 60, s % 60);
    else snprintf(out, n, "%ldh%02ldm", s / 3600, (s % 3600 + 30) / 60);
}

/* "12.3 MiB" / "4.56 GiB". */
static void size_text(double bytes, char *out, size_t n) {
    if (bytes >= 1073741824.0) snprintf(out, n, "%.2f GiB", bytes / 1073741824.0);
    else snprintf(out, n, "%.1f MiB", bytes / 1048576.0);
}

static long sum3(const long *v) { return v[COST_TRAIN] + v[COST_VALIDATION] + v[COST_TEST]; }

static void print_passes(const SweepCost *c, FILE *f, const char *prefix) {
    long todo = sum3(c->passes), all = sum3(c->total);
    if (!c->groups) { fprintf(f, "%sphase 1: nothing to compute (no trial to run reads the feature cache)\n", prefix); return; }
    fprintf(f, "%sphase 1: %d feature cache group%s, %ld backbone passes", prefix, c->groups, c->groups == 1 ? "" : "s", todo);
    if (todo < all) fprintf(f, " (%ld of the %ld cached already)", all - todo, all);
    fprintf(f, ": %ld training (%d view%s", c->passes[COST_TRAIN], c->train_tables, c->train_tables == 1 ? "" : "s");
    if (c->train_images >= 0) fprintf(f, " of %d images", c->train_images);
    fprintf(f, " in %d pool%s), %ld validation, %ld test\n", c->pools, c->pools == 1 ? "" : "s", c->passes[COST_VALIDATION],
            c->passes[COST_TEST]);
}

static void print_bytes(const SweepCost *c, FILE *f, const char *prefix) {
    char total[32], fresh[32], limit[32], free_[32];
    size_text(c->bytes_total, total, sizeof total);
    size_text(c->bytes_new, fresh, sizeof fresh);
    size_text(c->limit, limit, sizeof limit);
    size_text(c->free_bytes, free_, sizeof free_);
    fprintf(f, "%sfeature cache: %s on disk (%s), %s of it to write, in %s; limit ", prefix, total, c->dtype, fresh, c->cache_dir);
    if (c->limit_auto) fprintf(f, "%s to write (max_gib auto: %.0f%% of the %s free there)\n", limit, 100 * AUTO_SHARE, free_);
    else fprintf(f, "%s in all (max_gib %g; %s free there)\n", limit, c->limit / 1073741824.0, free_);
}

static void print_estimate(const SweepCost *c, FILE *f, const char *prefix) {
    double s = cost_seconds(c);
    if (!sum3(c->passes)) { fprintf(f, "%sphase 1 estimate: 0s (nothing to compute)\n", prefix); return; }
    if (s < 0) {
        fprintf(f, "%sphase 1 estimate: none (measuring the backbone failed: %s)\n", prefix, c->measure_note);
        return;
    }
    const CostSetup *m = NULL;
    for (int i = 0; i < c->n_setups && !m; i++) m = c->setups[i].passes ? &c->setups[i] : NULL;
    char d[32], start[32];
    int starts = 0;
    for (int i = 0; i < c->n_setups; i++) starts += c->setups[i].groups;
    cost_duration(s, d, sizeof d);
    cost_duration(m->setup_seconds, start, sizeof start);
    fprintf(f, "%sphase 1 estimate: %s (%d backbone start%s of %s, then %.1f images/s; measured here: %d batches of 32 at "
            "%dx%d on %s, %d thread%s%s%s)\n", prefix, d, starts, starts == 1 ? "" : "s", start, m->rate, COST_MEASURE_BATCHES,
            c->image_size, c->image_size, m->backend, m->threads, m->threads == 1 ? "" : "s",
            c->ranks > 1 ? " per rank, every rank at once" : "", c->n_setups > 1 ? "; the first of several setups" : "");
}

void cost_print(const SweepCost *c, FILE *f, const char *prefix) {
    print_passes(c, f, prefix);
    if (c->groups) print_bytes(c, f, prefix), print_estimate(c, f, prefix);
    fprintf(f, "%sphase 2: %d trial%s, at most %ld epochs\n", prefix, c->trials, c->trials == 1 ? "" : "s", c->epochs);
}

int cost_check_limit(const SweepCost *c, Err *e) {
    double need = c->limit_auto ? c->bytes_new : c->bytes_total;
    if (need <= c->limit) return 0;
    char total[32], fresh[32], limit[32];
    size_text(c->bytes_total, total, sizeof total);
    size_text(c->bytes_new, fresh, sizeof fresh);
    size_text(c->limit, limit, sizeof limit);
    if (c->limit_auto)
        return err_fail(e, "the feature cache would not fit: %s still to write into %s, more than the %s (%.0f%% of the free "
                        "space) feature_cache.max_gib: auto allows; free some space, set feature_cache.dtype: fp16 (half the "
                        "bytes) or fewer feature_cache.views, or set feature_cache.max_gib", fresh, c->cache_dir, limit, 100 * AUTO_SHARE);
    return err_fail(e, "the feature cache would not fit: it needs %s in %s (%s still to write), more than feature_cache.max_gib "
                    "%g (%s); raise max_gib, set feature_cache.dtype: fp16 (half the bytes) or use fewer feature_cache.views",
                    total, c->cache_dir, fresh, c->limit / 1073741824.0, limit);
}

static void cost_path(const char *sweep_dir, char *out, size_t n) { snprintf(out, n, "%s/cost.txt", sweep_dir); }

int cost_write(const SweepCost *c, const char *sweep_dir, Err *e) {
    char path[SWEEP_PATH_MAX + 16], when[32], *text = NULL;
    cost_path(sweep_dir, path, sizeof path);
    if (!sum3(c->passes) && fs_exists(path)) return 0;   /* keep the run that built the cache */
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return err_fail(e, "out of memory");
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
    fprintf(f, "run started %s on %d rank%s\n", when, c->ranks, c->ranks == 1 ? "" : "s");
    cost_print(c, f, "");
    fclose(f);
    int rc = fs_write_atomic(path, text, len, e);
    free(text);
    return rc;
}

int cost_phase1_done(const SweepCost *c, const char *sweep_dir, double seconds, Err *e) {
    char path[SWEEP_PATH_MAX + 16], took[32], est[32], *text;
    if (!c->planned || !sum3(c->passes)) return 0;
    cost_path(sweep_dir, path, sizeof path);
    size_t len;
    if (fs_read_all(path, &text, &len, e)) return -1;
    cost_duration(seconds, took, sizeof took);
    double s = cost_seconds(c);
    if (s >= 0) cost_duration(s, est, sizeof est);
    else snprintf(est, sizeof est, "none");
    char line[160];
    int n = snprintf(line, sizeof line, "phase 1 took %s (estimate %s)\n", took, est);
    char *all = malloc(len + (size_t)n + 1);
    TL_CHECK_ALLOC(e, all);
    memcpy(all, text, len);
    memcpy(all + len, line, (size_t)n);
    int rc = fs_write_atomic(path, all, len + (size_t)n, e);
    free(all);
    free(text);
    return rc;
}
