#include "trial_link.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int trial_link_open(TrialLink *l, Err *e) {
    int fds[2];
    *l = (TrialLink){.rank_fd = -1, .child_fd = -1};
    /* Plain pair: the child's end must survive exec; ours is made close-on-exec (a later
     * trainer must not hold it) and non-blocking (read from the ~100 ms poll). */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return err_fail(e, "socketpair failed: %s", strerror(errno));
    if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) {
        int er = errno;
        close(fds[0]), close(fds[1]);
        return err_fail(e, "fcntl on the trainer link failed: %s", strerror(er));
    }
    l->rank_fd = fds[0], l->child_fd = fds[1];
    return 0;
}

void trial_link_close(TrialLink *l) {
    if (l->rank_fd >= 0) close(l->rank_fd);
    if (l->child_fd >= 0) close(l->child_fd);
    l->rank_fd = l->child_fd = -1;
    l->n = 0;
}

/* The line in buf[0..n) ends at a newline: parse "epoch E". */
static int parse_line(TrialLink *l, size_t end, int *epoch, Err *e) {
    l->buf[end] = 0;
    char *stop;
    long v = strncmp(l->buf, "epoch ", 6) == 0 ? strtol(l->buf + 6, &stop, 10) : -1;
    int ok = v >= 0 && v < 1000000000L && stop != l->buf + 6 && *stop == 0;
    char line[sizeof l->buf];
    snprintf(line, sizeof line, "%s", l->buf);
    l->n -= end + 1;
    memmove(l->buf, l->buf + end + 1, l->n);
    if (!ok) {
        trial_link_close(l);
        return err_fail(e, "the trainer sent '%s' on its --prune-fd link (expected 'epoch E')", line);
    }
    *epoch = (int)v;
    return 1;
}

int trial_link_next(TrialLink *l, int *epoch, Err *e) {
    if (l->rank_fd < 0) return 0;
    for (;;) {
        char *nl = memchr(l->buf, '\n', l->n);
        if (nl) return parse_line(l, (size_t)(nl - l->buf), epoch, e);
        if (l->n + 1 >= sizeof l->buf) {
            trial_link_close(l);
            return err_fail(e, "the trainer sent an over-long line on its --prune-fd link");
        }
        ssize_t r = read(l->rank_fd, l->buf + l->n, sizeof l->buf - 1 - l->n);
        if (r > 0) { l->n += (size_t)r; continue; }
        if (r < 0 && errno == EINTR) continue;
        return 0;   /* nothing yet (EAGAIN), or the trainer is gone (EOF) */
    }
}

int trial_link_answer(TrialLink *l, int stop, Err *e) {
    const char *msg = stop ? "stop\n" : "continue\n";
    size_t n = strlen(msg);
    if (l->rank_fd < 0) return 0;
    /* A few bytes into an empty socket buffer: never short unless the trainer is gone. */
    if (send(l->rank_fd, msg, n, MSG_NOSIGNAL) != (ssize_t)n) return err_fail(e, "cannot answer the trainer: %s", strerror(errno));
    return 0;
}
