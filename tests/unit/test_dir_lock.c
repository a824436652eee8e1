/* core/dir_lock and fs_remove_dead_tmp: a held lock refuses a second taker naming the
 * holder's PID and host; a child that inherits the descriptor adopts the lock (the sweep ->
 * trainer hand-over), one that does not is refused; a holder line left by a process that is
 * gone on this host is taken over at once, one from another host only once its heartbeat is
 * stale; release clears the line; the heartbeat moves the file's mtime. Temp files: a dead
 * writer's (this host) removed, a live one's kept, another host's kept until old. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/dir_lock.h"
#include "core/fsutil.h"
#include "test_util.h"

static char dir[] = "/tmp/test_dir_lock.XXXXXX";

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) { fputs(text, f); fclose(f); }
}

static void age_file(const char *path, int seconds) {
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= seconds;
    tv[1] = tv[0];
    utimes(path, tv);
}

/* A PID that is surely gone: a child that has exited and been reaped. */
static long dead_pid(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    return (long)p;
}

static void test_held_and_released(void) {
    char path[256], me[HOST_NAME_MAX_LEN], want[128];
    snprintf(path, sizeof path, "%s/a.lock", dir);
    host_name(me);
    DirLock a, b;
    DirLockHolder held;
    Err e = {{0}};
    CHECK_OK(dir_lock_try(&a, path, "trainer train", 0, &held, NULL, 0, &e), &e);
    CHECK(dir_lock_try(&b, path, "second", 0, &held, NULL, 0, &e) == 1, "a second taker is refused");
    snprintf(want, sizeof want, "PID %ld on host %s", (long)getpid(), me);
    CHECK(contains(e.msg, path) && contains(e.msg, "trainer train") && contains(e.msg, want), "names the holder: %s", e.msg);
    CHECK(held.pid == (long)getpid() && !strcmp(held.host, me), "holder filled");
    dir_lock_release(&b);   /* refused: nothing to release */
    dir_lock_release(&a);
    DirLockHolder h;
    CHECK(dir_lock_read_holder(path, &h) != 0, "release clears the holder line");
    CHECK_OK(dir_lock_try(&b, path, "second", 0, &held, NULL, 0, &e), &e);
    dir_lock_release(&b);
}

/* In a child: 0 when it could take path (flags), 1 refused, 2 error. */
static int child_takes(const char *path, int flags) {
    pid_t p = fork();
    if (p == 0) {
        DirLock l;
        Err e;
        int rc = dir_lock_try(&l, path, "child", flags, NULL, NULL, 0, &e);
        if (rc == 0) dir_lock_release(&l);
        _exit(rc == 0 ? 0 : rc > 0 ? 1 : 2);
    }
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
}

static void test_inherited(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/b.lock", dir);
    DirLock parent;
    Err e = {{0}};
    CHECK_OK(dir_lock_try(&parent, path, "sweep rank 0", DIR_LOCK_INHERITABLE, NULL, NULL, 0, &e), &e);
    CHECK(child_takes(path, DIR_LOCK_ADOPT) == 0, "a child with the inherited descriptor adopts the lock");
    CHECK(child_takes(path, 0) == 1, "without DIR_LOCK_ADOPT the child waits like anyone");
    dir_lock_release(&parent);
    /* (Without DIR_LOCK_INHERITABLE the descriptor is O_CLOEXEC: a program the holder execs,
     * as the sweep execs trainers, has no descriptor to adopt; a fork alone keeps it.) */
}

static void test_stale(void) {
    char path[256], line[256], me[HOST_NAME_MAX_LEN], note[600];
    host_name(me);
    DirLock l;
    DirLockHolder held;
    Err e = {{0}};
    snprintf(path, sizeof path, "%s/c.lock", dir);
    snprintf(line, sizeof line, "%ld %s 1700000000 trainer train\n", dead_pid(), me);
    write_file(path, line);
    CHECK_OK(dir_lock_try(&l, path, "new", 0, &held, note, sizeof note, &e), &e);
    CHECK(contains(note, "took over") && contains(note, "that process is gone"), "dead holder on this host: %s", note);
    dir_lock_release(&l);

    write_file(path, "4242 some-other-host 1700000000 trainer train\n");
    CHECK(dir_lock_try(&l, path, "new", 0, &held, note, sizeof note, &e) == 1 && contains(e.msg, "some-other-host") &&
          contains(e.msg, "PID 4242"), "another host's fresh heartbeat holds it: %s", e.msg);
    age_file(path, DIR_LOCK_STALE_SECONDS + 5);
    CHECK_OK(dir_lock_try(&l, path, "new", 0, &held, note, sizeof note, &e), &e);
    CHECK(contains(note, "took over") && contains(note, "silent"), "another host's stale heartbeat: %s", note);
    struct stat st;
    CHECK(stat(path, &st) == 0 && difftime(time(NULL), st.st_mtime) < 5, "taking it starts a fresh heartbeat");
    dir_lock_release(&l);
}

static void test_dead_tmp(void) {
    char me[HOST_NAME_MAX_LEN], p[7][256], sub[300];
    host_name(me);
    snprintf(sub, sizeof sub, "%s/key", dir);
    mkdir(sub, 0755);
    snprintf(p[0], sizeof p[0], "%s/last.safetensors.tmp.%ld.%s", dir, dead_pid(), me);       /* dead, here: removed */
    snprintf(p[1], sizeof p[1], "%s/result.csv.tmp.%ld", dir, dead_pid());                   /* older name form: removed */
    snprintf(p[2], sizeof p[2], "%s/summary.csv.tmp.%ld.%s", dir, (long)getpid(), me);       /* alive: kept */
    snprintf(p[3], sizeof p[3], "%s/chunk-00001.f32.tmp.77.node9", dir);                      /* another host, fresh: kept */
    snprintf(p[4], sizeof p[4], "%s/chunk-00002.f32.tmp.78.node9", dir);                      /* another host, old: removed */
    snprintf(p[5], sizeof p[5], "%s/notes.tmp.txt", dir);                                     /* not a temp name: kept */
    snprintf(p[6], sizeof p[6], "%s/chunk-00009.f32.tmp.%ld.%s", sub, dead_pid(), me);       /* one level down */
    for (int i = 0; i < 7; i++) write_file(p[i], "x");
    age_file(p[4], 7200);
    int removed = 0;
    Err e = {{0}};
    CHECK_OK(fs_remove_dead_tmp(dir, 0, 3600, &removed, &e), &e);
    CHECK(removed == 3, "levels 0: 3 removed (%d)", removed);
    int want[7] = {0, 0, 1, 1, 0, 1, 1};
    for (int i = 0; i < 7; i++) CHECK(fs_exists(p[i]) == want[i], "%s %s", p[i], want[i] ? "kept" : "removed");
    removed = 0;
    CHECK_OK(fs_remove_dead_tmp(dir, 1, 3600, &removed, &e), &e);
    CHECK(removed == 1 && !fs_exists(p[6]), "levels 1: the subfolder's removed too (%d)", removed);
    CHECK_OK(fs_remove_dead_tmp("/nonexistent/folder", 1, 0, &removed, &e), &e);
}

int main(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_held_and_released();
    test_inherited();
    test_stale();
    test_dead_tmp();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_END();
}
