/* result.csv as the trainer writes it (train/trial_result.c) from the one column table
 * (train/result_columns.c), and its status read back the way `trainer train` decides
 * whether a trial already ended. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "test_util.h"
#include "train/result_columns.h"
#include "train/trial.h"

static const char *HEADER =
    "trial,status,epochs,best_epoch,val_loss,val_accuracy,train_loss,train_accuracy,gap,final_gap,"
    "untrained_val_accuracy,test_loss,test_accuracy,test_top5,seconds,seconds_per_epoch,message\n";

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 4096);
    if (buf) fread(buf, 1, 4095, f);
    fclose(f);
    return buf;
}

static TrialResult sample(const char *trial, TrialStatus status, const char *message) {
    TrialResult r = {.status = status, .epochs = 12, .best_epoch = 7, .val_loss = 0.5, .val_accuracy = 0.875,
                     .train_loss = 0.25, .train_accuracy = 0.9375, .gap = 0.0625, .final_gap = 0.125,
                     .untrained_val_accuracy = 0.1, .test_loss = NAN, .test_accuracy = NAN, .test_top5 = NAN,
                     .seconds = 3.5, .seconds_per_epoch = 0.25};
    snprintf(r.trial, sizeof r.trial, "%s", trial);
    snprintf(r.message, sizeof r.message, "%s", message);
    return r;
}

/* The exact bytes: header from the table, quoted text, %.9g numbers, NaN as an empty field. */
static void test_bytes(const char *dir) {
    char path[1100];
    Err e;
    fs_join(path, sizeof path, dir, "result.csv");
    TrialResult r = sample("dropout-0.4", TRIAL_DONE, "say \"hi\"\nthere");
    CHECK_OK(trial_result_write(path, &r, &e), &e);
    char *text = read_all(path), want[2048];
    snprintf(want, sizeof want, "%s\"dropout-0.4\",done,12,7,0.5,0.875,0.25,0.9375,0.0625,0.125,0.1,,,,3.5,0.25,"
                                "\"say \"\"hi\"\" there\"\n", HEADER);
    CHECK(text && !strcmp(text, want), "bytes:\n%s", text ? text : "(none)");
    free(text);
}

/* The status field, found past a quoted trial name holding commas and quotes. */
static void test_status(const char *dir) {
    char path[1100], status[64];
    Err e;
    fs_join(path, sizeof path, dir, "result.csv");
    TrialResult r = sample("odd,\"done\",name", TRIAL_FAILED, "x,done,y");
    CHECK_OK(trial_result_write(path, &r, &e), &e);
    CHECK(result_csv_status(path, status, sizeof status) == 0 && !strcmp(status, "failed"), "status '%s'", status);
    r = sample("plain", TRIAL_DIVERGED, "");
    CHECK_OK(trial_result_write(path, &r, &e), &e);
    CHECK(result_csv_status(path, status, sizeof status) == 0 && !strcmp(status, "diverged"), "status '%s'", status);
    CHECK(fs_write_atomic(path, HEADER, strlen(HEADER), &e) == 0 && result_csv_status(path, status, sizeof status) < 0,
          "a header without a row has no status");
    fs_join(path, sizeof path, dir, "missing.csv");
    CHECK(result_csv_status(path, status, sizeof status) < 0, "a missing file has no status");
}

int main(void) {
    char dir[] = "/tmp/test_result_columns.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    CHECK(N_RESULT_COLUMNS == 17 && !strcmp(RESULT_COLUMNS[RESULT_COL_STATUS], "status") &&
          !strcmp(RESULT_COLUMNS[RESULT_COL_MESSAGE], "message"), "the table");
    test_bytes(dir);
    test_status(dir);
    char path[1100];
    unlink(fs_join(path, sizeof path, dir, "result.csv"));
    rmdir(dir);
    return TEST_END();
}
