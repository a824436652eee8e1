/* Sweep files: parsing, grid / zip / random expansion, ids, validation with file:line,
 * cache groups (sweep/sweep_spec.c, expand.c, resolve.c). */
#include "../../sweep/expand.c"
#include "../../sweep/resolve.c"
#include "../../sweep/sweep_spec.c"
#include "../../sweep/trial_id.c"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static char data_root[256];   /* a folder with train/ so data.root checks pass */

static const char *base_yaml(void) {
    static char text[1024];
    snprintf(text, sizeof text,
             "base:\n"
             "  data: {root: %s, image_size: 32}\n"
             "  model: {weights: random:1}\n"
             "  train: {epochs: 2}\n", data_root);
    return text;
}

/* name + base + the given sweep section, parsed, expanded and (resolve) validated. */
static int load(SweepSpec *s, TrialSet *ts, const char *sweep, int resolve, Err *e) {
    char text[4096];
    snprintf(text, sizeof text, "name: t\n%s%s", base_yaml(), sweep);
    memset(ts, 0, sizeof *ts);
    if (sweep_spec_parse(s, text, "test.yaml", e)) return -1;
    if (sweep_expand(s, ts, e)) return -1;
    ResolveOptions o = {.sweep_dir = "/tmp/runs/t", .cwd = "/tmp", .check_files = 1};
    return resolve ? sweep_resolve(s, ts, &o, e) : 0;
}

static void unload(SweepSpec *s, TrialSet *ts) {
    trial_set_free(ts);
    sweep_spec_free(s);
}

static void test_grid(void) {
    SweepSpec s;
    TrialSet ts;
    Err e;
    CHECK_OK(load(&s, &ts,
                  "sweep:\n  method: grid\n  axes:\n    model.head.dropout: [0.2, 0.4]\n    train.seed: [42, 43, 44]\n"
                  "  zip:\n    - {train.batch_size: [16, 32], train.lr: [5.0e-4, 1.0e-3]}\n", 1, &e), &e);
    CHECK(ts.n == 12, "2 x 3 x zip(2) = 12 trials, got %d", ts.n);
    if (ts.n == 12) {
        CHECK(strcmp(ts.trials[0].id, "dropout-0.2_seed-42_batch_size-16_lr-5e-4") == 0, "first id %s", ts.trials[0].id);
        CHECK(strcmp(ts.trials[1].id, "dropout-0.2_seed-42_batch_size-32_lr-1e-3") == 0, "zip moves together: %s", ts.trials[1].id);
        CHECK(strcmp(ts.trials[11].id, "dropout-0.4_seed-44_batch_size-32_lr-1e-3") == 0, "last id %s", ts.trials[11].id);
        CHECK(ts.trials[1].cfg.train.batch_size == 32 && ts.trials[1].cfg.train.lr == 1e-3, "zip values reach the config");
        CHECK(ts.trials[11].cfg.model.head.dropout == 0.4 && ts.trials[11].cfg.train.seed == 44, "axis values reach the config");
        CHECK(strcmp(ts.trials[0].text[3], "0.0005") == 0, "canonical text %s", ts.trials[0].text[3]);
        CHECK(strcmp(ts.trials[0].cfg.feature_cache.dir, "/tmp/runs/t/cache") == 0, "cache dir %s", ts.trials[0].cfg.feature_cache.dir);
        CHECK(ts.trials[0].cfg.train.epochs == 2, "base values kept");
        /* One pool for every train.seed (feature_cache.seed keys it); dropout, batch and lr
         * change no feature either. */
        CHECK(ts.n_cache_groups == 1, "cache groups %d", ts.n_cache_groups);
        CHECK(ts.trials[0].cache_group == ts.trials[2].cache_group, "other seed, same pool");
        for (int i = 0; i < ts.n; i++)
            for (int j = 0; j < i; j++) CHECK(strcmp(ts.trials[i].id, ts.trials[j].id) != 0, "ids unique");
    }
    unload(&s, &ts);

    /* feature_cache.seed: trial: seed changes augmentation draws: 3 groups. */
    CHECK_OK(load(&s, &ts, "sweep:\n  axes:\n    model.head.dropout: [0.2, 0.4]\n    train.seed: [42, 43, 44]\n"
                           "    feature_cache.seed: [trial]\n", 1, &e), &e);
    CHECK(ts.n_cache_groups == 3, "cache groups with a pool per seed: %d", ts.n_cache_groups);
    if (ts.n == 6) {
        CHECK(ts.trials[0].cache_group == ts.trials[3].cache_group, "same seed, same features");
        CHECK(ts.trials[0].cache_group != ts.trials[1].cache_group, "other seed, other features");
    }
    unload(&s, &ts);

    CHECK_OK(load(&s, &ts, "sweep: {}\n", 1, &e), &e);
    CHECK(ts.n == 1 && strcmp(ts.trials[0].id, "base") == 0, "no axes: the base alone");
    unload(&s, &ts);
}

