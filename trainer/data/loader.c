#include "data/loader.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

/* pthread calls that return an error number. (lock/unlock/wait/signal on default mutexes
 * and condition variables fail only on programming errors and are not checked.) */
#define PT_CHECK(e, call) \
    do { int pt_rc_ = (call); \
         if (pt_rc_) return err_fail((e), "%s:%d: %s failed: %s", __FILE__, __LINE__, #call, strerror(pt_rc_)); } while (0)

/* One buffer of the ring. A slot is free (batch_no -1), being filled, complete, or held
 * by the consumer; it is (re)assigned the next batch number when released. */
typedef struct Slot {
    LoaderBatch batch;           /* x, labels, items point into the loader's arrays */
    int batch_no;                /* batch this slot holds in the current pass; -1 = free */
    int done;                    /* items finished (ok or failed) */
    int held;                    /* handed to the consumer */
    int failed, fail_pos;        /* first failure by item position */
    Err err;
} Slot;

/* Per-thread scratch, allocated once. */
typedef struct Worker {
    struct Loader *l;
    pthread_t thread;
    int started;
    Image img;                   /* decoded image, grown to the largest one */
    uint8_t *file;               /* file bytes */
    size_t file_cap;
    uint8_t *resized;            /* (S, S, 3) */
    float *rgb;                  /* (S, S, 3) augmentation input */
    AugmentScratch aug;
} Worker;

struct Loader {
    LoaderConfig cfg;
    AugmentConfig aug;
    int augment_on;
    size_t image_floats;         /* S * S * 3 */
    Slot *slots;                 /* depth */
    float *x;                    /* (depth, capacity, S, S, 3) */
    int *labels, *item_idx;      /* (depth, capacity) */
    Worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;      /* workers wait: items to claim, a slot assigned, stop */
    pthread_cond_t cv_done;      /* consumer waits: a batch complete, workers idle */
    /* the pass, under mu */
    const DatasetItem *items;
    int *order;                  /* (n) item index of each position */
    int order_cap;
    int n, batch_size, n_batches;
    uint32_t view;
    int active, cancel, shutdown;
    int next_item;               /* next position to claim */
    int next_assign;             /* next batch number to give a free slot */
    int next_batch;              /* next batch for the consumer */
    int busy;                    /* workers between claim and finish */
    int held;
    int stopped_on_error;
    ImageDecodeStats stats;
    int sync_ready;              /* mutex and condition variables initialised */
};

/* ---- slots ---- */

static int items_in_batch(const struct Loader *l, int b) {
    int left = l->n - b * l->batch_size;
    return left < l->batch_size ? left : l->batch_size;
}

static void assign_next(struct Loader *l, Slot *s) {
    if (!l->active || l->next_assign >= l->n_batches) {
        s->batch_no = -1;
        return;
    }
    int b = l->next_assign++;
    s->batch_no = b;
    s->batch.number = b;
    s->batch.count = items_in_batch(l, b);
    s->done = s->failed = s->held = 0;
    s->fail_pos = -1;
}

static Slot *slot_of(struct Loader *l, int b) {
    for (int i = 0; i < l->cfg.depth; i++)
        if (l->slots[i].batch_no == b) return &l->slots[i];
    return NULL;
}

/* Cancels the pass and waits until no worker touches a slot. Called with mu held. */
static void pass_stop_locked(struct Loader *l) {
    l->cancel = 1;
    pthread_cond_broadcast(&l->cv_work);
    while (l->busy > 0) pthread_cond_wait(&l->cv_done, &l->mu);
    l->active = 0;
    l->cancel = 0;
}

/* ---- one image ---- */

static int read_file(const char *path, Worker *w, size_t *size, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_fail(e, "%s: cannot open: %s", path, strerror(errno));
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return err_fail(e, "%s: cannot seek: %s", path, strerror(errno));
    }
    if ((size_t)len + 1 > w->file_cap) {
        uint8_t *p = realloc(w->file, (size_t)len + 1);
        if (!p) { fclose(f); return err_fail(e, "%s: out of memory for %ld bytes", path, len); }
        w->file = p;
        w->file_cap = (size_t)len + 1;
    }
    size_t got = fread(w->file, 1, (size_t)len, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)len) return err_fail(e, "%s: read error", path);
    *size = got;
    return 0;
}

/* file -> (S, S, 3) caffe floats at dst. */
static int load_item(struct Loader *l, Worker *w, const DatasetItem *it, int item, uint32_t view, float *dst,
                     ImageDecodeStats *stats, Err *e) {
    int s = l->cfg.image_size;
    size_t size = 0;
    if (read_file(it->path, w, &size, e) != 0) return -1;
    if (image_decode_jpeg_mem(w->file, size, it->path, &w->img, l->cfg.fast_decode ? s : 0, stats, e) != 0) return -1;
    image_resize(&w->img, s, s, l->cfg.interp, w->resized);
    if (l->augment_on) {
        Rng r;
        rng_init(&r, l->cfg.seed, RNG_AUGMENT, (uint32_t)item, view);
        AugmentParams p = augment_draw(&l->aug, &r, s, s);
        rgb8_to_float(w->resized, w->rgb, l->image_floats);
        augment_apply(&p, &l->aug, w->rgb, dst, s, s, &w->aug);
    } else {
        rgb8_to_float(w->resized, dst, l->image_floats);
    }
    preprocess_caffe(dst, dst, (size_t)s * s);
    return 0;
}

