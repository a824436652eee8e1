/* LR schedules: every closed form's values, and ReduceLROnPlateau exactly as Keras's
 * (float32 lr sequence, strict min_delta, cooldown=1 being a no-op, lr-in-logs value). */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "train/callbacks.h"
#include "train/schedule.h"

static ScheduleConfig plateau_config(int cooldown) {
    ScheduleConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "plateau");
    snprintf(c.monitor, sizeof c.monitor, "val_loss");
    c.factor = 0.2;
    c.patience = 3;
    c.cooldown = cooldown;
    c.min_lr = 1e-6;
    c.min_delta = 1e-4;
    return c;
}

static void test_closed_forms(void) {
    Err e;
    LrSchedule s;
    ScheduleConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "constant");
    CHECK_OK(schedule_init(&s, &c, 1e-3, 10, &e), &e);
    CHECK(schedule_epoch_begin(&s, 7) == 1e-3f, "constant");

    snprintf(c.name, sizeof c.name, "step");
    c.step_size = 3;
    c.gamma = 0.5;
    CHECK_OK(schedule_init(&s, &c, 0.1, 10, &e), &e);
    const float step_want[8] = {0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.05f, 0.025f, 0.025f};
    for (int ep = 0; ep < 8; ep++) CHECK(schedule_lr_for_epoch(&s, ep) == step_want[ep], "step epoch %d", ep);

    snprintf(c.name, sizeof c.name, "exponential");
    c.decay_rate = 0.5;
    c.decay_epochs = 2;
    CHECK_OK(schedule_init(&s, &c, 0.1, 10, &e), &e);
    CHECK(schedule_lr_for_epoch(&s, 0) == 0.1f, "exp 0");
    CHECK(schedule_lr_for_epoch(&s, 1) == (float)(0.1 * sqrt(0.5)), "exp 1 (continuous)");
    CHECK(schedule_lr_for_epoch(&s, 4) == 0.025f, "exp 4");

    snprintf(c.name, sizeof c.name, "cosine");
    c.warmup_epochs = 2;
    c.min_lr = 0.001;
    CHECK_OK(schedule_init(&s, &c, 0.1, 10, &e), &e);
    CHECK(s.lr == 0.05f, "cosine starts warm-up at lr / W: %g", s.lr);
    CHECK(schedule_lr_for_epoch(&s, 1) == 0.1f, "warm-up reaches lr at epoch W-1");
    CHECK(schedule_lr_for_epoch(&s, 2) == 0.1f, "cosine starts at lr");
    CHECK(schedule_lr_for_epoch(&s, 6) == (float)(0.001 + 0.099 * 0.5), "cosine halfway");
    CHECK(schedule_lr_for_epoch(&s, 9) == (float)(0.001 + 0.099 * 0.5 * (1 + cos(M_PI * 7 / 8))), "cosine last");
    float prev = 1;
    int falling = 1;
    for (int ep = 2; ep < 10; ep++) { float v = schedule_lr_for_epoch(&s, ep); falling &= v < prev || ep == 2; prev = v; }
    CHECK(falling && prev > 0.001f, "cosine falls toward min_lr");
    c.warmup_epochs = 0;
    CHECK_OK(schedule_init(&s, &c, 0.1, 10, &e), &e);
    CHECK(s.lr == 0.1f, "no warm-up starts at lr");

    snprintf(c.name, sizeof c.name, "linear");
    CHECK(schedule_init(&s, &c, 0.1, 10, &e) != 0 && strstr(e.msg, "linear"), "unknown name: %s", e.msg);
    ScheduleConfig p = plateau_config(1);
    p.factor = 1.0;
    CHECK(schedule_init(&s, &p, 1e-3, 10, &e) != 0 && strstr(e.msg, "factor"), "factor 1 rejected");
}

/* Runs a plateau schedule over val_loss values; logged[i] = lr in logs, next[i] = lr after. */
static void run_plateau(int cooldown, const double *val, int n, float *logged, float *next) {
    Err e;
    LrSchedule s;
    ScheduleConfig c = plateau_config(cooldown);
    if (schedule_init(&s, &c, 1e-3, n, &e)) { CHECK(0, "%s", e.msg); return; }
    for (int i = 0; i < n; i++) {
        schedule_epoch_begin(&s, i);
        logged[i] = schedule_epoch_end(&s, 1, val[i]);
        next[i] = s.lr;
    }
}