static void test_random(void) {
    const char *sweep =
        "sweep:\n  method: random\n  trials: 40\n  seed: 3\n  axes:\n"
        "    model.head.dropout: {uniform: [0.1, 0.7]}\n"
        "    train.lr: {log_uniform: [1.0e-4, 1.0e-2]}\n"
        "    train.batch_size: {int_uniform: [8, 12]}\n"
        "    augment.fill: {choice: [reflect, nearest]}\n";
    SweepSpec s, s2;
    TrialSet ts, ts2;
    Err e;
    CHECK_OK(load(&s, &ts, sweep, 1, &e), &e);
    CHECK_OK(load(&s2, &ts2, sweep, 0, &e), &e);
    CHECK(ts.n == 40 && ts2.n == 40, "40 trials");
    int saw_low = 0, saw_high = 0, reflect = 0;
    for (int t = 0; t < ts.n && ts2.n == ts.n; t++) {
        const TrialConfig *c = &ts.trials[t].cfg;
        CHECK(strcmp(ts.trials[t].id, ts2.trials[t].id) == 0, "same file, same ids: %s", ts.trials[t].id);
        CHECK(c->model.head.dropout >= 0.1 && c->model.head.dropout <= 0.7, "uniform in range %g", c->model.head.dropout);
        CHECK(c->train.lr >= 1e-4 && c->train.lr <= 1e-2, "log-uniform in range %g", c->train.lr);
        CHECK(c->train.batch_size >= 8 && c->train.batch_size <= 12, "int in range %d", c->train.batch_size);
        saw_low |= c->train.batch_size == 8, saw_high |= c->train.batch_size == 12;
        reflect += strcmp(c->augment.fill, "reflect") == 0;
        char four[32];
        snprintf(four, sizeof four, "%.4g", c->model.head.dropout);
        CHECK(strtod(four, NULL) == c->model.head.dropout, "draws rounded to 4 digits: %.17g", c->model.head.dropout);
        CHECK(strtod(ts.trials[t].text[0], NULL) == c->model.head.dropout, "summary text is the value used");
    }
    CHECK(saw_low && saw_high, "int_uniform reaches both ends");
    CHECK(reflect > 5 && reflect < 35, "choice draws both: %d reflect of 40", reflect);
    unload(&s2, &ts2);

    const char *other = "sweep:\n  method: random\n  trials: 40\n  seed: 4\n  axes:\n"
                        "    model.head.dropout: {uniform: [0.1, 0.7]}\n";
    CHECK_OK(load(&s2, &ts2, other, 0, &e), &e);
    CHECK(strcmp(ts.trials[0].text[0], ts2.trials[0].text[0]) != 0, "another seed, other draws");
    unload(&s2, &ts2);
    unload(&s, &ts);

    CHECK_OK(load(&s, &ts, "sweep:\n  method: random\n  trials: 3\n  axes: {augment.fill: [reflect]}\n", 0, &e), &e);
    CHECK(ts.n == 3 && strcmp(ts.trials[1].id, "fill-reflect_2") == 0 && strcmp(ts.trials[2].id, "fill-reflect_3") == 0,
          "repeated draws get unique ids: %s %s", ts.trials[1].id, ts.trials[2].id);
    unload(&s, &ts);
}

