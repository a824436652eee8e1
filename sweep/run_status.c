#include "run_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/dir_lock.h"
#include "core/fsutil.h"

const char *run_status_word(int code) {
    switch (code) {
    case 0: return "done";
    case 1: return "failed";
    case 130: return "interrupted";
    default: return "error";
    }
}

void run_status_start(RunStatus *st) {
    memset(st, 0, sizeof *st);
    snprintf(st->state, sizeof st->state, "running");
    st->code = -1;
    host_name(st->host);
    st->pid = (long)getpid();
    st->started = (long)time(NULL);
}

static void when(long t, char *out, size_t n) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm)) snprintf(out, n, "?");
}

static int status_write(const char *sweep_dir, const RunStatus *st, int durable, Err *e) {
    char path[1200], text[512], started[32], ended[32] = "";
    char code[16] = "-";
    if (st->code >= 0) snprintf(code, sizeof code, "%d", st->code);
    when(st->started, started, sizeof started);
    if (st->ended) when(st->ended, ended, sizeof ended);
    int len = snprintf(text, sizeof text, "%s %s\nhost %s pid %ld started %s%s%s\n", st->state, code, st->host, st->pid, started,
                       st->ended ? " ended " : "", ended);
    fs_join(path, sizeof path, sweep_dir, "sweep_status");
    return durable ? fs_write_atomic(path, text, (size_t)len, e) : fs_write_atomic_nosync(path, text, (size_t)len, e);
}

int run_status_write(const char *sweep_dir, const RunStatus *st, Err *e) { return status_write(sweep_dir, st, 1, e); }

int run_status_write_now(const char *sweep_dir, const RunStatus *st, Err *e) { return status_write(sweep_dir, st, 0, e); }

int run_status_finish(const char *sweep_dir, RunStatus *st, int code, Err *e) {
    snprintf(st->state, sizeof st->state, "%s", run_status_word(code));
    st->code = code;
    st->ended = (long)time(NULL);
    return run_status_write(sweep_dir, st, e);
}

/* "2026-11-27 19:20:01" -> unix time (local), 0 when it does not parse. */
static long parse_when(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) return 0;
    tm.tm_year -= 1900, tm.tm_mon -= 1, tm.tm_isdst = -1;
    return (long)mktime(&tm);
}

int run_status_read(const char *sweep_dir, RunStatus *st) {
    char path[1200], *text, code[16], started[2][16], ended[2][16];
    memset(st, 0, sizeof *st);
    if (fs_read_all(fs_join(path, sizeof path, sweep_dir, "sweep_status"), &text, NULL, NULL)) return -1;
    int n = sscanf(text, "%15s %15s host %63s pid %ld started %15s %15s ended %15s %15s", st->state, code, st->host, &st->pid,
                   started[0], started[1], ended[0], ended[1]);
    free(text);
    if (n < 2) return -1;
    st->code = code[0] == '-' ? -1 : atoi(code);
    char buf[40];
    if (n >= 6) snprintf(buf, sizeof buf, "%s %s", started[0], started[1]), st->started = parse_when(buf);
    if (n >= 8) snprintf(buf, sizeof buf, "%s %s", ended[0], ended[1]), st->ended = parse_when(buf);
    return 0;
}

const char *run_status_now(const char *sweep_dir, const RunStatus *st, char *line, size_t n) {
    char started[32], ended[32], lock[1200];
    when(st->started, started, sizeof started);
    if (strcmp(st->state, "running") != 0) {
        when(st->ended, ended, sizeof ended);
        snprintf(line, n, "%s (exit %d), ended %s", st->state, st->code, st->ended ? ended : "?");
        return st->state;
    }
    DirLockHolder h;
    int beat = dir_lock_read_holder(fs_join(lock, sizeof lock, sweep_dir, ".sweep.lock"), &h) == 0 && h.pid == st->pid;
    ProcState ps = host_process_state(st->host, st->pid);
    if (ps == PROC_GONE || (ps == PROC_ELSEWHERE && (!beat || h.silent > DIR_LOCK_STALE_SECONDS))) {
        snprintf(line, n, "interrupted (the sweep started %s, PID %ld on %s, %s without a final word: killed?)", started, st->pid,
                 st->host, ps == PROC_GONE ? "is gone" : "has been silent");
        return "interrupted";
    }
    snprintf(line, n, "running on %s (PID %ld) since %s", st->host, st->pid, started);
    return "running";
}
