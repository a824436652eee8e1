/* The adaptive study of a `method: tpe` sweep, owned by rank 0: which trials were drawn
 * (asked) with which values, and which results the sampler has seen (told), in order.
 *
 *   ask:  trial t = the next index; its values = tpe_suggest(seed, t, the observations
 *         told so far), or random search's draw of trial t while fewer than
 *         startup_trials results are in; appended to the TrialSet when it is new.
 *   tell: a finished trial's objective (result.csv's `sweep.tpe.metric`) becomes an
 *         observation: done as it is, diverged as the worst value, pruned ranked after the
 *         complete ones (sweep/tpe.h). Failed trials are not told (Optuna drops them too).
 *
 * Every ask and tell is appended, one line each, to <sweep>/study.csv:
 *   event,trial,id,status,objective,epochs,<one column per dimension>
 *   ask,12,lr-3.2e-4_dropout-0.41,,,,0.00032,0.41
 *   tell,12,lr-3.2e-4_dropout-0.41,done,0.8123,14,
 * (dimension columns: the independent axes by path, then zip0, zip1, ...; a list axis or
 * zip group holds the value's index). study_open replays the file: the stored draws are
 * kept (so the trials' ids and folders stay), the tells rebuild the observations in their
 * order, and each stored TPE draw is compared with what the sampler gives again
 * (replay_mismatches). A torn last line (a kill mid-write) is ignored.
 *
 * Determinism: a draw is a pure function of (sweep.seed, trial, the ordered observations
 * at its ask). With one rank each trial sees every earlier result; with R ranks up to
 * R - 1 trials are still running when a trial is drawn, so which results it sees, and
 * hence the trials drawn, depend on timing, and study.csv records what happened. */
#ifndef SWEEP_STUDY_H
#define SWEEP_STUDY_H

#include "expand.h"
#include "results.h"
#include "tpe.h"

enum { STUDY_PATH_MAX = 1200 };

typedef struct StudyObs {
    double score;           /* minimised: the objective, negated for mode: max; +inf diverged */
    int pruned, epochs;
    int told;               /* position in the tell order + 1; 0 = not told */
} StudyObs;

typedef struct Study {
    const SweepSpec *spec;
    int n_dims;
    TpeDim *dims;
    long n_asked, cap;      /* trials drawn: 0 .. n_asked - 1 */
    double *x;              /* n_asked x n_dims draws */
    char (*ids)[TRIAL_ID_MAX];
    int *seen;              /* per drawn trial: observations the sampler had at its ask */
    StudyObs *obs;          /* per drawn trial */
    long *order;            /* told trials, in tell order (a retold trial moves to the end) */
    int n_obs;
    char path[STUDY_PATH_MAX];  /* study.csv; "" = keep nothing on disk */
    int replay_mismatches;  /* stored draws a replay of the sampler does not give again */
} Study;

/* Opens the study of a tpe sweep; replays <sweep_dir>/study.csv when it exists
 * (sweep_dir NULL: an in-memory study). Fails on a journal of another search space. */
int study_open(Study *st, const SweepSpec *s, const char *sweep_dir, Err *e);
void study_free(Study *st);

/* Appends the journal's drawn trials that ts does not hold yet (after sweep_expand),
 * checking that the ids match what their values give. */
int study_fill_trials(const Study *st, TrialSet *ts, Err *e);

/* Draws the next trial: *trial = its index; ts gets it when it is new (its config is
 * then the caller's to resolve: sweep_resolve_added). Returns 1 when sweep.trials are
 * all drawn (nothing changes), 0 after a draw, -1 on error. */
int study_ask(Study *st, TrialSet *ts, long *trial, Err *e);
/* Values of trial t given the first n_obs observations in tell order (pure). */
int study_draw(const Study *st, long t, int n_obs, double *x, Err *e);

/* A result reached the sampler: status done, diverged or pruned (others are ignored),
 * value = the objective metric (NaN when absent), epochs trained. */
int study_tell(Study *st, long trial, SweepTrialStatus status, double value, int epochs, Err *e);
/* The same from a trial's result.csv. */
int study_tell_result(Study *st, long trial, const TrialResult *r, Err *e);
/* Tells, in trial order, every drawn trial whose result is finished but was never told
 * (a kill between the trainer's end and the tell). */
int study_tell_missing(Study *st, const TrialResult *results, int n_results, Err *e);

#endif