static void test_plateau_sequence(void) {
    enum { N = 20 };
    double val[N];
    float logged[N], next[N];
    for (int i = 0; i < N; i++) val[i] = 2.0;       /* never improves after epoch 0 */
    run_plateau(1, val, N, logged, next);
    /* Reductions at epochs 3, 6, 9, 12, 15 (every 3 non-improving epochs), float32 values
     * 0.001 -> 0.00020000001 -> 4.0000003e-05 -> 8.000001e-06 -> 1.6000001e-06 -> 1e-06. */
    const char *seq[] = {"0.001", "0.00020000001", "4.0000003e-05", "8.000001e-06", "1.6000001e-06", "1e-06"};
    for (int i = 0; i < N; i++) {
        /* Reductions at epoch r take effect from epoch r + 1; epoch r still logs the old lr. */
        int stage = 0, stage_next = 0;
        for (int r = 3; r <= 15; r += 3) { stage += r < i; stage_next += r <= i; }
        char got[40];
        csv_format_float(got, sizeof got, logged[i]);
        CHECK(strcmp(got, seq[stage]) == 0, "epoch %d logged lr %s, want %s", i, got, seq[stage]);
        CHECK(next[i] == strtof(seq[stage_next], NULL), "epoch %d next lr %.9g", i, next[i]);
    }
}

static void test_plateau_rules(void) {
    enum { N = 40 };
    double val[N];
    float l0[N], n0[N], l1[N], n1[N], l2[N], n2[N];
    /* A noisy, mostly flat curve with a few real improvements. */
    for (int i = 0; i < N; i++) val[i] = 3.0 - 0.1 * (i / 7) + 0.01 * ((i * 7919) % 5) * 0.001;
    run_plateau(0, val, N, l0, n0);
    run_plateau(1, val, N, l1, n1);
    run_plateau(2, val, N, l2, n2);
    CHECK(memcmp(l0, l1, sizeof l0) == 0 && memcmp(n0, n1, sizeof n0) == 0, "cooldown=1 gives the same lr as cooldown=0");
    CHECK(memcmp(n0, n2, sizeof n0) != 0, "cooldown=2 does change it (the test can tell)");
    /* min_delta 1e-4 is strict: 1.0 -> 0.9999 is not an improvement, so wait grows. */
    Err e;
    LrSchedule s;
    ScheduleConfig c = plateau_config(0);
    CHECK_OK(schedule_init(&s, &c, 1e-3, 10, &e), &e);
    schedule_epoch_end(&s, 1, 1.0);
    schedule_epoch_end(&s, 1, 1.0 - 1e-4);
    CHECK(s.plateau.wait == 1 && s.plateau.best == 1.0, "improvement of exactly min_delta does not count");
    schedule_epoch_end(&s, 1, 0.9998);
    CHECK(s.plateau.wait == 0 && s.plateau.best == 0.9998, "improvement beyond min_delta counts");
    /* Missing monitor (no validation data): skipped, lr still logged. */
    float lr = schedule_epoch_end(&s, 0, 0);
    CHECK(lr == 1e-3f && s.plateau.wait == 0, "missing monitor is skipped");
    /* The state is a plain value: a copy continues identically (resume). */
    LrSchedule copy = s;
    for (int i = 0; i < 6; i++) { schedule_epoch_end(&s, 1, 5.0); schedule_epoch_end(&copy, 1, 5.0); }
    CHECK(memcmp(&s, &copy, sizeof s) == 0 && s.plateau.reductions == 2, "copied state resumes the same way");
    /* max mode for accuracy monitors. */
    snprintf(c.monitor, sizeof c.monitor, "val_accuracy");
    CHECK_OK(schedule_init(&s, &c, 1e-3, 10, &e), &e);
    schedule_epoch_end(&s, 1, 0.5);
    schedule_epoch_end(&s, 1, 0.6);
    CHECK(s.mode_max && s.plateau.best == 0.6 && s.plateau.wait == 0, "accuracy is maximised");
}

int main(void) {
    test_closed_forms();
    test_plateau_sequence();
    test_plateau_rules();
    return TEST_END();
}
