/* Early stopping across trials (sweep/prune.c): ASHA and the median rule against
 * hand-computed sequences (rungs, ties, few trials, asynchrony, NaN, min and max modes,
 * warm-up, startup, best-so-far), and a kill in the middle of an asynchronous run:
 * replaying the trials' train_log.csv rows gives the same rung tables and the same
 * decisions afterwards as the run that was never killed. */
#include "../../sweep/csv.c"
#include "../../sweep/prune.c"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "test_util.h"

static PruneOptions asha(const char *metric, int maximize, int grace, int rf, int max_epochs) {
    PruneOptions o;
    prune_options_default(&o, PRUNE_ASHA);
    snprintf(o.metric, sizeof o.metric, "%s", metric);
    o.maximize = maximize, o.grace_epochs = grace, o.reduction_factor = rf, o.max_epochs = max_epochs;
    return o;
}

static PruneOptions median(int startup, int warmup, int min_trials) {
    PruneOptions o;
    prune_options_default(&o, PRUNE_MEDIAN);
    o.startup_trials = startup, o.warmup_epochs = warmup, o.min_trials = min_trials;
    return o;
}

typedef struct Step { int trial, epoch; double value; PruneDecision want; const char *why; } Step;

static void run_steps(Pruner *p, const Step *s, int n) {
    Err e;
    for (int i = 0; i < n; i++) {
        PruneDecision d = PRUNE_CONTINUE;
        CHECK_OK(pruner_report(p, s[i].trial, s[i].epoch, s[i].value, &d, &e), &e);
        CHECK(d == s[i].want, "trial %d epoch %d value %g: %s expected (%s)", s[i].trial, s[i].epoch, s[i].value,
              s[i].want ? "stop" : "continue", s[i].why);
    }
}

static void test_rungs(void) {
    Pruner p;
    Err e;
    int r[8];
    struct { int grace, rf, max, n, first, last; } cases[] = {
        {1, 3, 10, 3, 1, 9}, {1, 3, 9, 2, 1, 3}, {4, 3, 30, 2, 4, 12}, {2, 2, 8, 2, 2, 4}, {1, 4, 100, 4, 1, 64}};
    for (int i = 0; i < 5; i++) {
        PruneOptions o = asha("val_loss", 0, cases[i].grace, cases[i].rf, cases[i].max);
        CHECK_OK(pruner_init(&p, &o, 0, &e), &e);
        int n = pruner_rungs(&p, r, 8);
        CHECK(n == cases[i].n && r[0] == cases[i].first && r[n - 1] == cases[i].last,
              "grace %d rf %d max %d: %d rungs %d..%d", cases[i].grace, cases[i].rf, cases[i].max, n, r[0], r[n - 1]);
        pruner_free(&p);
    }
    PruneOptions o = asha("val_loss", 0, 4, 3, 0);
    CHECK_OK(pruner_init(&p, &o, 40, &e), &e);
    CHECK(pruner_rungs(&p, r, 8) == 3 && r[2] == 36, "max_epochs 0: the trials' budget (40) bounds the rungs");
    pruner_free(&p);
    CHECK(pruner_init(&p, &o, 4, &e) != 0 && strstr(e.msg, "no rung"), "grace 4 of 4 epochs: %s", e.msg);
    pruner_free(&p);
    double q[] = {0.4, 0.5, 0.5, 0.6};
    CHECK_NEAR(pruner_quantile(q, 4, 2.0 / 3), 0.5, 1e-15, "numpy percentile 66.7 of .4 .5 .5 .6");
    double q2[] = {0.57, 0.58};
    CHECK_NEAR(pruner_quantile(q2, 2, 2.0 / 3), 0.57 + 0.02 / 3, 1e-15, "linear interpolation");
}

/* grace 1, rf 3, max 10: rungs after 1, 3 and 9 epochs; val_accuracy, larger is better.
 * cutoff = the 2/3 quantile (numpy linear) of the other trials' values at the rung. */
