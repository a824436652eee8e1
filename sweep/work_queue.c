#include "work_queue.h"

#include <string.h>
#include <time.h>

#include "mpi_env.h"

/* Between probes for a reply: short enough to add no visible latency, long enough that a
 * waiting rank costs no CPU. */
static void nap_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* One round of a wait: the caller's idle hook, then a nap. */
static void idle_round(WorkQueue *q, int ms) {
    if (q->hooks.idle) q->hooks.idle(q->hooks.ctx);
    nap_ms(ms);
}

static int send_msg3(WorkQueue *q, int to, int tag, long a, long b, long c, Err *e) {
    long m[QUEUE_MSG_LEN] = {a, b, c, 0};
    MPI_CHECK(MPI_Send(m, QUEUE_MSG_LEN, MPI_LONG, to, tag, q->comm));
    return 0;
}

static int send_msg(WorkQueue *q, int to, int tag, long a, long b, Err *e) { return send_msg3(q, to, tag, a, b, 0, e); }

_Static_assert(sizeof(long) == sizeof(double), "QT_EPOCH carries a double's bits in a long");

static long double_bits(double v) {
    long b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double bits_double(long b) {
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static int epoch_decision(WorkQueue *q, int rank, int trial, int epoch, double value) {
    return q->hooks.epoch_report ? q->hooks.epoch_report(q->hooks.ctx, rank, trial, epoch, value) : 0;
}

/* Receives one message with `tag` (or any) if one has arrived; *tag_got = 0 when none. */
static int try_recv(WorkQueue *q, int tag, long *m, int *tag_got, int *from, Err *e) {
    int flag = 0;
    MPI_Status st;
    *tag_got = 0;
    MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, tag, q->comm, &flag, &st));
    if (!flag) return 0;
    MPI_CHECK(MPI_Recv(m, QUEUE_MSG_LEN, MPI_LONG, st.MPI_SOURCE, st.MPI_TAG, q->comm, MPI_STATUS_IGNORE));
    *tag_got = st.MPI_TAG;
    *from = st.MPI_SOURCE;
    return 0;
}

/* Rank 0: every other rank learns the sweep is stopping (once). */
static int broadcast_stop(WorkQueue *q, Err *e) {
    q->stop = 1;
    if (q->stop_sent) return 0;
    q->stop_sent = 1;
    for (int r = 1; r < q->size; r++)
        if (send_msg(q, r, QT_STOP, 0, 0, e)) return -1;
    return 0;
}

static long next_item(WorkQueue *q, int rank) {
    return q->stop || !q->hooks.next_item ? -1 : q->hooks.next_item(q->hooks.ctx, rank);
}

static int serve(WorkQueue *q, int from, int tag, const long *m, Err *e) {
    switch (tag) {
    case QT_WANT_WORK: return send_msg(q, from, QT_WORK, next_item(q, from), 0, e);
    case QT_TRIAL_DONE:
        if (q->hooks.trial_done) q->hooks.trial_done(q->hooks.ctx, from, (int)m[0], (int)m[1]);
        return 0;
    case QT_EPOCH:
        return send_msg(q, from, QT_DECISION, epoch_decision(q, from, (int)m[0], (int)m[1], bits_double(m[2])), 0, e);
    case QT_STOP: return broadcast_stop(q, e);
    case QT_RANK_DONE:
        q->ranks_done++;
        if (m[0]) q->stop = 1;
        if (m[1]) q->any_failed = 1;
        return 0;
    default: return err_fail(e, "work queue: rank 0 got an unexpected message (tag %d) from rank %d", tag, from);
    }
}

static int handle(WorkQueue *q, int from, int tag, const long *m, Err *e) {
    if (q->rank == 0) return serve(q, from, tag, m, e);
    if (tag == QT_STOP) q->stop = 1;
    else if (tag == QT_WORK) q->has_reply = 1, q->reply = m[0];
    else if (tag == QT_DECISION) q->has_decision = 1, q->decision = (int)m[0];
    else if (tag == QT_FINISH) q->finished = 1, q->code = (int)m[0];
    else return err_fail(e, "work queue: rank %d got an unexpected message (tag %d) from rank %d", q->rank, tag, from);
    return 0;
}

