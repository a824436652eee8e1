#include "train/trial_folder.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/fsutil.h"
#include "train/result_columns.h"

int trial_folder_started(const char *dir) {
    static const char *const made[] = {"train_log.csv", "last.safetensors", "last.prev.safetensors", "last.damaged.safetensors",
                                       "best.safetensors", NULL};
    char path[1200], status[64];
    for (int i = 0; made[i]; i++)
        if (fs_exists(fs_join(path, sizeof path, dir, made[i]))) return 1;
    return result_csv_status(fs_join(path, sizeof path, dir, "result.csv"), status, sizeof status) == 0 &&
           strcmp(status, "failed") != 0;
}

int trial_folder_changes(const char *dir, const TrialConfig *cfg, char *changes, size_t n, int *run_only) {
    char path[1200];
    if (run_only) *run_only = 0;
    if (n) changes[0] = 0;
    fs_join(path, sizeof path, dir, "config.yaml");
    if (!fs_exists(path)) return 0;
    TrialConfig old;
    Err e = {{0}};
    if (config_load_file(&old, path, &e)) {
        snprintf(changes, n, "its config.yaml cannot be read (%s)", e.msg);
        return 1;
    }
    int numbers = config_diff(&old, cfg, 1, changes, n);
    if (run_only) {
        char others[2048];
        *run_only = config_diff(&old, cfg, 0, others, sizeof others);
    }
    config_free(&old);
    return numbers;
}

int trial_folder_set_aside(const char *dir, char *aside, size_t n, Err *e) {
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    for (int k = 1; k < 100000; k++) {
        if (snprintf(aside, n, "%.*s.old-%d", (int)len, dir, k) >= (int)n) return err_fail(e, "%s: path too long", dir);
        if (fs_exists(aside)) continue;
        if (rename(dir, aside) != 0) return err_fail(e, "%s: cannot rename to %s: %s", dir, aside, strerror(errno));
        return 0;
    }
    return err_fail(e, "%s: every name %s.old-1 .. -99999 is taken", dir, dir);
}
