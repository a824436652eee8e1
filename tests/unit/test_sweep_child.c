/* Trial subprocesses (sweep/child.c): exit codes, signals, stop forwarding, logs. */
#include "../../sweep/child.c"

#include <stdlib.h>

#include "core/fsutil.h"
#include "test_util.h"

typedef struct PollCount { int calls, stop_after, level; } PollCount;

static int poll_stop(void *ctx) {
    PollCount *p = ctx;
    return ++p->calls >= p->stop_after ? p->level : 0;
}

static int run_sh(const char *script, const char *log, PollCount *pc, ChildResult *r, Err *e) {
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    return child_run(argv, log, pc ? poll_stop : NULL, pc, r, e);
}

int main(void) {
    char dir[] = "/tmp/test_sweep_child.XXXXXX", log[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(log, sizeof log, "%s/console.log", dir);
    ChildResult r;
    Err e;

    CHECK_OK(run_sh("echo hello; echo oops >&2; exit 3", log, NULL, &r, &e), &e);
    CHECK(r.exited && r.code == 3 && !r.signaled, "exit code 3: %d", r.code);
    char *text = NULL;
    CHECK_OK(fs_read_all(log, &text, NULL, &e), &e);
    CHECK(text && strstr(text, "hello\noops\n") && strstr(text, "== "), "stdout and stderr go to the log: %s", text);
    free(text);

    CHECK_OK(run_sh("kill -9 $$", log, NULL, &r, &e), &e);
    CHECK(r.signaled && r.signal == 9, "killed by signal 9");
    char how[160];
    child_describe(&r, how, sizeof how);
    CHECK(strstr(how, "signal 9") && strstr(how, "out of memory"), "%s", how);

    /* A trainer-like child: on SIGTERM it "saves" and exits 130. */
    PollCount pc = {0, 3, 1};
    CHECK_OK(run_sh("trap 'echo saved; exit 130' TERM; while true; do sleep 0.05; done", log, &pc, &r, &e), &e);
    CHECK(r.stop_requested && r.exited && r.code == 130, "stop forwarded, child exits 130 (code %d)", r.code);

    /* A child that ignores SIGTERM is killed on the second request level. */
    PollCount hard = {0, 3, 2};
    CHECK_OK(run_sh("trap '' TERM; while true; do sleep 0.05; done", log, &hard, &r, &e), &e);
    CHECK(r.signaled && r.signal == 9, "level 2 kills");

    char *missing[] = {"/nonexistent/trainer", NULL};
    CHECK_OK(child_run(missing, log, NULL, NULL, &r, &e), &e);
    CHECK(r.exited && r.code == 127, "exec failure is exit 127: %d", r.code);
    char badlog[300];
    snprintf(badlog, sizeof badlog, "%s/no/such/dir/log", dir);
    CHECK(run_sh("true", badlog, NULL, &r, &e) != 0 && strstr(e.msg, "cannot open log"), "%s", e.msg);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_END();
}
