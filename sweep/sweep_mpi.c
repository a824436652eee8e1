/* The sweep under MPI: phase 1 (feature cache shards), phase 2 (trials claimed from the
 * shared counter, each run as a `trainer train` child), then rank 0 aggregates. */
#include "sweep_run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "core/fsutil.h"
#include "mpi_env.h"

enum { TAG_DONE = 11, TAG_EXIT = 12 };

typedef struct Sweep {
    const SweepArgs *args;
    SweepPlan plan;
    RankInfo ri;
    WorkQueue queue;
    int have_queue;
    MPI_Comm comm;                  /* trial-finished messages to rank 0 */
    char trainer[SWEEP_PATH_MAX];
    int *todo, n_todo;              /* trial indices still to run, same on every rank */
    Progress progress;              /* rank 0 */
    volatile sig_atomic_t *signals; /* SIGINT/SIGTERM count, from the handler */
    int stop;                       /* stop claiming trials */
    int exits;                      /* rank 0: ranks that said they are done */
    double next_flag_check;
    FILE *log;                      /* <sweep>/logs/rank<R>.log */
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

/* Rank 0 prints the status line for a trial that just finished on any rank. */
static void trial_finished(Sweep *s, int t) {
    plan_reload_result(&s->plan, t);
    const TrialResult *r = &s->plan.results[t];
    progress_add(&s->progress, t, r->status, r->val_accuracy, 0);
    char line[1024];
    progress_line(&s->progress, &s->plan.ts, s->plan.spec.name, now_seconds(), line, sizeof line);
    printf("%s\n", line);
    fflush(stdout);
}

static void process_messages(Sweep *s) {
    for (;;) {
        int flag = 0, msg[2] = {0};
        MPI_Status st;
        if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, s->comm, &flag, &st) != MPI_SUCCESS || !flag) return;
        if (MPI_Recv(msg, 2, MPI_INT, st.MPI_SOURCE, st.MPI_TAG, s->comm, MPI_STATUS_IGNORE) != MPI_SUCCESS) return;
        if (st.MPI_TAG == TAG_EXIT) s->exits++;
        else if (msg[0] >= 0 && msg[0] < s->plan.ts.n) trial_finished(s, msg[0]);
    }
}

static void note_signal(Sweep *s) {
    if (!*s->signals || s->stop) return;
    s->stop = 1;
    Err e;
    if (queue_request_stop(&s->queue, &e)) rank_log(s, "%s", e.msg);
    rank_log(s, "SIGINT/SIGTERM: stopping after the running trial saves its epoch");
    if (s->ri.rank == 0) {
        printf("[%s] stopping: running trials save their last epoch; rerun the same command to resume\n", s->plan.spec.name);
        fflush(stdout);
    }
}

/* Called every ~100 ms while a child runs: signals, the shared stop flag, messages
 * (rank 0), and MPI progress for the one-sided counter (all ranks). */
static int poll_child(void *ctx) {
    Sweep *s = ctx;
    if (*s->signals >= 2) return 2;
    note_signal(s);
    if (s->ri.rank == 0) process_messages(s);
    else {
        int flag;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, s->comm, &flag, MPI_STATUS_IGNORE);
    }
    double now = now_seconds();
    if (!s->stop && now >= s->next_flag_check) {
        int stop = 0;
        Err e;
        s->next_flag_check = now + 1.0;
        if (queue_stop_requested(&s->queue, &stop, &e)) rank_log(s, "%s", e.msg);
        if (stop) s->stop = 1, rank_log(s, "another rank asked to stop");
    }
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

