/* Loading a sweep and looking at its folder: shared by the run, --dry-run and --aggregate. */
#include "sweep_run.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "study.h"
#include "train/trial_folder.h"
#include "summary.h"

static int absolute_dir(const char *dir, char *out, size_t n, Err *e) {
    if (dir[0] == '/') { snprintf(out, n, "%s", dir); return 0; }
    char cwd[SWEEP_PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return err_fail(e, "getcwd failed: %s", strerror(errno));
    const char *rel = strncmp(dir, "./", 2) == 0 ? dir + 2 : dir;
    if (strcmp(rel, ".") == 0) rel = "";
    if (snprintf(out, n, "%s%s%s", cwd, rel[0] ? "/" : "", rel) >= (int)n) return err_fail(e, "path too long: %s", dir);
    size_t k = strlen(out);
    while (k > 1 && out[k - 1] == '/') out[--k] = 0;
    return 0;
}

void plan_trial_dir(const SweepPlan *p, int t, char *out, size_t n) {
    snprintf(out, n, "%s/%s", p->sweep_dir, p->ts.trials[t].id);
}

void plan_cache_dir(const SweepPlan *p, int t, char *out, size_t n) {
    const char *d = p->ts.trials[t].cfg.feature_cache.dir;
    if (d[0] == '/') snprintf(out, n, "%s", d);
    else snprintf(out, n, "%s/%s", p->sweep_dir, d[0] ? d : "cache");
}

void plan_reload_result(SweepPlan *p, int t) {
    char dir[SWEEP_PATH_MAX + TRIAL_ID_MAX];
    plan_trial_dir(p, t, dir, sizeof dir);
    result_free(&p->results[t]);
    result_read(dir, &p->results[t]);
}

static int sweep_folder(SweepPlan *p, const SweepArgs *a, Err *e) {
    if (a->aggregate) return absolute_dir(a->aggregate, p->sweep_dir, sizeof p->sweep_dir, e);
    char runs[SWEEP_PATH_MAX];
    if (absolute_dir(a->runs, runs, sizeof runs, e)) return -1;
    if (snprintf(p->sweep_dir, sizeof p->sweep_dir, "%s/%s", runs, p->spec.name) >= (int)sizeof p->sweep_dir)
        return err_fail(e, "path too long: %s/%s", runs, p->spec.name);
    return 0;
}

/* tpe: the trials drawn by earlier runs (study.csv) join the random startup trials. */
static int plan_study_trials(SweepPlan *p, Err *e) {
    if (p->spec.method != METHOD_TPE) return 0;
    Study st;
    int rc = study_open(&st, &p->spec, p->sweep_dir, e);
    if (rc == 0) rc = study_fill_trials(&st, &p->ts, e);
    study_free(&st);
    return rc;
}

/* ASHA needs a rung below the epochs the trials train (sweep.early_stop.max_epochs, or
 * their largest train.epochs). */
int plan_max_epochs(const SweepPlan *p) {
    int max_epochs = 0;
    for (int t = 0; t < p->ts.n; t++)
        if (p->ts.trials[t].cfg.train.epochs > max_epochs) max_epochs = p->ts.trials[t].cfg.train.epochs;
    return max_epochs;
}

static int check_early_stop(const SweepPlan *p, Err *e) {
    if (p->spec.early_stop.method == PRUNE_NONE || !p->ts.resolved) return 0;
    Pruner pr;
    int rc = pruner_init(&pr, &p->spec.early_stop, plan_max_epochs(p), e);
    pruner_free(&pr);
    return rc ? err_context(e, "%s:%d", p->spec.file, p->spec.early_stop.line) : 0;
}

/* What an adaptive sweep cannot run with. --only picks trials by id, but a tpe study's
 * trials do not exist before it draws them, and each draw depends on every result before
 * it: a part of the study is not a study. Early stopping decides on train_log.csv rows (and
 * rebuilds its state from them after a kill), so every trial must write them. */
static int check_runnable(const SweepPlan *p, const SweepArgs *a, Err *e) {
    if (a->dry_run || a->aggregate) return 0;
    if (p->spec.method == METHOD_TPE && a->only)
        return err_fail(e, "--only cannot run part of a tpe study (its trials are drawn from every result before "
                        "them); run the whole sweep, or `trainer train <trial>/config.yaml --out <trial>` for one trial");
    for (int t = 0; p->spec.early_stop.method != PRUNE_NONE && t < p->ts.n; t++)
        if (!p->ts.trials[t].cfg.callbacks.csv_log)
            return err_fail(e, "%s:%d: sweep.early_stop decides on train_log.csv rows, but trial %s sets "
                            "callbacks.csv_log: false", p->spec.file, p->spec.early_stop.line, p->ts.trials[t].id);
    return 0;
}

int plan_load(SweepPlan *p, const SweepArgs *a, int resolve, Err *e) {
    memset(p, 0, sizeof *p);
    char file[SWEEP_PATH_MAX];
    if (a->file) snprintf(file, sizeof file, "%s", a->file);
    else snprintf(file, sizeof file, "%s/sweep.yaml", a->aggregate);
    if (sweep_spec_load(&p->spec, file, e)) return -1;
    if (a->rename && !sweep_name_valid(a->rename))
        return err_fail(e, "--rename '%s': a sweep name must be letters, digits, '.', '_' or '-' (it names a folder)", a->rename);
    if (a->rename) snprintf(p->spec.name, sizeof p->spec.name, "%s", a->rename), p->renamed = 1;
    if (sweep_expand(&p->spec, &p->ts, e) || sweep_folder(p, a, e) || plan_study_trials(p, e)) return -1;
    if (!getcwd(p->cwd, sizeof p->cwd)) return err_fail(e, "getcwd failed: %s", strerror(errno));
    ResolveOptions ro = {.sweep_dir = p->sweep_dir, .cwd = p->cwd, .check_files = 1};
    if (resolve && sweep_resolve(&p->spec, &p->ts, &ro, e)) return -1;
    if (check_early_stop(p, e) || check_runnable(p, a, e)) return -1;
    p->capacity = p->spec.method == METHOD_TPE && p->spec.n_trials > p->ts.n ? (int)p->spec.n_trials : p->ts.n;
    p->results = calloc((size_t)p->capacity + 1, sizeof *p->results);
    p->selected = calloc((size_t)p->capacity + 1, sizeof *p->selected);
    if (!p->results || !p->selected) return err_fail(e, "out of memory");
    int any = 0;
    for (int t = 0; t < p->ts.n; t++) {
        plan_reload_result(p, t);
        p->selected[t] = trial_selected(a->only, p->ts.trials[t].id);
        any |= p->selected[t];
    }
    if (!any) return err_fail(e, "--only %s matches no trial of sweep '%s' (see --dry-run)", a->only, p->spec.name);
    return 0;
}

void plan_free(SweepPlan *p) {
    for (int t = 0; p->results && t < p->ts.n; t++) result_free(&p->results[t]);
    free(p->results);
    free(p->selected);
    trial_set_free(&p->ts);
    sweep_spec_free(&p->spec);
    memset(p, 0, sizeof *p);
}

int plan_todo(const SweepPlan *p, const SweepArgs *a, int *todo) {
    int n = 0;
    for (int t = 0; t < p->ts.n; t++) {
        SweepTrialStatus st = p->results[t].status;
        int again = (st == STATUS_FAILED && a->retry_failed) || (st == STATUS_PRUNED && a->retry_pruned);
        if (!p->selected[t] || ((status_finished(st) || st == STATUS_FAILED) && !again)) continue;
        todo[n++] = t;
    }
    return n;
}

int trial_uses_cache(const TrialConfig *c) {
    return c->feature_cache.views > 0 && (strcmp(c->model.trainable, "head") == 0 || c->finetune.after_epochs > 0);
}

int plan_group_first(const SweepPlan *p, const int *todo, int n_todo, int g) {
    for (int k = 0; k < n_todo; k++) {
        const SweepTrial *t = &p->ts.trials[todo[k]];
        if (t->cache_group == g && trial_uses_cache(&t->cfg)) return todo[k];
    }
    return -1;
}

/* config.yaml is what a trial runs with, written once: a rerun rewrites it only when the
 * trial never ran (its values may change freely) or when only keys that never change the
 * numbers differ (where the cache is, threads, the pixel limit); plan_check_changes has
 * refused, or set aside, every trial that ran with other values of the keys that do.
 * *fresh counts the trials that never ran and take new values. */
static int write_trial_config(SweepPlan *p, int t, const char *dir, int *fresh, Err *e) {
    char path[SWEEP_PATH_MAX + TRIAL_ID_MAX + 32], others[2048];
    const TrialConfig *cfg = &p->ts.trials[t].cfg;
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    TrialConfig old;
    Err ignored;
    if (fs_exists(path) && config_load_file(&old, path, &ignored) == 0) {
        int same = config_equal(&old, cfg), numbers = config_diff(&old, cfg, 1, NULL, 0);
        config_diff(&old, cfg, 0, others, sizeof others);
        config_free(&old);
        if (same) return 0;
        if (!numbers && trial_folder_started(dir))
            printf("[%s] trial %s: config.yaml updated: %s (keys that do not change its numbers)\n", p->spec.name,
                   p->ts.trials[t].id, others);
        else *fresh += 1;
    }
    if (config_write_file(cfg, path, e)) return err_context(e, "trial %s", p->ts.trials[t].id);
    return 0;
}

static int prepare_trial(SweepPlan *p, int t, int *fresh, Err *e) {
    char dir[SWEEP_PATH_MAX + TRIAL_ID_MAX], path[SWEEP_PATH_MAX + TRIAL_ID_MAX + 32], old[sizeof path];
    plan_trial_dir(p, t, dir, sizeof dir);
    if (fs_mkdir_p(dir, e)) return -1;
    SweepTrialStatus st = p->results[t].status;
    if (st == STATUS_FAILED || st == STATUS_PRUNED) {
        snprintf(old, sizeof old, "%s/result.csv", dir);
        snprintf(path, sizeof path, "%s/result.%s.csv", dir, status_name(st));
        if (rename(old, path) != 0) return err_fail(e, "%s: cannot rename to %s: %s", old, path, strerror(errno));
        plan_reload_result(p, t);
    }
    return write_trial_config(p, t, dir, fresh, e);
}

int plan_prepare_trial(SweepPlan *p, int t, Err *e) {
    int fresh = 0;   /* a drawn trial is new: no note to give */
    return prepare_trial(p, t, &fresh, e);
}

/* With --rename the copy names the new sweep, so `sweep runs/NEW/sweep.yaml` reruns it: its
 * top-level "name:" line is replaced (left as it is, with a note, when the file writes it
 * another way). */
static char *renamed_text(const SweepPlan *p, const char *text, size_t *size) {
    char *out = malloc(*size + 256);
    if (!out) return NULL;
    const char *line = text;
    while (line && strncmp(line, "name:", 5) != 0) line = (line = strchr(line, '\n')) ? line + 1 : NULL;
    if (!line) {
        printf("[%s] note: the copy sweep.yaml keeps the file's own name (no top-level 'name:' line): rerun it with --rename %s\n",
               p->spec.name, p->spec.name);
        memcpy(out, text, *size);
        return out;
    }
    const char *end = strchr(line, '\n');
    size_t head = (size_t)(line - text), tail = end ? *size - (size_t)(end - text) : 0;
    int n = snprintf(out + head, 200, "name: %s   # sweep --rename %s", p->spec.name, p->spec.name);
    memcpy(out, text, head);
    if (tail) memcpy(out + head + (size_t)n, end, tail);
    *size = head + (size_t)n + tail;
    return out;
}

/* runs/<name>/sweep.yaml: a copy of the file. A copy that differs (an edit of trials that never
 * ran, or --rerun-changed) is kept as sweep.yaml.old-N, never overwritten unseen. */
static int copy_sweep_file(SweepPlan *p, const char *sweep_file, Err *e) {
    char path[SWEEP_PATH_MAX + 64], src[SWEEP_PATH_MAX], dst[SWEEP_PATH_MAX], *text, *old;
    size_t size, old_size;
    snprintf(path, sizeof path, "%s/sweep.yaml", p->sweep_dir);
    /* Rerunning from the copy itself: nothing to copy. */
    if (realpath(sweep_file, src) && realpath(path, dst) && strcmp(src, dst) == 0) return 0;
    if (fs_read_all(sweep_file, &text, &size, e)) return -1;
    if (p->renamed) {
        char *renamed = renamed_text(p, text, &size);
        free(text);
        if (!(text = renamed)) return err_fail(e, "out of memory");
    }
    int rc = 0;
    if (fs_exists(path) && fs_read_all(path, &old, &old_size, e) == 0) {
        int same = old_size == size && memcmp(old, text, size) == 0;
        free(old);
        char aside[sizeof path + 32];
        for (int k = 1; !same && k < 100000; k++) {
            snprintf(aside, sizeof aside, "%s.old-%d", path, k);
            if (fs_exists(aside)) continue;
            if (rename(path, aside) != 0) rc = err_fail(e, "%s: cannot rename to %s: %s", path, aside, strerror(errno));
            else printf("[%s] %s differs from the sweep.yaml of the last run; that copy is kept as %s\n", p->spec.name, sweep_file,
                        strrchr(aside, '/') + 1);
            break;
        }
    }
    if (rc == 0) rc = fs_write_atomic(path, text, size, e);
    free(text);
    return rc;
}

int plan_prepare_dirs(SweepPlan *p, const char *sweep_file, const int *todo, int n_todo, Err *e) {
    char path[SWEEP_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/logs", p->sweep_dir);
    if (fs_mkdir_p(path, e)) return -1;
    snprintf(path, sizeof path, "%s/cache", p->sweep_dir);
    if (fs_mkdir_p(path, e)) return -1;
    if (copy_sweep_file(p, sweep_file, e)) return -1;
    int fresh = 0;
    for (int k = 0; k < n_todo; k++)
        if (prepare_trial(p, todo[k], &fresh, e)) return -1;
    if (fresh)
        printf("[%s] %d trial%s that never ran take%s the file's new values\n", p->spec.name, fresh, fresh == 1 ? "" : "s",
               fresh == 1 ? "s" : "");
    fflush(stdout);
    return 0;
}

static int resolve_drawn(SweepPlan *p, int t, Err *e) {
    if (t >= p->capacity) return err_fail(e, "tpe: trial %d drawn beyond sweep.trials (%d)", t, p->capacity);
    ResolveOptions ro = {.sweep_dir = p->sweep_dir, .cwd = p->cwd, .check_files = 1};
    if (sweep_resolve_added(&p->spec, &p->ts, t, &ro, e)) return -1;
    plan_reload_result(p, t);
    p->selected[t] = 1;   /* tpe runs no --only */
    return 0;
}

int plan_add_drawn(SweepPlan *p, int t, Err *e) {
    if (resolve_drawn(p, t, e)) return -1;
    SweepTrialStatus st = p->results[t].status;   /* a result there already: study.csv was lost */
    return status_finished(st) || st == STATUS_FAILED ? 0 : plan_prepare_trial(p, t, e);
}

int plan_sync_drawn(SweepPlan *p, Err *e) {
    int from = p->ts.n;
    if (p->spec.method != METHOD_TPE || plan_study_trials(p, e)) return p->spec.method == METHOD_TPE ? -1 : 0;
    for (int t = from; t < p->ts.n; t++)
        if (resolve_drawn(p, t, e)) return -1;
    return 0;
}

int plan_aggregate(SweepPlan *p, Err *e) {
    char path[SWEEP_PATH_MAX + 32];
    for (int t = 0; t < p->ts.n; t++) plan_reload_result(p, t);
    snprintf(path, sizeof path, "%s/summary.csv", p->sweep_dir);
    if (summary_write(path, &p->spec, &p->ts, p->results, e)) return -1;
    snprintf(path, sizeof path, "%s/report.md", p->sweep_dir);
    return report_write(path, &p->spec, &p->ts, p->results, e);
}

int plan_count_failed(const SweepPlan *p) {
    int n = 0;
    for (int t = 0; t < p->ts.n; t++) n += p->selected[t] && p->results[t].status == STATUS_FAILED;
    return n;
}

int plan_count_unfinished(const SweepPlan *p) {
    int n = 0;
    for (int t = 0; t < p->ts.n; t++)
        n += p->selected[t] && (p->results[t].status == STATUS_PENDING || p->results[t].status == STATUS_INTERRUPTED);
    return n;
}

void plan_print_table(const SweepPlan *p, FILE *f) {
    const TrialSet *ts = &p->ts;
    int wid = 5, wval[ts->n_axes + 1];
    for (int t = 0; t < ts->n; t++) if ((int)strlen(ts->trials[t].id) > wid) wid = (int)strlen(ts->trials[t].id);
    for (int i = 0; i < ts->n_axes; i++) {
        wval[i] = (int)strlen(p->spec.axes[i].path);
        for (int t = 0; t < ts->n; t++) if ((int)strlen(ts->trials[t].text[i]) > wval[i]) wval[i] = (int)strlen(ts->trials[t].text[i]);
    }
    fprintf(f, "%4s  %-*s  %-11s  %5s", "#", wid, "trial", "status", "cache");
    for (int i = 0; i < ts->n_axes; i++) fprintf(f, "  %-*s", i + 1 < ts->n_axes ? wval[i] : 0, p->spec.axes[i].path);
    fputc('\n', f);
    for (int t = 0; t < ts->n; t++) {
        if (!p->selected[t]) continue;
        const char *st = status_name(p->results[t].status);
        fprintf(f, "%4d  %-*s  %-11s  %5d", t + 1, wid, ts->trials[t].id, st,
                ts->resolved ? ts->trials[t].cache_group + 1 : 0);
        for (int i = 0; i < ts->n_axes; i++) fprintf(f, "  %-*s", i + 1 < ts->n_axes ? wval[i] : 0, ts->trials[t].text[i]);
        fputc('\n', f);
    }
}
