/* Early stopping of trials across a sweep (`sweep.early_stop`), as pure bookkeeping: trials
 * report (epoch, metric) after each epoch; the pruner says whether each goes on. Rank 0
 * owns one Pruner; its whole state is the reported curves, a function of the set of
 * reports and not of their order, so replaying the trials' train_log.csv rows after a kill
 * rebuilds exactly the state the sweep had (the rung tables of ASHA, the completed curves
 * of the median rule). Only the decisions depend on the order reports arrive in.
 *
 * Epochs are train_log.csv's: 0-based; "after epoch e" means e + 1 epochs were trained.
 * Values are kept in "larger is better" form (negated for mode: min).
 *
 * asha (Ray Tune's ASHAScheduler, one bracket): rungs at grace * rf^k epochs trained,
 *   k = 0, 1, ..., below max_epochs. When a trial's report completes a rung's epochs, its
 *   value is compared with the values every other trial recorded at that rung so far
 *   (the trials that reached it earlier, stopped there or not): cutoff = the
 *   (1 - 1/rf) quantile of those values (numpy's linear interpolation); the trial stops
 *   if its value is strictly below the cutoff, so a tie with the cutoff continues. Its
 *   value is recorded at the rung either way. The first trial at a rung always continues;
 *   with fewer than rf values recorded the cutoff still applies (with one value, it is
 *   that value: a trial continues only if it is at least as good as the one before it),
 *   which is Ray's behaviour. Reports between rungs always continue. A NaN value stops.
 * median (Optuna's MedianPruner): after epoch e the trial's best value so far (its best
 *   intermediate value over epochs 0..e, as Optuna takes it, not the value at e) is
 *   compared with the median of the values at epoch e of the completed trials (status
 *   done) that reached epoch e; the trial stops if its best is strictly worse. No trial
 *   stops before startup_trials trials have completed, at epochs e < warmup_epochs, or
 *   when fewer than min_trials completed trials reached epoch e. A trial whose values
 *   are all NaN stops. Pruned trials never count as completed (Optuna's rule too). */
#ifndef SWEEP_PRUNE_H
#define SWEEP_PRUNE_H

#include "core/error.h"

enum { PRUNE_METRIC_MAX = 32 };

typedef enum PruneMethod { PRUNE_NONE = 0, PRUNE_ASHA, PRUNE_MEDIAN } PruneMethod;
typedef enum PruneDecision { PRUNE_CONTINUE = 0, PRUNE_STOP = 1 } PruneDecision;

typedef struct PruneOptions {
    PruneMethod method;
    char metric[PRUNE_METRIC_MAX];  /* a train_log.csv column: val_loss, val_accuracy, loss, accuracy */
    int maximize;                   /* mode: max */
    int grace_epochs;               /* asha: the first rung (1) */
    int reduction_factor;           /* asha: rf >= 2 (4) */
    int max_epochs;                 /* asha: rungs lie below it; 0 = the trials' train.epochs */
    int startup_trials;             /* median: completed trials before any stop (5) */
    int warmup_epochs;              /* median: epochs e < warmup_epochs never stop (0) */
    int min_trials;                 /* median: completed trials at epoch e needed (1) */
    int line;                       /* sweep file line of early_stop (messages) */
} PruneOptions;

/* One trial's reported curve: v[e] after epoch e (NaN where not reported). */
typedef struct PruneCurve {
    double *v;
    int n, cap;
    int complete;
} PruneCurve;

typedef struct Pruner {
    PruneOptions o;
    int max_epochs;                 /* asha: the effective budget */
    PruneCurve *curves;             /* by trial index, grown on demand */
    int n_curves;
} Pruner;

/* Defaults of a method (metric val_loss, mode min and the numbers above); inline, so the
 * sweep file's parser needs this header only. */
static inline void prune_options_default(PruneOptions *o, PruneMethod method) {
    *o = (PruneOptions){.method = method, .metric = "val_loss", .maximize = 0, .grace_epochs = 1,
                        .reduction_factor = 4, .max_epochs = 0, .startup_trials = 5, .warmup_epochs = 0,
                        .min_trials = 1};
}
static inline const char *prune_method_name(PruneMethod m) {
    return m == PRUNE_ASHA ? "asha" : m == PRUNE_MEDIAN ? "median" : "none";
}

/* max_epochs: the budget when o->max_epochs is 0 (the largest train.epochs of the
 * trials). Fails when ASHA would have no rung below the budget. */
int pruner_init(Pruner *p, const PruneOptions *o, int max_epochs, Err *e);
void pruner_free(Pruner *p);

/* A trial finished epoch `epoch` with `value` of the metric: records it and says whether
 * the trial goes on. Epochs come in order; reporting an epoch again replaces its value
 * (a resumed trial repeating it); skipping one is an error. */
int pruner_report(Pruner *p, int trial, int epoch, double value, PruneDecision *d, Err *e);
/* The same record without a decision (replaying logged rows). */
int pruner_record(Pruner *p, int trial, int epoch, double value, Err *e);
/* The decision for the value the trial recorded after `epoch`, against the state now
 * (what pruner_report said, or would say now for a row whose answer a kill lost). */
PruneDecision pruner_decide(const Pruner *p, int trial, int epoch);
/* The trial ran to its end (status done): the median rule counts it from now on. */
int pruner_complete(Pruner *p, int trial, Err *e);

/* Records every row of a trial's train_log.csv (the metric column by epoch); complete:
 * the trial is done. A missing file records nothing. *n_rows: rows recorded. */
int pruner_replay_log(Pruner *p, int trial, const char *path, int complete, int *n_rows, Err *e);

/* The metric's value after `epoch` in a train_log.csv (its last row for that epoch), as
 * pruner_replay_log reads it: the value a live report uses, so a replay sees the same. */
int pruner_log_value(const char *path, const char *metric, int epoch, double *value, Err *e);

/* ASHA's rungs (epochs trained), at most max of them; returns how many there are. */
int pruner_rungs(const Pruner *p, int *epochs, int max);
/* The rung table of ASHA's rung k: the values recorded there (larger is better; room
 * for n_curves values), all trials but exclude_trial (-1: none). Returns how many. */
int pruner_rung_values(const Pruner *p, int k, int exclude_trial, double *values);
/* numpy.percentile(values, 100 q), linear interpolation; sorts values in place. */
double pruner_quantile(double *values, int n, double q);

#endif
