/* Stanford Cars importer (see cars_import.h). Three stages:
 *   collect   read the devkit .mat files (cars_devkit.c) or the class folders (cars_folders.c)
 *             into a list of items (source path, class, split, box), counting everything
 *             that cannot be placed;
 *   split     move a seeded, stratified share of each class's train items to validation
 *             (cars_split.c);
 *   build     link / copy / crop every item into DEST.tmp.<pid>, then rename it to DEST
 *             (cars_tree.c). */
#include "data/cars_import.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "data/cars_import_internal.h"

const char *const cars_split_names[CARS_NSPLITS] = {"train", "validation", "test"};

enum { PROBLEM_LINES_SHOWN = 5 };

void cars_import_defaults(CarsImportOptions *opt) {
    memset(opt, 0, sizeof *opt);
    opt->val_split = 0.1;
    opt->seed = 42;
    opt->link = CARS_LINK_HARD;
}

void cars_problem(ImportCtx *c, int *count, int blocks, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ++*count;
    int is_error = blocks && !c->opt->skip_bad;
    if (is_error && !c->first_error[0]) snprintf(c->first_error, sizeof c->first_error, "%s", msg);
    if (!c->log) return;
    if (*count <= PROBLEM_LINES_SHOWN) fprintf(c->log, "import-cars: %s: %s\n", is_error ? "error" : "warning", msg);
    else if (*count == PROBLEM_LINES_SHOWN + 1) fprintf(c->log, "import-cars: (more like this not shown; see the counts)\n");
}

static void fill_counts(const CarsSet *s, CarsImportReport *rep) {
    rep->n_classes = s->n_classes;
    int *count = calloc((size_t)s->n_classes * CARS_NSPLITS + 1, sizeof *count);
    if (!count) return;
    for (int i = 0; i < s->n_items; i++) {
        rep->placed[s->items[i].split]++;
        count[s->items[i].split * s->n_classes + s->items[i].cls]++;
    }
    for (int sp = 0; sp < CARS_NSPLITS; sp++) {
        rep->class_min[sp] = rep->class_max[sp] = count[sp * s->n_classes];
        for (int k = 1; k < s->n_classes; k++) {
            int v = count[sp * s->n_classes + k];
            if (v < rep->class_min[sp]) rep->class_min[sp] = v;
            if (v > rep->class_max[sp]) rep->class_max[sp] = v;
        }
    }
    free(count);
}

static int check_options(const char *src, const CarsImportOptions *opt, int folders, Err *e) {
    if (!(opt->val_split >= 0 && opt->val_split < 1)) return err_fail(e, "--val-split %g: must be in [0, 1)", opt->val_split);
    if (folders && opt->crop_bbox)
        return err_fail(e, "%s: --crop-bbox needs the devkit annotations; the class-folder layout has no boxes", src);
    return 0;
}

static int collect(ImportCtx *c, CarsSet *s, const char *src, Err *e) {
    char p[PATH_MAX];
    int devkit = fs_is_dir(fs_join(p, sizeof p, src, "cars_train"));
    int folders = !devkit && fs_is_dir(fs_join(p, sizeof p, src, "train"));
    if (!fs_is_dir(src)) return err_fail(e, "%s: not a directory", src);
    if (!devkit && !folders)
        return err_fail(e, "%s: neither the official layout (cars_train/, cars_test/, devkit/*.mat) nor class folders (train/<class>/)", src);
    c->rep->layout = devkit ? "devkit" : "folders";
    if (check_options(src, c->opt, folders, e)) return -1;
    if (devkit ? cars_collect_devkit(c, s, src, e) : cars_collect_folders(c, s, src, e)) return -1;
    if (folders && fs_is_dir(fs_join(p, sizeof p, src, "validation")) && c->opt->val_split > 0 && c->log)
        fprintf(c->log, "import-cars: %s has validation/; --val-split is not applied\n", src);
    if (c->first_error[0]) {
        CarsImportReport *r = c->rep;
        return err_fail(e, "%s (%d absent, %d with a bad label, %d annotated twice; --skip-bad imports the rest)",
                        c->first_error, r->missing, r->bad_label, r->listed_twice);
    }
    return 0;
}

int cars_import(const char *src, const char *dest, const CarsImportOptions *opt, CarsImportReport *rep, FILE *log, Err *e) {
    ImportCtx c = {.opt = opt, .rep = rep, .log = log};
    CarsSet s = {0};
    char tmp[PATH_MAX];
    memset(rep, 0, sizeof *rep);
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dest, (long)getpid()) >= (int)sizeof tmp) return err_fail(e, "%s: path too long", dest);
    int rc = cars_check_dest(dest, opt->force, e);
    if (rc == 0) rc = collect(&c, &s, src, e);
    if (rc == 0) rc = cars_assign_validation(&s, opt, e);
    if (rc == 0) rc = fs_remove_tree(tmp, e);
    if (rc == 0) rc = cars_build_tree(&c, &s, tmp, e);
    if (rc == 0) rc = cars_commit_tree(tmp, dest, e);
    if (rc == 0) fill_counts(&s, rep);
    else { Err ignored; fs_remove_tree(tmp, &ignored); }
    cars_set_free(&s);
    return rc;
}
