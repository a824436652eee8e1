/* Classification metrics (Keras's categorical accuracy) and the per-trial confusion outputs.
 * Argmax ties go to the lowest index (numpy's convention; TF does not fix one). */
#ifndef TL_METRICS_H
#define TL_METRICS_H

#include <stddef.h>

#include "core/error.h"

/* Keras Mean metric: float32 total and count; result = total / count (0 when empty).
 * Epoch loss: mean_update(&m, batch_loss * b, b); accuracy: mean_update(&m, correct, b). */
typedef struct MeanMetric { float total, count; } MeanMetric;
void mean_update(MeanMetric *m, float value_sum, float weight_sum);
float mean_result(const MeanMetric *m);

/* Index of the largest of z[0..C). */
int argmax_row(const float *z, int C);
/* Rows of logits (b, C) whose argmax equals the label (categorical_accuracy x b). */
int count_correct(const float *logits, const int *labels, int b, int C);
/* Rows whose label is among the k largest (Keras in_top_k: ties at the boundary count as
 * in; a non-finite target logit does not). */
int count_top_k(const float *logits, const int *labels, int b, int C, int k);

/* counts[t * C + p]: samples of true class t predicted as p. */
typedef struct Confusion { int C; long *counts; } Confusion;
int confusion_create(Confusion *m, int C, Err *e);
void confusion_reset(Confusion *m);
void confusion_add(Confusion *m, const float *logits, const int *labels, int b);
void confusion_free(Confusion *m);

/* An off-diagonal cell: true class t predicted as p, count times. */
typedef struct ConfusedPair { int t, p; long count; } ConfusedPair;
/* All non-zero off-diagonal cells, count descending, ties by (t, p) ascending, in a
 * malloc'ed array (*out, free it; NULL when there are none). Returns the count, -1 on error. */
int confusion_pairs(const Confusion *m, ConfusedPair **out, Err *e);

/* confusion.csv: header "true/predicted,<name_0>,...,<name_C-1>", then one row per true
 * class: name, counts. Names are quoted as CSV requires. Atomic write. */
int write_confusion_csv(const char *path, const Confusion *m, const char *const *names, Err *e);
/* errors.csv: "true,predicted,count", most confused pairs first, at most max_rows rows
 * (0 = all non-zero pairs). Atomic write. */
int write_errors_csv(const char *path, const Confusion *m, const char *const *names, int max_rows, Err *e);

#endif
