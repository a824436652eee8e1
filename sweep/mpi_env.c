#include "mpi_env.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"

int mpi_fail(Err *e, int rc, const char *call, const char *file, int line) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return err_fail(e, "%s:%d: %s failed: %s", file, line, call, msg);
}

static int cores_allowed(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}

/* Ranks on this node, and which node this is: the nodes' first ranks form a communicator
 * of their own, whose rank order numbers the nodes. */
static int node_ranks(RankInfo *ri, Err *e) {
    MPI_Comm local, leaders;
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, ri->rank, MPI_INFO_NULL, &local));
    MPI_CHECK(MPI_Comm_rank(local, &ri->local_rank));
    MPI_CHECK(MPI_Comm_size(local, &ri->local_size));
    int leader = ri->local_rank == 0;
    MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, leader ? 0 : MPI_UNDEFINED, ri->rank, &leaders));
    int node[2] = {0, 0};
    if (leader) {
        MPI_CHECK(MPI_Comm_rank(leaders, &node[0]));
        MPI_CHECK(MPI_Comm_size(leaders, &node[1]));
        MPI_CHECK(MPI_Comm_free(&leaders));
    }
    MPI_CHECK(MPI_Bcast(node, 2, MPI_INT, 0, local));
    ri->node = node[0], ri->n_nodes = node[1];
    MPI_CHECK(MPI_Comm_free(&local));
    return 0;
}

/* " (Slurm local id 1, CUDA_VISIBLE_DEVICES=2)" from the environment, or "". */
static void scheduler_note(char *out, size_t n) {
    const char *lid = getenv("SLURM_LOCALID"), *cvd = getenv("CUDA_VISIBLE_DEVICES");
    size_t k = 0;
    out[0] = 0;
    if (!lid && !cvd) return;
    k += (size_t)snprintf(out, n, " (");
    if (lid && k < n) k += (size_t)snprintf(out + k, n - k, "SLURM_LOCALID=%s%s", lid, cvd ? ", " : "");
    if (cvd && k < n) k += (size_t)snprintf(out + k, n - k, "CUDA_VISIBLE_DEVICES=%s", cvd);
    if (k < n) snprintf(out + k, n - k, ")");
}

int rank_info_init(RankInfo *ri, int threads_override, int use_gpu, char *note, size_t note_n, Err *e) {
    memset(ri, 0, sizeof *ri);
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &ri->rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &ri->size));
    if (node_ranks(ri, e)) return -1;
    if (gethostname(ri->host, sizeof ri->host) != 0) snprintf(ri->host, sizeof ri->host, "?");
    ri->host[sizeof ri->host - 1] = 0;
    ri->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ri->cores < 1) ri->cores = 1;
    /* Split the node's cores among its ranks; when mpirun bound this rank to fewer
     * cores, more threads than that would only fight each other. */
    ri->threads = ri->cores / ri->local_size;
    int allowed = cores_allowed();
    if (allowed > 0 && allowed < ri->threads) ri->threads = allowed;
    if (ri->threads < 1) ri->threads = 1;
    if (threads_override > 0) ri->threads = threads_override;
    ri->n_gpus = use_gpu ? backend_cuda_device_count() : 0;
    ri->gpu = ri->n_gpus > 0 ? ri->local_rank % ri->n_gpus : -1;
    size_t k = (size_t)snprintf(note, note_n, "rank %d/%d on %s (node %d of %d, local %d/%d): ", ri->rank, ri->size,
                                ri->host, ri->node + 1, ri->n_nodes, ri->local_rank, ri->local_size);
    if (ri->gpu >= 0 && k < note_n)
        k += (size_t)snprintf(note + k, note_n - k, "GPU %d of %d, %d CPU threads", ri->gpu, ri->n_gpus, ri->threads);
    else if (k < note_n)
        k += (size_t)snprintf(note + k, note_n - k, "CPU, %d of %d cores", ri->threads, ri->cores);
    char sched[160];
    scheduler_note(sched, sizeof sched);
    if (k < note_n) k += (size_t)snprintf(note + k, note_n - k, "%s", sched);
    if (ri->n_gpus > 0 && ri->local_size > ri->n_gpus && k < note_n)
        snprintf(note + k, note_n - k, " (warning: %d ranks share %d GPUs on %s)", ri->local_size, ri->n_gpus, ri->host);
    return 0;
}
