/* trainer train CONFIG.yaml --out DIR [--threads N] [--gpu I] [--quiet] [--restart] [--prune-fd N]
 * Runs one trial; rerunning the same command resumes it (or reports it finished).
 * DIR is locked for the whole run (DIR/.lock: a second trainer, or a sweep, on the same
 * folder is refused, naming the holder; the sweep's own lock is adopted, core/dir_lock.h).
 * A folder that already ran with another config is refused, never rewritten (its
 * config.yaml is written once); --restart sets the old run aside as DIR.old-N first.
 * Exit status: 0 done, 3 diverged, 4 pruned (stopped by the sweep's early stopping over
 * --prune-fd: cli/prune_gate.h), 1 failed (result.csv says why), 2 usage or config error,
 * or DIR in use or run with another config (nothing written), 130 interrupted by
 * SIGINT/SIGTERM (last.safetensors holds the last epoch). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/prune_gate.h"
#include "cli/stop_signal.h"
#include "core/dir_lock.h"
#include "core/fsutil.h"
#include "train/result_columns.h"
#include "train/trial.h"
#include "train/trial_data.h"
#include "train/trial_folder.h"

typedef struct TrainArgs {
    const char *config, *out;
    int threads, gpu, quiet, restart;
    int prune_fd;               /* -1 = none */
} TrainArgs;

static const char TRAIN_USAGE[] =
    "usage: trainer train CONFIG.yaml --out DIR [--threads N] [--gpu I] [--quiet] [--restart] [--prune-fd N]\n";

/* --prune-fd: a descriptor number this process holds. */
static int parse_fd(const char *v, int *fd) {
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == 0 || *end || n < 0 || n > 65535) return -1;
    *fd = (int)n;
    return 0;
}

static int parse_train_args(int argc, char **argv, TrainArgs *a) {
    memset(a, 0, sizeof *a);
    a->prune_fd = -1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_value(argc, argv, &i, "--out", &v)) a->out = v;
        else if (arg_value(argc, argv, &i, "--threads", &v)) { if (arg_threads("trainer train", v, &a->threads)) return -1; }
        else if (arg_value(argc, argv, &i, "--prune-fd", &v)) {
            if (parse_fd(v, &a->prune_fd)) { fprintf(stderr, "trainer train: --prune-fd takes a descriptor number, not '%s'\n", v); return -1; }
        }
        else if (arg_value(argc, argv, &i, "--gpu", &v)) a->gpu = atoi(v);
        else if (!strcmp(argv[i], "--quiet")) a->quiet = 1;
        else if (!strcmp(argv[i], "--restart")) a->restart = 1;
        else if (argv[i][0] != '-' && !a->config) a->config = argv[i];
        else { fprintf(stderr, "trainer train: unknown argument %s\n%s", argv[i], TRAIN_USAGE); return -1; }
    }
    if (!a->config || !a->out) {
        fputs(TRAIN_USAGE, stderr);
        return -1;
    }
    return 0;
}

/* A trial that ended (done, diverged or pruned) is not rerun; a failed one is retried.
 * (A pruned one continues to its whole budget once its result.csv is moved away: what
 * `sweep --retry-pruned` does.) */
static int finished_before(const char *out) {
    char path[1100], status[64];
    if (result_csv_status(fs_join(path, sizeof path, out, "result.csv"), status, sizeof status)) return 0;
    return !strcmp(status, trial_status_name(TRIAL_DONE)) || !strcmp(status, trial_status_name(TRIAL_DIVERGED)) ||
           !strcmp(status, trial_status_name(TRIAL_PRUNED));
}

static int exit_code(const TrialResult *r) {
    switch (r->status) {
    case TRIAL_DONE: return 0;
    case TRIAL_DIVERGED: return 3;
    case TRIAL_PRUNED: return 4;
    case TRIAL_INTERRUPTED: return 130;
    default: return 1;
    }
}

