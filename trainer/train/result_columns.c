#include "train/result_columns.h"

#include <string.h>

const char *const RESULT_COLUMNS[N_RESULT_COLUMNS] = {
    [RESULT_COL_TRIAL] = "trial",
    [RESULT_COL_STATUS] = "status",
    [RESULT_COL_EPOCHS] = "epochs",
    [RESULT_COL_BEST_EPOCH] = "best_epoch",
    [RESULT_COL_VAL_LOSS] = "val_loss",
    [RESULT_COL_VAL_ACCURACY] = "val_accuracy",
    [RESULT_COL_TRAIN_LOSS] = "train_loss",
    [RESULT_COL_TRAIN_ACCURACY] = "train_accuracy",
    [RESULT_COL_GAP] = "gap",
    [RESULT_COL_FINAL_GAP] = "final_gap",
    [RESULT_COL_UNTRAINED_VAL_ACCURACY] = "untrained_val_accuracy",
    [RESULT_COL_TEST_LOSS] = "test_loss",
    [RESULT_COL_TEST_ACCURACY] = "test_accuracy",
    [RESULT_COL_TEST_TOP5] = "test_top5",
    [RESULT_COL_SECONDS] = "seconds",
    [RESULT_COL_SECONDS_PER_EPOCH] = "seconds_per_epoch",
    [RESULT_COL_MESSAGE] = "message",
};

void result_columns_header(FILE *f) {
    for (int c = 0; c < N_RESULT_COLUMNS; c++) fprintf(f, "%s%s", c ? "," : "", RESULT_COLUMNS[c]);
    fputc('\n', f);
}

/* The end of the CSV field starting at p: its ',' or the line's end. A quoted field may hold
 * commas and doubled quotes. */
static const char *field_end(const char *p) {
    if (*p != '"') return p + strcspn(p, ",\r\n");
    for (p++; *p; p++)
        if (*p == '"' && *++p != '"') break;
    return p + strcspn(p, ",\r\n");
}

int result_csv_status(const char *path, char *status, size_t n) {
    char line[8192];
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int got = fgets(line, sizeof line, f) && fgets(line, sizeof line, f);
    fclose(f);
    if (!got) return -1;
    const char *p = line;
    for (int c = 0; c < RESULT_COL_STATUS; c++) {
        p = field_end(p);
        if (*p++ != ',') return -1;
    }
    snprintf(status, n, "%.*s", (int)(field_end(p) - p), p);
    return 0;
}
