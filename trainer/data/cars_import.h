/* Stanford Cars importer: turns the official release (cars_train/, cars_test/ and the devkit
 * .mat files) or the common class-folder mirror (train/<class>/, test/<class>/) into the
 * class-folder tree the loader reads:  DEST/{train,validation,test}/<class>/<file>.
 * The tree is built in DEST.tmp.<pid> and renamed into place, so DEST is either the old
 * one or the complete new one, never half-written. */
#ifndef TL_CARS_IMPORT_H
#define TL_CARS_IMPORT_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

typedef enum CarsSplit { CARS_TRAIN = 0, CARS_VALIDATION = 1, CARS_TEST = 2, CARS_NSPLITS = 3 } CarsSplit;
extern const char *const cars_split_names[CARS_NSPLITS];   /* "train", "validation", "test" */

typedef enum CarsLink { CARS_LINK_HARD = 0, CARS_LINK_SYM = 1, CARS_LINK_COPY = 2 } CarsLink;

typedef struct CarsImportOptions {
    double val_split;       /* fraction of each class's train images moved to validation, [0, 1) */
    uint64_t seed;          /* keys the split: rng (seed, RNG_SPLIT, label of the class) */
    int crop_bbox;          /* crop to the annotated box and re-encode (JPEG quality 95) */
    CarsLink link;          /* how uncropped images are placed; hard falls back to copy */
    int force;              /* replace an existing DEST (only one that looks like an import) */
    int skip_bad;           /* place what is valid and only warn about absent files / bad labels */
} CarsImportOptions;

void cars_import_defaults(CarsImportOptions *opt);

/* What the import did; every file not placed is counted in one of the problem fields. */
typedef struct CarsImportReport {
    const char *layout;             /* "devkit" or "folders" */
    int n_classes;
    int renamed_classes;            /* class names changed to be file-system safe or unique */
    int placed[CARS_NSPLITS];
    int class_min[CARS_NSPLITS], class_max[CARS_NSPLITS];  /* images per class */
    int copied_fallback;            /* hard links that fell back to a copy (other file system) */
    int cropped;
    /* Not placed: */
    int missing;                    /* listed in the annotations, absent on disk */
    int bad_label;                  /* class label not in 1..n_classes */
    int listed_twice;               /* the same file name annotated twice */
    int unannotated;                /* present on disk, not in the annotations */
    int stray;                      /* folder layout: not .jpg/.jpeg, or not inside a class folder */
} CarsImportReport;

/* Imports SRC into DEST. Warnings (up to a few per kind, then a count) go to log (may be
 * NULL). Returns 0, or -1 with a message naming the file; on failure nothing is left at
 * DEST or DEST.tmp.<pid>. */
int cars_import(const char *src, const char *dest, const CarsImportOptions *opt, CarsImportReport *rep,
                FILE *log, Err *e);

/* Class name -> directory name: '/' and '\\' become '-', control characters spaces,
 * runs of spaces collapse, ends are trimmed, a leading '.' becomes '_'; empty names and
 * "."/".." become "class_<index+1>". out has n >= 8 bytes; long names are cut at a UTF-8
 * character boundary. Returns 1 if the name changed. */
int cars_safe_class_name(const char *in, int index, char *out, size_t n);

/* How many of a class's n train images go to validation: int(frac * n) as Keras and the
 * loader's carve (dataset.c) count, but at least one when frac > 0 and n >= 2 (so no class
 * is missing from validation/), and at least one image stays in train. */
int cars_validation_count(int n, double frac);
/* Marks which of a class's n train images (in file-name byte order) go to validation:
 * is_val[i] = 1 for the first cars_validation_count(n, frac) positions of a Philox
 * shuffle keyed (seed, RNG_SPLIT, cls, 0), the loader's own choice. The importer passes
 * as cls the class folder's rank among train/'s folders (the loader's label). */
void cars_pick_validation(int n, double frac, uint64_t seed, uint32_t cls, uint8_t *is_val);

#endif