int queue_create(WorkQueue *q, const QueueHooks *hooks, Err *e) {
    *q = (WorkQueue){.comm = MPI_COMM_NULL};
    if (hooks) q->hooks = *hooks;
    MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &q->comm));
    MPI_CHECK(MPI_Comm_set_errhandler(q->comm, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(q->comm, &q->rank));
    MPI_CHECK(MPI_Comm_size(q->comm, &q->size));
    return 0;
}

int queue_free(WorkQueue *q) {
    if (q->comm != MPI_COMM_NULL) MPI_Comm_free(&q->comm);
    q->comm = MPI_COMM_NULL;
    return 0;
}

int queue_poll(WorkQueue *q, Err *e) {
    for (;;) {
        long m[QUEUE_MSG_LEN];
        int tag, from;
        if (try_recv(q, MPI_ANY_TAG, m, &tag, &from, e)) return -1;
        if (!tag) return 0;
        if (handle(q, from, tag, m, e)) return -1;
    }
}

int queue_claim(WorkQueue *q, long *item, Err *e) {
    *item = -1;
    if (queue_poll(q, e)) return -1;
    if (q->rank == 0) { *item = next_item(q, 0); return 0; }
    if (q->stop) return 0;
    q->has_reply = 0;
    if (send_msg(q, 0, QT_WANT_WORK, 0, 0, e)) return -1;
    for (;;) {
        if (queue_poll(q, e)) return -1;
        if (q->has_reply) { *item = q->stop ? -1 : q->reply; return 0; }
        idle_round(q, 2);
    }
}

int queue_trial_done(WorkQueue *q, int trial, int status, Err *e) {
    if (q->rank != 0) return send_msg(q, 0, QT_TRIAL_DONE, trial, status, e);
    if (q->hooks.trial_done) q->hooks.trial_done(q->hooks.ctx, 0, trial, status);
    return 0;
}

int queue_report_epoch(WorkQueue *q, int trial, int epoch, double value, int *stop, Err *e) {
    if (q->rank == 0) { *stop = epoch_decision(q, 0, trial, epoch, value); return 0; }
    q->has_decision = 0;
    if (send_msg3(q, 0, QT_EPOCH, trial, epoch, double_bits(value), e)) return -1;
    for (;;) {
        if (queue_poll(q, e)) return -1;
        if (q->has_decision) { *stop = q->decision; return 0; }
        idle_round(q, 2);
    }
}

int queue_request_stop(WorkQueue *q, Err *e) {
    if (q->rank == 0) return broadcast_stop(q, e);
    q->stop = 1;
    if (q->stop_sent) return 0;
    q->stop_sent = 1;
    return send_msg(q, 0, QT_STOP, 0, 0, e);
}

int queue_rank_done(WorkQueue *q, int failed, int *any_stop, int *any_failed, Err *e) {
    *any_stop = q->stop, *any_failed = failed;
    if (q->rank != 0) return send_msg(q, 0, QT_RANK_DONE, q->stop, failed, e);
    while (q->ranks_done < q->size - 1) {
        if (queue_poll(q, e)) return -1;
        idle_round(q, 20);
    }
    *any_stop = q->stop, *any_failed = failed || q->any_failed;
    return 0;
}

int queue_finish(WorkQueue *q, int *code, Err *e) {
    if (q->rank == 0) {
        for (int r = 1; r < q->size; r++)
            if (send_msg(q, r, QT_FINISH, *code, 0, e)) return -1;
        return 0;
    }
    while (!q->finished) {
        if (queue_poll(q, e)) return -1;
        if (!q->finished) idle_round(q, 20);
    }
    *code = q->code;
    return 0;
}

int queue_wait(WorkQueue *q, MPI_Request *req, Err *e) {
    for (;;) {
        int done = 0;
        MPI_CHECK(MPI_Test(req, &done, MPI_STATUS_IGNORE));
        if (done) return 0;
        if (queue_poll(q, e)) return -1;
        idle_round(q, 5);
    }
}
