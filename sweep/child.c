#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

/* In the child, between fork and exec: only async-signal-safe calls. */
static void exec_child(char *const argv[], int log_fd, pid_t parent) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(130);          /* the rank died before prctl */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execv(argv[0], argv);
    static const char msg[] = "sweep: exec of the trainer failed\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(127);
}

static void log_header(int fd, char *const argv[]) {
    char line[4096];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    size_t k = strftime(line, sizeof line, "\n== %Y-%m-%d %H:%M:%S sweep runs:", &tm);
    for (int i = 0; argv[i] && k < sizeof line; i++) k += (size_t)snprintf(line + k, sizeof line - k, " %s", argv[i]);
    if (k < sizeof line) k += (size_t)snprintf(line + k, sizeof line - k, "\n");
    if (k > sizeof line) k = sizeof line;
    ssize_t w = write(fd, line, k);
    (void)w;
}

/* Sleeps up to 100 ms, less when *watch_fd becomes readable; stops watching a closed peer. */
static void nap_or_wake(int *watch_fd) {
    if (*watch_fd < 0) {
        struct timespec nap = {0, 100 * 1000 * 1000};
        nanosleep(&nap, NULL);
        return;
    }
    struct pollfd p = {.fd = *watch_fd, .events = POLLIN};
    if (poll(&p, 1, 100) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) *watch_fd = -1;
}

int child_run(char *const argv[], const char *log_path, ChildPoll poll, void *ctx, ChildResult *r, Err *e) {
    return child_run_linked(argv, log_path, poll, ctx, -1, -1, r, e);
}

int child_run_linked(char *const argv[], const char *log_path, ChildPoll poll, void *ctx, int child_fd, int watch_fd,
                     ChildResult *r, Err *e) {
    memset(r, 0, sizeof *r);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        int er = errno;
        if (child_fd >= 0) close(child_fd);
        return err_fail(e, "%s: cannot open log: %s", log_path, strerror(er));
    }
    log_header(fd, argv);
    double t0 = now_seconds();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) exec_child(argv, fd, parent);
    int er = errno;
    close(fd);
    if (child_fd >= 0) close(child_fd);   /* the child's end: only the child holds it now */
    if (pid < 0) return err_fail(e, "fork failed: %s", strerror(er));
    int status = 0, killed = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) return err_fail(e, "waitpid failed: %s", strerror(errno));
        int want = poll ? poll(ctx) : 0;
        if (want >= 1 && !r->stop_requested) r->stop_requested = 1, kill(pid, SIGTERM);
        if (want >= 2 && !killed) killed = 1, kill(pid, SIGKILL);
        nap_or_wake(&watch_fd);
    }
    r->seconds = now_seconds() - t0;
    if (WIFEXITED(status)) r->exited = 1, r->code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r->signaled = 1, r->signal = WTERMSIG(status);
    return 0;
}

void child_describe(const ChildResult *r, char *out, size_t n) {
    if (r->exited) snprintf(out, n, "exit %d", r->code);
    else if (r->signaled) snprintf(out, n, "signal %d (%s)%s", r->signal, strsignal(r->signal),
                                   r->signal == SIGKILL ? ": killed, perhaps out of memory" : "");
    else snprintf(out, n, "unknown wait status");
}
