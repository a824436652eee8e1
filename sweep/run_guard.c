#include "run_guard.h"

#include <string.h>
#include <time.h>

#include "core/fsutil.h"

int run_guard_take(RunGuard *g, const SweepPlan *p, int ranks, Err *e) {
    char path[SWEEP_PATH_MAX + 32], what[128], note[600];
    memset(g, 0, sizeof *g);
    snprintf(g->dir, sizeof g->dir, "%s", p->sweep_dir);
    snprintf(path, sizeof path, "%s/.sweep.lock", p->sweep_dir);
    snprintf(what, sizeof what, "sweep %s (rank 0 of %d)", p->spec.name, ranks);
    DirLockHolder held;
    int rc = dir_lock_try(&g->lock, path, what, 0, &held, note, sizeof note, e);
    if (rc > 0) {
        char who[512];
        dir_lock_describe(&held, who, sizeof who);
        return err_fail(e, "%s is in use by %s. Nothing was started: wait for it to end, or stop it (touch %s/STOP)",
                        p->sweep_dir, who, p->sweep_dir);
    }
    if (rc < 0) return -1;
    if (note[0]) printf("[%s] %s\n", p->spec.name, note);
    return 0;
}

int run_guard_start(RunGuard *g, Err *e) {
    run_status_start(&g->status);
    if (run_status_write(g->dir, &g->status, e)) return -1;
    g->started = 1;
    return 0;
}

void run_guard_interrupted(RunGuard *g) {
    if (!g->started || g->interrupt_said) return;
    g->interrupt_said = 1;
    RunStatus st = g->status;
    snprintf(st.state, sizeof st.state, "interrupted");
    st.code = 130;
    st.ended = (long)time(NULL);   /* the stop was asked then; the ranks may never say more */
    Err e;
    if (run_status_write_now(g->dir, &st, &e)) fprintf(stderr, "sweep: %s\n", e.msg);
}

void run_guard_end(RunGuard *g, int code) {
    Err e;
    if (g->started && run_status_finish(g->dir, &g->status, code, &e)) fprintf(stderr, "sweep: %s\n", e.msg);
    g->started = 0;
    dir_lock_release(&g->lock);
}

int run_guard_clean_tmp(const SweepPlan *p, int *removed, Err *e) {
    *removed = 0;
    if (fs_remove_dead_tmp(p->sweep_dir, 0, FS_FOREIGN_TMP_SECONDS, removed, e)) return -1;
    for (int t = 0; t < p->ts.n; t++) {
        char dir[SWEEP_PATH_MAX + 64];
        const char *d = p->ts.trials[t].cfg.feature_cache.dir;
        int seen = 0;   /* trials mostly share one cache folder: clean it once */
        for (int u = 0; u < t && !seen; u++) seen = !strcmp(p->ts.trials[u].cfg.feature_cache.dir, d);
        plan_cache_dir(p, t, dir, sizeof dir);
        if (!seen && fs_remove_dead_tmp(dir, 1, FS_FOREIGN_TMP_SECONDS, removed, e)) return -1;
    }
    return 0;
}