static TrialStatus record_outcome(Sweep *s, int t, const char *dir, const ChildResult *cr) {
    const char *id = s->plan.ts.trials[t].id;
    char how[160], line[400], msg[800];
    child_describe(cr, how, sizeof how);
    /* A trial we asked to stop did not get its chance to finish: whatever it says
     * short of done or diverged, a rerun continues it (its failure record is kept). */
    int finished = cr->exited && (cr->code == 0 || cr->code == 3);
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
    TrialStatus st = r.status;
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

/* Holds <trial>/.lock (flock) for as long as the trial's trainer lives: the trainer
 * inherits the descriptor, so a trainer left running by a killed rank keeps it. A rerun
 * waits for such a trainer instead of running a second one on the same folder.
 * Returns the descriptor, or -1 when stopped while waiting. */
static int lock_trial(Sweep *s, const char *dir, const char *id) {
    char path[SWEEP_PATH_MAX + TRIAL_ID_MAX + 16];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT, 0644);   /* no O_CLOEXEC: the trainer keeps it */
    if (fd < 0) { rank_log(s, "trial %s: %s: %s (running unlocked)", id, path, strerror(errno)); return INT_MAX; }
    int told = 0;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (!told++) rank_log(s, "trial %s: a trainer from an earlier run still holds %s; waiting for it", id, path);
        if (poll_child(s)) { close(fd); return -1; }
        struct timespec nap = {0, 200 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return fd;
}

static void run_trial(Sweep *s, int t) {
    const Trial *tr = &s->plan.ts.trials[t];
    char dir[SWEEP_PATH_MAX + TRIAL_ID_MAX], cfg[sizeof dir + 16], log[sizeof dir + 16], bufs[3][32];
    plan_trial_dir(&s->plan, t, dir, sizeof dir);
    snprintf(cfg, sizeof cfg, "%s/config.yaml", dir);
    snprintf(log, sizeof log, "%s/console.log", dir);
    char *argv[16];
    trainer_argv(s, argv, "train", cfg, tr->cfg.train.device != DEVICE_CPU, bufs);
    int k = 0;
    while (argv[k]) k++;
    argv[k++] = "--out", argv[k++] = dir, argv[k++] = "--quiet", argv[k] = NULL;
    int lock = lock_trial(s, dir, tr->id);
    if (lock < 0) return;
    rank_log(s, "trial %s: start (%d threads, gpu %d)", tr->id, s->ri.threads, s->ri.gpu);
    ChildResult cr;
    Err e;
    TrialStatus st;
    int rc = child_run(argv, log, poll_child, s, &cr, &e);
    if (lock != INT_MAX) close(lock);
    if (rc) {
        rank_log(s, "trial %s: %s", tr->id, e.msg);
        Err e2;
        if (result_write_failure(dir, tr->id, e.msg, 0, &e2)) rank_log(s, "trial %s: %s", tr->id, e2.msg);
        st = STATUS_FAILED;
    } else {
        st = record_outcome(s, t, dir, &cr);
    }
    if (st == STATUS_INTERRUPTED) return;
    if (s->ri.rank == 0) trial_finished(s, t);
    else {
        int msg[2] = {t, (int)st};
        if (MPI_Send(msg, 2, MPI_INT, 0, TAG_DONE, s->comm) != MPI_SUCCESS) rank_log(s, "MPI_Send to rank 0 failed");
    }
}

/* Phase 1, one cache group: every rank computes shard rank/size. Returns 0 ok,
 * 1 interrupted, 2 failed (on this rank). */
static int cache_group_shard(Sweep *s, int g, int first) {
    char dir[SWEEP_PATH_MAX + TRIAL_ID_MAX], cfg[sizeof dir + 16], log[SWEEP_PATH_MAX + 64], shard[32], bufs[3][32];
    plan_trial_dir(&s->plan, first, dir, sizeof dir);
    snprintf(cfg, sizeof cfg, "%s/config.yaml", dir);
    snprintf(log, sizeof log, "%s/logs/cache-group%d-shard%d.log", s->plan.sweep_dir, g + 1, s->ri.rank);
    snprintf(shard, sizeof shard, "%d/%d", s->ri.rank, s->ri.size);
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

/* Phase 1: backbone features once per cache group, the images split across all ranks.
 * A group that fails here is not fatal: its trials run anyway and compute (or fail to
 * compute) their features themselves, and each failure is recorded with its message. */
static int phase1(Sweep *s, Err *e) {
    const TrialSet *ts = &s->plan.ts;
    for (int g = 0; g < ts->n_cache_groups; g++) {
        int first = -1;
        for (int k = 0; k < s->n_todo && first < 0; k++) {
            const Trial *t = &ts->trials[s->todo[k]];
            if (t->cache_group == g && trial_uses_cache(&t->cfg)) first = s->todo[k];
        }
        if (first < 0) continue;
        if (s->ri.rank == 0) {
            printf("[%s] phase 1: backbone features, cache group %d of %d (%d views; first trial %s), %d shard%s\n",
                   s->plan.spec.name, g + 1, ts->n_cache_groups, ts->trials[first].cfg.feature_cache.views, ts->trials[first].id, s->ri.size,
                   s->ri.size == 1 ? "" : "s");
            fflush(stdout);
        }
        int mine = s->stop ? 1 : cache_group_shard(s, g, first), worst = 0;
        MPI_CHECK(MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
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

static int phase2(Sweep *s, Err *e) {
    if (s->ri.rank == 0) progress_trials_start(&s->progress, now_seconds());
    for (;;) {
        note_signal(s);
        if (s->stop) break;
        long next;
        int stop;
        if (queue_claim(&s->queue, &next, &stop, e)) return -1;
        if (stop) { s->stop = 1; break; }
        if (next >= s->n_todo) break;
        run_trial(s, s->todo[next]);
    }
    return 0;
}

/* Rank 0 sets up the folders and decides what runs; every rank gets the list. */
static int share_todo(Sweep *s, Err *e) {
    Err local = {{0}};
    int failed = 0;
    if (s->ri.rank == 0) {
        s->n_todo = plan_todo(&s->plan, s->args->retry_failed, s->todo);
        const char *file = s->args->file;
        failed = plan_prepare_dirs(&s->plan, file, s->todo, s->n_todo, &local) != 0;
    }
    if (!all_ok(failed, &local)) return err_fail(e, "%s", "");   /* already printed */
    MPI_CHECK(MPI_Bcast(&s->n_todo, 1, MPI_INT, 0, MPI_COMM_WORLD));
    MPI_CHECK(MPI_Bcast(s->todo, s->n_todo, MPI_INT, 0, MPI_COMM_WORLD));
    return 0;
}

static void start_progress(Sweep *s) {
    int in_scope = 0;
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
    printf("[%s] %d trials, %d finished before, %d to run on %d rank%s; output %s\n", s->plan.spec.name, in_scope, skipped,
           s->n_todo, s->ri.size, s->ri.size == 1 ? "" : "s", s->plan.sweep_dir);
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
    s->todo = calloc((size_t)s->plan.ts.n + 1, sizeof *s->todo);
    TL_CHECK_ALLOC(e, s->todo);
    if (share_todo(s, e)) return -1;
    char path[SWEEP_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/logs/rank%d.log", s->plan.sweep_dir, s->ri.rank);
    s->log = fopen(path, "a");
    fprintf(stderr, "sweep: %s\n", note);
    rank_log(s, "%s; trainer %s", note, s->trainer);
    if (queue_create(&s->queue, e)) return -1;
    s->have_queue = 1;
    MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &s->comm));
    if (s->ri.rank == 0) start_progress(s);
    return 0;
}

/* Everyone reports to rank 0, which prints the last line and writes the summary. */
static int finish(Sweep *s, int failed_phase, Err *e) {
    int msg[2] = {-1, 0};
    if (s->ri.rank != 0) MPI_CHECK(MPI_Send(msg, 2, MPI_INT, 0, TAG_EXIT, s->comm));
    else
        while (s->exits < s->ri.size - 1) {
            process_messages(s);
            struct timespec nap = {0, 50 * 1000 * 1000};
            nanosleep(&nap, NULL);
        }
    int stop = s->stop, any_stop = 0, code = 0;
    MPI_CHECK(MPI_Allreduce(&stop, &any_stop, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    if (s->ri.rank == 0) {
        Err agg;
        if (plan_aggregate(&s->plan, &agg)) fprintf(stderr, "sweep: %s\n", agg.msg);
        int failed = plan_count_failed(&s->plan);
        code = any_stop ? 130 : failed_phase || failed ? 1 : 0;
        char line[1024];
        progress_line(&s->progress, &s->plan.ts, s->plan.spec.name, now_seconds(), line, sizeof line);
        if (s->progress.finished == s->progress.finished_before) printf("%s\n", line);   /* none finished just now */
        printf("[%s] %s; summary %s/summary.csv, report %s/report.md\n", s->plan.spec.name,
               any_stop ? "interrupted: rerun the same command to resume" : failed ? "finished with failed trials" : "finished",
               s->plan.sweep_dir, s->plan.sweep_dir);
        fflush(stdout);
    }
    MPI_CHECK(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD));
    return code;
}

int sweep_run_mpi(const SweepArgs *a, volatile sig_atomic_t *signals) {
    Sweep s = {.args = a, .signals = signals, .comm = MPI_COMM_NULL};
    Err e = {{0}};
    int code;
    if (!all_ok(plan_load(&s.plan, a, 1, &e) != 0, &e)) code = 2;
    else if (setup(&s, &e)) {
        if (e.msg[0]) fprintf(stderr, "sweep: rank %d: %s\n", s.ri.rank, e.msg);
        code = 2;
    }
    else {
        int failed_phase = phase1(&s, &e) != 0;
        if (failed_phase) fprintf(stderr, "sweep: rank %d: %s\n", s.ri.rank, e.msg);
        if (!failed_phase && phase2(&s, &e)) {
            fprintf(stderr, "sweep: rank %d: %s\n", s.ri.rank, e.msg);
            failed_phase = 1;
        }
        code = finish(&s, failed_phase, &e);
        if (code < 0) fprintf(stderr, "sweep: rank %d: %s\n", s.ri.rank, e.msg), code = 1;
    }
    if (s.have_queue && queue_free(&s.queue, &e)) fprintf(stderr, "sweep: %s\n", e.msg);
    if (s.comm != MPI_COMM_NULL) MPI_Comm_free(&s.comm);
    if (s.log) fclose(s.log);
    free(s.todo);
    plan_free(&s.plan);
    return code;
}
