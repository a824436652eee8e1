#include "changed_trials.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "core/dir_lock.h"
#include "core/fsutil.h"
#include "train/trial_folder.h"

enum { CHANGES_MAX = 1024, LISTED_MAX = 20 };

typedef struct Changed {
    int t;
    char keys[CHANGES_MAX];     /* "train.epochs 6 -> 3, ..." */
} Changed;

/* The trials whose folder ran with other values of the keys that change the numbers;
 * *n of them in a malloc'ed array (NULL when none). */
static Changed *find_changed(const SweepPlan *p, int *n) {
    Changed *c = NULL;
    *n = 0;
    for (int t = 0; t < p->ts.n; t++) {
        char dir[SWEEP_PATH_MAX + TRIAL_ID_MAX], keys[CHANGES_MAX];
        plan_trial_dir(p, t, dir, sizeof dir);
        if (!trial_folder_started(dir) || !trial_folder_changes(dir, &p->ts.trials[t].cfg, keys, sizeof keys, NULL)) continue;
        Changed *grown = realloc(c, (size_t)(*n + 1) * sizeof *c);
        if (!grown) break;   /* out of memory: list what fits */
        c = grown;
        c[*n].t = t;
        snprintf(c[*n].keys, sizeof c[*n].keys, "%s", keys);
        (*n)++;
    }
    return c;
}

static void print_list(const SweepPlan *p, const Changed *c, int n, FILE *out) {
    for (int k = 0; k < n && k < LISTED_MAX; k++)
        fprintf(out, "  %s (%s): %s\n", p->ts.trials[c[k].t].id, status_name(p->results[c[k].t].status), c[k].keys);
    if (n > LISTED_MAX) fprintf(out, "  ... and %d more\n", n - LISTED_MAX);
}

int plan_print_changes(const SweepPlan *p, FILE *out) {
    int n;
    Changed *c = find_changed(p, &n);
    if (n) {
        fprintf(out, "%s would change %d trial%s that already ran in %s (a run refuses it without --rename or "
                "--rerun-changed):\n", p->spec.file, n, n == 1 ? "" : "s", p->sweep_dir);
        print_list(p, c, n, out);
    }
    free(c);
    return n;
}

static int refuse(const SweepPlan *p, const Changed *c, int n, FILE *out, Err *e) {
    fprintf(out, "sweep: %s would change %d trial%s that already ran in %s (each trial's config.yaml holds the values it "
            "ran with):\n", p->spec.file, n, n == 1 ? "" : "s", p->sweep_dir);
    print_list(p, c, n, out);
    fprintf(out, "Nothing was run: their results would be reported beside trials run with the new values. To go on, either\n"
            "  --rename NEW      run this file as a new sweep in %.*s/NEW (the old one stays as it is), or\n"
            "  --rerun-changed   run these trials again with the new values (their old folders are kept as <trial>.old-N),\n"
            "or put the old values back (%s/sweep.yaml is the file of the last run). Trials that never ran may change freely.\n",
            (int)(strrchr(p->sweep_dir, '/') - p->sweep_dir), p->sweep_dir, p->sweep_dir);
    fflush(out);
    return err_fail(e, "nothing was run: the sweep file changes %d trial%s that already ran (listed above)", n, n == 1 ? "" : "s");
}

/* Sets trial t's folder aside under its own lock (a trainer left running in it is not moved). */
static int set_aside(SweepPlan *p, const Changed *c, Err *e) {
    char dir[SWEEP_PATH_MAX + TRIAL_ID_MAX], lock_path[sizeof dir + 16], aside[sizeof dir + 32];
    plan_trial_dir(p, c->t, dir, sizeof dir);
    snprintf(lock_path, sizeof lock_path, "%s/.lock", dir);
    DirLock lock;
    if (dir_lock_try(&lock, lock_path, "sweep --rerun-changed", 0, NULL, NULL, 0, e))
        return err_context(e, "trial %s cannot be set aside", p->ts.trials[c->t].id);
    int rc = trial_folder_set_aside(dir, aside, sizeof aside, e);
    dir_lock_release(&lock);
    if (rc) return -1;
    printf("[%s] trial %s changed (%s): it runs again; its old folder is kept as %s\n", p->spec.name,
            p->ts.trials[c->t].id, c->keys, strrchr(aside, '/') + 1);
    plan_reload_result(p, c->t);
    return 0;
}

int plan_check_changes(SweepPlan *p, const SweepArgs *a, FILE *out, Err *e) {
    int n, rc = 0;
    Changed *c = find_changed(p, &n);
    if (n && !a->rerun_changed) rc = refuse(p, c, n, out, e);
    else if (n && p->spec.method == METHOD_TPE) {
        print_list(p, c, n, out);
        rc = err_fail(e, "%s: --rerun-changed cannot rerun trials of a tpe study: the trials drawn after them were drawn from "
                      "their results (study.csv). Use --rename NEW to start a new study", p->spec.file);
    }
    for (int k = 0; k < n && rc == 0; k++) rc = set_aside(p, &c[k], e);
    fflush(out);
    free(c);
    return rc;
}

int plan_count_strays(const SweepPlan *p) {
    DIR *d = opendir(p->sweep_dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        char cfg[SWEEP_PATH_MAX + 300];
        snprintf(cfg, sizeof cfg, "%s/%s/config.yaml", p->sweep_dir, de->d_name);
        if (de->d_name[0] == '.' || strstr(de->d_name, ".old-") || trial_set_find(&p->ts, de->d_name) >= 0) continue;
        n += fs_exists(cfg);
    }
    if (d) closedir(d);
    return n;
}
