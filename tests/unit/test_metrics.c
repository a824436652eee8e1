/* Accuracy, top-5, the Keras Mean metric, the confusion matrix and its CSV writers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "test_util.h"
#include "train/metrics.h"

static void test_accuracy(void) {
    /* 4 rows, 3 classes; row 2 ties between 0 and 2 (lowest index wins). */
    const float z[12] = {0.1f, 0.7f, 0.2f,
                         2.0f, -1.0f, 0.5f,
                         0.4f, 0.1f, 0.4f,
                         -3.0f, -2.0f, -1.0f};
    const int y[4] = {1, 2, 0, 2};
    CHECK(argmax_row(z + 6, 3) == 0, "ties go to the lowest index");
    CHECK(count_correct(z, y, 4, 3) == 3, "3 of 4 correct");
    CHECK(count_top_k(z, y, 4, 3, 1) == 3, "top-1 agrees with argmax here");
    CHECK(count_top_k(z, y, 4, 3, 2) == 4, "top-2 holds all");
    /* Top-5 of 7 classes; ties at the boundary count as in (in_top_k). */
    const float w[7] = {5, 4, 3, 2, 1, 1, 0};
    int lab[1] = {5};
    CHECK(count_top_k(w, lab, 1, 7, 5) == 1, "tie at rank 5 counts");
    lab[0] = 6;
    CHECK(count_top_k(w, lab, 1, 7, 5) == 0, "rank 7 does not");
    const float bad[3] = {NAN, 0, 1};
    lab[0] = 0;
    CHECK(count_top_k(bad, lab, 1, 3, 5) == 0, "non-finite target is never in the top k");
}

static void test_mean_metric(void) {
    /* Epoch loss = sum b_k L_k / sum b_k, short last batch weighs less. */
    MeanMetric m = {0, 0};
    CHECK(mean_result(&m) == 0.0f, "empty mean is 0");
    mean_update(&m, 2.0f * 32, 32);
    mean_update(&m, 4.0f * 32, 32);
    mean_update(&m, 1.0f * 16, 16);
    CHECK_NEAR(mean_result(&m), (64.0 + 128 + 16) / 80, 1e-6, "weighted mean %g", mean_result(&m));
    MeanMetric acc = {0, 0};
    mean_update(&acc, 30, 32);
    mean_update(&acc, 5, 8);
    CHECK_NEAR(mean_result(&acc), 35.0 / 40, 1e-7, "accuracy = matches / samples");
}

static char dir[64];

static char *slurp(const char *name) {
    char path[128], *text = NULL;
    Err e;
    if (fs_read_all(fs_join(path, sizeof path, dir, name), &text, NULL, &e)) CHECK(0, "%s", e.msg);
    return text;
}

static void test_confusion(void) {
    Confusion m;
    Err e;
    CHECK_OK(confusion_create(&m, 3, &e), &e);
    /* true 0: predicted 0,1,1; true 1: 1, 2; true 2: 0, 0, 1. */
    const int labels[8] = {0, 0, 0, 1, 1, 2, 2, 2};
    const int preds[8] = {0, 1, 1, 1, 2, 0, 0, 1};
    float z[8 * 3] = {0};
    for (int i = 0; i < 8; i++) z[i * 3 + preds[i]] = 1.0f;
    confusion_add(&m, z, labels, 5);
    confusion_add(&m, z + 15, labels + 5, 3);
    CHECK(m.counts[0 * 3 + 1] == 2 && m.counts[2 * 3 + 0] == 2 && m.counts[1 * 3 + 1] == 1, "cells");
    ConfusedPair *pairs;
    int n = confusion_pairs(&m, &pairs, &e);
    CHECK(n == 4, "4 confused pairs: %d", n);
    if (n == 4) {
        CHECK(pairs[0].t == 0 && pairs[0].p == 1 && pairs[0].count == 2, "first (0,1) x2");
        CHECK(pairs[1].t == 2 && pairs[1].p == 0 && pairs[1].count == 2, "then (2,0) x2 (tie by true class)");
        CHECK(pairs[2].t == 1 && pairs[2].p == 2 && pairs[3].t == 2 && pairs[3].p == 1, "then the singles");
    }
    free(pairs);
    const char *names[3] = {"Audi A4", "BMW M3, coupe", "Say \"hi\""};
    char path[128];
    CHECK_OK(write_confusion_csv(fs_join(path, sizeof path, dir, "confusion.csv"), &m, names, &e), &e);
    CHECK_OK(write_errors_csv(fs_join(path, sizeof path, dir, "errors.csv"), &m, names, 3, &e), &e);
    char *conf = slurp("confusion.csv"), *err = slurp("errors.csv");
    const char *want_conf =
        "true/predicted,Audi A4,\"BMW M3, coupe\",\"Say \"\"hi\"\"\"\n"
        "Audi A4,1,2,0\n"
        "\"BMW M3, coupe\",0,1,1\n"
        "\"Say \"\"hi\"\"\",2,1,0\n";
    const char *want_err =
        "true,predicted,count\n"
        "Audi A4,\"BMW M3, coupe\",2\n"
        "\"Say \"\"hi\"\"\",Audi A4,2\n"
        "\"BMW M3, coupe\",\"Say \"\"hi\"\"\",1\n";
    CHECK(conf && strcmp(conf, want_conf) == 0, "confusion.csv:\n%s", conf ? conf : "");
    CHECK(err && strcmp(err, want_err) == 0, "errors.csv (3 rows):\n%s", err ? err : "");
    free(conf);
    free(err);
    confusion_reset(&m);
    CHECK(confusion_pairs(&m, &pairs, &e) == 0 && pairs == NULL, "reset clears");
    CHECK_OK(write_errors_csv(fs_join(path, sizeof path, dir, "errors.csv"), &m, names, 0, &e), &e);
    err = slurp("errors.csv");
    CHECK(err && strcmp(err, "true,predicted,count\n") == 0, "no errors: header only");
    free(err);
    CHECK(write_errors_csv("/nonexistent-dir/errors.csv", &m, names, 0, &e) != 0 && strstr(e.msg, "nonexistent"),
          "unwritable path reported: %s", e.msg);
    confusion_free(&m);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/test_metrics.XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_accuracy();
    test_mean_metric();
    test_confusion();
    char path[128];
    unlink(fs_join(path, sizeof path, dir, "confusion.csv"));
    unlink(fs_join(path, sizeof path, dir, "errors.csv"));
    rmdir(dir);
    return TEST_END();
}
