/* result.csv reading, failure records, summary.csv and report.md (sweep/csv.c,
 * results.c, summary.c) on trial folders made here. */
#include "../../sweep/csv.c"
#include "../../sweep/expand.c"
#include "../../sweep/results.c"
#include "../../sweep/summary.c"
#include "../../sweep/sweep_spec.c"
#include "../../sweep/trial_id.c"

#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static const char *HEADER =
    "trial,status,epochs,best_epoch,val_loss,val_accuracy,train_loss,train_accuracy,gap,final_gap,"
    "untrained_val_accuracy,test_loss,test_accuracy,test_top5,seconds,seconds_per_epoch,message\n";

static void write_text(const char *path, const char *text) {
    Err e;
    if (fs_write_atomic(path, text, strlen(text), &e)) fprintf(stderr, "%s\n", e.msg);
}

static void test_csv(void) {
    CsvTable t;
    Err e;
    CHECK_OK(csv_parse(&t, "a,b,c\r\n1,\"x, \"\"y\"\"\",3\n\n4,5\n", "mem", &e), &e);
    CHECK(t.n_cols == 3 && t.n_rows == 2, "shape %d x %d", t.n_rows, t.n_cols);
    if (t.n_rows == 2) {
        CHECK(strcmp(t.rows[0][1], "x, \"y\"") == 0, "quoted field: [%s]", t.rows[0][1]);
        CHECK(strcmp(t.rows[1][2], "") == 0, "short rows padded");
        CHECK(strcmp(csv_get(&t, 0, "c"), "3") == 0 && strcmp(csv_get(&t, 0, "zz"), "") == 0, "lookup by name");
    }
    csv_free(&t);
    CHECK(csv_parse(&t, "a,b\n1,2,3\n", "mem", &e) != 0 && strstr(e.msg, "mem:2"), "too many fields: %s", e.msg);
    CHECK(csv_parse(&t, "a\n\"open\n", "mem", &e) != 0 && strstr(e.msg, "unterminated"), "%s", e.msg);
    CHECK(csv_parse(&t, "", "mem", &e) != 0, "empty file fails");

    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    csv_write_field(f, "plain");
    fputc(',', f);
    csv_write_field(f, "a,\"b\"\nc");
    fclose(f);
    CHECK(strcmp(buf, "plain,\"a,\"\"b\"\" c\"") == 0, "written: %s", buf);
    free(buf);
}

/* A finished trial's result.csv. */
static void make_result(const char *root, const char *id, const char *status, double val_acc, double val_loss,
                        double gap, const char *message) {
    char dir[512], path[600], text[2048];
    snprintf(dir, sizeof dir, "%s/%s", root, id);
    Err e;
    fs_mkdir_p(dir, &e);
    snprintf(path, sizeof path, "%s/result.csv", dir);
    snprintf(text, sizeof text, "%s%s,%s,10,7,%g,%g,0.3,0.9,%g,0.2,0.1,0.5,0.8,0.95,12.5,1.25,%s\n", HEADER, id, status,
             val_loss, val_acc, gap, message);
    write_text(path, text);
}

