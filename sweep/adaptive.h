/* Rank 0's adaptive parts of a running sweep, behind the queue's hooks (work_queue.h):
 *   which trial runs next   grid, random: the trials to run in file order; tpe: the
 *                           trials drawn before that still need to run (a resume), then a
 *                           new draw (study_ask) from the results told so far
 *   a trial ended           tpe: its result is told to the study (study.csv); early stop:
 *                           its train_log.csv is read into the pruner again (a done trial
 *                           then counts as completed for the median rule)
 *   a trial ended an epoch  early stop: pruner_report, and a line in early_stop.csv
 *
 * State after a kill, rebuilt when the same command runs again: the study from study.csv
 * (plus the finished trials it was never told of, in trial order); the pruner from every
 * trial's train_log.csv (ASHA's rung tables, the median rule's curves). A trial killed
 * between its epoch's row and the answer asks again for that epoch when it resumes (the
 * trainer does), and gets the answer the state gives then.
 *
 * early_stop.csv (appended, one line per report, in the order rank 0 decided):
 *   trial,id,epoch,<metric>,decision
 *   3,lr-2e-3_dropout-0.5,0,1.8312,continue
 * decision: continue, stop, or retried (a trial run again by --retry-pruned: recorded in
 * the rung tables, never stopped). */
#ifndef SWEEP_ADAPTIVE_H
#define SWEEP_ADAPTIVE_H

#include "prune.h"
#include "study.h"
#include "sweep_run.h"

typedef struct Adaptive {
    SweepPlan *plan;                /* borrowed: tpe appends its draws to plan->ts */
    int tpe;                        /* a tpe study runs */
    Study study;
    int prune;                      /* sweep.early_stop is on */
    Pruner pruner;
    unsigned char *full_budget;     /* per trial (plan->capacity): run again by --retry-pruned */
    FILE *journal;                  /* early_stop.csv */
} Adaptive;

/* Rank 0, before the trial folders are prepared (todo: the trials to run, from plan_todo;
 * their results as found on disk). Replays study.csv and every train_log.csv. */
int adaptive_open(Adaptive *ad, SweepPlan *p, const int *todo, int n_todo, Err *e);
void adaptive_close(Adaptive *ad);

/* The next trial to run (*t = -1: none left); *cursor walks todo. */
int adaptive_next(Adaptive *ad, const int *todo, int n_todo, int *cursor, long *t, Err *e);
/* plan->results[t] holds the result of trial t, which just ended. */
int adaptive_trial_done(Adaptive *ad, int t, Err *e);
/* Trial t ended `epoch` with `value` of early_stop.metric: *stop = 1 to stop it. */
int adaptive_epoch(Adaptive *ad, int t, int epoch, double value, int *stop, Err *e);

#endif
