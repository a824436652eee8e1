/* MPI side of the sweep: where this rank runs (node, node-local rank, cores, GPU). The
 * trial queue the ranks claim work from is in work_queue.h. */
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
    int node, n_nodes;          /* this node's number (0..n_nodes-1, in order of its lowest rank) */
    int cores;                  /* cores this node has */
    int threads;                /* for this rank's trainer: cores / local ranks */
    int n_gpus;                 /* visible on this node */
    int gpu;                    /* local_rank mod n_gpus; -1 = CPU */
    char host[64];
} RankInfo;

/* Collective. threads_override > 0 fixes the thread count. use_gpu = 0 keeps every rank
 * on the CPU (all trials ask for device: cpu). note gets a line describing the binding
 * (host, node, node-local rank, cores or GPU, and what Slurm said: SLURM_LOCALID and
 * CUDA_VISIBLE_DEVICES when set), and a warning when ranks share a GPU. */
int rank_info_init(RankInfo *ri, int threads_override, int use_gpu, char *note, size_t note_n, Err *e);

#endif