static void test_asha(void) {
    Pruner p;
    Err e;
    PruneOptions o = asha("val_accuracy", 1, 1, 3, 10);
    CHECK_OK(pruner_init(&p, &o, 0, &e), &e);
    const Step steps[] = {
        {0, 0, 0.50, PRUNE_CONTINUE, "first at rung 1: nothing to compare"},
        {1, 0, 0.40, PRUNE_STOP, "one value there (fewer than rf): the cutoff is that value, 0.50"},
        {2, 0, 0.50, PRUNE_CONTINUE, "cutoff of .4 .5 = .4667"},
        {3, 0, 0.60, PRUNE_CONTINUE, "cutoff of .4 .5 .5 = .5"},
        {4, 0, 0.50, PRUNE_CONTINUE, "tie with the cutoff of .4 .5 .5 .6 (= .5) continues"},
        {0, 1, 0.55, PRUNE_CONTINUE, "between rungs"},
        {0, 2, 0.58, PRUNE_CONTINUE, "first at rung 3"},
        {2, 1, 0.52, PRUNE_CONTINUE, "between rungs"},
        {3, 1, 0.59, PRUNE_CONTINUE, "between rungs"},
        {3, 2, 0.57, PRUNE_STOP, "rung 3: below .58"},
        {2, 2, 0.60, PRUNE_CONTINUE, "rung 3: cutoff of .57 .58 = .5767"},
        {5, 0, 0.30, PRUNE_STOP, "rung 1: cutoff of .4 .5 .5 .5 .6 = .5"},
        {6, 0, NAN, PRUNE_STOP, "NaN stops"},
        {4, 1, 0.50, PRUNE_CONTINUE, "between rungs"},
        {4, 2, 0.50, PRUNE_STOP, "rung 3: cutoff of .57 .58 .60 = .5867 (stopped trials' values count)"},
    };
    run_steps(&p, steps, (int)(sizeof steps / sizeof *steps));
    for (int ep = 3; ep < 8; ep++) {
        PruneDecision d;
        CHECK_OK(pruner_report(&p, 0, ep, 0.6 + 0.01 * ep, &d, &e), &e);
        CHECK_OK(pruner_report(&p, 2, ep, 0.6, &d, &e), &e);
    }
    const Step top[] = {
        {0, 8, 0.70, PRUNE_CONTINUE, "first at rung 9"},
        {2, 8, 0.65, PRUNE_STOP, "rung 9: below .70"},
        {0, 9, 0.71, PRUNE_CONTINUE, "epoch 10 = max_epochs: no rung there"},
    };
    run_steps(&p, top, 3);
    double v[16];
    int n = pruner_rung_values(&p, 0, -1, v);
    CHECK(n == 6, "rung 1 holds every trial that reached it, stopped or not (NaN left out): %d", n);
    n = pruner_rung_values(&p, 1, -1, v);
    CHECK(n == 4, "rung 3: trials 0, 2, 3, 4: %d", n);
    /* Reporting an epoch again replaces its value; skipping one is an error. */
    PruneDecision d;
    CHECK_OK(pruner_report(&p, 5, 0, 0.9, &d, &e), &e);
    CHECK(d == PRUNE_CONTINUE, "a repeated epoch is decided again with its new value");
    CHECK(pruner_report(&p, 5, 3, 0.9, &d, &e) != 0 && strstr(e.msg, "epochs come in order"), "%s", e.msg);
    pruner_free(&p);

    /* Asynchrony: the same two reports in the other order, the other decision. */
    CHECK_OK(pruner_init(&p, &o, 0, &e), &e);
    const Step swapped[] = {{1, 0, 0.40, PRUNE_CONTINUE, "first at the rung now"}, {0, 0, 0.50, PRUNE_CONTINUE, "better"}};
    run_steps(&p, swapped, 2);
    pruner_free(&p);

    /* mode: min on val_loss, grace 2, rf 2: rungs after 2 and 4 epochs; cutoff = the median. */
    o = asha("val_loss", 0, 2, 2, 8);
    CHECK_OK(pruner_init(&p, &o, 0, &e), &e);
    const Step loss[] = {
        {0, 0, 2.0, PRUNE_CONTINUE, "before the first rung"},
        {0, 1, 1.0, PRUNE_CONTINUE, "first at rung 2"},
        {1, 0, 2.1, PRUNE_CONTINUE, "before the first rung"},
        {1, 1, 1.2, PRUNE_STOP, "a larger loss than 1.0"},
        {2, 0, 1.9, PRUNE_CONTINUE, "before the first rung"},
        {2, 1, 0.9, PRUNE_CONTINUE, "median of 1.0, 1.2 = 1.1"},
        {2, 2, 0.8, PRUNE_CONTINUE, "between rungs"},
        {2, 3, 0.7, PRUNE_CONTINUE, "first at rung 4"},
    };
    run_steps(&p, loss, (int)(sizeof loss / sizeof *loss));
    pruner_free(&p);
}

