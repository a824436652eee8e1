/* The rank's end of `trainer train --prune-fd N` (the protocol: trainer/cli/prune_gate.h):
 * an AF_UNIX stream socket pair, the rank's end non-blocking and close-on-exec, the child's
 * end inherited by the trainer. The trainer says "epoch E\n" after an epoch and waits for
 * "continue\n" or "stop\n". */
#ifndef SWEEP_TRIAL_LINK_H
#define SWEEP_TRIAL_LINK_H

#include <stddef.h>

#include "core/error.h"

typedef struct TrialLink {
    int rank_fd;                /* ours; -1 = closed */
    int child_fd;               /* the trainer's (its number goes on the command line); -1 once handed over */
    char buf[64];               /* a line being received */
    size_t n;
} TrialLink;

int trial_link_open(TrialLink *l, Err *e);
void trial_link_close(TrialLink *l);
/* Reads what has arrived without waiting: 1 and *epoch when a whole "epoch E" line is in,
 * 0 when there is none (yet, or the trainer closed its end), -1 on a line that is not the
 * protocol's (the link is then closed: the trainer reads that as "continue" for good). */
int trial_link_next(TrialLink *l, int *epoch, Err *e);
/* The answer to the last "epoch E": stop = 1 ends the trial (status pruned). */
int trial_link_answer(TrialLink *l, int stop, Err *e);

#endif
