/* Batches of preprocessed images from a list of JPEG paths, decoded by worker threads
 * one batch ahead of the consumer (double buffering). No augmentation: this is the
 * exact Keras inference path (decode -> resize -> preprocess_input). */
#ifndef TL_IMAGE_BATCH_H
#define TL_IMAGE_BATCH_H

#include <pthread.h>

#include "core/error.h"
#include "data/image.h"

typedef struct ImageBatcherConfig {
    int image_size;
    Interp interp;
    int fast_decode;
    int batch;          /* images per batch */
    int threads;        /* decode threads; <= 0: 2 */
} ImageBatcherConfig;

typedef struct ImageBatcher {
    ImageBatcherConfig cfg;
    const char *const *paths;
    int n;
    float *slot[2];                 /* (batch, S, S, 3) each */
    int remaining[2];               /* items still to decode in the slot's batch */
    Err slot_err[2];
    int slot_failed[2];
    int next_item, consumed;        /* next image to claim; batches handed out */
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t *workers;
    int n_workers;
} ImageBatcher;

/* Decodes one image file to preprocessed floats (S, S, 3) using caller scratch. fast != 0:
 * the fast decoder with DCT-domain downscaling (image_decode_jpeg_file, N = image_size). */
int image_load_preprocessed(const char *path, int image_size, Interp interp, int fast, Image *scratch, uint8_t *resized,
                            float *out, Err *e);

int image_batcher_start(ImageBatcher *b, const ImageBatcherConfig *cfg, const char *const *paths, int n, Err *e);
/* The next batch in order: *images valid until the following call; *count <= batch. */
int image_batcher_next(ImageBatcher *b, const float **images, int *count, Err *e);
void image_batcher_stop(ImageBatcher *b);

#endif
