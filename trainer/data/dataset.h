/* The image folders of a trial: root/train/, root/validation/ (optional), root/test/
 * (optional), each holding one folder per class. Listed the way Keras flow_from_directory
 * does it: class names = sorted folder names of train/ (byte order, as Python's
 * sorted) or the config's explicit list; files = recursive walk, directories sorted by path,
 * files by name. We decode only JPEG: other files are counted and reported, never dropped
 * silently. Every check happens in dataset_open, before any image is read. */
#ifndef TL_DATASET_H
#define TL_DATASET_H

#include "core/error.h"
#include "data/data_config.h"

typedef struct DatasetItem {
    char *path;                 /* root/split/class/.../file, owned */
    int label;                  /* class index */
} DatasetItem;

typedef struct DatasetSplit {
    DatasetItem *items;         /* class-index order, then file order within a class */
    int n;
} DatasetSplit;

typedef struct Dataset {
    int n_classes;
    char **class_names;         /* n_classes, owned */
    DatasetSplit train, validation, test;
    int validation_carved;      /* 1: validation was split off train/ (no validation/ folder) */
    int have_test;              /* 0: no test/ folder */
    char report[4096];          /* one line per fact: skipped files, carved split, subset */
} Dataset;

/* Lists cfg->root. Without validation/, validation_split carves a stratified part of train/
 * per class (floor(split * n) images, seeded by (seed, RNG_SPLIT, class, 0)); train_fraction
 * < 1 then keeps round(fraction * n) >= 1 of each class's remaining training images (seeded
 * by (seed, RNG_SPLIT, class, 1); smaller fractions give subsets of larger ones). Fails,
 * naming the path, on: missing root or train/, no class folders, a class folder without JPEG
 * images, a class missing from validation/ or test/ or a folder there that train/ lacks, a
 * listed class (data.classes) without its folder, duplicate listed classes. */
int dataset_open(const DataConfig *cfg, long seed, Dataset *ds, Err *e);
void dataset_free(Dataset *ds);

#endif
