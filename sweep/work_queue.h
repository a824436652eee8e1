/* The sweep's trial queue: rank 0 serves it with point-to-point messages on a
 * communicator of its own, so it works on every transport Open MPI runs on (no one-sided
 * window, which Open MPI's RDMA component cannot make over TCP between nodes).
 *
 * Protocol. Every message is QUEUE_MSG_LEN longs on the queue's communicator; the tag says
 * what it is:
 *   QT_WANT_WORK    rank -> 0   {}                      "give me the next work item"
 *   QT_WORK         0 -> rank   {item}                  the reply: an item, or -1 (none left, or stopping)
 *   QT_TRIAL_DONE   rank -> 0   {trial, status}         a trial ended (done, diverged, failed)
 *   QT_STOP         rank -> 0   {}                      this rank was told to stop (SIGINT/SIGTERM)
 *                   0 -> rank   {}                      every rank stops: sent once to each
 *   QT_RANK_DONE    rank -> 0   {stopped, failed}       this rank claims no more work (its last message)
 *   QT_FINISH       0 -> rank   {exit status}           every rank is done (rank 0's last message)
 *   QT_EPOCH        rank -> 0   {trial, epoch, value}   a trial finished an epoch (early stopping);
 *                                                       value: the metric's IEEE-754 bits
 *   QT_DECISION     0 -> rank   {stop}                  the reply: 1 = stop the trial, 0 = go on
 * Rank 0 decides what the next item is when a rank asks (QueueHooks.next_item), so a
 * sampler that draws the next trial from the results so far sits there (tpe), and whether
 * a trial goes on when it reports an epoch (QueueHooks.epoch_report: the pruner). The
 * metric travels as its bits so rank 0 decides on exactly the double the rank read from
 * train_log.csv (the nodes of one job share a byte order).
 *
 * Rank 0 answers while it runs trials of its own: the sweep calls queue_poll every ~100 ms
 * (while a child runs, while it waits for a lock, between phases), so a request waits at most
 * about that long, and a stop reaches every rank within a few polls (well under a second).
 * Waiting ranks sleep between probes instead of spinning in a blocking MPI call, so an idle
 * rank leaves its cores to the ranks still training. */
#ifndef SWEEP_WORK_QUEUE_H
#define SWEEP_WORK_QUEUE_H

#include <mpi.h>

#include "core/error.h"

enum { QUEUE_MSG_LEN = 4 };

typedef enum QueueTag {
    QT_WANT_WORK = 101, QT_WORK, QT_TRIAL_DONE, QT_STOP, QT_RANK_DONE, QT_FINISH,
    QT_EPOCH, QT_DECISION,
} QueueTag;

/* What the sweep does with the queue's events. Rank 0: next_item returns the next item for
 * `rank`, or -1 when there is none; trial_done sees every finished trial (its own ones too).
 * Every rank: idle is called on each round of a wait (about every 2-20 ms), so a signal or a
 * STOP file is noticed while the rank waits (it may call queue_request_stop). */
typedef struct QueueHooks {
    void *ctx;
    long (*next_item)(void *ctx, int rank);
    void (*trial_done)(void *ctx, int rank, int trial, int status);
    void (*idle)(void *ctx);
    /* Rank 0: `trial` (run by `rank`) finished `epoch` with `value`: 1 = stop it, 0 = go on. */
    int (*epoch_report)(void *ctx, int rank, int trial, int epoch, double value);
} QueueHooks;

typedef struct WorkQueue {
    MPI_Comm comm;
    int rank, size;
    int stop;               /* this rank knows the sweep is stopping */
    int finished;           /* non-zero ranks: QT_FINISH arrived */
    int code;               /* the exit status in QT_FINISH */
    int has_reply;          /* non-zero ranks: a QT_WORK reply arrived ... */
    long reply;             /* ... with this item */
    int has_decision;       /* non-zero ranks: a QT_DECISION reply arrived ... */
    int decision;           /* ... saying this (1 = stop) */
    /* rank 0 */
    QueueHooks hooks;
    int stop_sent;          /* QT_STOP went out to every rank */
    int ranks_done;         /* QT_RANK_DONE received */
    int any_failed;         /* some rank said it failed */
} WorkQueue;

/* Collective over MPI_COMM_WORLD (duplicates it). */
int queue_create(WorkQueue *q, const QueueHooks *hooks, Err *e);
int queue_free(WorkQueue *q);
/* Handles what has arrived: rank 0 answers requests and records results; every rank
 * notices a stop. Never blocks. */
int queue_poll(WorkQueue *q, Err *e);
/* The next work item, or -1 when there is none or the sweep is stopping. */
int queue_claim(WorkQueue *q, long *item, Err *e);
/* A trial this rank ran has ended (status: a SweepTrialStatus). */
int queue_trial_done(WorkQueue *q, int trial, int status, Err *e);
/* A trial this rank runs finished `epoch` with `value` of the early-stopping metric:
 * *stop = rank 0's decision (1 = stop the trial). Waits for it as queue_claim does. */
int queue_report_epoch(WorkQueue *q, int trial, int epoch, double value, int *stop, Err *e);
/* This rank was told to stop: tell rank 0, which tells everyone. Idempotent. */
int queue_request_stop(WorkQueue *q, Err *e);
/* Every rank, after its last trial; failed = this rank hit an error outside a trial.
 * Rank 0 returns once every rank is done (still serving requests), with *any_stop = 1 when
 * some rank stopped and *any_failed = 1 when some rank failed; then it calls queue_finish.
 * Other ranks return once they have told rank 0. */
int queue_rank_done(WorkQueue *q, int failed, int *any_stop, int *any_failed, Err *e);
/* Rank 0: sends the exit status to every rank. Others: wait for it (sleeping between probes). */
int queue_finish(WorkQueue *q, int *code, Err *e);
/* Waits for a non-blocking collective, sleeping between tests and polling the queue. */
int queue_wait(WorkQueue *q, MPI_Request *req, Err *e);

#endif
