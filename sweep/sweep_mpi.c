/* The sweep under MPI: phase 1 (feature cache shards), phase 2 (trials claimed from the
 * queue rank 0 serves, each run as a `trainer train` child), then rank 0 aggregates.
 * Rank 0 picks each next trial and answers early-stopping reports (adaptive.h); the rank
 * running a trial relays its trainer's epoch reports (trial_link.h). */
#include "sweep_run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "adaptive.h"
#include "changed_trials.h"
#include "child.h"
#include "core/clock.h"
#include "core/dir_lock.h"
#include "core/fsutil.h"
#include "cost.h"
#include "mpi_env.h"
#include "run_guard.h"
#include "shared_dir.h"
#include "trial_link.h"
#include "work_queue.h"

typedef struct Sweep {
    const SweepArgs *args;
    SweepPlan plan;
    RankInfo ri;
    WorkQueue queue;
    int have_queue;
    char trainer[SWEEP_PATH_MAX];
    int *todo, n_todo;              /* trial indices still to run, same on every rank */
    int next_todo;                  /* rank 0: the queue's cursor into todo */
    Progress progress;              /* rank 0 */
    volatile sig_atomic_t *signals; /* SIGINT/SIGTERM count, from the handler */
    int stop;                       /* stop claiming trials */
    double next_stop_file_check;    /* rank 0 */
    char running[SWEEP_PATH_MAX + TRIAL_ID_MAX + 16];   /* <trial>/running of the trial this rank runs, or "" */
    double next_heartbeat;          /* when to touch it again */
    FILE *log;                      /* <sweep>/logs/rank<R>.log */
    RunGuard guard;                 /* rank 0: the sweep's lock and sweep_status */
    DirLock trial_lock;             /* <trial>/.lock of the trial this rank runs */
    Adaptive ad;                    /* rank 0: the next trial, tpe's study, the pruner */
    int have_ad, adaptive_failed;   /* rank 0: opened; a draw or a tell failed (exit 1) */
    TrialLink link;                 /* early stopping: to the running trainer (rank_fd -1: none) */
    int link_trial;
    SweepCost cost;                 /* what phase 1 and 2 will do (cost.h) */
} Sweep;

static void rank_log(Sweep *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rank_log(Sweep *s, const char *fmt, ...) {
    if (!s->log) return;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(s->log, "%s rank %d: ", when, s->ri.rank);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(s->log, fmt, ap);
    va_end(ap);
    fputc('\n', s->log);
    fflush(s->log);
}

/* Every rank learns whether any rank failed; the lowest failing rank prints why. */
static int all_ok(int failed, const Err *e) {
    int rank = 0, mine, first = INT_MAX;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    mine = failed ? rank : INT_MAX;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS) first = rank;
    if (first == INT_MAX) return 1;
    if (first == rank) fprintf(stderr, "sweep: %s\n", e->msg);
    return 0;
}

static int find_trainer(const char *given, char *out, size_t n, Err *e) {
    char exe[SWEEP_PATH_MAX] = "", cand[4][SWEEP_PATH_MAX + 32];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    int k = 0;
    if (given) snprintf(cand[k++], sizeof cand[0], "%s", given);
    else {
        if (getenv("TRAINER")) snprintf(cand[k++], sizeof cand[0], "%s", getenv("TRAINER"));
        snprintf(cand[k++], sizeof cand[0], "%s/trainer", exe);
        snprintf(cand[k++], sizeof cand[0], "%s/../trainer/trainer", exe);
    }
    for (int i = 0; i < k; i++)
        if (access(cand[i], X_OK) == 0 && realpath(cand[i], out) && strlen(out) < n) return 0;
    return err_fail(e, "cannot find the trainer program (tried %s%s%s); use --trainer PATH or set TRAINER", cand[0],
                    k > 1 ? ", " : "", k > 1 ? cand[k - 1] : "");
}

/* Rank 0: drawing or telling failed (study.csv unwritable, ...): no more trials are
 * handed out and the sweep ends with status 1, saying why. */
static void adaptive_failure(Sweep *s, const Err *e) {
    s->adaptive_failed = 1;
    rank_log(s, "%s", e->msg);
    fprintf(stderr, "sweep: %s; no further trials are drawn\n", e->msg);
}

