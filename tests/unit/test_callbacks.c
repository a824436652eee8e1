/* Keras callbacks: EarlyStopping stop epoch and restore semantics, ModelCheckpoint strict
 * improvement and its order after the restore, TerminateOnNaN, CSVLogger bytes and resume. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "test_util.h"
#include "train/callbacks.h"

static EarlyStoppingConfig es_config(const char *monitor, int restore) {
    EarlyStoppingConfig c;
    memset(&c, 0, sizeof c);
    c.enabled = 1;
    snprintf(c.monitor, sizeof c.monitor, "%s", monitor);
    snprintf(c.mode, sizeof c.mode, "auto");
    c.patience = 8;
    c.min_delta = 1e-3;
    c.restore_best = restore;
    return c;
}

/* Feeds val_loss values; weights[0] = epoch each epoch. Returns the stop epoch or -1. */
static int run_es(EarlyStopping *es, const float *val, int n, float *weights, int *restored) {
    for (int ep = 0; ep < n; ep++) {
        weights[0] = (float)ep;
        weights[1] = -(float)ep;
        EpochLogs logs = {.loss = 1, .accuracy = 0.5f, .val_loss = val[ep], .val_accuracy = 0.5f, .has_val = 1};
        if (early_stopping_epoch_end(es, ep, &logs, weights, restored)) return ep;
    }
    return -1;
}

static void test_early_stopping(void) {
    Err e;
    EarlyStopping es;
    EarlyStoppingConfig c = es_config("val_loss", 1);
    /* Best by more than 1e-3 at epoch 2 (0.8); epoch 3 improves by only 5e-4 and is ignored. */
    float val[20] = {1.0f, 0.9f, 0.8f, 0.7995f, 0.85f, 0.81f, 0.8f, 0.9f, 0.8f, 0.8f,
                     0.8f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f};
    float w[2];
    int restored;
    CHECK_OK(early_stopping_init(&es, &c, 2, &e), &e);
    int stop = run_es(&es, val, 20, w, &restored);
    CHECK(stop == 10, "stops at best epoch 2 + patience 8: %d", stop);
    CHECK(restored && w[0] == 2.0f && w[1] == -2.0f, "restored the epoch-2 weights: %g", w[0]);
    CHECK(es.st.best_epoch == 2 && es.st.best == (double)0.8f && es.st.stopped_epoch == 10, "state");
    early_stopping_free(&es);

    /* All epochs run (no trigger): final weights are the last epoch's, never restored. */
    CHECK_OK(early_stopping_init(&es, &c, 2, &e), &e);
    stop = run_es(&es, val, 9, w, &restored);
    CHECK(stop == -1 && !restored && w[0] == 8.0f, "no restore without stopping");
    early_stopping_free(&es);

    /* restore_best off: stops, weights untouched. */
    c.restore_best = 0;
    CHECK_OK(early_stopping_init(&es, &c, 2, &e), &e);
    stop = run_es(&es, val, 20, w, &restored);
    CHECK(stop == 10 && !restored && w[0] == 10.0f && es.best_weights == NULL, "stop without restore");
    early_stopping_free(&es);

    /* NaN never improves; the first epoch's weights are still kept as the best copy. */
    c = es_config("val_loss", 1);
    c.patience = 2;
    float nan_val[4] = {NAN, NAN, NAN, NAN};
    CHECK_OK(early_stopping_init(&es, &c, 2, &e), &e);
    stop = run_es(&es, nan_val, 4, w, &restored);
    CHECK(stop == 1 && restored && w[0] == 0.0f, "NaN: wait reaches patience 2 at epoch 1, restore epoch 0 weights (%d, %g)", stop, w[0]);
    early_stopping_free(&es);

    /* Max mode for accuracy monitors (auto). */
    c = es_config("val_accuracy", 1);
    c.patience = 1;
    CHECK_OK(early_stopping_init(&es, &c, 2, &e), &e);
    CHECK(es.mode_max && es.min_delta > 0, "auto -> max for val_accuracy");
    EpochLogs l = {.val_accuracy = 0.5f, .has_val = 1};
    CHECK(early_stopping_epoch_end(&es, 0, &l, w, &restored) == 0, "first");
    l.val_accuracy = 0.5005f;   /* below min_delta */
    CHECK(early_stopping_epoch_end(&es, 1, &l, w, &restored) == 1, "sub-min_delta accuracy gain stops");
    early_stopping_free(&es);
    snprintf(c.monitor, sizeof c.monitor, "val_acc");
    CHECK(early_stopping_init(&es, &c, 2, &e) != 0 && strstr(e.msg, "val_acc"), "unknown monitor: %s", e.msg);
}

