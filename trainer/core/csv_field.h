/* Writing CSV fields (RFC 4180) for the files the trainer writes: confusion and error
 * tables, predictions, the importer's classes.csv. */
#ifndef TL_CSV_FIELD_H
#define TL_CSV_FIELD_H

#include <stdio.h>

/* Writes s, quoted (with "" for ") when it holds a comma, quote or line break. */
void csv_put_field(FILE *f, const char *s);

#endif
