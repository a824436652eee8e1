/* MPI side of the sweep: where this rank runs (node-local rank, cores, GPU) and the
 * shared work counter the ranks claim trials from.
 *
 * Work counter: rank 0 exposes two longs in an MPI window, {next, stop}. A rank claims
 * the next trial with MPI_Fetch_and_op(+1) on `next` (passive target, shared lock), so
 * a rank that finishes a short trial simply claims again: long and short trials
 * balance. `stop` is set by any rank that received SIGINT/SIGTERM; every rank polls it. */
#ifndef SWEEP_MPI_ENV_H
#define SWEEP_MPI_ENV_H

#include <mpi.h>

#include "core/error.h"

/* Checks an MPI call's status; names the call, file and line. Needs `Err *e` in scope. */
#define MPI_CHECK(call) do { \
        int mpi_rc_ = (call); \
        if (mpi_rc_ != MPI_SUCCESS) return mpi_fail(e, mpi_rc_, #call, __FILE__, __LINE__); \
    } while (0)

int mpi_fail(Err *e, int rc, const char *call, const char *file, int line);

typedef struct RankInfo {
    int rank, size;             /* MPI_COMM_WORLD */
    int local_rank, local_size; /* this node (MPI_Comm_split_type SHARED) */
    int cores;                  /* cores this node has */
    int threads;                /* for this rank's trainer: cores / local ranks */
    int n_gpus;                 /* visible on this node */
    int gpu;                    /* local_rank mod n_gpus; -1 = CPU */
    char host[64];
} RankInfo;

/* Collective. threads_override > 0 fixes the thread count. use_gpu = 0 keeps every rank
 * on the CPU (all trials ask for device: cpu). note gets a line describing the binding,
 * and a warning when ranks share a GPU. */
int rank_info_init(RankInfo *ri, int threads_override, int use_gpu, char *note, size_t note_n, Err *e);

typedef struct WorkQueue {
    MPI_Win win;
    long *mem;                  /* rank 0: {next, stop} */
} WorkQueue;

int queue_create(WorkQueue *q, Err *e);            /* collective */
/* Claims the next index (0, 1, 2, ...); *stop = 1 when some rank asked to stop. */
int queue_claim(WorkQueue *q, long *index, int *stop, Err *e);
int queue_request_stop(WorkQueue *q, Err *e);
int queue_stop_requested(WorkQueue *q, int *stop, Err *e);
int queue_free(WorkQueue *q, Err *e);              /* collective */

#endif
