/* The boundary cache of fine-tuning. With model.trainable conv5 the frozen
 * prefix (images -> conv4_block6_out) gives the same activation for an image every epoch
 * unless augmentation redraws the image, so it is computed once per split and stored fp16:
 *   <dir>/<key>/boundary.f16   header (64 bytes: format TLBOUND2, shape, the full key, a
 *                              CRC-32 of header and rows) + n rows of (side, side, c) IEEE
 *                              half, NHWC, little-endian; row i = the split's item i
 *   <dir>/<key>/about.txt      what the key covers, for people
 * <key> digests what determines the numbers, as the feature cache's does (weights file
 * content, backbone, backend and its layout and precision, image list with sizes and
 * mtimes, image size, interpolation) plus the boundary conv. A training step reads its
 * batch's rows (pread), widens them to float32 and uploads them for the suffix. The
 * file is written to a temp file and renamed, so concurrent trials never see half of it. */
#ifndef TL_BOUNDARY_CACHE_H
#define TL_BOUNDARY_CACHE_H

#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "core/floats.h"   /* fp16 conversion (the tables' format) */
#include "core/hash.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "model/resnet.h"
#include "train/config.h"

/* One split's table of boundary activations. */
typedef struct BoundaryTable {
    const char *split;            /* "train" | "validation" */
    const DatasetItem *items;     /* borrowed */
    int n;
    char key[33];
    int fd;                       /* open for reading once filled; -1 before */
} BoundaryTable;

typedef struct BoundaryCache {
    Backend *be;                  /* borrowed */
    char dir[1024];
    int first_conv;               /* arch index of the suffix's first conv */
    int side, channels;           /* one row: (side, side, channels) */
    size_t row_floats;
    int max_batch;
    BoundaryTable train, validation;
    uint16_t *host_h;             /* (max_batch, row_floats) file rows */
    float *host_x;                /* (max_batch, row_floats) widened rows */
    float *dev_x;                 /* backend (max_batch, row_floats): the suffix's input */
    volatile sig_atomic_t *stop;  /* set by a signal handler: stop between batches */
    FILE *log;                    /* damaged tables are reported here (NULL: stderr) */
    const char *weights;          /* model.weights (borrowed), named when the prefix gives NaN/Inf */
} BoundaryCache;

/* Bytes on disk of both tables, before anything is allocated (for the budget). */
size_t boundary_cache_bytes(const ResnetArch *a, int first_conv, int image_size, int n_train, int n_val);
/* The boundary's Keras name ("conv4_block6_out"), or "images" when first_conv is 0. */
void boundary_name(const ResnetArch *a, int first_conv, char *out, size_t n);

/* Keys both tables and allocates the batch buffers; opens nothing yet. */
int boundary_cache_init(BoundaryCache *bc, Backend *be, const TrialConfig *c, const Hash128 *weights_digest,
                        const ResnetArch *a, int first_conv, const Dataset *ds, const char *dir, int max_batch, Err *e);
void boundary_cache_free(BoundaryCache *bc);

/* Opens the table's file after verifying all of it (format, key, shape, size, CRC-32,
 * finite values), computing and storing it first when it is missing or fails (then deleted,
 * with a line in bc->log): bb (same max_batch) runs the prefix over the unaugmented images
 * of l. *computed = 1 when it did. l NULL: open only (a missing or damaged table fails). */
int boundary_table_fill(BoundaryCache *bc, BoundaryTable *t, Backbone *bb, Loader *l, int *computed, Err *e);
/* Rows rows[0..n) of an open table -> bc->dev_x (zero past n); *x = bc->dev_x. */
int boundary_table_load(BoundaryCache *bc, const BoundaryTable *t, const int *rows, int n, const float **x, Err *e);

#endif
