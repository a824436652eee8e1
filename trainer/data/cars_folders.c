/* The common mirror whose train/, validation/ (or val/) and test/ are already class folders. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/dirwalk.h"
#include "core/fsutil.h"
#include "data/cars_import_internal.h"
#include "data/image.h"

static const char *const folder_split_names[][2] = {{"train", NULL}, {"validation", "val"}, {"test", NULL}};

static void folder_split_dir(const char *src, int split, char *out, size_t n) {
    snprintf(out, n, "%s/%s", src, folder_split_names[split][0]);
    if (!fs_is_dir(out) && folder_split_names[split][1]) snprintf(out, n, "%s/%s", src, folder_split_names[split][1]);
}

/* Sorted union of the class folder names of every split. */
static int folder_class_union(const char *src, CarsSet *s, Err *e) {
    int cap = 0;
    for (int sp = 0; sp < CARS_NSPLITS; sp++) {
        char dir[PATH_MAX];
        DirList cls;
        folder_split_dir(src, sp, dir, sizeof dir);
        if (!fs_is_dir(dir)) continue;
        if (dir_list_sorted(dir, 'd', &cls, e)) return -1;
        for (int i = 0; i < cls.n; i++) {
            int seen = 0;
            for (int j = 0; j < s->n_classes && !seen; j++) seen = strcmp(s->raw_names[j], cls.names[i]) == 0;
            if (seen) continue;
            if (s->n_classes == cap) {
                cap = cap ? 2 * cap : 256;
                char **nn = realloc(s->raw_names, (size_t)cap * sizeof *nn);
                if (!nn) { dir_list_free(&cls); return err_fail(e, "out of memory"); }
                s->raw_names = nn;
            }
            s->raw_names[s->n_classes++] = cls.names[i];
            cls.names[i] = NULL;
        }
        dir_list_free(&cls);
    }
    if (s->n_classes) qsort(s->raw_names, (size_t)s->n_classes, sizeof *s->raw_names, dir_name_cmp);
    return 0;
}

static int collect_folder_class(ImportCtx *c, CarsSet *s, const char *split_dir, int split, int cls, Err *e) {
    char dir[PATH_MAX];
    DirList files;
    fs_join(dir, sizeof dir, split_dir, s->raw_names[cls]);
    if (!fs_is_dir(dir)) return 0;
    if (dir_list_sorted(dir, 'f', &files, e)) return -1;
    int rc = 0;
    for (int i = 0; i < files.n && rc == 0; i++) {
        if (image_has_jpeg_name(files.names[i])) rc = cars_add_item(s, dir, files.names[i], cls, split, NULL, e);
        else cars_problem(c, &c->rep->stray, 0, "%s/%s: not a .jpg/.jpeg file; not imported", dir, files.names[i]);
    }
    dir_list_free(&files);
    return rc;
}

int cars_collect_folders(ImportCtx *c, CarsSet *s, const char *src, Err *e) {
    if (folder_class_union(src, s, e)) return -1;
    if (s->n_classes == 0) return err_fail(e, "%s/train: no class folders", src);
    if (cars_class_dirs(s->raw_names, s->n_classes, &s->dirs, &c->rep->renamed_classes, e)) return -1;
    for (int sp = 0; sp < CARS_NSPLITS; sp++) {
        char dir[PATH_MAX];
        DirList loose;
        folder_split_dir(src, sp, dir, sizeof dir);
        if (!fs_is_dir(dir)) continue;
        for (int k = 0; k < s->n_classes; k++)
            if (collect_folder_class(c, s, dir, sp, k, e)) return -1;
        if (dir_list_sorted(dir, 'f', &loose, e)) return -1;
        for (int i = 0; i < loose.n; i++)
            cars_problem(c, &c->rep->stray, 0, "%s/%s: not inside a class folder; not imported", dir, loose.names[i]);
        dir_list_free(&loose);
    }
    return 0;
}