/* Rank 0 (queue hook): prints the status line for a trial that just finished on any rank. */
static void trial_finished(void *ctx, int rank, int t, int status) {
    Sweep *s = ctx;
    (void)status;
    if (t < 0 || t >= s->plan.ts.n) { rank_log(s, "rank %d reported an unknown trial %d", rank, t); return; }
    plan_reload_result(&s->plan, t);
    Err e;
    if (s->have_ad && adaptive_trial_done(&s->ad, t, &e)) adaptive_failure(s, &e);
    const TrialResult *r = &s->plan.results[t];
    progress_add(&s->progress, t, r->status, r->val_accuracy, 0);
    char line[1024];
    progress_line(&s->progress, &s->plan.ts, s->plan.spec.name, now_seconds(), line, sizeof line);
    printf("%s\n", line);
    fflush(stdout);
}

/* Rank 0 (queue hook): the next trial to run: the sweep file's order, or tpe's next draw. */
static long next_trial(void *ctx, int rank) {
    Sweep *s = ctx;
    (void)rank;
    long t = -1;
    Err e;
    if (!s->adaptive_failed && adaptive_next(&s->ad, s->todo, s->n_todo, &s->next_todo, &t, &e)) adaptive_failure(s, &e);
    return t;
}

/* Rank 0 (queue hook): a trial finished an epoch; 1 = stop it. */
static int epoch_report(void *ctx, int rank, int t, int epoch, double value) {
    Sweep *s = ctx;
    int stop = 0;
    Err e;
    if (adaptive_epoch(&s->ad, t, epoch, value, &stop, &e)) rank_log(s, "rank %d, trial %d, epoch %d: %s", rank, t, epoch, e.msg);
    return stop;
}

static void stop_file(const Sweep *s, char *out, size_t n) { snprintf(out, n, "%s/STOP", s->plan.sweep_dir); }

/* A stop asked for by a signal to this rank, or (rank 0, checked every second) by the file
 * <sweep>/STOP: the way to stop a sweep under mpirun with exit status 130 (mpirun itself
 * answers SIGINT/SIGTERM with status 1, whatever its ranks return). */
static int stop_asked(Sweep *s) {
    if (*s->signals) return 1;
    if (s->ri.rank != 0) return 0;
    double now = now_seconds();
    if (now < s->next_stop_file_check) return 0;
    s->next_stop_file_check = now + 1.0;
    char path[SWEEP_PATH_MAX + 16];
    stop_file(s, path, sizeof path);
    return fs_exists(path);
}

/* Rank 0: once a stop is asked, sweep_status says interrupted at once (mpirun SIGKILLs the
 * ranks a second after its SIGTERM: the end of the run may never come). */
static void say_stopping(Sweep *s) {
    if (s->stop && s->ri.rank == 0) run_guard_interrupted(&s->guard);
}

static void note_signal(Sweep *s) {
    say_stopping(s);
    if (s->stop || !stop_asked(s)) return;
    s->stop = 1;
    say_stopping(s);
    Err e;
    if (s->have_queue && queue_request_stop(&s->queue, &e)) rank_log(s, "%s", e.msg);
    rank_log(s, "%s: stopping after the running trial saves its epoch", *s->signals ? "SIGINT/SIGTERM" : "STOP file");
    if (s->ri.rank == 0) {
        printf("[%s] stopping: running trials save their last epoch; rerun the same command to resume\n", s->plan.spec.name);
        fflush(stdout);
    }
}

/* Queue hook: a rank waiting on the queue still notices a signal or the STOP file. */
static void queue_idle(void *ctx) { note_signal(ctx); }

/* The running marker's mtime is the rank's heartbeat (every 30 s): `sweep --status` on any
 * node tells a live run from one whose node died. */
static void heartbeat(Sweep *s) {
    double now = now_seconds();
    if (!s->running[0] || now < s->next_heartbeat) return;
    s->next_heartbeat = now + HEARTBEAT_SECONDS;
    utimes(s->running, NULL);
}

/* The running trainer finished `epoch`: its train_log.csv row goes to rank 0, the answer
 * back to the trainer. A row that cannot be read is never a reason to stop a trial. */
