/* Whether every rank sees the same folder: rank 0 writes a token file into it and every
 * rank looks for that file. Used for --runs (must be shared: the sweep refuses to start
 * otherwise) and for feature_cache.dir (may be node-local: then each node fills its own). */
#ifndef SWEEP_SHARED_DIR_H
#define SWEEP_SHARED_DIR_H

#include <stddef.h>

#include "core/error.h"
#include "mpi_env.h"

typedef struct SharedCheck {
    int shared;             /* 1: every rank saw rank 0's token */
    int blind_rank;         /* else: the lowest rank that did not */
    char blind_host[64];    /* and its host */
} SharedCheck;

/* Collective. Rank 0 creates dir (and its parents) first. Every rank gets the same answer. */
int dir_shared_check(const char *dir, const RankInfo *ri, SharedCheck *out, Err *e);

#endif
