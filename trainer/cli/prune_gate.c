#include "cli/prune_gate.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Waits for readable data, 200 ms at a time, so a stop signal is seen within that even
 * when it lands just before the wait. 1 readable, 0 stop raised, -1 error. */
static int wait_readable(const PruneGate *g) {
    for (;;) {
        if (g->stop && *g->stop) return 0;
        struct pollfd p = {.fd = g->fd, .events = POLLIN};
        int n = poll(&p, 1, 200);
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return -1;
    }
}

/* One reply line into buf (without the newline). 1 read, 0 stop raised, -1 error or EOF. */
static int read_line(const PruneGate *g, char *buf, size_t n) {
    size_t k = 0;
    while (k + 1 < n) {
        int w = wait_readable(g);
        if (w <= 0) return w;
        ssize_t r = read(g->fd, buf + k, 1);   /* byte by byte: never read past the line */
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        if (buf[k] == '\n') { buf[k] = 0; return 1; }
        k++;
    }
    return -1;
}

static int broken(PruneGate *g, const char *what) {
    g->broken = 1;
    if (g->log) fprintf(g->log, "early stopping: %s; the trial runs its whole budget\n", what), fflush(g->log);
    return 0;
}

int prune_gate_ask(void *ctx, int epoch) {
    PruneGate *g = ctx;
    if (g->fd < 0 || g->broken) return 0;
    char line[64];
    int n = snprintf(line, sizeof line, "epoch %d\n", epoch);
    if (send(g->fd, line, (size_t)n, MSG_NOSIGNAL) != n) return broken(g, "cannot send to --prune-fd");
    int r = read_line(g, line, sizeof line);
    if (r == 0) return -1;
    if (r < 0) return broken(g, "no answer on --prune-fd");
    if (!strcmp(line, "continue")) return 0;
    if (!strcmp(line, "stop")) return 1;
    return broken(g, "unexpected answer on --prune-fd");
}