static void test_results_and_summary(const char *root) {
    SweepSpec s;
    TrialSet ts;
    Err e;
    CHECK_OK(sweep_spec_parse(&s, "name: sum\nbase: {}\nsweep:\n  axes:\n    model.head.dropout: [0.2, 0.5]\n"
                                  "    train.seed: [1, 2]\n", "sum.yaml", &e), &e);
    CHECK_OK(sweep_expand(&s, &ts, &e), &e);
    if (ts.n != 4) { CHECK(0, "4 trials, got %d", ts.n); return; }
    make_result(root, ts.trials[0].id, "done", 0.70, 0.9, 0.05, "");
    make_result(root, ts.trials[1].id, "done", 0.80, 0.7, 0.15, "");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", root, ts.trials[2].id);
    CHECK_OK(fs_mkdir_p(dir, &e), &e);
    CHECK_OK(result_write_failure(dir, ts.trials[2].id, "killed by signal 9, \"OOM\"", 3.5, &e), &e);
    snprintf(dir, sizeof dir, "%s/%s", root, ts.trials[3].id);
    CHECK_OK(fs_mkdir_p(dir, &e), &e);   /* started, nothing written: pending */

    TrialResult r[4];
    for (int t = 0; t < 4; t++) {
        snprintf(dir, sizeof dir, "%s/%s", root, ts.trials[t].id);
        result_read(dir, &r[t]);
    }
    CHECK(r[0].status == STATUS_DONE && r[0].val_accuracy == 0.70 && r[0].gap == 0.05, "done trial read");
    CHECK(r[2].status == STATUS_FAILED && strcmp(r[2].message, "killed by signal 9, \"OOM\"") == 0, "failure: %s", r[2].message);
    CHECK(r[2].seconds == 3.5, "failure seconds %g", r[2].seconds);
    CHECK(r[3].status == STATUS_PENDING, "no result: pending");
    snprintf(dir, sizeof dir, "%s/%s/last.safetensors", root, ts.trials[3].id);
    write_text(dir, "x");
    snprintf(dir, sizeof dir, "%s/%s", root, ts.trials[3].id);
    result_free(&r[3]);
    result_read(dir, &r[3]);
    CHECK(r[3].status == STATUS_INTERRUPTED, "a checkpoint without result: interrupted");

    int order[4];
    trials_rank(&ts, r, order);
    CHECK(order[0] == 1 && order[1] == 0 && order[2] == 2 && order[3] == 3, "rank: best val_accuracy first, then failed, interrupted");

    char path[600];
    snprintf(path, sizeof path, "%s/summary.csv", root);
    CHECK_OK(summary_write(path, &s, &ts, r, &e), &e);
    CsvTable sum;
    CHECK_OK(csv_read_file(&sum, path, &e), &e);
    CHECK(sum.n_cols == 1 + 2 + 16 && sum.n_rows == 4, "summary %d x %d", sum.n_rows, sum.n_cols);
    if (sum.n_cols == 19 && sum.n_rows == 4) {
        CHECK(!strcmp(sum.header[0], "trial") && !strcmp(sum.header[1], "model.head.dropout") &&
              !strcmp(sum.header[2], "train.seed") && !strcmp(sum.header[3], "status") &&
              !strcmp(sum.header[18], "message"), "columns: trial, axes, result columns");
        CHECK(!strcmp(sum.rows[1][0], ts.trials[1].id) && !strcmp(sum.rows[1][1], "0.2") && !strcmp(sum.rows[1][2], "2"),
              "row 2: %s %s %s", sum.rows[1][0], sum.rows[1][1], sum.rows[1][2]);
        CHECK(!strcmp(csv_get(&sum, 1, "val_accuracy"), "0.8"), "metrics copied: %s", csv_get(&sum, 1, "val_accuracy"));
        CHECK(!strcmp(csv_get(&sum, 2, "status"), "failed") && strstr(csv_get(&sum, 2, "message"), "OOM"), "failure row");
        CHECK(!strcmp(csv_get(&sum, 3, "status"), "interrupted") && !strcmp(csv_get(&sum, 3, "val_accuracy"), ""), "unfinished row");
    }
    csv_free(&sum);

    snprintf(path, sizeof path, "%s/report.md", root);
    CHECK_OK(report_write(path, &s, &ts, r, &e), &e);
    char *md = NULL;
    CHECK_OK(fs_read_all(path, &md, NULL, &e), &e);
    if (md) {
        char *best = strstr(md, ts.trials[1].id), *second = strstr(md, "| 2 | [");
        CHECK(best && strstr(md, "Best: **dropout-0.2_seed-2**"), "best named");
        CHECK(second && strstr(second, ts.trials[0].id) == second + 7, "second row is the 0.70 trial");
        CHECK(strstr(md, "plots/gap_vs_model.head.dropout.png") && strstr(md, "plots/learning_curves_accuracy.png"), "charts linked");
        CHECK(strstr(md, "Trials: 2 done, 0 diverged, 1 failed, 1 interrupted, 0 pending"), "counts");
        CHECK(strstr(md, "| 0.2 | 2 | 0.7500 | 0.1000 |"), "per-axis means");
        free(md);
    }
    for (int t = 0; t < 4; t++) result_free(&r[t]);
    trial_set_free(&ts);
    sweep_spec_free(&s);
}

