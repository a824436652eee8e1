#include "mpi_env.h"

#include <sched.h>
#include <stdio.h>
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

static int node_ranks(RankInfo *ri, Err *e) {
    MPI_Comm local;
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, ri->rank, MPI_INFO_NULL, &local));
    MPI_CHECK(MPI_Comm_rank(local, &ri->local_rank));
    MPI_CHECK(MPI_Comm_size(local, &ri->local_size));
    MPI_CHECK(MPI_Comm_free(&local));
    return 0;
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
    size_t k = (size_t)snprintf(note, note_n, "rank %d/%d on %s (local %d/%d): ", ri->rank, ri->size, ri->host,
                                ri->local_rank, ri->local_size);
    if (ri->gpu >= 0 && k < note_n)
        k += (size_t)snprintf(note + k, note_n - k, "GPU %d of %d, %d CPU threads", ri->gpu, ri->n_gpus, ri->threads);
    else if (k < note_n)
        k += (size_t)snprintf(note + k, note_n - k, "CPU, %d of %d cores", ri->threads, ri->cores);
    if (ri->n_gpus > 0 && ri->local_size > ri->n_gpus && k < note_n)
        snprintf(note + k, note_n - k, " (warning: %d ranks share %d GPUs on %s)", ri->local_size, ri->n_gpus, ri->host);
    return 0;
}

int queue_create(WorkQueue *q, Err *e) {
    int rank;
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    MPI_Aint bytes = rank == 0 ? (MPI_Aint)(2 * sizeof(long)) : 0;
    MPI_CHECK(MPI_Win_allocate(bytes, sizeof(long), MPI_INFO_NULL, MPI_COMM_WORLD, &q->mem, &q->win));
    MPI_CHECK(MPI_Win_set_errhandler(q->win, MPI_ERRORS_RETURN));
    if (rank == 0) {
        MPI_CHECK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, q->win));
        q->mem[0] = 0, q->mem[1] = 0;
        MPI_CHECK(MPI_Win_unlock(0, q->win));
    }
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
    return 0;
}

int queue_claim(WorkQueue *q, long *index, int *stop, Err *e) {
    long one = 1, zero = 0, flag = 0;
    MPI_CHECK(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, q->win));
    MPI_CHECK(MPI_Fetch_and_op(&one, index, MPI_LONG, 0, 0, MPI_SUM, q->win));
    MPI_CHECK(MPI_Fetch_and_op(&zero, &flag, MPI_LONG, 0, 1, MPI_NO_OP, q->win));
    MPI_CHECK(MPI_Win_unlock(0, q->win));
    *stop = flag != 0;
    return 0;
}

int queue_request_stop(WorkQueue *q, Err *e) {
    long one = 1, old;
    MPI_CHECK(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, q->win));
    MPI_CHECK(MPI_Fetch_and_op(&one, &old, MPI_LONG, 0, 1, MPI_REPLACE, q->win));
    MPI_CHECK(MPI_Win_unlock(0, q->win));
    return 0;
}

int queue_stop_requested(WorkQueue *q, int *stop, Err *e) {
    long zero = 0, flag = 0;
    MPI_CHECK(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, q->win));
    MPI_CHECK(MPI_Fetch_and_op(&zero, &flag, MPI_LONG, 0, 1, MPI_NO_OP, q->win));
    MPI_CHECK(MPI_Win_unlock(0, q->win));
    *stop = flag != 0;
    return 0;
}

int queue_free(WorkQueue *q, Err *e) {
    MPI_CHECK(MPI_Win_free(&q->win));
    q->mem = NULL;
    return 0;
}