/* Processes claimed position pos of batch slot s; mu is released meanwhile. */
static void work_on(struct Loader *l, Worker *w, Slot *s, int pos) {
    int k = pos - s->batch_no * l->batch_size, item = l->order[pos];
    const DatasetItem *it = &l->items[item];
    uint32_t view = l->view;
    s->batch.labels[k] = it->label;
    s->batch.items[k] = item;
    pthread_mutex_unlock(&l->mu);
    ImageDecodeStats st = {0, 0};
    Err e = {{0}};
    int rc = load_item(l, w, it, item, view, s->batch.x + (size_t)k * l->image_floats, &st, &e);
    pthread_mutex_lock(&l->mu);
    l->stats.grayscale += st.grayscale;
    l->stats.cmyk += st.cmyk;
    if (rc != 0 && (!s->failed || pos < s->fail_pos)) {
        s->failed = 1;
        s->fail_pos = pos;
        s->err = e;
    }
    if (++s->done == s->batch.count) pthread_cond_broadcast(&l->cv_done);
}

static void *worker_main(void *arg) {
    Worker *w = arg;
    struct Loader *l = w->l;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->shutdown && !(l->active && !l->cancel && l->next_item < l->n)) pthread_cond_wait(&l->cv_work, &l->mu);
        if (l->shutdown) break;
        int pos = l->next_item++, b = pos / l->batch_size;
        Slot *s;
        l->busy++;
        /* Items are claimed in order, so the batches before b are all claimed: waiting here
         * for a free slot cannot starve the batch the consumer waits for. */
        while (!(s = slot_of(l, b)) && !l->cancel && !l->shutdown) pthread_cond_wait(&l->cv_work, &l->mu);
        if (s && !l->cancel && !l->shutdown) work_on(l, w, s, pos);
        if (--l->busy == 0) pthread_cond_broadcast(&l->cv_done);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- public ---- */

static int workers_alloc(struct Loader *l, Err *e) {
    size_t px = l->image_floats;
    l->workers = tl_calloc(e, (size_t)l->cfg.threads, sizeof *l->workers, "loader workers");
    if (!l->workers) return -1;
    for (int i = 0; i < l->cfg.threads; i++) {
        Worker *w = &l->workers[i];
        w->l = l;
        w->img.max_pixels = l->cfg.max_pixels;
        w->resized = tl_malloc(e, px, "loader resize buffer");
        w->rgb = tl_malloc(e, px * sizeof(float), "loader augmentation buffer");
        if (!w->resized || !w->rgb) return -1;
        if (augment_scratch_init(&w->aug, l->cfg.image_size, l->cfg.image_size, e) != 0) return -1;
    }
    return 0;
}

static int buffers_alloc(struct Loader *l, Err *e) {
    size_t per_slot = (size_t)l->cfg.batch_capacity;
    l->slots = tl_calloc(e, (size_t)l->cfg.depth, sizeof *l->slots, "loader slots");
    l->x = tl_malloc(e, sizeof(float) * l->cfg.depth * per_slot * l->image_floats, "loader batch buffers");
    l->labels = tl_malloc(e, sizeof(int) * l->cfg.depth * per_slot, "loader labels");
    l->item_idx = tl_malloc(e, sizeof(int) * l->cfg.depth * per_slot, "loader item indices");
    if (!l->slots || !l->x || !l->labels || !l->item_idx) return -1;
    for (int i = 0; i < l->cfg.depth; i++) {
        Slot *s = &l->slots[i];
        s->batch.x = l->x + (size_t)i * per_slot * l->image_floats;
        s->batch.labels = l->labels + (size_t)i * per_slot;
        s->batch.items = l->item_idx + (size_t)i * per_slot;
        s->batch_no = -1;
    }
    return 0;
}

static int threads_start(struct Loader *l, Err *e) {
    PT_CHECK(e, pthread_mutex_init(&l->mu, NULL));
    PT_CHECK(e, pthread_cond_init(&l->cv_work, NULL));
    PT_CHECK(e, pthread_cond_init(&l->cv_done, NULL));
    l->sync_ready = 1;
    for (int i = 0; i < l->cfg.threads; i++) {
        PT_CHECK(e, pthread_create(&l->workers[i].thread, NULL, worker_main, &l->workers[i]));
        l->workers[i].started = 1;
    }
    return 0;
}