static void test_checkpoint_and_nan(void) {
    Err e;
    ModelCheckpoint mc;
    CHECK_OK(model_checkpoint_init(&mc, "val_loss", "min", &e), &e);
    float seq[6] = {1.0f, 0.9f, 0.9f, 0.8999f, NAN, 0.5f};
    int want[6] = {1, 1, 0, 1, 0, 1};
    for (int i = 0; i < 6; i++) {
        EpochLogs l = {.val_loss = seq[i], .has_val = 1};
        CHECK(model_checkpoint_epoch_end(&mc, &l) == want[i], "checkpoint epoch %d", i);
    }
    CHECK(terminate_on_nan(NAN) && terminate_on_nan(INFINITY) && !terminate_on_nan(3.0f), "TerminateOnNaN");
}

static char tmpdir[64];

static const char *tmp_path(const char *name) {
    static char buf[128];
    return fs_join(buf, sizeof buf, tmpdir, name);
}

static char *slurp(const char *path) {
    char *text = NULL;
    Err e;
    if (fs_read_all(path, &text, NULL, &e)) CHECK(0, "%s", e.msg);
    return text;
}

static CallbacksConfig all_callbacks(void) {
    CallbacksConfig c;
    memset(&c, 0, sizeof c);
    c.early_stopping = es_config("val_loss", 1);
    c.early_stopping.patience = 2;
    c.checkpoint_enabled = 1;
    snprintf(c.checkpoint_monitor, sizeof c.checkpoint_monitor, "val_loss");
    snprintf(c.checkpoint_mode, sizeof c.checkpoint_mode, "auto");
    c.csv_log = 1;
    c.terminate_on_nan = 1;
    return c;
}

static LrSchedule plateau(void) {
    ScheduleConfig s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "plateau");
    snprintf(s.monitor, sizeof s.monitor, "val_loss");
    s.factor = 0.2; s.patience = 1; s.cooldown = 1; s.min_lr = 1e-6; s.min_delta = 1e-4;
    LrSchedule sched;
    Err e;
    CHECK_OK(schedule_init(&sched, &s, 1e-3, 10, &e), &e);
    return sched;
}

/* Order: EarlyStopping restores before ModelCheckpoint decides, so the checkpoint written
 * on the stopping epoch holds the restored weights; lr in the CSV is the pre-reduction lr. */
static void test_epoch_end_order(void) {
    Err e;
    Callbacks cb;
    CallbacksConfig c = all_callbacks();
    LrSchedule sched = plateau();
    CHECK_OK(callbacks_init(&cb, &c, 1, tmp_path("order.csv"), 0, &e), &e);
    float w[1];
    const float val[4] = {1.0f, 1.5f, 0.9995f, 0.5f};   /* epoch 2: new strict minimum, but < 1e-3 better */
    EpochActions act;
    for (int ep = 0; ep < 3; ep++) {
        w[0] = (float)ep;
        EpochLogs l = {.accuracy = 0.5f, .loss = 2, .val_accuracy = 0.5f, .val_loss = val[ep], .has_val = 1, .seconds = 1};
        CHECK_OK(callbacks_epoch_end(&cb, &sched, ep, &l, w, &act, &e), &e);
        if (ep == 1) CHECK(!act.stop && !act.save_best && sched.lr == 0.00020000001f && l.lr == 1e-3f, "epoch 1: reduce after logging");
    }
    CHECK(act.stop && act.restored && act.save_best && w[0] == 0.0f, "stop epoch: restored, then save (w %g)", w[0]);
    callbacks_free(&cb);
    char *text = slurp(tmp_path("order.csv"));
    const char *want =
        "epoch,accuracy,loss,lr,val_accuracy,val_loss,seconds\r\n"
        "0,0.5,2.0,0.001,0.5,1.0,1.0\r\n"
        "1,0.5,2.0,0.001,0.5,1.5,1.0\r\n"
        "2,0.5,2.0,0.00020000001,0.5,0.9995,1.0\r\n";
    CHECK(text && strcmp(text, want) == 0, "csv:\n%s", text ? text : "(none)");
    free(text);

    /* TerminateOnNaN: the batch check stops the epoch; epoch end reports diverged. */
    sched = plateau();
    CHECK_OK(callbacks_init(&cb, &c, 1, tmp_path("nan.csv"), 0, &e), &e);
    CHECK(callbacks_batch_end(&cb, 2.0f) == 0 && callbacks_batch_end(&cb, NAN) == 1, "batch NaN stops");
    EpochLogs l = {.accuracy = 0.1f, .loss = NAN, .val_loss = NAN, .val_accuracy = 0, .has_val = 1, .seconds = 0.5};
    CHECK_OK(callbacks_epoch_end(&cb, &sched, 0, &l, w, &act, &e), &e);
    CHECK(act.stop && act.diverged && !act.save_best, "diverged");
    callbacks_free(&cb);
}

