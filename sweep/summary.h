/* End of a sweep: runs/<name>/summary.csv (one row per trial: id, every swept axis by
 * its dotted path, then the result.csv columns) and runs/<name>/report.md (the table
 * sorted by val_accuracy, per-axis means, failures and the charts of `make plots`). */
#ifndef SWEEP_SUMMARY_H
#define SWEEP_SUMMARY_H

#include "expand.h"
#include "results.h"

/* results[t] belongs to ts->trials[t]. Both files are written atomically. */
int summary_write(const char *path, const SweepSpec *s, const TrialSet *ts, const TrialResult *results, Err *e);
int report_write(const char *path, const SweepSpec *s, const TrialSet *ts, const TrialResult *results, Err *e);

/* Trial indices sorted best first: finished trials by val_accuracy (descending; ties by
 * lower val_loss), then failed, interrupted, pending. order has ts->n entries. */
void trials_rank(const TrialSet *ts, const TrialResult *results, int *order);

#endif