static void test_bad_result(const char *root) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/bad", root);
    Err e;
    fs_mkdir_p(dir, &e);
    snprintf(path, sizeof path, "%s/result.csv", dir);
    write_text(path, "trial,status\nx,exploded\n");
    TrialResult r;
    result_read(dir, &r);
    CHECK(r.status == STATUS_FAILED && strstr(r.message, "unknown status 'exploded'"), "unknown status: %s", r.message);
    result_free(&r);
    write_text(path, "trial,status\n");
    result_read(dir, &r);
    CHECK(r.status == STATUS_FAILED && strstr(r.message, "no data row"), "empty result: %s", r.message);
    result_free(&r);
}

/* A pruned trial: read back, kept in summary.csv, ranked after the finished trials however
 * good its partial val accuracy, left out of the per-value means, counted in report.md;
 * the report links a heatmap per pair of axes (seeds averaged over, not paired). */
static void test_pruned(const char *root) {
    SweepSpec s;
    TrialSet ts;
    Err e;
    CHECK_OK(sweep_spec_parse(&s, "name: pr\nbase: {}\nsweep:\n  axes:\n    model.head.dropout: [0.2, 0.5]\n"
                                  "    model.head.l2: [1.0e-4, 1.0e-3]\n    train.seed: [1]\n", "pr.yaml", &e), &e);
    CHECK_OK(sweep_expand(&s, &ts, &e), &e);
    if (ts.n != 4) { CHECK(0, "4 trials, got %d", ts.n); return; }
    const double acc[4] = {0.70, 0.90, 0.80, 0.60};
    TrialResult r[4];
    for (int t = 0; t < 4; t++) {
        char dir[512];
        make_result(root, ts.trials[t].id, t == 1 ? "pruned" : "done", acc[t], 1.0, 0.1, t == 1 ? "stopped at rung 3" : "");
        snprintf(dir, sizeof dir, "%s/%s", root, ts.trials[t].id);
        result_read(dir, &r[t]);
    }
    CHECK(r[1].status == STATUS_PRUNED && status_finished(STATUS_PRUNED) && !strcmp(status_name(STATUS_PRUNED), "pruned"),
          "pruned read back; a rerun skips it");
    int order[4];
    trials_rank(&ts, r, order);
    CHECK(order[0] == 2 && order[1] == 0 && order[2] == 3 && order[3] == 1, "the pruned 0.90 ranks after every finished trial");
    char path[600];
    snprintf(path, sizeof path, "%s/pr_summary.csv", root);
    CHECK_OK(summary_write(path, &s, &ts, r, &e), &e);
    CsvTable sum;
    CHECK_OK(csv_read_file(&sum, path, &e), &e);
    CHECK(sum.n_rows == 4 && !strcmp(csv_get(&sum, 1, "status"), "pruned") && !strcmp(csv_get(&sum, 1, "val_accuracy"), "0.9"),
          "summary keeps the pruned row");
    csv_free(&sum);
    snprintf(path, sizeof path, "%s/pr_report.md", root);
    CHECK_OK(report_write(path, &s, &ts, r, &e), &e);
    char *md = NULL;
    CHECK_OK(fs_read_all(path, &md, NULL, &e), &e);
    if (md) {
        CHECK(strstr(md, "3 done, 0 diverged, 0 failed, 0 interrupted, 0 pending, 1 pruned"), "counts");
        CHECK(strstr(md, "| 0.2 | 1 | 0.7000 |"), "dropout 0.2's mean leaves the pruned trial out");
        CHECK(strstr(md, "plots/heatmap_val_accuracy_model.head.dropout_x_model.head.l2.png") &&
              strstr(md, "plots/heatmap_gap_model.head.dropout_x_model.head.l2.png"), "heatmaps linked");
        CHECK(!strstr(md, "heatmap_val_accuracy_model.head.dropout_x_train.seed"), "no heatmap over the seed axis");
        CHECK(strstr(md, "plots/parallel_coordinates.png") && strstr(md, "plots/importance.png") && !strstr(md, "history.png"),
              "parallel coordinates and importance linked; no history for a grid");
        free(md);
    }
    for (int t = 0; t < 4; t++) result_free(&r[t]);
    trial_set_free(&ts);
    sweep_spec_free(&s);
}

int main(void) {
    char root[] = "/tmp/test_sweep_summary.XXXXXX";
    if (!mkdtemp(root)) return 1;
    test_csv();
    test_results_and_summary(root);
    test_pruned(root);
    test_bad_result(root);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return TEST_END();
}
