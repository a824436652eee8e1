#include "args.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char SWEEP_USAGE[] =
    "usage: sweep FILE.yaml [--runs DIR] [--dry-run] [--only TRIAL[,TRIAL]] [--retry-failed]\n"
    "                       [--retry-pruned] [--threads N] [--trainer PATH]\n"
    "       sweep [FILE.yaml] --aggregate RUNDIR\n"
    "       sweep --status RUNDIR\n"
    "Runs every trial of a sweep (under mpirun -n N: N ranks share the trials) into\n"
    "DIR/<name>/<trial>/ (DIR defaults to runs), then writes DIR/<name>/summary.csv and report.md.\n"
    "  --dry-run       validate, print the trial table and exit\n"
    "  --only T        run only trials whose id matches T (shell patterns, comma separated)\n"
    "  --retry-failed  rerun trials whose result is failed (finished ones are always skipped)\n"
    "  --retry-pruned  continue trials that sweep.early_stop stopped, to their whole budget\n"
    "  --aggregate R   rewrite R/summary.csv and R/report.md from the trial folders in R\n"
    "  --status R      each trial's state (pending, running on host/rank, epoch k of N, done,\n"
    "                  failed, diverged), best val accuracy and ETA, from R's files (any shell)\n"
    "  --threads N     CPU threads per rank (default: the node's cores / ranks on the node)\n"
    "  --trainer PATH  the trainer program (default: $TRAINER, or the one next to sweep)\n"
    "Exit status: 0 all trials finished, 1 some trial failed, 2 bad usage or sweep file,\n"
    "130 interrupted (rerun the same command to resume). Under mpirun, SIGINT/SIGTERM to mpirun\n"
    "end with mpirun's own status 1; `touch R/STOP` stops the sweep with status 130.\n";

static int need_value(int i, int argc, char **argv, Err *e) {
    if (i + 1 >= argc) return err_fail(e, "%s needs a value", argv[i]);
    return 0;
}

int sweep_args_parse(SweepArgs *a, int argc, char **argv, Err *e) {
    memset(a, 0, sizeof *a);
    a->runs = "runs";
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) a->help = 1;
        else if (!strcmp(s, "--dry-run")) a->dry_run = 1;
        else if (!strcmp(s, "--retry-failed")) a->retry_failed = 1;
        else if (!strcmp(s, "--retry-pruned")) a->retry_pruned = 1;
        else if (!strcmp(s, "--runs")) { if (need_value(i, argc, argv, e)) return -1; a->runs = argv[++i]; }
        else if (!strcmp(s, "--only")) { if (need_value(i, argc, argv, e)) return -1; a->only = argv[++i]; }
        else if (!strcmp(s, "--aggregate")) { if (need_value(i, argc, argv, e)) return -1; a->aggregate = argv[++i]; }
        else if (!strcmp(s, "--status")) { if (need_value(i, argc, argv, e)) return -1; a->status = argv[++i]; }
        else if (!strcmp(s, "--trainer")) { if (need_value(i, argc, argv, e)) return -1; a->trainer = argv[++i]; }
        else if (!strcmp(s, "--threads")) {
            if (need_value(i, argc, argv, e)) return -1;
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 4096) return err_fail(e, "--threads takes a count 1..4096, not '%s'", argv[i]);
            a->threads = (int)v;
        }
        else if (s[0] == '-') return err_fail(e, "unknown option '%s'", s);
        else if (a->file) return err_fail(e, "one sweep file only (got '%s' and '%s')", a->file, s);
        else a->file = s;
    }
    if (a->help) return 0;
    if (a->status && (a->file || a->aggregate || a->dry_run || a->only || a->retry_failed || a->retry_pruned))
        return err_fail(e, "--status RUNDIR takes no other argument");
    if (!a->file && !a->aggregate && !a->status) return err_fail(e, "no sweep file given");
    if (a->aggregate && (a->dry_run || a->only || a->retry_failed || a->retry_pruned))
        return err_fail(e, "--aggregate only rewrites the summary; it takes no --dry-run, --only or --retry-*");
    return 0;
}

int trial_selected(const char *patterns, const char *id) {
    if (!patterns) return 1;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", patterns);
    char *save = NULL;
    for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
        if (fnmatch(p, id, 0) == 0) return 1;
    return 0;
}
