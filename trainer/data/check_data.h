/* Dataset checker for a class-folder tree ROOT/{train,validation,test}/<class>/, walked as
 * the loader (dataset.c) walks it (.jpg/.jpeg files anywhere below a class folder):
 * counts, unreadable / corrupt / truncated files, grayscale and CMYK images, image sizes,
 * exact duplicates (FNV-1a of the bytes, confirmed byte by byte), classes missing from a
 * split, class imbalance. Header-only by default; deep mode decodes every image. */
#ifndef TL_CHECK_DATA_H
#define TL_CHECK_DATA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

enum { DATA_NSPLITS = 3 };
extern const char *const data_split_names[DATA_NSPLITS];   /* "train", "validation", "test" */

typedef struct CheckDataOptions {
    int deep;           /* decode every image fully (slow, exact) instead of headers only */
    FILE *progress;     /* progress lines when a terminal; may be NULL */
} CheckDataOptions;

typedef struct DataFile {
    int split, cls;         /* split index, index into DataReport.classes */
    char *name;             /* path below its class folder ("x.jpg", "sub/x.jpg"), owned */
    int64_t bytes;
    uint64_t hash;          /* FNV-1a 64 of the whole file */
    int w, h, components;   /* from the header; 0 when unreadable */
    int bad;                /* unreadable, corrupt, truncated or not a JPEG */
} DataFile;

typedef struct SizeStats { int min, median, max; } SizeStats;   /* pixels; 0 when no readable image */

typedef struct DataClass {
    char *name;
    int folder[DATA_NSPLITS];       /* 1 when <split>/<name>/ exists */
    int count[DATA_NSPLITS];        /* image files in it */
    int bad, gray, cmyk;            /* over all splits */
    SizeStats w, h;
} DataClass;

typedef struct DataSplit {
    int present;                    /* the split folder exists */
    int classes;                    /* class folders in it */
    int images, bad, gray, cmyk;
    int class_min, class_median, class_max;   /* images per class folder */
    double imbalance;               /* class_max / class_min (0 when a class is empty) */
    SizeStats w, h;
} DataSplit;

typedef struct DataDuplicate { int a, b; } DataDuplicate;      /* file indices, same bytes */

typedef struct DataIssue {
    int error;                      /* 1 breaks training, 0 a warning */
    char *msg;
} DataIssue;

typedef struct DataReport {
    char root[1024];
    int deep;
    DataSplit split[DATA_NSPLITS];
    DataClass *classes;
    int n_classes;
    DataFile *files;
    int n_files;
    DataDuplicate *dups;
    int n_dups;
    int dup_within, dup_across, dup_cross_class;   /* pairs in one split, across splits, labelled differently */
    int ignored_files;              /* files the loader skips: not .jpg/.jpeg, or outside class folders */
    DataIssue *issues;
    int n_issues, n_errors, n_warnings;
} DataReport;

/* Scans root into r. Returns 0 when the scan ran (problems are issues in r), -1 when
 * root cannot be read at all. Free r with data_report_free either way. */
int check_data_scan(const char *root, const CheckDataOptions *opt, DataReport *r, Err *e);
void data_report_free(DataReport *r);

/* 0: fine (warnings allowed); 1: errors that would break training. */
int check_data_status(const DataReport *r);
void check_data_print_table(const DataReport *r, FILE *f);
void check_data_print_json(const DataReport *r, FILE *f);

/* 64-bit FNV-1a, continuing from h (start with FNV1A64_INIT). */
#define FNV1A64_INIT 0xcbf29ce484222325ull
uint64_t fnv1a64(const void *data, size_t n, uint64_t h);

#endif