/* The sweep must fail with a message holding `want` (file:line and what). */
static void check_fails(const char *sweep, const char *want) {
    SweepSpec s;
    TrialSet ts;
    Err e = {{0}};
    int rc = load(&s, &ts, sweep, 1, &e);
    CHECK(rc != 0, "should fail: %s", want);
    CHECK(rc != 0 && strstr(e.msg, want), "message '%s' lacks '%s'", e.msg, want);
    if (rc == 0) unload(&s, &ts);
    else trial_set_free(&ts), sweep_spec_free(&s);
}

static void test_errors(void) {
    /* Lines: 1 name, 2-5 base, 6 sweep:, 7 first key under sweep. */
    check_fails("sweep:\n  axes: {model.head.dropot: [0.1]}\n", "test.yaml:7: axis 'model.head.dropot' is not a trial config key");
    check_fails("sweep:\n  axes:\n    model.head.dropout: [0.1, 1.5]\n", "trial dropout-1.5: test.yaml:8: key 'model.head.dropout'");
    check_fails("sweep:\n  axes:\n    train.seed: [1, 1]\n", "test.yaml:8: axis 'train.seed' lists the value 1 twice");
    check_fails("sweep:\n  axes:\n    model.head.dropout: {uniform: [0, 1]}\n", "test.yaml:8: axis 'model.head.dropout' uses 'uniform'");
    check_fails("sweep:\n  method: random\n  trials: 2\n  axes:\n    train.lr: {log_uniform: [0, 1]}\n",
                "test.yaml:10: axis 'train.lr': log_uniform needs low > 0");
    check_fails("sweep:\n  method: random\n  trials: 2\n  axes:\n    train.lr: {normal: [0, 1]}\n", "unknown distribution 'normal'");
    check_fails("sweep:\n  method: random\n  axes: {train.lr: [1, 2]}\n", "needs sweep.trials");
    check_fails("sweep:\n  trials: 4\n", "test.yaml:7: sweep.trials is for method: random or tpe only");
    check_fails("sweep:\n  method: bayes\n", "test.yaml:7: sweep.method must be grid, random or tpe");
    check_fails("sweep:\n  zip:\n    - {train.batch_size: [16, 32], train.lr: [1.0e-3]}\n", "test.yaml:8: zipped axis 'train.lr' has 1 values");
    check_fails("sweep:\n  axes: {train.lr: [1.0e-3]}\n  zip:\n    - {train.lr: [1.0e-3]}\n", "axis 'train.lr' is swept twice");
    check_fails("sweep:\n  axes: {train.lr: 0.1}\n", "test.yaml:7: axis 'train.lr' must be a list of values");
    check_fails("sweep:\n  axes: {Train.LR: [1]}\n", "is not a dotted key path");
    check_fails("sweep:\n  axes: {feature_cache.dir: [a, b]}\n", "set by the sweep");
    check_fails("sweep:\n  axes: {train.seed: [1]}\n  extra: 1\n", "test.yaml:8: unknown key 'sweep.extra'");
    check_fails("sweep:\n  axes: {train.seed: [1]}\nbogus: 1\n", "test.yaml:8: unknown key 'bogus'");
    check_fails("sweep:\n  axes: {train.optimizer: [adam, rmsprop]}\n", "trial optimizer-rmsprop: test.yaml:7");
    check_fails("sweep:\n  axes: {data.root: [/nonexistent/data]}\n", "test.yaml:7: data.root '/nonexistent/data' has no train/ folder");
    check_fails("sweep:\n  axes: {model.weights: [/nonexistent/w.h5]}\n", "test.yaml:7: model.weights '/nonexistent/w.h5' not found");

    SweepSpec s;
    TrialSet ts;
    Err e = {{0}};
    CHECK(sweep_spec_parse(&s, "name: t\nsweep: {}\n", "x.yaml", &e) != 0 && strstr(e.msg, "x.yaml:1: missing key 'base'"), "%s", e.msg);
    CHECK(sweep_spec_parse(&s, "name: a/b\nbase: {}\nsweep: {}\n", "x.yaml", &e) != 0 && strstr(e.msg, "x.yaml:1: name 'a/b'"), "%s", e.msg);
    char text[2048];
    snprintf(text, sizeof text, "name: t\nbase:\n  data: {root: %s}\n  model: {weights: random:1, head: {dropuot: 1}}\nsweep: {}\n", data_root);
    CHECK(sweep_spec_parse(&s, text, "x.yaml", &e) == 0, "parses: %s", e.msg);
    CHECK(sweep_expand(&s, &ts, &e) == 0, "expands");
    ResolveOptions o = {.sweep_dir = "/tmp/r", .cwd = "/tmp", .check_files = 1};
    CHECK(sweep_resolve(&s, &ts, &o, &e) != 0 && strstr(e.msg, "base: x.yaml:4: unknown key 'model.head.dropuot'"), "%s", e.msg);
    trial_set_free(&ts);
    sweep_spec_free(&s);
}

