/* Runs one `trainer` command as a child process of a rank, so a crash or an OOM kill
 * of a trial cannot take the rank down. The child gets its own process group (a
 * terminal Ctrl-C reaches only the sweep, which forwards it once) and SIGTERM when its
 * rank dies. Its stdout and stderr are appended to a log file, not the terminal. */
#ifndef SWEEP_CHILD_H
#define SWEEP_CHILD_H

#include "core/error.h"

/* Called about every 100 ms while the child runs. Returns 0 to keep going, 1 to ask the
 * child to stop (it gets SIGTERM once: it saves its epoch and exits 130), 2 to kill it. */
typedef int (*ChildPoll)(void *ctx);

typedef struct ChildResult {
    int exited, code;           /* normal exit and its status */
    int signaled, signal;       /* killed by a signal */
    int stop_requested;         /* we forwarded a stop to it */
    double seconds;             /* wall time */
} ChildResult;

/* argv[0] is the program path. log_path is opened for append (created as needed). */
int child_run(char *const argv[], const char *log_path, ChildPoll poll, void *ctx, ChildResult *r, Err *e);

/* The same, with a descriptor pair for talking to the child: the child inherits child_fd
 * (not close-on-exec; its number is on the command line) and the parent closes its copy
 * once the child runs (so child_fd is closed when this returns, also on failure to fork);
 * poll is also called as soon as watch_fd (the parent's end) is readable, not only every
 * 100 ms. -1, -1: as child_run. */
int child_run_linked(char *const argv[], const char *log_path, ChildPoll poll, void *ctx, int child_fd, int watch_fd,
                     ChildResult *r, Err *e);

/* "exit 1", "signal 9 (Killed)". */
void child_describe(const ChildResult *r, char *out, size_t n);

#endif
