/* Runs a fuzz harness over files without libFuzzer: `fuzz_replay_<target> PATH...`, each
 * PATH a file or a folder (its files, in name order). ctest runs every target over
 * fuzz/corpus/<target> and fuzz/regressions/<target>, so `make test` replays the seeds and
 * every input a fuzzer once broke, with gcc and under ASan. A crash or a broken property
 * aborts; at least one input must exist, so a test cannot pass on an empty folder. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fsutil.h"
#include "fuzz.h"

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int replay_file(const char *path) {
    char *data;
    size_t size;
    Err e;
    if (fs_read_all(path, &data, &size, &e)) { fprintf(stderr, "%s\n", e.msg); return -1; }
    fprintf(stderr, "replay %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput((const uint8_t *)data, size);
    free(data);
    return 0;
}

/* Replays a folder's files in name order; returns how many, counting unreadable ones in *failed. */
static int replay_dir(const char *path, int *failed) {
    DIR *d = opendir(path);
    if (!d) { fprintf(stderr, "%s: cannot open\n", path); ++*failed; return 0; }
    char **names = NULL;
    size_t n = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.') continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown) break;
        names = grown;
        names[n++] = strdup(ent->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    int done = 0;
    for (size_t i = 0; i < n; i++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, names[i]);
        if (replay_file(file) == 0) done++;
        else ++*failed;
        free(names[i]);
    }
    free(names);
    return done;
}

int main(int argc, char **argv) {
    int total = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st)) continue; /* fuzz/regressions/<target> exists once a fuzzer found something */
        if (S_ISDIR(st.st_mode)) total += replay_dir(argv[i], &failed);
        else if (replay_file(argv[i]) == 0) total++;
        else failed++;
    }
    if (total == 0) { fprintf(stderr, "no inputs to replay\n"); failed++; }
    printf("%d passed, %d failed\n", total, failed);
    return failed ? 1 : 0;
}
