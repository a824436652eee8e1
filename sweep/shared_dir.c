#include "shared_dir.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"

/* Rank 0: <dir>/.shared-check.<host>.<pid>.<ns>, holding nothing; name is its basename. */
static int write_token(const char *dir, const RankInfo *ri, char *name, size_t n, Err *e) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(name, n, ".shared-check.%s.%ld.%ld", ri->host, (long)getpid(), (long)ts.tv_nsec);
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return err_fail(e, "path too long: %s", dir);
    if (fs_mkdir_p(dir, e)) return -1;
    return fs_write_atomic(path, ri->host, strlen(ri->host), e);
}

int dir_shared_check(const char *dir, const RankInfo *ri, SharedCheck *out, Err *e) {
    char name[160] = "";
    Err local = {{0}};
    int failed = ri->rank == 0 && write_token(dir, ri, name, sizeof name, &local) != 0, any_failed = 0;
    MPI_CHECK(MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    if (any_failed) return ri->rank == 0 ? err_fail(e, "%s", local.msg) : err_fail(e, "rank 0 could not write into %s", dir);
    MPI_CHECK(MPI_Bcast(name, (int)sizeof name, MPI_CHAR, 0, MPI_COMM_WORLD));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int blind = fs_exists(path) ? INT_MAX : ri->rank;
    MPI_CHECK(MPI_Allreduce(&blind, &out->blind_rank, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    out->shared = out->blind_rank == INT_MAX;
    memset(out->blind_host, 0, sizeof out->blind_host);
    if (!out->shared) {
        snprintf(out->blind_host, sizeof out->blind_host, "%s", ri->host);
        MPI_CHECK(MPI_Bcast(out->blind_host, (int)sizeof out->blind_host, MPI_CHAR, out->blind_rank, MPI_COMM_WORLD));
    }
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));   /* everyone looked: the token can go */
    if (ri->rank == 0) unlink(path);
    return 0;
}