/* method: tpe expands its random startup trials (random search's draws) and parses its
 * options; early_stop parses with every method. */
static void test_tpe_and_early_stop(void) {
    const char *axes = "  axes:\n    model.head.dropout: {uniform: [0.1, 0.7]}\n    train.lr: {log_uniform: [1.0e-4, 1.0e-2]}\n";
    char tpe[1024], rnd[1024];
    snprintf(tpe, sizeof tpe, "sweep:\n  method: tpe\n  trials: 30\n  seed: 3\n  tpe: {startup_trials: 6, gamma: 0.2, "
             "metric: val_loss}\n  early_stop: {method: asha, grace_epochs: 2, reduction_factor: 3, max_epochs: 20}\n%s", axes);
    snprintf(rnd, sizeof rnd, "sweep:\n  method: random\n  trials: 30\n  seed: 3\n%s", axes);
    SweepSpec s, s2;
    TrialSet ts, ts2;
    Err e;
    CHECK_OK(load(&s, &ts, tpe, 1, &e), &e);
    CHECK_OK(load(&s2, &ts2, rnd, 1, &e), &e);
    CHECK(s.method == METHOD_TPE && s.random && s.n_trials == 30, "method tpe");
    CHECK(s.tpe.startup_trials == 6 && s.tpe.gamma == 0.2 && s.tpe.candidates == 24, "tpe options and defaults");
    CHECK(strcmp(s.objective.metric, "val_loss") == 0 && !s.objective.maximize, "a loss is minimised by default");
    CHECK(s.early_stop.method == PRUNE_ASHA && s.early_stop.grace_epochs == 2 && s.early_stop.reduction_factor == 3 &&
          s.early_stop.max_epochs == 20 && strcmp(s.early_stop.metric, "val_loss") == 0 && !s.early_stop.maximize, "asha keys");
    CHECK(ts.n == 6, "tpe expands its %d startup trials, got %d", 6, ts.n);
    for (int t = 0; t < ts.n && t < ts2.n; t++)
        CHECK(strcmp(ts.trials[t].id, ts2.trials[t].id) == 0, "startup trial %d is random search's: %s", t, ts.trials[t].id);
    char what[2048];
    sweep_spec_describe(&s, ts.n, what, sizeof what);
    CHECK(strstr(what, "tpe over") && strstr(what, "30 trials, the first 6 drawn at random") &&
          strstr(what, "early stop: asha on val_loss (min), rungs at 2 * 3^k epochs below 20"), "describe: %s", what);
    unload(&s2, &ts2);
    unload(&s, &ts);

    CHECK_OK(load(&s, &ts, "sweep:\n  axes: {train.seed: [1, 2]}\n  early_stop: {method: median, metric: val_accuracy, warmup_epochs: 3}\n", 0, &e), &e);
    CHECK(s.early_stop.method == PRUNE_MEDIAN && s.early_stop.maximize && s.early_stop.warmup_epochs == 3 &&
          s.early_stop.startup_trials == 5 && s.early_stop.min_trials == 1, "median keys with a grid");
    unload(&s, &ts);

    const char *head = "sweep:\n  method: tpe\n  trials: 4\n  axes: {train.lr: {log_uniform: [1.0e-4, 1.0e-2]}}\n";
    char text[1024];
    snprintf(text, sizeof text, "%s  tpe: {gamma: 1.5}\n", head);
    check_fails(text, "test.yaml:10: sweep.tpe.gamma must be in (0, 1], got 1.5");
    snprintf(text, sizeof text, "%s  tpe: {metric: test_accuracy}\n", head);
    check_fails(text, "test.yaml:10: sweep.tpe.metric must be one of val_accuracy val_loss gap final_gap, not 'test_accuracy'");
    snprintf(text, sizeof text, "%s  tpe: {mode: up}\n", head);
    check_fails(text, "test.yaml:10: sweep.tpe.mode must be min or max, not 'up'");
    snprintf(text, sizeof text, "%s  tpe: {startup: 3}\n", head);
    check_fails(text, "test.yaml:10: unknown key 'sweep.tpe.startup'");
    check_fails("sweep:\n  method: random\n  trials: 2\n  axes: {train.lr: [1, 2]}\n  tpe: {}\n", "test.yaml:10: sweep.tpe is for method: tpe only");
    check_fails("sweep:\n  method: tpe\n  axes: {train.lr: [1, 2]}\n", "test.yaml:7: method: tpe needs sweep.trials");
    check_fails("sweep:\n  early_stop: {metric: val_loss}\n", "test.yaml:7: sweep.early_stop needs method: asha or median");
    check_fails("sweep:\n  early_stop: {method: hyperband}\n", "test.yaml:7: sweep.early_stop.method must be asha or median, not 'hyperband'");
    check_fails("sweep:\n  early_stop:\n    method: asha\n    warmup_epochs: 2\n", "test.yaml:9: sweep.early_stop.warmup_epochs is for method: median");
    check_fails("sweep:\n  early_stop:\n    method: asha\n    reduction_factor: 1\n", "test.yaml:9: sweep.early_stop.reduction_factor must be in 2..1000, got 1");
    check_fails("sweep:\n  early_stop:\n    method: asha\n    grace_epochs: 4\n    max_epochs: 4\n",
                "test.yaml:10: sweep.early_stop.max_epochs (4) must be above grace_epochs (4)");
    check_fails("sweep:\n  early_stop:\n    method: median\n    metric: top5\n", "test.yaml:9: sweep.early_stop.metric must be one of val_loss val_accuracy loss accuracy");
    check_fails("sweep:\n  early_stop:\n    method: median\n    patience: 3\n", "test.yaml:9: unknown key 'sweep.early_stop.patience'");
}

