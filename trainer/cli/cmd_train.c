/* trainer train CONFIG.yaml --out DIR [--threads N] [--gpu I] [--quiet] [--prune-fd N]
 * Runs one trial; rerunning the same command resumes it (or reports it finished).
 * Exit status: 0 done, 3 diverged, 4 pruned (stopped by the sweep's early stopping over
 * --prune-fd: cli/prune_gate.h), 1 failed (result.csv says why), 2 usage or config error,
 * 130 interrupted by SIGINT/SIGTERM (last.safetensors holds the last epoch). */
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
#include "core/fsutil.h"
#include "train/result_columns.h"
#include "train/trial.h"

typedef struct TrainArgs {
    const char *config, *out;
    int threads, gpu, quiet;
    int prune_fd;               /* -1 = none */
} TrainArgs;

static const char TRAIN_USAGE[] =
    "usage: trainer train CONFIG.yaml --out DIR [--threads N] [--gpu I] [--quiet] [--prune-fd N]\n";

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
        else if (arg_value(argc, argv, &i, "--prune-fd", &v)) {
            if (parse_fd(v, &a->prune_fd)) { fprintf(stderr, "trainer train: --prune-fd takes a descriptor number, not '%s'\n", v); return -1; }
        }
        else if (arg_value(argc, argv, &i, "--threads", &v)) a->threads = atoi(v);
        else if (arg_value(argc, argv, &i, "--gpu", &v)) a->gpu = atoi(v);
        else if (!strcmp(argv[i], "--quiet")) a->quiet = 1;
        else if (argv[i][0] != '-' && !a->config) a->config = argv[i];
        else { fprintf(stderr, "trainer train: unknown argument %s\n", argv[i]); return -1; }
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

/* DIR/config.yaml: the resolved config, unless the trial runs from that very file (a sweep
 * wrote it resolved; rewriting it would give the same bytes). */
static int write_resolved_config(const TrialConfig *cfg, const TrainArgs *a, Err *e) {
    char path[1100];
    struct stat out, in;
    fs_join(path, sizeof path, a->out, "config.yaml");
    if (stat(path, &out) == 0 && stat(a->config, &in) == 0 && out.st_dev == in.st_dev && out.st_ino == in.st_ino) return 0;
    return config_write_file(cfg, path, e);
}

/* With the config loaded: DIR/config.yaml, the already-finished check, the log, the run. */
static int train_loaded(const TrialConfig *cfg, const TrainArgs *a) {
    Err e = {{0}};
    char path[1100];
    if (fs_mkdir_p(a->out, &e) || write_resolved_config(cfg, a, &e)) {
        fprintf(stderr, "trainer train: %s\n", e.msg);
        return 1;
    }
    if (finished_before(a->out)) {
        printf("%s: already finished (result.csv exists); delete it to rerun\n", a->out);
        return 0;
    }
    FILE *log = stdout;
    if (a->quiet && !(log = fopen(fs_join(path, sizeof path, a->out, "trainer.log"), "a"))) {
        fprintf(stderr, "trainer train: %s: cannot open\n", path);
        return 1;
    }
    int rc = run_and_record(cfg, a, log, stop_signal_install());
    if (log != stdout) fclose(log);
    return rc;
}

int cmd_train(int argc, char **argv) {
    TrainArgs a;
    if (parse_train_args(argc, argv, &a)) return 2;
    TrialConfig cfg;
    Err e = {{0}};
    if (config_load_file(&cfg, a.config, &e)) { fprintf(stderr, "trainer train: %s\n", e.msg); return 2; }
    int rc = train_loaded(&cfg, &a);
    config_free(&cfg);
    return rc;
}
