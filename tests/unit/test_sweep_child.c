/* Trial subprocesses (sweep/child.c): exit codes, signals, stop forwarding, logs; the
 * early-stopping link to a child (sweep/trial_link.c), whose trainer end is played by a shell. */
#include "../../sweep/child.c"
#include "../../sweep/trial_link.c"

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

/* The rank's side of a link: answers each "epoch E" with stop once E reaches stop_at. */
typedef struct LinkRank { TrialLink *link; int stop_at, reports, last_epoch, bad; } LinkRank;

static int poll_link(void *ctx) {
    LinkRank *lr = ctx;
    int epoch, rc;
    Err e;
    while ((rc = trial_link_next(lr->link, &epoch, &e)) == 1) {
        lr->reports++, lr->last_epoch = epoch;
        if (trial_link_answer(lr->link, epoch >= lr->stop_at, &e)) lr->bad++;
    }
    if (rc < 0) lr->bad++;
    return 0;
}

/* A shell "trainer": reports epochs 0.. on fd N, obeys the answers (exit 4 on stop). */
static void link_run(const char *body, const char *log, LinkRank *lr, ChildResult *r, Err *e) {
    TrialLink link;
    CHECK_OK(trial_link_open(&link, e), e);
    lr->link = &link;
    char script[512];
    snprintf(script, sizeof script, body, link.child_fd, link.child_fd, link.child_fd);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    CHECK_OK(child_run_linked(argv, log, poll_link, lr, link.child_fd, link.rank_fd, r, e), e);
    link.child_fd = -1;
    trial_link_close(&link);
}

static void test_link(const char *log) {
    ChildResult r;
    Err e;
    const char *trainer = "e=0; while [ $e -lt 9 ]; do echo \"epoch $e\" >&%d; read a <&%d; "
                          "[ \"$a\" = stop ] && exit 4; [ \"$a\" = continue ] || exit 9; e=$((e + 1)); done; exit 0";
    LinkRank lr = {.stop_at = 3};
    link_run(trainer, log, &lr, &r, &e);
    CHECK(r.exited && r.code == 4 && lr.reports == 4 && lr.last_epoch == 3 && !lr.bad,
          "stop after epoch 3: exit %d, %d reports, last %d, %d bad", r.code, lr.reports, lr.last_epoch, lr.bad);
    LinkRank never = {.stop_at = 100};
    link_run(trainer, log, &never, &r, &e);
    CHECK(r.exited && r.code == 0 && never.reports == 9, "all continue: exit %d, %d reports", r.code, never.reports);
    LinkRank garbage = {.stop_at = 100};
    link_run("echo 'hello' >&%d; sleep 0.2; exit 0", log, &garbage, &r, &e);
    CHECK(r.exited && r.code == 0 && garbage.bad == 1 && garbage.reports == 0, "a line off the protocol is reported once");
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

    test_link(log);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_END();
}
