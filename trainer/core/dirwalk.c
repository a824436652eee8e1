#include "core/dirwalk.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fsutil.h"

int dir_name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int dir_list_sorted(const char *path, char kind, DirList *out, Err *e) {
    out->names = NULL;
    out->n = 0;
    DIR *d = opendir(path);
    if (!d) return err_fail(e, "%s: cannot open directory: %s", path, strerror(errno));
    int cap = 0;
    struct dirent *de;
    char full[PATH_MAX];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        struct stat st;
        if (stat(fs_join(full, sizeof full, path, de->d_name), &st) != 0) continue;   /* dangling link */
        if (kind == 'f' && !S_ISREG(st.st_mode)) continue;
        if (kind == 'd' && !S_ISDIR(st.st_mode)) continue;
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(out->names, (size_t)cap * sizeof *nn);
            if (!nn) { closedir(d); dir_list_free(out); return err_fail(e, "%s: out of memory listing", path); }
            out->names = nn;
        }
        if (!(out->names[out->n] = strdup(de->d_name))) { closedir(d); dir_list_free(out); return err_fail(e, "out of memory"); }
        out->n++;
    }
    closedir(d);
    if (out->n) qsort(out->names, (size_t)out->n, sizeof *out->names, dir_name_cmp);
    return 0;
}

void dir_list_free(DirList *d) {
    for (int i = 0; i < d->n; i++) free(d->names[i]);
    free(d->names);
    d->names = NULL;
    d->n = 0;
}