static int run_and_record(const TrialConfig *cfg, const TrainArgs *a, FILE *log, volatile sig_atomic_t *stop) {
    PruneGate gate = {.fd = a->prune_fd, .stop = stop, .log = log};
    TrialOptions opt = {.config_path = a->config, .out_dir = a->out, .threads = a->threads, .gpu = a->gpu, .log = log,
                        .progress = !a->quiet && isatty(2), .stop = stop,
                        .between_epochs = a->prune_fd >= 0 ? prune_gate_ask : NULL, .between_epochs_ctx = &gate};
    TrialResult res;
    Err e = {{0}};
    char path[1100];
    fs_join(path, sizeof path, a->out, "result.csv");
    if (trial_run(cfg, &opt, &res, &e)) {
        fprintf(stderr, "trainer train: %s\n", e.msg);
        if (log != stdout) fprintf(log, "failed: %s\n", e.msg);
        res.status = TRIAL_FAILED;
        snprintf(res.message, sizeof res.message, "%s", e.msg);
        res.best_epoch = -1;
        Err e2 = {{0}};
        if (trial_result_write(path, &res, &e2)) fprintf(stderr, "trainer train: %s\n", e2.msg);
        return 1;
    }
    if (res.status == TRIAL_INTERRUPTED) {
        fprintf(stderr, "trainer train: interrupted; rerun the same command to resume\n");
        return 130;
    }
    if (trial_result_write(path, &res, &e)) { fprintf(stderr, "trainer train: %s\n", e.msg); return 1; }
    fprintf(log, "%s: %s, %d epochs, best epoch %d, val_accuracy %.4f, test_accuracy %.4f\n", res.trial,
            trial_status_name(res.status), res.epochs, res.best_epoch, res.val_accuracy, res.test_accuracy);
    return exit_code(&res);
}

