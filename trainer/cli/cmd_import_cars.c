/* `trainer import-cars SRC DEST [options]`: Stanford Cars release -> class-folder tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/cars_import.h"

static void import_cars_usage(FILE *f) {
    fprintf(f,
            "usage: trainer import-cars SRC DEST [--val-split F] [--seed N] [--crop-bbox] [--link hard|sym|copy]\n"
            "                           [--force] [--skip-bad]\n"
            "  SRC   the Stanford Cars release (cars_train/, cars_test/, devkit/*.mat with\n"
            "        cars_test_annos_withlabels.mat) or a mirror with train/<class>/ and test/<class>/\n"
            "  DEST  output: DEST/{train,validation,test}/<class>/, built aside and renamed into place\n"
            "  --val-split F   share of each class's train images moved to validation (default 0.1)\n"
            "  --seed N        seed of the split (default 42)\n"
            "  --crop-bbox     crop to the annotated boxes, re-encoded as JPEG quality 95\n"
            "  --link MODE     hard (default; copies across file systems), sym or copy\n"
            "  --force         replace an existing DEST that holds an earlier import\n"
            "  --skip-bad      import what is valid; absent files and bad labels only warn\n");
}

/* Option value: "--opt V" or "--opt=V". Returns NULL (after a message) when missing. */
static const char *option_value(int argc, char **argv, int *i, const char *opt) {
    size_t n = strlen(opt);
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (*i + 1 < argc) return argv[++*i];
    fprintf(stderr, "import-cars: %s needs a value\n", opt);
    return NULL;
}

static int is_option(const char *arg, const char *opt) {
    size_t n = strlen(opt);
    return strncmp(arg, opt, n) == 0 && (arg[n] == 0 || arg[n] == '=');
}

static int parse_number(const char *s, double *out) {
    char *end;
    *out = strtod(s, &end);
    return end != s && *end == 0 ? 0 : -1;
}

enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_BAD = 2 };

/* Returns ARGS_OK, ARGS_HELP (usage printed) or ARGS_BAD (exit status 2, message printed). */
static int parse_import_args(int argc, char **argv, const char **src, const char **dest, CarsImportOptions *opt) {
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        double x;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { import_cars_usage(stdout); return ARGS_HELP; }
        if (strcmp(a, "--crop-bbox") == 0) opt->crop_bbox = 1;
        else if (strcmp(a, "--force") == 0) opt->force = 1;
        else if (strcmp(a, "--skip-bad") == 0) opt->skip_bad = 1;
        else if (is_option(a, "--val-split")) {
            if (!(v = option_value(argc, argv, &i, "--val-split"))) return 2;
            if (parse_number(v, &opt->val_split) || !(opt->val_split >= 0 && opt->val_split < 1)) {
                fprintf(stderr, "import-cars: --val-split %s: want a number in [0, 1)\n", v);
                return 2;
            }
        } else if (is_option(a, "--seed")) {
            if (!(v = option_value(argc, argv, &i, "--seed"))) return 2;
            if (parse_number(v, &x) || x < 0 || x != (double)(uint64_t)x) {
                fprintf(stderr, "import-cars: --seed %s: want a non-negative integer\n", v);
                return 2;
            }
            opt->seed = (uint64_t)x;
        } else if (is_option(a, "--link")) {
            if (!(v = option_value(argc, argv, &i, "--link"))) return 2;
            if (strcmp(v, "hard") == 0) opt->link = CARS_LINK_HARD;
            else if (strcmp(v, "sym") == 0) opt->link = CARS_LINK_SYM;
            else if (strcmp(v, "copy") == 0) opt->link = CARS_LINK_COPY;
            else { fprintf(stderr, "import-cars: --link %s: want hard, sym or copy\n", v); return 2; }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "import-cars: unknown option %s\n", a);
            return 2;
        } else if (npos < 2) *(npos++ ? dest : src) = a;
        else { fprintf(stderr, "import-cars: unexpected argument %s\n", a); return 2; }
    }
    if (npos == 2) return 0;
    import_cars_usage(stderr);
    return 2;
}

static void print_import_report(const char *src, const char *dest, const CarsImportReport *r) {
    printf("import-cars: %s (%s layout) -> %s: %d classes\n", src, r->layout, dest, r->n_classes);
    printf("  %-10s  %7s  %s\n", "split", "images", "per class min..max");
    for (int s = 0; s < CARS_NSPLITS; s++)
        printf("  %-10s  %7d  %d..%d\n", cars_split_names[s], r->placed[s], r->class_min[s], r->class_max[s]);
    printf("  not placed: %d absent, %d bad label, %d annotated twice, %d not annotated, %d stray\n", r->missing,
           r->bad_label, r->listed_twice, r->unannotated, r->stray);
    if (r->cropped) printf("  cropped to boxes: %d\n", r->cropped);
    if (r->renamed_classes) printf("  class folders renamed to be safe/unique: %d (see %s/classes.csv)\n", r->renamed_classes, dest);
    if (r->copied_fallback) printf("  hard links not possible, copied instead: %d\n", r->copied_fallback);
}

int cmd_import_cars(int argc, char **argv) {
    const char *src = NULL, *dest = NULL;
    CarsImportOptions opt;
    CarsImportReport rep;
    Err e = {{0}};
    cars_import_defaults(&opt);
    int rc = parse_import_args(argc, argv, &src, &dest, &opt);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? 0 : 2;
    if (cars_import(src, dest, &opt, &rep, stderr, &e)) {
        fprintf(stderr, "import-cars: %s\n", e.msg);
        return 1;
    }
    print_import_report(src, dest, &rep);
    return 0;
}