/* Optuna's MedianPruner: startup 2 completed trials, warm-up 1 epoch; val_loss (min). */
static void test_median(void) {
    Pruner p;
    Err e;
    PruneOptions o = median(2, 1, 1);
    CHECK_OK(pruner_init(&p, &o, 0, &e), &e);
    const double t0[] = {1.0, 0.8, 0.6, 0.5}, t1[] = {1.2, 0.9, 0.7, 0.65};
    for (int ep = 0; ep < 4; ep++) {
        PruneDecision d;
        CHECK_OK(pruner_report(&p, 0, ep, t0[ep], &d, &e), &e);
        CHECK(d == PRUNE_CONTINUE, "no completed trial yet");
    }
    CHECK_OK(pruner_complete(&p, 0, &e), &e);
    const Step one[] = {{1, 0, 1.2, PRUNE_CONTINUE, "startup"}, {1, 1, 0.9, PRUNE_CONTINUE, "1 completed < startup 2"},
                        {1, 2, 0.7, PRUNE_CONTINUE, "startup"}, {1, 3, 0.65, PRUNE_CONTINUE, "startup"}};
    run_steps(&p, one, 4);
    CHECK_OK(pruner_complete(&p, 1, &e), &e);
    (void)t1;
    const Step steps[] = {
        {2, 0, 1.5, PRUNE_CONTINUE, "warm-up: epoch 0 < 1"},
        {2, 1, 0.85, PRUNE_CONTINUE, "best .85 ties the median of .8 .9"},
        {2, 2, 0.75, PRUNE_STOP, "best .75 worse than the median .65"},
        {4, 0, 0.6, PRUNE_CONTINUE, "warm-up"},
        {4, 1, 1.0, PRUNE_CONTINUE, "its value 1.0 is worse than .85, its best so far .6 is not"},
        {5, 0, 0.9, PRUNE_CONTINUE, "warm-up"},
        {5, 1, 0.86, PRUNE_STOP, "median .85 of the completed trials only (running ones would make it .875)"},
        {6, 0, NAN, PRUNE_CONTINUE, "warm-up"},
        {6, 1, NAN, PRUNE_STOP, "no value at all"},
        {7, 0, 0.3, PRUNE_CONTINUE, "warm-up"},
        {7, 1, 0.3, PRUNE_CONTINUE, "better"},
        {7, 2, 0.3, PRUNE_CONTINUE, "better"},
        {7, 3, 0.3, PRUNE_CONTINUE, "better"},
        {7, 4, 9.9, PRUNE_CONTINUE, "epoch 4: no completed trial reached it"},
    };
    run_steps(&p, steps, (int)(sizeof steps / sizeof *steps));
    CHECK(pruner_decide(&p, 2, 2) == PRUNE_STOP, "decide repeats the answer for a recorded row");
    pruner_free(&p);

    o = median(2, 1, 3);   /* 3 completed trials must have reached the epoch */
    CHECK_OK(pruner_init(&p, &o, 0, &e), &e);
    for (int t = 0; t < 2; t++) {
        for (int ep = 0; ep < 4; ep++) CHECK_OK(pruner_record(&p, t, ep, t ? t1[ep] : t0[ep], &e), &e);
        CHECK_OK(pruner_complete(&p, t, &e), &e);
    }
    const Step few[] = {{5, 0, 0.9, PRUNE_CONTINUE, "warm-up"}, {5, 1, 5.0, PRUNE_CONTINUE, "2 completed < min_trials 3"}};
    run_steps(&p, few, 2);
    pruner_free(&p);
}