static void test_weights_fallback(void) {
    char text[2048];
    snprintf(text, sizeof text, "name: t\nweights_fallback: random:7\nbase:\n  data: {root: %s}\n  model: {weights: /nonexistent.h5}\n"
             "sweep: {axes: {train.seed: [1, 2]}}\n", data_root);
    SweepSpec s;
    TrialSet ts;
    Err e;
    CHECK_OK(sweep_spec_parse(&s, text, "x.yaml", &e), &e);
    CHECK_OK(sweep_expand(&s, &ts, &e), &e);
    ResolveOptions o = {.sweep_dir = "/tmp/r", .cwd = "/tmp", .check_files = 1};
    CHECK_OK(sweep_resolve(&s, &ts, &o, &e), &e);
    CHECK(ts.n == 2 && ts.trials[0].weights_fallback && strcmp(ts.trials[0].cfg.model.weights, "random:7") == 0,
          "missing weights use the fallback: %s", ts.n ? ts.trials[0].cfg.model.weights : "");
    trial_set_free(&ts);
    sweep_spec_free(&s);
}

int main(void) {
    char tmpl[] = "/tmp/test_sweep_expand.XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    snprintf(data_root, sizeof data_root, "%s", tmpl);
    char train[300];
    snprintf(train, sizeof train, "%s/train", tmpl);
    Err e;
    if (fs_mkdir_p(train, &e)) return 1;
    test_grid();
    test_random();
    test_errors();
    test_tpe_and_early_stop();
    test_weights_fallback();
    rmdir(train);
    rmdir(tmpl);
    return TEST_END();
}
