/* result.csv: a header line and one row, written last and atomically by `trainer train`
 * (train/trial_result.c), or by the sweep for a trial the trainer could not finish
 * (sweep/results.c). This is its one list of columns: the trainer writes it, the sweep
 * reads and summarizes it, `trainer train` reads a row's status back. No other type here,
 * so that the sweep can include it beside its own. */
#ifndef TL_RESULT_COLUMNS_H
#define TL_RESULT_COLUMNS_H

#include <stddef.h>
#include <stdio.h>

typedef enum ResultColumn {
    RESULT_COL_TRIAL, RESULT_COL_STATUS, RESULT_COL_EPOCHS, RESULT_COL_BEST_EPOCH,
    RESULT_COL_VAL_LOSS, RESULT_COL_VAL_ACCURACY, RESULT_COL_TRAIN_LOSS, RESULT_COL_TRAIN_ACCURACY,
    RESULT_COL_GAP, RESULT_COL_FINAL_GAP, RESULT_COL_UNTRAINED_VAL_ACCURACY,
    RESULT_COL_TEST_LOSS, RESULT_COL_TEST_ACCURACY, RESULT_COL_TEST_TOP5,
    RESULT_COL_SECONDS, RESULT_COL_SECONDS_PER_EPOCH, RESULT_COL_MESSAGE,
    N_RESULT_COLUMNS
} ResultColumn;

/* Column names in file order ("trial", "status", ..., "message"). */
extern const char *const RESULT_COLUMNS[N_RESULT_COLUMNS];

/* The header line: the names joined by ',' and a newline. */
void result_columns_header(FILE *f);
/* The status field of path's data row ("done", "diverged", "failed") into status; -1 when
 * the file cannot be read or has no data row. */
int result_csv_status(const char *path, char *status, size_t n);

#endif