/* ---- a kill in the middle of an asynchronous run ---- */

enum { N_TRIALS = 10, N_EPOCHS = 12, N_EVENTS = N_TRIALS * N_EPOCHS };

typedef struct Event { double time; int trial, epoch; } Event;

static int event_cmp(const void *a, const void *b) {
    const Event *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return x->trial - y->trial;
}

/* Trial i starts at 2.3 i and takes 1 + 0.37 (i mod 3) per epoch: reports interleave. */
static void schedule(Event *ev) {
    int k = 0;
    for (int t = 0; t < N_TRIALS; t++)
        for (int ep = 0; ep < N_EPOCHS; ep++) ev[k++] = (Event){2.3 * t + (ep + 1) * (1 + 0.37 * (t % 3)), t, ep};
    qsort(ev, N_EVENTS, sizeof *ev, event_cmp);
}

static void curve(int t, int ep, double *acc, double *loss) {
    Rng r;
    rng_init(&r, 9, RNG_INIT, (uint32_t)t, (uint32_t)ep);
    *acc = 0.9 - 0.5 * exp(-ep / (2.0 + t % 3)) - 0.03 * (t % 4) + 0.02 * rng_double(&r);
    *loss = 2.5 * (1 - *acc) + 0.05 * rng_double(&r);
}

static double metric(const PruneOptions *o, int t, int ep) {
    double acc, loss;
    curve(t, ep, &acc, &loss);
    return strcmp(o->metric, "val_accuracy") == 0 ? acc : loss;
}

/* Runs events[from..to) on p; stopped[t] set as decisions come; done[t] when a trial
 * trains its last epoch. decisions[i] holds event i's answer (-1: not reported). */
static void play(Pruner *p, const Event *ev, int from, int to, int *stopped, int *done, int *decisions) {
    Err e;
    for (int i = from; i < to; i++) {
        int t = ev[i].trial;
        decisions[i] = -1;
        if (stopped[t]) continue;
        PruneDecision d;
        CHECK_OK(pruner_report(p, t, ev[i].epoch, metric(&p->o, t, ev[i].epoch), &d, &e), &e);
        decisions[i] = d;
        if (d == PRUNE_STOP) stopped[t] = 1;
        else if (ev[i].epoch == N_EPOCHS - 1) {
            done[t] = 1;
            CHECK_OK(pruner_complete(p, t, &e), &e);
        }
    }
}

/* What each trial's train_log.csv holds after the first `cut` events. */
static void write_logs(const char *dir, const Event *ev, int cut, const int *decisions) {
    FILE *f[N_TRIALS];
    char path[600];
    for (int t = 0; t < N_TRIALS; t++) {
        snprintf(path, sizeof path, "%s/log%d.csv", dir, t);
        f[t] = fopen(path, "w");
        fputs("epoch,accuracy,loss,lr,val_accuracy,val_loss,seconds\r\n", f[t]);
    }
    for (int i = 0; i < cut; i++) {
        if (decisions[i] < 0) continue;
        double acc, loss;
        curve(ev[i].trial, ev[i].epoch, &acc, &loss);
        fprintf(f[ev[i].trial], "%d,%.17g,%.17g,0.001,%.17g,%.17g,1.5\r\n", ev[i].epoch, acc + 0.05, loss - 0.1, acc, loss);
    }
    for (int t = 0; t < N_TRIALS; t++) fclose(f[t]);
}

