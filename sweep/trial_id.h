/* Trial ids: short, readable names built from a trial's axis values
 * ("dropout-0.4_seed-42"). Pure functions of the sweep file, so the same file gives the
 * same ids on every rank and on every rerun (that is what makes resume work). */
#ifndef SWEEP_TRIAL_ID_H
#define SWEEP_TRIAL_ID_H

#include <stddef.h>

enum { TRIAL_ID_MAX = 128, AXIS_LABEL_MAX = 128, VALUE_TEXT_MAX = 256 };

/* 1 when an unquoted scalar reads as a finite number (whole string consumed). */
int scalar_is_number(const char *s, int quoted, double *v);

/* Shortest "%g" text that reads back as exactly v: 0.0005, 42, 1e-05. */
void format_number_shortest(double v, char *out, size_t n);
/* Shortest of the fixed and exponent forms, for ids: 5e-4, 0.4, 42, 1e-3. */
void format_number_compact(double v, char *out, size_t n);

/* Text of a scalar for summary.csv: numbers canonical (shortest round trip), others as written. */
void value_canonical(const char *scalar, int quoted, char *out, size_t n);
/* Text of a scalar for a trial id: compact numbers; other text reduced to [A-Za-z0-9._+-]
 * (anything else becomes '-'), at most 32 characters. */
void value_compact(const char *scalar, int quoted, char *out, size_t n);

/* Short label per axis: the shortest dotted suffix of its path that no other axis path
 * ends with ("model.head.dropout" -> "dropout"; "schedule.patience" and
 * "callbacks.early_stopping.patience" -> "schedule.patience", "early_stopping.patience").
 * Generic last names (name, enabled, monitor, mode, dir, root, views) keep their parent:
 * "schedule.name" -> "schedule.name".
 * labels: n entries of AXIS_LABEL_MAX. */
void axis_labels(const char *const *paths, int n, char (*labels)[AXIS_LABEL_MAX]);

/* "label-value" parts joined by '_'; "base" when n == 0. Ids longer than 100 characters
 * are cut and end in '-' plus 8 hex digits of a hash of the full id (still unique). */
void trial_id_make(const char (*labels)[AXIS_LABEL_MAX], const char *const *values, int n,
                   char out[TRIAL_ID_MAX]);

/* Makes ids unique in place: the 2nd, 3rd... copy of an id gets "_2", "_3"... (the next
 * suffix no id has). Returns how many ids were changed, -1 when out of memory. */
int trial_ids_dedupe(char (*ids)[TRIAL_ID_MAX], int n);

#endif