int loader_create(Loader **out, const LoaderConfig *cfg, Err *e) {
    *out = NULL;
    if (cfg->threads < 1 || cfg->image_size < 1 || cfg->batch_capacity < 1 || cfg->depth < 2)
        return err_fail(e, "loader: bad config (threads %d, image_size %d, batch_capacity %d, depth %d; need >= 1, 1, 1, 2)",
                        cfg->threads, cfg->image_size, cfg->batch_capacity, cfg->depth);
    struct Loader *l = tl_calloc(e, 1, sizeof *l, "loader");
    if (!l) return -1;
    l->cfg = *cfg;
    l->cfg.augment = NULL;
    if (cfg->augment) {
        l->aug = *cfg->augment;
        l->augment_on = cfg->augment->strength > 0;
    }
    l->image_floats = (size_t)cfg->image_size * cfg->image_size * 3;
    if (buffers_alloc(l, e) != 0 || workers_alloc(l, e) != 0 || threads_start(l, e) != 0) {
        loader_destroy(l);
        return -1;
    }
    *out = l;
    return 0;
}

int loader_start(Loader *l, const DatasetItem *items, const int *order, int n, int batch_size, uint32_t view, Err *e) {
    if (n < 0 || batch_size < 1 || batch_size > l->cfg.batch_capacity)
        return err_fail(e, "loader_start: batch_size %d must be in 1..%d (n %d)", batch_size, l->cfg.batch_capacity, n);
    for (int i = 0; order && i < n; i++)
        if (order[i] < 0) return err_fail(e, "loader_start: order[%d] = %d is negative", i, order[i]);
    pthread_mutex_lock(&l->mu);
    pass_stop_locked(l);
    if (n > l->order_cap) {
        int *p = realloc(l->order, sizeof *p * (size_t)n);
        if (!p) {
            pthread_mutex_unlock(&l->mu);
            return err_fail(e, "loader_start: out of memory for %d items", n);
        }
        l->order = p;
        l->order_cap = n;
    }
    for (int i = 0; i < n; i++) l->order[i] = order ? order[i] : i;
    l->items = items;
    l->n = n;
    l->batch_size = batch_size;
    l->n_batches = (n + batch_size - 1) / batch_size;
    l->view = view;
    l->next_item = l->next_assign = l->next_batch = l->held = 0;
    l->stopped_on_error = 0;
    l->active = 1;
    for (int i = 0; i < l->cfg.depth; i++) assign_next(l, &l->slots[i]);
    pthread_cond_broadcast(&l->cv_work);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

int loader_next(Loader *l, LoaderBatch **batch, Err *e) {
    *batch = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->stopped_on_error) {
        pthread_mutex_unlock(&l->mu);
        return err_fail(e, "loader_next: the pass stopped after an error; start a new pass");
    }
    if (!l->active || l->next_batch >= l->n_batches) {
        pthread_mutex_unlock(&l->mu);
        return 0;
    }
    if (l->held >= l->cfg.depth) {
        pthread_mutex_unlock(&l->mu);
        return err_fail(e, "loader_next: all %d batch buffers are held; release one first", l->cfg.depth);
    }
    int b = l->next_batch;
    Slot *s;
    while (!(s = slot_of(l, b)) || s->done < s->batch.count) pthread_cond_wait(&l->cv_done, &l->mu);
    if (s->failed) {
        if (e) *e = s->err;
        l->stopped_on_error = 1;
        pass_stop_locked(l);
        pthread_mutex_unlock(&l->mu);
        return -1;
    }
    s->held = 1;
    l->held++;
    l->next_batch++;
    *batch = &s->batch;
    pthread_mutex_unlock(&l->mu);
    return 1;
}

void loader_release(Loader *l, LoaderBatch *batch) {
    if (!batch) return;
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < l->cfg.depth; i++) {
        Slot *s = &l->slots[i];
        if (&s->batch != batch || !s->held) continue;
        s->held = 0;
        l->held--;
        assign_next(l, s);
        pthread_cond_broadcast(&l->cv_work);
    }
    pthread_mutex_unlock(&l->mu);
}

ImageDecodeStats loader_decode_stats(Loader *l) {
    pthread_mutex_lock(&l->mu);
    ImageDecodeStats st = l->stats;
    pthread_mutex_unlock(&l->mu);
    return st;
}

void loader_destroy(Loader *l) {
    if (!l) return;
    if (l->sync_ready) {
        pthread_mutex_lock(&l->mu);
        l->shutdown = 1;
        l->cancel = 1;
        pthread_cond_broadcast(&l->cv_work);
        pthread_mutex_unlock(&l->mu);
    }
    for (int i = 0; l->workers && i < l->cfg.threads; i++) {
        Worker *w = &l->workers[i];
        if (w->started) pthread_join(w->thread, NULL);
        image_free(&w->img);
        free(w->file);
        free(w->resized);
        free(w->rgb);
        augment_scratch_free(&w->aug);
    }
    if (l->sync_ready) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv_work);
        pthread_cond_destroy(&l->cv_done);
    }
    free(l->workers);
    free(l->slots);
    free(l->x);
    free(l->labels);
    free(l->item_idx);
    free(l->order);
    free(l);
}
