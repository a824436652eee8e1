/* What the importer's files share. cars_import.c runs the stages and counts problems;
 * cars_devkit.c (the official .mat files) and cars_folders.c (the class-folder mirror)
 * collect the items; cars_set.c holds them and names the class folders; cars_split.c moves
 * the validation share; cars_tree.c places every item in the new tree and renames it. */
#ifndef TL_CARS_IMPORT_INTERNAL_H
#define TL_CARS_IMPORT_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "data/cars_import.h"

enum { CLASS_NAME_MAX = 200 };

typedef struct CarsItem {
    char *src;          /* source file path, owned */
    const char *name;   /* file name: points into src */
    int cls;            /* 0-based class index */
    int split;          /* CarsSplit */
    int bbox[4];        /* x1, y1, x2, y2: 1-based inclusive pixels; all 0 = none */
} CarsItem;

typedef struct CarsSet {
    char **raw_names;   /* class names as the source gives them */
    char **dirs;        /* directory names (safe, unique) */
    int n_classes;
    CarsItem *items;
    int n_items, cap;
} CarsSet;

void cars_set_free(CarsSet *s);
/* Appends the item dir/name (bbox may be NULL). */
int cars_add_item(CarsSet *s, const char *dir, const char *name, int cls, int split, const int bbox[4], Err *e);
/* Orders items by (split, class, file name). */
int cars_item_cmp(const void *pa, const void *pb);
/* Directory names for the raw class names: safe, and unique ignoring case (a suffix _2, _3 ...). */
int cars_class_dirs(char **raw, int n, char ***out, int *renamed, Err *e);

typedef struct ImportCtx {
    const CarsImportOptions *opt;
    CarsImportReport *rep;
    FILE *log;
    char first_error[1024];     /* the first problem that blocks the import, for the error message */
} ImportCtx;

/* Counts a problem; shows the first few of each kind. Blocking problems (blocks != 0, and no
 * --skip-bad) also keep the first message for the final error. */
void cars_problem(ImportCtx *c, int *count, int blocks, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The stages (cars_import runs them in this order). */
int cars_collect_devkit(ImportCtx *c, CarsSet *s, const char *src, Err *e);
int cars_collect_folders(ImportCtx *c, CarsSet *s, const char *src, Err *e);
int cars_assign_validation(CarsSet *s, const CarsImportOptions *opt, Err *e);
/* --force replaces only an empty directory or an earlier import (it has train/ or test/). */
int cars_check_dest(const char *dest, int force, Err *e);
/* Places every item under tmp (made here) and writes tmp/classes.csv. */
int cars_build_tree(ImportCtx *c, const CarsSet *s, const char *tmp, Err *e);
/* Renames tmp to dest, an old dest moved aside and removed after. */
int cars_commit_tree(const char *tmp, const char *dest, Err *e);

#endif
