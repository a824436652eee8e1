#include "data/image_batch.h"

#include <stdlib.h>
#include <string.h>

int image_load_preprocessed(const char *path, int image_size, Interp interp, int fast, Image *scratch, uint8_t *resized,
                            float *out, Err *e) {
    if (image_decode_jpeg_file(path, scratch, fast ? image_size : 0, NULL, e)) return -1;
    size_t n = (size_t)image_size * image_size;
    image_resize(scratch, image_size, image_size, interp, resized);
    rgb8_to_float(resized, out, n * 3);
    preprocess_caffe(out, out, n);
    return 0;
}

static int batches_total(const ImageBatcher *b) { return (b->n + b->cfg.batch - 1) / b->cfg.batch; }

static int items_in_batch(const ImageBatcher *b, int k) {
    int left = b->n - k * b->cfg.batch;
    return left < b->cfg.batch ? left : b->cfg.batch;
}

/* Claims the next image; -1 when done or stopping. The consumer holds batch consumed-1
 * in one slot, so workers may fill only batch `consumed` (the other slot). */
static int claim(ImageBatcher *b) {
    pthread_mutex_lock(&b->mu);
    while (!b->stop && b->next_item < b->n && b->next_item / b->cfg.batch > b->consumed) pthread_cond_wait(&b->cv, &b->mu);
    int item = b->stop || b->next_item >= b->n ? -1 : b->next_item++;
    pthread_mutex_unlock(&b->mu);
    return item;
}

static void *worker(void *arg) {
    ImageBatcher *b = arg;
    int s = b->cfg.image_size;
    Image img = {0};
    uint8_t *resized = malloc((size_t)s * s * 3);
    for (int item; (item = claim(b)) >= 0;) {
        int k = item / b->cfg.batch, slot = k % 2;
        float *dst = b->slot[slot] + (size_t)(item % b->cfg.batch) * s * s * 3;
        Err e = {{0}};
        int rc = resized ? image_load_preprocessed(b->paths[item], s, b->cfg.interp, b->cfg.fast_decode, &img, resized, dst, &e)
                         : err_fail(&e, "out of memory");
        pthread_mutex_lock(&b->mu);
        if (rc && !b->slot_failed[slot]) { b->slot_failed[slot] = 1; b->slot_err[slot] = e; }
        if (--b->remaining[slot] == 0) pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }
    free(resized);
    image_free(&img);
    return NULL;
}

int image_batcher_start(ImageBatcher *b, const ImageBatcherConfig *cfg, const char *const *paths, int n, Err *e) {
    memset(b, 0, sizeof *b);
    b->cfg = *cfg;
    if (b->cfg.threads <= 0) b->cfg.threads = 2;
    b->paths = paths;
    b->n = n;
    size_t floats = (size_t)cfg->batch * cfg->image_size * cfg->image_size * 3;
    for (int i = 0; i < 2; i++) {
        b->slot[i] = tl_malloc(e, floats * sizeof(float), "image batch");
        if (!b->slot[i]) { free(b->slot[0]); return -1; }
        b->remaining[i] = i < batches_total(b) ? items_in_batch(b, i) : 0;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->workers = tl_calloc(e, (size_t)b->cfg.threads, sizeof(pthread_t), "threads");
    for (int i = 0; b->workers && i < b->cfg.threads; i++) {
        if (pthread_create(&b->workers[i], NULL, worker, b) != 0) break;
        b->n_workers++;
    }
    if (b->n_workers == 0) { image_batcher_stop(b); return err_fail(e, "cannot start decode threads"); }
    return 0;
}

int image_batcher_next(ImageBatcher *b, const float **images, int *count, Err *e) {
    pthread_mutex_lock(&b->mu);
    int k = b->consumed, slot = k % 2;
    if (k > 0) {
        /* The previous batch's slot is free again: arm it for batch k + 1. */
        int prev = (k - 1) % 2;
        b->remaining[prev] = k + 1 < batches_total(b) ? items_in_batch(b, k + 1) : 0;
        b->slot_failed[prev] = 0;
        pthread_cond_broadcast(&b->cv);
    }
    while (b->remaining[slot] > 0) pthread_cond_wait(&b->cv, &b->mu);
    int failed = b->slot_failed[slot];
    if (failed && e) *e = b->slot_err[slot];
    b->consumed++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    *images = b->slot[slot];
    *count = items_in_batch(b, k);
    return failed ? -1 : 0;
}

void image_batcher_stop(ImageBatcher *b) {
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->n_workers; i++) pthread_join(b->workers[i], NULL);
    free(b->workers);
    free(b->slot[0]);
    free(b->slot[1]);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    memset(b, 0, sizeof *b);
}