static int is_same_file(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* A folder that already ran with other values of the keys that change a trial's numbers is
 * refused (exit 2, nothing written). */
static int check_config(const TrialConfig *cfg, const TrainArgs *a) {
    char path[1100], changes[2048];
    fs_join(path, sizeof path, a->out, "config.yaml");
    if (is_same_file(path, a->config)) return 0;
    if (trial_folder_started(a->out) && trial_folder_changes(a->out, cfg, changes, sizeof changes, NULL)) {
        fprintf(stderr, "trainer train: %s already ran with another config (its config.yaml, which stays as it is): %s.\n"
                "Nothing was run. To train this config: another --out, or --restart to keep the old run as %s.old-N and "
                "start over.\n", a->out, changes, a->out);
        return 2;
    }
    return 0;
}

/* DIR/config.yaml is what the trial runs with, written once: when the trial is about to run
 * and the folder has none, or one that differs only where check_config allows it (a trial
 * that never ran, or keys that never change the numbers). */
static int write_config(const TrialConfig *cfg, const TrainArgs *a) {
    char path[1100];
    fs_join(path, sizeof path, a->out, "config.yaml");
    if (is_same_file(path, a->config)) return 0;
    TrialConfig old;
    Err e = {{0}};
    if (fs_exists(path) && config_load_file(&old, path, &e) == 0) {
        int same = config_equal(&old, cfg);
        config_free(&old);
        if (same) return 0;
    }
    if (config_write_file(cfg, path, &e)) { fprintf(stderr, "trainer train: %s\n", e.msg); return 1; }
    return 0;
}

/* --restart: DIR moves to DIR.old-N (lock and all) and the run starts in a fresh DIR, whose
 * lock is taken in `fresh` (a DirLock's heartbeat thread holds its address: never copied). */
static int restart_folder(DirLock *lock, DirLock *fresh, const TrainArgs *a) {
    char aside[1200], note[600];
    Err e = {{0}};
    DirLockHolder held;
    if (!trial_folder_started(a->out)) return 0;
    if (trial_folder_set_aside(a->out, aside, sizeof aside, &e) || fs_mkdir_p(a->out, &e)) {
        fprintf(stderr, "trainer train: --restart: %s\n", e.msg);
        return 1;
    }
    char path[1100];
    if (dir_lock_try(fresh, fs_join(path, sizeof path, a->out, ".lock"), "trainer train", DIR_LOCK_ADOPT, &held, note,
                     sizeof note, &e)) {
        fprintf(stderr, "trainer train: %s\n", e.msg);
        return 2;
    }
    dir_lock_release(lock);
    fprintf(stderr, "trainer train: --restart: the earlier run is kept as %s; starting from the first epoch\n", aside);
    return 0;
}

/* Holding DIR's lock: stale temp files, --restart, DIR/config.yaml, the already-finished
 * check, the log, the run. */
static int train_locked(const TrialConfig *cfg, const TrainArgs *a, DirLock *lock, DirLock *fresh) {
    Err e = {{0}};
    char path[1100];
    int removed = 0, rc;
    if (a->restart && (rc = restart_folder(lock, fresh, a))) return rc;
    /* Nobody else writes in a locked folder: every temp file not ours is a dead writer's. Its
     * cache folder may be shared (other trainers, a sweep's ranks on other hosts). */
    char cache[1100];
    trial_cache_dir(cfg, a->out, cache, sizeof cache);
    if (fs_remove_dead_tmp(a->out, 0, 0, &removed, &e) || fs_remove_dead_tmp(cache, 1, FS_FOREIGN_TMP_SECONDS, &removed, &e))
        fprintf(stderr, "trainer train: %s\n", e.msg);
    if ((rc = check_config(cfg, a))) return rc;
    if (finished_before(a->out)) {
        printf("%s: already finished (result.csv exists); delete it, or use --restart, to run it again\n", a->out);
        return 0;
    }
    if ((rc = write_config(cfg, a))) return rc;
    FILE *log = stdout;
    if (a->quiet && !(log = fopen(fs_join(path, sizeof path, a->out, "trainer.log"), "a"))) {
        fprintf(stderr, "trainer train: %s: cannot open\n", path);
        return 1;
    }
    if (removed) fprintf(log, "removed %d temp file%s left by a writer that died\n", removed, removed == 1 ? "" : "s");
    rc = run_and_record(cfg, a, log, stop_signal_install());
    if (log != stdout) fclose(log);
    return rc;
}

/* With the config loaded: DIR exists and is locked for the whole run, or the run is refused. */
static int train_loaded(const TrialConfig *cfg, const TrainArgs *a) {
    Err e = {{0}};
    char path[1100], note[600];
    if (fs_mkdir_p(a->out, &e)) {
        fprintf(stderr, "trainer train: %s\n", e.msg);
        return 1;
    }
    DirLock lock, fresh = {.fd = -1};
    DirLockHolder held;
    int rc = dir_lock_try(&lock, fs_join(path, sizeof path, a->out, ".lock"), "trainer train", DIR_LOCK_ADOPT, &held, note,
                          sizeof note, &e);
    if (rc) {
        fprintf(stderr, "trainer train: %s%s\n", e.msg, rc > 0 ? ": another run uses this folder; nothing was done" : "");
        return 2;
    }
    if (note[0]) fprintf(stderr, "trainer train: %s\n", note);
    rc = train_locked(cfg, a, &lock, &fresh);
    dir_lock_release(&fresh);
    dir_lock_release(&lock);
    return rc;
}

int cmd_train(int argc, char **argv) {
    TrainArgs a;
    if (parse_train_args(argc, argv, &a)) return 2;
    TrialConfig cfg;
    Err e = {{0}};
    if (config_load_file(&cfg, a.config, &e)) { fprintf(stderr, "trainer train: %s\n", e.msg); return 2; }
    if (!cfg.data.root[0]) {   /* a sweep's base may leave it to an axis; a trial file may not */
        fprintf(stderr, "trainer train: %s: key 'data.root' is required (the folder holding train/<class>/*.jpg)\n", a.config);
        config_free(&cfg);
        return 2;
    }
    int rc = train_loaded(&cfg, &a);
    config_free(&cfg);
    return rc;
}
