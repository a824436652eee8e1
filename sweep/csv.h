/* Small CSV reader/writer (RFC 4180: quoted fields, "" escapes, CRLF tolerated).
 * Used for result.csv, train_log.csv and summary.csv. */
#ifndef SWEEP_CSV_H
#define SWEEP_CSV_H

#include <stdio.h>

#include "core/error.h"

typedef struct CsvTable {
    int n_cols;
    char **header;          /* n_cols names */
    int n_rows;
    char ***rows;           /* n_rows x n_cols; short rows are padded with "" */
} CsvTable;

int csv_parse(CsvTable *t, const char *text, const char *name, Err *e);
int csv_read_file(CsvTable *t, const char *path, Err *e);
/* Column index of a header name, -1 when absent. */
int csv_col(const CsvTable *t, const char *name);
/* Field by column name ("" when the column is absent). */
const char *csv_get(const CsvTable *t, int row, const char *name);
void csv_free(CsvTable *t);

/* Writes one field, quoted when it holds a comma, quote or line break; line breaks
 * become spaces so one record stays one line (gnuplot and awk read these files). */
void csv_write_field(FILE *f, const char *s);

#endif