static void test_csv_format(void) {
    struct { float v; const char *s; } cases[] = {
        {0.001f, "0.001"}, {0.0002f, "0.0002"}, {1e-4f, "1e-04"}, {1e-5f, "1e-05"}, {1e-6f, "1e-06"},
        {4.0000003e-05f, "4.0000003e-05"}, {0.00010000001f, "0.00010000001"}, {0.0f, "0.0"}, {100.0f, "100.0"},
        {1e16f, "1e+16"}, {123456789.0f, "123456790.0"}, {0.5f, "0.5"}, {-2.5f, "-2.5"}, {3.4e38f, "3.4e+38"},
        {0.12345678f, "0.12345678"}, {NAN, "nan"}, {INFINITY, "inf"}, {-INFINITY, "-inf"}, {5.283113f, "5.283113"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[40];
        csv_format_float(buf, sizeof buf, cases[i].v);
        CHECK(strcmp(buf, cases[i].s) == 0, "format %.9g -> '%s', want '%s' (numpy str)", cases[i].v, buf, cases[i].s);
    }
    /* Round trip for many values. */
    int ok = 1;
    for (int i = 1; i < 20000; i++) {
        float v = (float)i * 1.2345e-4f * (float)(i % 7 + 1);
        char buf[40];
        csv_format_float(buf, sizeof buf, v);
        ok &= strtof(buf, NULL) == v;
    }
    CHECK(ok, "every formatted value reads back as the same float32");
}

static void write_rows(CsvLogger *c, int from, int to) {
    Err e;
    for (int ep = from; ep < to; ep++) {
        EpochLogs l = {.accuracy = 0.25f * ep, .loss = 4.5f - ep, .lr = 1e-3f, .val_accuracy = 0.125f,
                       .val_loss = 3.25f, .has_val = ep != 1, .seconds = 12.25 + ep};
        CHECK_OK(csv_logger_write(c, ep, &l, &e), &e);
    }
}

static void test_csv_resume(void) {
    Err e;
    CsvLogger c;
    const char *path = tmp_path("train_log.csv");
    CHECK_OK(csv_logger_open(&c, path, 0, &e), &e);
    write_rows(&c, 0, 3);
    char *full = slurp(path);   /* flushed every epoch: readable before close */
    const char *want =
        "epoch,accuracy,loss,lr,val_accuracy,val_loss,seconds\r\n"
        "0,0.0,4.5,0.001,0.125,3.25,12.25\r\n"
        "1,0.25,3.5,0.001,NA,NA,13.25\r\n"
        "2,0.5,2.5,0.001,0.125,3.25,14.25\r\n";
    CHECK(full && strcmp(full, want) == 0, "byte-exact log:\n%s", full ? full : "(none)");
    write_rows(&c, 3, 4);       /* an epoch that the checkpoint will not know about */
    csv_logger_close(&c);
    /* Resume from 2 finished epochs: rows 2 and 3 are dropped, then epoch 2 is rewritten. */
    CHECK_OK(csv_logger_open(&c, path, 2, &e), &e);
    write_rows(&c, 2, 3);
    csv_logger_close(&c);
    char *resumed = slurp(path);
    CHECK(resumed && strcmp(resumed, want) == 0, "resumed log equals the uninterrupted one:\n%s", resumed ? resumed : "");
    CHECK(csv_logger_open(&c, path, 7, &e) != 0 && strstr(e.msg, "fewer"), "resume past the file's rows fails: %s", e.msg);
    CHECK_OK(csv_logger_open(&c, path, 0, &e), &e);
    csv_logger_close(&c);
    char *fresh = slurp(path);
    CHECK(fresh && fresh[0] == 0, "a new run truncates");
    free(full); free(resumed); free(fresh);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_callbacks.XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_early_stopping();
    test_checkpoint_and_nan();
    test_epoch_end_order();
    test_csv_format();
    test_csv_resume();
    const char *names[] = {"order.csv", "nan.csv", "train_log.csv"};
    for (int i = 0; i < 3; i++) unlink(tmp_path(names[i]));
    rmdir(tmpdir);
    return TEST_END();
}
