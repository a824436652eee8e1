/* Loader threads that prepare batches ahead of their use. Per image: read the file, decode
 * the JPEG, resize to image_size (PIL semantics), optional augmentation (Keras
 * ImageDataGenerator, keyed (seed, RNG_AUGMENT, item index, view)), preprocess_caffe.
 * Output batches are (count, S, S, 3) float BGR caffe values, with labels.
 *
 * The caller gives the items and their order for a pass (e.g. an epoch permutation); every
 * image's result depends only on (file, item index, view, config), so the batches are
 * bit-identical whatever the thread count. A ring of `depth` batch buffers is allocated at
 * create; nothing is allocated per batch or per image (file buffers grow to the largest file). */
#ifndef TL_LOADER_H
#define TL_LOADER_H

#include <stdint.h>

#include "core/error.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "data/image.h"

typedef struct LoaderConfig {
    int threads;                    /* worker threads, >= 1 */
    int image_size;                 /* S: output images are S x S */
    Interp interp;                  /* resize filter (Keras default: nearest) */
    int fast_decode;                /* 0: exact PIL/libjpeg defaults; 1: fast, DCT-domain downscaling (data.fast_decode) */
    const AugmentConfig *augment;   /* NULL (or strength 0): no augmentation; copied at create */
    uint64_t seed;                  /* augmentation key */
    int batch_capacity;             /* most images per batch */
    int depth;                      /* batch buffers in the ring, >= 2 */
    long max_pixels;                /* data.max_pixels: larger JPEG headers fail, naming the file (0: the default) */
} LoaderConfig;

typedef struct LoaderBatch {
    float *x;                       /* (count, S, S, 3) BGR minus ImageNet means */
    int *labels;                    /* (count) class indices */
    int *items;                     /* (count) indices into the pass's item array */
    int count;
    int number;                     /* 0-based batch number in the pass */
} LoaderBatch;

typedef struct Loader Loader;

int loader_create(Loader **loader, const LoaderConfig *cfg, Err *e);

/* Starts a pass over items[order[0..n)] (order NULL: 0..n-1) in batches of batch_size
 * (<= batch_capacity; the last batch may be short). view keys the augmentation (epoch, or
 * cached view). items must stay valid during the pass; order is copied. A pass already
 * running is cancelled first and every batch it handed out becomes invalid. */
int loader_start(Loader *l, const DatasetItem *items, const int *order, int n, int batch_size, uint32_t view, Err *e);

/* Next batch in order: returns 1 and sets *batch, 0 when the pass is finished, -1 on error
 * (a file that fails to read or decode: the message names it; the pass is then stopped).
 * At most depth - 1 batches may be held at once; release each with loader_release. */
int loader_next(Loader *l, LoaderBatch **batch, Err *e);
void loader_release(Loader *l, LoaderBatch *batch);

/* Grayscale / CMYK JPEGs converted so far (all passes). */
ImageDecodeStats loader_decode_stats(Loader *l);

void loader_destroy(Loader *l);

#endif