static void test_resume(const char *dir, PruneOptions o, const char *what) {
    Event ev[N_EVENTS];
    schedule(ev);
    Pruner whole, resumed;
    Err e;
    int stopped[N_TRIALS] = {0}, done[N_TRIALS] = {0}, dec[N_EVENTS], dec2[N_EVENTS], n_stop = 0;
    CHECK_OK(pruner_init(&whole, &o, N_EPOCHS, &e), &e);
    play(&whole, ev, 0, N_EVENTS, stopped, done, dec);
    for (int t = 0; t < N_TRIALS; t++) n_stop += stopped[t];
    CHECK(n_stop >= 3 && n_stop < N_TRIALS, "%s: the run stops some trials and not all: %d of %d", what, n_stop, N_TRIALS);
    int cut = N_EVENTS / 3;
    /* The killed run: the same events up to the cut, then the logs are all that is left. */
    Pruner killed;
    int st_k[N_TRIALS] = {0}, done_k[N_TRIALS] = {0};
    CHECK_OK(pruner_init(&killed, &o, N_EPOCHS, &e), &e);
    play(&killed, ev, 0, cut, st_k, done_k, dec2);
    write_logs(dir, ev, cut, dec2);
    pruner_free(&killed);
    CHECK_OK(pruner_init(&resumed, &o, N_EPOCHS, &e), &e);
    for (int t = 0; t < N_TRIALS; t++) {
        char path[600];
        int rows;
        snprintf(path, sizeof path, "%s/log%d.csv", dir, t);
        CHECK_OK(pruner_replay_log(&resumed, t, path, done_k[t], &rows, &e), &e);
        unlink(path);
    }
    if (o.method == PRUNE_ASHA) {   /* after the whole run vs after the resumed one: equal tables */
        play(&resumed, ev, cut, N_EVENTS, st_k, done_k, dec2);
        int rungs[8], n = pruner_rungs(&whole, rungs, 8);
        for (int k = 0; k < n; k++) {
            double a[4 * N_TRIALS], b[4 * N_TRIALS];
            int na = pruner_rung_values(&whole, k, -1, a), nb = pruner_rung_values(&resumed, k, -1, b);
            pruner_quantile(a, na, 0), pruner_quantile(b, nb, 0);   /* sorts */
            CHECK(na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0, "%s: rung %d table equal (%d vs %d values)", what, k, na, nb);
        }
    } else {
        play(&resumed, ev, cut, N_EVENTS, st_k, done_k, dec2);
    }
    int same = 1;
    for (int i = cut; i < N_EVENTS; i++) same &= dec[i] == dec2[i];
    CHECK(same, "%s: decisions after the resume equal the uninterrupted run's", what);
    for (int t = 0; t < N_TRIALS; t++) CHECK(stopped[t] == st_k[t], "%s: trial %d stopped the same", what, t);
    pruner_free(&whole), pruner_free(&resumed);
}

static void test_replay_errors(const char *dir) {
    Pruner p;
    Err e;
    PruneOptions o = median(1, 0, 1);
    char path[600];
    int rows;
    CHECK_OK(pruner_init(&p, &o, 0, &e), &e);
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    CHECK(pruner_replay_log(&p, 0, path, 0, &rows, &e) == 0 && rows == 0, "no log yet: nothing to replay");
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("epoch,accuracy\r\n0,0.5\r\n", f);
    fclose(f);
    CHECK(pruner_replay_log(&p, 0, path, 0, &rows, &e) != 0 && strstr(e.msg, "no column 'epoch' or 'val_loss'"), "%s", e.msg);
    f = fopen(path, "w");
    fputs("epoch,val_loss\r\n0,0.5\r\n2,0.4\r\n", f);
    fclose(f);
    CHECK(pruner_replay_log(&p, 1, path, 0, &rows, &e) != 0 && strstr(e.msg, "bad.csv") && strstr(e.msg, "in order"), "%s", e.msg);
    unlink(path);
    pruner_free(&p);
}

int main(void) {
    char dir[] = "/tmp/test_sweep_prune.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_rungs();
    test_asha();
    test_median();
    test_resume(dir, asha("val_accuracy", 1, 1, 3, N_EPOCHS), "asha");
    test_resume(dir, median(3, 2, 1), "median");
    test_replay_errors(dir);
    rmdir(dir);
    return TEST_END();
}