static void relay_epoch(Sweep *s, int epoch) {
    int t = s->link_trial, stop = 0;
    const char *metric = s->plan.spec.early_stop.metric;
    char dir[SWEEP_PATH_MAX + TRIAL_ID_MAX], path[sizeof dir + 32];
    plan_trial_dir(&s->plan, t, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/train_log.csv", dir);
    double value = NAN;
    Err e;
    if (pruner_log_value(path, metric, epoch, &value, &e)) rank_log(s, "trial %s: %s (it goes on)", s->plan.ts.trials[t].id, e.msg);
    else if (queue_report_epoch(&s->queue, t, epoch, value, &stop, &e)) rank_log(s, "%s", e.msg);
    if (trial_link_answer(&s->link, stop, &e)) rank_log(s, "trial %s: %s", s->plan.ts.trials[t].id, e.msg);
    if (stop) rank_log(s, "trial %s: stopped after epoch %d (%s %g) by early_stop", s->plan.ts.trials[t].id, epoch, metric, value);
}

static void serve_link(Sweep *s) {
    int epoch, rc;
    Err e;
    while ((rc = trial_link_next(&s->link, &epoch, &e)) == 1) relay_epoch(s, epoch);
    if (rc < 0) rank_log(s, "trial %s: %s", s->plan.ts.trials[s->link_trial].id, e.msg);
}

/* Called every ~100 ms while a child runs (at once when its trainer reports an epoch):
 * the report, signals, the STOP file, the heartbeat, and the queue (rank 0 answers
 * requests; every rank learns of a stop). */
static int poll_child(void *ctx) {
    Sweep *s = ctx;
    serve_link(s);
    if (*s->signals >= 2) return 2;
    note_signal(s);
    heartbeat(s);
    Err e;
    if (s->have_queue && queue_poll(&s->queue, &e)) rank_log(s, "%s", e.msg);
    if (s->have_queue && s->queue.stop && !s->stop) s->stop = 1, rank_log(s, "another rank asked to stop");
    say_stopping(s);
    return s->stop ? 1 : 0;
}

/* argv for a trainer command; bufs hold the numbers. */
static void trainer_argv(Sweep *s, char **argv, const char *cmd, const char *cfg, int use_gpu, char bufs[3][32]) {
    int k = 0;
    snprintf(bufs[0], 32, "%d", s->ri.threads);
    snprintf(bufs[1], 32, "%d", s->ri.gpu);
    argv[k++] = s->trainer;
    argv[k++] = (char *)cmd;
    argv[k++] = (char *)cfg;
    argv[k++] = "--threads";
    argv[k++] = bufs[0];
    if (use_gpu && s->ri.gpu >= 0) argv[k++] = "--gpu", argv[k++] = bufs[1];
    argv[k] = NULL;
}

/* Last meaningful line of a trial's console.log (then trainer.log), for failure messages. */
static void last_log_line(const char *dir, char *out, size_t n) {
    const char *names[] = {"console.log", "trainer.log"};
    out[0] = 0;
    for (int i = 0; i < 2 && !out[0]; i++) {
        char path[SWEEP_PATH_MAX + TRIAL_ID_MAX + 64], *text;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (fs_read_all(path, &text, NULL, NULL)) continue;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
            if (line[0] && strncmp(line, "== ", 3) != 0 && strcmp(line, "\r") != 0) snprintf(out, n, "%s", line);
        free(text);
    }
}

static SweepTrialStatus record_outcome(Sweep *s, int t, const char *dir, const ChildResult *cr) {
    const char *id = s->plan.ts.trials[t].id;
    char how[160], line[400], msg[800];
    child_describe(cr, how, sizeof how);
    /* A trial we asked to stop did not get its chance to finish: whatever it says
     * short of done or diverged, a rerun continues it (its failure record is kept). */
    int finished = cr->exited && (cr->code == 0 || cr->code == 3 || cr->code == 4);   /* done, diverged, pruned */
    if ((cr->exited && cr->code == 130) || (cr->stop_requested && !finished)) {
        char from[SWEEP_PATH_MAX + TRIAL_ID_MAX + 32], to[sizeof from + 16];
        snprintf(from, sizeof from, "%s/result.csv", dir);
        snprintf(to, sizeof to, "%s/result.interrupted.csv", dir);
        if (fs_exists(from) && rename(from, to) != 0) rank_log(s, "trial %s: cannot rename %s: %s", id, from, strerror(errno));
        rank_log(s, "trial %s: interrupted (%s) after %.1fs; a rerun continues it", id, how, cr->seconds);
        return STATUS_INTERRUPTED;
    }
    TrialResult r;
    result_read(dir, &r);
    SweepTrialStatus st = r.status;
    result_free(&r);
    if (!status_finished(st) && st != STATUS_FAILED) {
        last_log_line(dir, line, sizeof line);
        if (cr->exited && cr->code == 127) snprintf(msg, sizeof msg, "could not execute %s", s->trainer);
        else snprintf(msg, sizeof msg, "trainer ended with %s and wrote no result.csv%s%s", how, line[0] ? ": " : "", line);
        Err e;
        if (result_write_failure(dir, id, msg, cr->seconds, &e)) rank_log(s, "trial %s: %s", id, e.msg);
        st = STATUS_FAILED;
    }
    rank_log(s, "trial %s: %s (%s) in %.1fs", id, status_name(st), how, cr->seconds);
    return st;
}

/* Holds <trial>/.lock (core/dir_lock.h) for as long as the trial's trainer lives: the
 * trainer inherits the descriptor and adopts the lock, so a trainer left running by a killed
 * rank keeps it. A rerun waits for such a trainer (or for a `trainer train` someone started
 * on the folder) instead of running a second one on it, saying whose it is.
 * Returns 0 held, 1 when stopped while waiting, -1 when the lock cannot be made (the trial
 * then runs unlocked: its trainer still takes the lock itself). */
static int lock_trial(Sweep *s, const char *dir, const char *id) {
    char path[SWEEP_PATH_MAX + TRIAL_ID_MAX + 16], what[96], note[600];
    snprintf(path, sizeof path, "%s/.lock", dir);
    snprintf(what, sizeof what, "sweep %s rank %d", s->plan.spec.name, s->ri.rank);
    DirLockHolder held;
    Err e;
    for (int told = 0;;) {
        int rc = dir_lock_try(&s->trial_lock, path, what, DIR_LOCK_INHERITABLE, &held, note, sizeof note, &e);
        if (rc < 0) { rank_log(s, "trial %s: %s (running it unlocked)", id, e.msg); return -1; }
        if (rc == 0) {
            if (note[0]) rank_log(s, "trial %s: %s", id, note);
            return 0;
        }
        if (!told++) {
            rank_log(s, "trial %s: waiting: %s", id, e.msg);
            printf("[%s] trial %s: waiting for its folder: %s\n", s->plan.spec.name, id, e.msg);
            fflush(stdout);
        }
        if (poll_child(s)) return 1;
        struct timespec nap = {0, 200 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

/* <trial>/running while this rank runs it: "host rank pid unix-start-time", for
 * `sweep --status` (which reads files only), touched every HEARTBEAT_SECONDS. A rank killed
 * with -9 leaves it behind: --status then sees its process gone (same host) or its heartbeat
 * stale (any host). */
static void mark_running(Sweep *s, const char *dir, const char *id) {
    char text[160];
    snprintf(s->running, sizeof s->running, "%s/running", dir);
    int n = snprintf(text, sizeof text, "%s %d %ld %ld\n", s->ri.host, s->ri.rank, (long)getpid(), (long)time(NULL));
    Err e;
    if (fs_write_atomic(s->running, text, (size_t)n, &e)) rank_log(s, "trial %s: %s", id, e.msg);
    s->next_heartbeat = now_seconds() + HEARTBEAT_SECONDS;
}

static void unmark_running(Sweep *s) {
    unlink(s->running);
    s->running[0] = 0;
}

/* Early stopping: the trainer gets a link to this rank (--prune-fd N; N in num). */
static int open_link(Sweep *s, int t, char **argv, char *num, Err *e) {
    if (s->plan.spec.early_stop.method == PRUNE_NONE) return 0;
    if (trial_link_open(&s->link, e)) return -1;
    s->link_trial = t;
    snprintf(num, 32, "%d", s->link.child_fd);
    int k = 0;
    while (argv[k]) k++;
    argv[k++] = "--prune-fd", argv[k++] = num, argv[k] = NULL;
    return 0;
}

static void run_trial(Sweep *s, int t) {
    const SweepTrial *tr = &s->plan.ts.trials[t];
    char dir[SWEEP_PATH_MAX + TRIAL_ID_MAX], cfg[sizeof dir + 16], log[sizeof dir + 16], bufs[3][32];
    plan_trial_dir(&s->plan, t, dir, sizeof dir);
    snprintf(cfg, sizeof cfg, "%s/config.yaml", dir);
    snprintf(log, sizeof log, "%s/console.log", dir);
    char *argv[16];
    trainer_argv(s, argv, "train", cfg, tr->cfg.train.device != DEVICE_CPU, bufs);
    int k = 0;
    while (argv[k]) k++;
    argv[k++] = "--out", argv[k++] = dir, argv[k++] = "--quiet", argv[k] = NULL;
    if (lock_trial(s, dir, tr->id) > 0) return;   /* interrupted while waiting for it */
    ChildResult cr;
    Err e;
    SweepTrialStatus st;
    int rc = open_link(s, t, argv, bufs[2], &e);
    rank_log(s, "trial %s: start (%d threads, gpu %d)", tr->id, s->ri.threads, s->ri.gpu);
    mark_running(s, dir, tr->id);
    if (rc == 0) rc = child_run_linked(argv, log, poll_child, s, s->link.child_fd, s->link.rank_fd, &cr, &e);
    s->link.child_fd = -1;   /* child_run_linked closed it */
    trial_link_close(&s->link);
    unmark_running(s);
    dir_lock_release(&s->trial_lock);
    if (rc) {
        rank_log(s, "trial %s: %s", tr->id, e.msg);
        Err e2;
        if (result_write_failure(dir, tr->id, e.msg, 0, &e2)) rank_log(s, "trial %s: %s", tr->id, e2.msg);
        st = STATUS_FAILED;
    } else {
        st = record_outcome(s, t, dir, &cr);
    }
    if (st == STATUS_INTERRUPTED) return;
    Err qe;
    if (queue_trial_done(&s->queue, t, (int)st, &qe)) rank_log(s, "%s", qe.msg);
}

/* Phase 1, one cache group: this rank computes shard `shard` of `shards`. Returns 0 ok,
 * 1 interrupted, 2 failed (on this rank). */
static int cache_group_shard(Sweep *s, int g, int first, int shard_k, int shards) {
    char dir[SWEEP_PATH_MAX + TRIAL_ID_MAX], cfg[sizeof dir + 16], log[SWEEP_PATH_MAX + 64], shard[32], bufs[3][32];
    plan_trial_dir(&s->plan, first, dir, sizeof dir);
    snprintf(cfg, sizeof cfg, "%s/config.yaml", dir);
    snprintf(log, sizeof log, "%s/logs/cache-group%d-rank%d.log", s->plan.sweep_dir, g + 1, s->ri.rank);
    snprintf(shard, sizeof shard, "%d/%d", shard_k, shards);
    char *argv[16];
    trainer_argv(s, argv, "cache-features", cfg, s->plan.ts.trials[first].cfg.train.device != DEVICE_CPU, bufs);
    int k = 0;
    while (argv[k]) k++;
    argv[k++] = "--shard", argv[k++] = shard, argv[k] = NULL;
    ChildResult cr;
    Err e;
    if (child_run(argv, log, poll_child, s, &cr, &e)) { rank_log(s, "cache group %d: %s", g + 1, e.msg); return 2; }
    char how[160];
    child_describe(&cr, how, sizeof how);
    rank_log(s, "cache group %d shard %s: %s in %.1fs", g + 1, shard, how, cr.seconds);
    if (cr.exited && cr.code == 0) return 0;
    if ((cr.exited && cr.code == 130) || cr.stop_requested) return 1;
    return 2;
}

/* Which shard this rank fills: over all ranks when every rank sees the cache folder, over
 * the node's ranks when it is node-local (each node then holds a whole copy, and a trial
 * never waits for, or reads, another node's part). */
static int cache_shard_of(Sweep *s, int g, int first, int *shard, int *shards, Err *e) {
    char dir[SWEEP_PATH_MAX + 64];
    plan_cache_dir(&s->plan, first, dir, sizeof dir);
    SharedCheck sc;
    if (dir_shared_check(dir, &s->ri, &sc, e)) return -1;
    *shard = sc.shared ? s->ri.rank : s->ri.local_rank;
    *shards = sc.shared ? s->ri.size : s->ri.local_size;
    rank_log(s, "cache group %d: %s is %s; this rank fills shard %d/%d", g + 1, dir,
             sc.shared ? "shared by every rank" : "node-local", *shard, *shards);
    if (!sc.shared && s->ri.rank == 0) {
        printf("[%s] phase 1: %s is not shared (rank %d on %s does not see it): each of the %d nodes fills its own copy\n",
               s->plan.spec.name, dir, sc.blind_rank, sc.blind_host, s->ri.n_nodes);
        fflush(stdout);
    }
    return 0;
}

/* MPI_MAX of v over every rank, sleeping (and serving the queue) while others still work. */
static int max_over_ranks(Sweep *s, int v, int *out, Err *e) {
    MPI_Request req;
    MPI_CHECK(MPI_Iallreduce(&v, out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &req));
    return queue_wait(&s->queue, &req, e);
}

/* Phase 1: backbone features once per cache group, the images split across ranks.
 * A group that fails here is not fatal: its trials run anyway and compute (or fail to
 * compute) their features themselves, and each failure is recorded with its message. */
static int phase1(Sweep *s, Err *e) {
    const TrialSet *ts = &s->plan.ts;
    for (int g = 0; g < ts->n_cache_groups; g++) {
        int first = plan_group_first(&s->plan, s->todo, s->n_todo, g), shard, shards;
        if (first < 0) continue;
        if (cache_shard_of(s, g, first, &shard, &shards, e)) return -1;
        if (s->ri.rank == 0) {
            printf("[%s] phase 1: backbone features, cache group %d of %d (%d views; first trial %s), %d shard%s\n",
                   s->plan.spec.name, g + 1, ts->n_cache_groups, ts->trials[first].cfg.feature_cache.views, ts->trials[first].id,
                   shards, shards == 1 ? "" : "s");
            fflush(stdout);
        }
        note_signal(s);
        int mine = s->stop ? 1 : cache_group_shard(s, g, first, shard, shards), worst = 0;
        if (mine == 1 && !s->stop) s->stop = 1, queue_request_stop(&s->queue, e);
        if (max_over_ranks(s, mine, &worst, e)) return -1;
        if (worst == 2 && s->ri.rank == 0) {
            printf("[%s] phase 1: cache group %d failed (see %s/logs/cache-group%d-*.log); its trials will report why\n",
                   s->plan.spec.name, g + 1, s->plan.sweep_dir, g + 1);
            fflush(stdout);
        }
        if (worst == 1) s->stop = 1;
        if (s->stop) break;
    }
    return 0;
}

/* Before any work: every rank finds the tables and measures the backbone at once (the
 * rates add up to the sweep's), rank 0 says what phase 1 and 2 will do, and a cache over
 * its limit stops the sweep on every rank. A plan that cannot be made (the data cannot be
 * listed) is said and skipped: the trials then report the problem themselves. */
static int announce_cost(Sweep *s, Err *e) {
    Err local = {{0}};
    int ok = cost_plan(&s->cost, &s->plan, s->todo, s->n_todo, s->ri.threads, s->ri.gpu, &local) == 0, all_planned = 0;
    if (ok) cost_measure(&s->cost, &s->plan);
    cost_free(&s->cost);
    MPI_CHECK(MPI_Allreduce(&ok, &all_planned, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    if (!all_planned) {
        s->cost.planned = 0;
        if (s->ri.rank == 0) printf("[%s] cost: unknown (%s)\n", s->plan.spec.name, ok ? "another rank could not plan" : local.msg);
        return 0;
    }
    s->cost.ranks = s->ri.size;
    for (int i = 0; i < s->cost.n_setups; i++) {
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &s->cost.setups[i].rate, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &s->cost.setups[i].setup_seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
    }
    if (s->ri.rank == 0) {
        char prefix[80];
        snprintf(prefix, sizeof prefix, "[%s] ", s->plan.spec.name);
        cost_print(&s->cost, stdout, prefix);
        fflush(stdout);
        if (cost_write(&s->cost, s->plan.sweep_dir, &local)) fprintf(stderr, "sweep: %s\n", local.msg);
    }
    if (!all_ok(cost_check_limit(&s->cost, &local) != 0, &local)) return err_fail(e, "%s", "");
    return 0;
}

/* Phase 1 and the time it took, next to the estimate (rank 0: printed and in cost.txt). */
static int timed_phase1(Sweep *s, Err *e) {
    double t0 = now_seconds();
    if (phase1(s, e)) return -1;
    if (s->ri.rank != 0 || s->stop || (s->cost.planned && !s->cost.groups)) return 0;
    char took[32], est[32] = "none";
    double estimate = s->cost.planned ? cost_seconds(&s->cost) : -1;
    cost_duration(now_seconds() - t0, took, sizeof took);
    if (estimate >= 0) cost_duration(estimate, est, sizeof est);
    printf("[%s] phase 1 done in %s (estimate %s)\n", s->plan.spec.name, took, est);
    fflush(stdout);
    Err local;
    if (cost_phase1_done(&s->cost, s->plan.sweep_dir, now_seconds() - t0, &local)) fprintf(stderr, "sweep: %s\n", local.msg);
    return 0;
}

static int phase2(Sweep *s, Err *e) {
    if (s->ri.rank == 0) progress_trials_start(&s->progress, now_seconds());
    for (;;) {
        note_signal(s);
        if (s->stop) break;
        long t;
        if (queue_claim(&s->queue, &t, e)) return -1;
        if (s->queue.stop) s->stop = 1;
        if (t < 0) break;
        if (t >= s->plan.ts.n && plan_sync_drawn(&s->plan, e)) return -1;   /* tpe: drawn by rank 0 since */
        if (t >= s->plan.ts.n) return err_fail(e, "rank 0 sent trial %ld of a sweep of %d", t, s->plan.ts.n);
        run_trial(s, (int)t);
    }
    return 0;
}

/* --runs must be a folder every rank sees: rank 0 writes the trial folders and the
 * summary, every rank writes into its trials' folders. Checked before any work. */
static int check_runs_shared(Sweep *s, Err *e) {
    SharedCheck sc;
    if (dir_shared_check(s->plan.sweep_dir, &s->ri, &sc, e)) return -1;
    if (sc.shared) return 0;
    return err_fail(e, "rank %d on host %s does not see %s, which rank 0 made on host %s: --runs must be a folder "
                    "every rank sees (a shared filesystem such as NFS, mounted at the same path on every node)",
                    sc.blind_rank, sc.blind_host, s->plan.sweep_dir, s->ri.host);
}

/* Rank 0, holding the sweep's lock: results as they are now, edits of trials that ran
 * (refused, or set aside), what runs, the folders, sweep_status, dead writers' temp files. */
static int prepare_run(Sweep *s, Err *e) {
    SweepPlan *p = &s->plan;
    for (int t = 0; t < p->ts.n; t++) plan_reload_result(p, t);
    if (plan_check_changes(p, s->args, stderr, e)) return -1;
    s->n_todo = plan_todo(p, s->args, s->todo);
    char path[SWEEP_PATH_MAX + 16];
    stop_file(s, path, sizeof path);
    unlink(path);   /* a STOP left from the last run was obeyed then */
    if (adaptive_open(&s->ad, &s->plan, s->todo, s->n_todo, e)) return -1;
    s->have_ad = 1;
    if (plan_prepare_dirs(p, s->args->file, s->todo, s->n_todo, e) || run_guard_start(&s->guard, e)) return -1;
    int removed = 0, strays = plan_count_strays(p);
    if (strays)
        printf("[%s] note: %d trial folder%s in %s %s not in this sweep file (an edited axis or draw): left as %s, outside the "
               "summary\n", p->spec.name, strays, strays == 1 ? "" : "s", p->sweep_dir, strays == 1 ? "is" : "are",
               strays == 1 ? "it is" : "they are");
    Err clean;
    if (run_guard_clean_tmp(p, &removed, &clean)) fprintf(stderr, "sweep: %s\n", clean.msg);
    if (removed) printf("[%s] removed %d temp file%s left by writers that died\n", p->spec.name, removed, removed == 1 ? "" : "s");
    return 0;
}

/* Rank 0 takes the sweep's lock, sets up the folders and decides what runs; every rank gets
 * the list. */
static int share_todo(Sweep *s, Err *e) {
    Err local = {{0}};
    int failed = 0;
    if (s->ri.rank == 0) failed = run_guard_take(&s->guard, &s->plan, s->ri.size, &local) || prepare_run(s, &local);
    if (!all_ok(failed, &local)) return err_fail(e, "%s", "");   /* already printed */
    MPI_CHECK(MPI_Bcast(&s->n_todo, 1, MPI_INT, 0, MPI_COMM_WORLD));
    MPI_CHECK(MPI_Bcast(s->todo, s->n_todo, MPI_INT, 0, MPI_COMM_WORLD));
    return 0;
}

static void start_progress(Sweep *s) {
    int in_scope = s->plan.capacity - s->plan.ts.n;   /* tpe: the trials still to draw */
    for (int t = 0; t < s->plan.ts.n; t++) in_scope += s->plan.selected[t];
    progress_init(&s->progress, in_scope, now_seconds());
    int skipped = 0, fallback = 0;
    for (int t = 0; t < s->plan.ts.n; t++) {
        const TrialResult *r = &s->plan.results[t];
        fallback |= s->plan.ts.trials[t].weights_fallback;
        if (!s->plan.selected[t] || s->plan.results[t].status == STATUS_PENDING || r->status == STATUS_INTERRUPTED) continue;
        int todo = 0;
        for (int k = 0; k < s->n_todo; k++) todo |= s->todo[k] == t;
        if (!todo) progress_add(&s->progress, t, r->status, r->val_accuracy, 1), skipped++;
    }
    if (fallback)
        printf("[%s] note: model.weights not found; using weights_fallback %s (%s:%d)\n", s->plan.spec.name,
               s->plan.spec.weights_fallback, s->plan.spec.file, s->plan.spec.weights_fallback_line);
    printf("[%s] %d trials, %d finished before, %d to run on %d rank%s (%d node%s); output %s\n", s->plan.spec.name, in_scope,
           skipped, s->n_todo, s->ri.size, s->ri.size == 1 ? "" : "s", s->ri.n_nodes, s->ri.n_nodes == 1 ? "" : "s",
           s->plan.sweep_dir);
    int failed = plan_count_failed(&s->plan);
    if (failed && !s->args->retry_failed)
        printf("[%s] %d trial%s failed before and %s skipped: rerun with --retry-failed to run %s again (their messages: "
               "summary.csv, report.md)\n", s->plan.spec.name, failed, failed == 1 ? "" : "s", failed == 1 ? "is" : "are",
               failed == 1 ? "it" : "them");
    fflush(stdout);
}

static int setup(Sweep *s, Err *e) {
    char note[512];
    int use_gpu = 0;
    for (int t = 0; t < s->plan.ts.n; t++) use_gpu |= s->plan.ts.trials[t].cfg.train.device != DEVICE_CPU;
    if (rank_info_init(&s->ri, s->args->threads, use_gpu, note, sizeof note, e)) return -1;
    Err local = {{0}};
    if (!all_ok(find_trainer(s->args->trainer, s->trainer, sizeof s->trainer, &local) != 0, &local))
        return err_fail(e, "%s", "");
    local.msg[0] = 0;
    if (!all_ok(check_runs_shared(s, &local) != 0, &local)) return err_fail(e, "%s", "");
    s->todo = calloc((size_t)s->plan.capacity + 1, sizeof *s->todo);
    TL_CHECK_ALLOC(e, s->todo);
    if (share_todo(s, e)) return -1;
    char path[SWEEP_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/logs/rank%d.log", s->plan.sweep_dir, s->ri.rank);
    s->log = fopen(path, "a");
    fprintf(stderr, "sweep: %s\n", note);
    rank_log(s, "%s; trainer %s", note, s->trainer);
    QueueHooks hooks = {.ctx = s, .next_item = next_trial, .trial_done = trial_finished, .idle = queue_idle,
                        .epoch_report = epoch_report};
    if (queue_create(&s->queue, &hooks, e)) return -1;
    s->have_queue = 1;
    if (s->ri.rank == 0) start_progress(s);
    return 0;
}

/* Everyone reports to rank 0, which prints the last line, writes the summary and sends
 * every rank the exit status. */
static int finish(Sweep *s, int failed_phase, Err *e) {
    int any_stop = 0, any_failed = 0, code = 0;
    if (queue_rank_done(&s->queue, failed_phase, &any_stop, &any_failed, e)) return -1;
    if (s->ri.rank == 0) {
        Err agg;
        if (plan_aggregate(&s->plan, &agg)) fprintf(stderr, "sweep: %s\n", agg.msg);
        int failed = plan_count_failed(&s->plan), unfinished = plan_count_unfinished(&s->plan);
        if (!any_stop && unfinished)
            printf("[%s] %d trial%s did not run to the end (see %s/logs/rank*.log); rerun the same command to run %s\n",
                   s->plan.spec.name, unfinished, unfinished == 1 ? "" : "s", s->plan.sweep_dir, unfinished == 1 ? "it" : "them");
        code = any_stop ? 130 : any_failed || failed || unfinished || s->adaptive_failed ? 1 : 0;
        char line[1024];
        progress_line(&s->progress, &s->plan.ts, s->plan.spec.name, now_seconds(), line, sizeof line);
        if (s->progress.finished == s->progress.finished_before) printf("%s\n", line);   /* none finished just now */
        printf("[%s] %s; summary %s/summary.csv, report %s/report.md\n", s->plan.spec.name,
               any_stop ? "interrupted: rerun the same command to resume" : failed ? "finished with failed trials" : "finished",
               s->plan.sweep_dir, s->plan.sweep_dir);
        fflush(stdout);
    }
    if (queue_finish(&s->queue, &code, e)) return -1;
    return code;
}

int sweep_run_mpi(const SweepArgs *a, volatile sig_atomic_t *signals) {
    Sweep s = {.args = a, .signals = signals, .link = {.rank_fd = -1, .child_fd = -1}};
    Err e = {{0}};
    int code;
    if (!all_ok(plan_load(&s.plan, a, 1, &e) != 0, &e)) code = 2;
    else if (setup(&s, &e)) {
        if (e.msg[0]) fprintf(stderr, "sweep: rank %d: %s\n", s.ri.rank, e.msg);
        code = 2;
    }
    else if (announce_cost(&s, &e)) code = 2;
    else {
        int failed_phase = timed_phase1(&s, &e) != 0;
        if (failed_phase) fprintf(stderr, "sweep: rank %d: %s\n", s.ri.rank, e.msg);
        if (!failed_phase && phase2(&s, &e)) {
            fprintf(stderr, "sweep: rank %d: %s\n", s.ri.rank, e.msg);
            failed_phase = 1;
        }
        code = finish(&s, failed_phase, &e);
        if (code < 0) fprintf(stderr, "sweep: rank %d: %s\n", s.ri.rank, e.msg), code = 1;
    }
    if (s.ri.rank == 0) run_guard_end(&s.guard, code);
    if (s.have_queue) queue_free(&s.queue);
    if (s.have_ad) adaptive_close(&s.ad);
    if (s.log) fclose(s.log);
    free(s.todo);
    plan_free(&s.plan);
    return code;
}
