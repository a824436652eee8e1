/* Command line, --only patterns, the status line (sweep/args.c, progress.c). */
#include "../../sweep/args.c"
#include "../../sweep/progress.c"

#include <string.h>

#include "test_util.h"

static int parse(SweepArgs *a, const char *line, Err *e) {
    static char buf[512];
    char *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok(buf, " "); t && argc < 31; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    return sweep_args_parse(a, argc, argv, e);
}

static void test_args(void) {
    SweepArgs a;
    Err e;
    CHECK_OK(parse(&a, "sweep configs/x.yaml", &e), &e);
    CHECK(!strcmp(a.file, "configs/x.yaml") && !strcmp(a.runs, "runs") && !a.dry_run && !a.only, "defaults");
    CHECK_OK(parse(&a, "sweep x.yaml --runs out --dry-run --only a*,b --retry-failed --threads 3 --trainer /t", &e), &e);
    CHECK(!strcmp(a.runs, "out") && a.dry_run && !strcmp(a.only, "a*,b") && a.retry_failed && a.threads == 3 &&
          !strcmp(a.trainer, "/t"), "every option");
    CHECK_OK(parse(&a, "sweep --aggregate runs/x", &e), &e);
    CHECK(!a.file && !strcmp(a.aggregate, "runs/x"), "aggregate alone");
    CHECK(parse(&a, "sweep", &e) != 0 && strstr(e.msg, "no sweep file"), "%s", e.msg);
    CHECK(parse(&a, "sweep a.yaml b.yaml", &e) != 0, "two files");
    CHECK(parse(&a, "sweep a.yaml --bogus", &e) != 0 && strstr(e.msg, "--bogus"), "%s", e.msg);
    CHECK(parse(&a, "sweep a.yaml --runs", &e) != 0 && strstr(e.msg, "needs a value"), "%s", e.msg);
    CHECK(parse(&a, "sweep a.yaml --threads 0", &e) != 0, "threads >= 1");
    CHECK(parse(&a, "sweep a.yaml --threads abc", &e) != 0 && strstr(e.msg, "1..1024, not 'abc'"), "%s", e.msg);
    CHECK(parse(&a, "sweep a.yaml --threads -1", &e) != 0 && strstr(e.msg, "not '-1'"), "%s", e.msg);
    CHECK(parse(&a, "sweep a.yaml --threads 100000", &e) != 0 && strstr(e.msg, "not '100000'"), "%s", e.msg);
    CHECK_OK(parse(&a, "sweep a.yaml --threads 1024 --rename b2", &e), &e);
    CHECK(a.threads == 1024 && !strcmp(a.rename, "b2") && !a.rerun_changed, "--rename");
    CHECK_OK(parse(&a, "sweep a.yaml --rerun-changed --only x*", &e), &e);
    CHECK(a.rerun_changed && !a.rename, "--rerun-changed");
    CHECK(parse(&a, "sweep a.yaml --rerun-changed --rename b", &e) != 0 && strstr(e.msg, "choose one"), "%s", e.msg);
    CHECK(parse(&a, "sweep --aggregate r --rename b", &e) != 0, "aggregate takes no --rename");
    CHECK(parse(&a, "sweep --aggregate r --dry-run", &e) != 0, "aggregate runs nothing");
    CHECK_OK(parse(&a, "sweep --status runs/x", &e), &e);
    CHECK(!a.file && !strcmp(a.status, "runs/x"), "status alone");
    CHECK(parse(&a, "sweep x.yaml --status runs/x", &e) != 0 && strstr(e.msg, "--status"), "%s", e.msg);
    CHECK(parse(&a, "sweep --status", &e) != 0 && strstr(e.msg, "needs a value"), "%s", e.msg);
    CHECK(trial_selected(NULL, "x"), "no --only: all");
    CHECK(trial_selected("dropout-0.2*,seed-9", "dropout-0.2_seed-1"), "pattern");
    CHECK(trial_selected("dropout-0.2*,seed-9", "seed-9"), "second pattern");
    CHECK(!trial_selected("dropout-0.2*,seed-9", "dropout-0.4_seed-1"), "no match");
}

static void test_progress(void) {
    char buf[64];
    format_duration(45, buf, sizeof buf);
    CHECK(!strcmp(buf, "45s"), "%s", buf);
    format_duration(185, buf, sizeof buf);
    CHECK(!strcmp(buf, "3m05s"), "%s", buf);
    format_duration(7620, buf, sizeof buf);
    CHECK(!strcmp(buf, "2h07m"), "%s", buf);

    SweepTrial trials[3] = {0};
    char text[3][2][VALUE_TEXT_MAX] = {{"0.2", "42"}, {"0.4", "42"}, {"0.6", "42"}};
    char labels[2][AXIS_LABEL_MAX] = {"dropout", "seed"};
    for (int t = 0; t < 3; t++) trials[t].text = text[t], snprintf(trials[t].id, TRIAL_ID_MAX, "t%d", t);
    TrialSet ts = {.n_axes = 2, .labels = labels, .trials = trials, .n = 3};

    Progress p;
    progress_init(&p, 4, 100.0);
    char line[512];
    progress_line(&p, &ts, "demo", 100.0, line, sizeof line);
    CHECK(strstr(line, "[demo] 0/4 done") && strstr(line, "ETA ?"), "%s", line);
    progress_trials_start(&p, 110.0);               /* phase 1 took 10 s */
    progress_add(&p, 0, STATUS_DONE, 0.70, 1);      /* finished in an earlier run */
    progress_add(&p, 1, STATUS_DONE, 0.80, 0);
    progress_add(&p, 2, STATUS_FAILED, NAN, 0);
    progress_line(&p, &ts, "demo", 160.0, line, sizeof line);
    CHECK(strstr(line, "3/4 done, 1 failed"), "%s", line);
    CHECK(strstr(line, "best val_acc 0.8000 (dropout=0.4 seed=42)"), "%s", line);
    /* 50 s of trials for 2 trials run now, 1 left: 25 s; elapsed counts phase 1 too. */
    CHECK(strstr(line, "1m00s, ETA 25s"), "%s", line);
    progress_add(&p, 3, STATUS_PRUNED, 0.95, 0);    /* a partial result is never the best */
    progress_line(&p, &ts, "demo", 170.0, line, sizeof line);
    CHECK(strstr(line, "4/4 done, 1 failed, 1 pruned") && strstr(line, "best val_acc 0.8000"), "%s", line);
}

int main(void) {
    test_args();
    test_progress();
    return TEST_END();
}
