#include "train/feature_cache.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checksum.h"
#include "core/clock.h"
#include "core/floats.h"
#include "core/fsutil.h"

/* The chunk format's version is its magic; TLFEAT01 (a 32-byte header with a key prefix and
 * no checksum) is recognised only to say it is stale. */
static const char CHUNK_MAGIC[8] = {'T', 'L', 'F', 'E', 'A', 'T', '0', '2'};
static const char CHUNK_MAGIC_V1[8] = {'T', 'L', 'F', 'E', 'A', 'T', '0', '1'};

typedef struct ChunkHeader {     /* FEATURE_CHUNK_HEADER bytes, little-endian */
    char magic[8];
    uint32_t rows, dim, chunk, dtype;
    char key[32];                /* the table's key, 32 hex digits (no NUL) */
    uint32_t crc;                /* CRC-32 of this header with crc = 0, then of the stored values */
    uint32_t reserved;
} ChunkHeader;
_Static_assert(sizeof(ChunkHeader) == FEATURE_CHUNK_HEADER, "chunk header layout");

static int is_augmenting(const AugmentConfig *a) { return a->strength > 0; }

/* The augmentation seed of the training views: the cache's seed when views are cached
 * (the pool trials share), train.seed when each epoch draws afresh (views: 0). */
static long view_seed(const TrialConfig *c) { return c->feature_cache.views > 0 ? config_cache_seed(c) : c->train.seed; }

static void cache_log(const FeatureExtractor *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cache_log(const FeatureExtractor *fx, const char *fmt, ...) {
    FILE *f = fx->log ? fx->log : stderr;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

int feature_extractor_init(FeatureExtractor *fx, const TrialConfig *cfg, Backend *be, int threads, Err *e) {
    memset(fx, 0, sizeof *fx);
    fx->cfg = cfg;
    fx->be = be;
    fx->threads = threads > 0 ? threads : 2;
    const char *w = cfg->model.weights;
    if (!strncmp(w, "random:", 7)) {
        hash_init(&fx->weights_digest);
        hash_str(&fx->weights_digest, w);
        return 0;
    }
    if (hash_file(w, &fx->weights_digest, e)) return err_context(e, "model.weights");
    return 0;
}

/* Builds the backbone and loader on first use (a fully cached trial never needs them). */
static int extractor_ready(FeatureExtractor *fx, Err *e) {
    if (fx->ready) return 0;
    const TrialConfig *c = fx->cfg;
    ResnetWeights w;
    int rc = resnet_weights_open_named(&w, c->model.backbone, c->model.weights, e);
    if (rc) return -1;
    int batch = 32;
    rc = backbone_create(&fx->bb, fx->be, c->model.backbone, &w, c->data.image_size, batch, e);
    resnet_weights_free(&w);
    if (rc) return -1;
    LoaderConfig lc = {.threads = fx->threads, .image_size = c->data.image_size,
                       .interp = strcmp(c->data.interpolation, "bilinear") ? INTERP_NEAREST : INTERP_BILINEAR,
                       .augment = NULL, .seed = (uint64_t)view_seed(c), .batch_capacity = batch, .depth = 3};
    fx->chunk = tl_malloc(e, (size_t)FEATURE_CHUNK * FEATURE_DIM * sizeof(float), "feature chunk");
    fx->halves = tl_malloc(e, (size_t)FEATURE_CHUNK * FEATURE_DIM * sizeof(uint16_t), "feature chunk (fp16)");
    int rc2 = !fx->chunk || !fx->halves || loader_create(&fx->loader, &lc, e);
    lc.augment = &c->augment; /* a second loader draws augmentation for training views */
    if (rc2 == 0 && is_augmenting(&c->augment)) rc2 = loader_create(&fx->loader_aug, &lc, e);
    if (rc2) { feature_extractor_free(fx); return -1; }
    fx->ready = 1;
    return 0;
}

void feature_extractor_free(FeatureExtractor *fx) {
    if (fx->loader) loader_destroy(fx->loader);
    if (fx->loader_aug) loader_destroy(fx->loader_aug);
    if (fx->bb.convs) backbone_free(&fx->bb);
    free(fx->chunk);
    free(fx->halves);
    fx->loader = fx->loader_aug = NULL;
    fx->chunk = NULL;
    fx->halves = NULL;
    fx->ready = 0;
}

/* ---------------------------------------------------------------- keys */

static void hash_augment(Hash128 *h, const AugmentConfig *a, long seed) {
    double s = a->strength;
    hash_f64(h, s);
    hash_i64(h, a->horizontal_flip);
    double ranges[] = {a->rotation, a->width_shift, a->height_shift, a->zoom, a->shear, a->brightness, a->channel_shift};
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) hash_f64(h, ranges[i] * s);
    hash_str(h, a->fill);
    hash_i64(h, seed);
}

void cache_hash_backbone_setup(Hash128 *h, const TrialConfig *c, const Backend *be) {
    hash_str(h, be->name);                    /* cpu fp32 and cuda tf32 numbers differ slightly */
    hash_i64(h, be->native_layout);           /* so do the CPU's two layouts (summation order) */
    hash_str(h, backend_has(be, BACKEND_CAP_PRECISION) ? PRECISION_NAMES[c->model.precision] : "fp32");
    hash_i64(h, c->data.image_size);
    hash_str(h, c->data.interpolation);
}

void cache_hash_images(Hash128 *h, const DatasetItem *items, int n) {
    hash_i64(h, n);
    for (int i = 0; i < n; i++) {
        struct stat st;
        hash_str(h, items[i].path);
        hash_i64(h, items[i].label);
        if (stat(items[i].path, &st) == 0) { hash_i64(h, (int64_t)st.st_size); hash_i64(h, (int64_t)st.st_mtime); }
    }
}

/* The digest of what decides the table's numbers. The storage dtype is not in it (it names
 * the chunk files): fp32 keys are the same whatever dtype a later trial asks for. */
static void entry_key(const FeatureExtractor *fx, const FeatureEntry *en, char out[33]) {
    const TrialConfig *c = fx->cfg;
    Hash128 h;
    hash_init(&h);
    hash_str(&h, "tl-feature-cache v1");
    hash_bytes(&h, &fx->weights_digest, sizeof fx->weights_digest);
    hash_str(&h, c->model.backbone);
    cache_hash_backbone_setup(&h, c, fx->be);
    cache_hash_images(&h, en->items, en->n);
    hash_i64(&h, en->augment);
    if (en->augment) { hash_augment(&h, &c->augment, view_seed(c)); hash_i64(&h, en->view); }
    hash_hex(&h, out);
}

void feature_entry_init(FeatureEntry *en, const FeatureExtractor *fx, const char *split, const DatasetItem *items, int n,
                        int augment, uint32_t view) {
    *en = (FeatureEntry){.split = split, .items = items, .n = n, .augment = augment, .view = view,
                         .dtype = strcmp(fx->cfg->feature_cache.dtype, "fp16") ? CACHE_FP32 : CACHE_FP16};
    entry_key(fx, en, en->key);
}

uint64_t cache_key_prefix(const char *key) {
    char head[17];
    memcpy(head, key, 16);
    head[16] = 0;
    return strtoull(head, NULL, 16);
}

/* ---------------------------------------------------------------- chunk geometry */

int feature_entry_chunks(const FeatureEntry *en) { return (en->n + FEATURE_CHUNK - 1) / FEATURE_CHUNK; }

static int chunk_rows(const FeatureEntry *en, int chunk) {
    int left = en->n - chunk * FEATURE_CHUNK;
    return left < FEATURE_CHUNK ? left : FEATURE_CHUNK;
}

static size_t value_size(const FeatureEntry *en) { return en->dtype == CACHE_FP16 ? sizeof(uint16_t) : sizeof(float); }

static size_t chunk_bytes(const FeatureEntry *en, int chunk) {
    return FEATURE_CHUNK_HEADER + (size_t)chunk_rows(en, chunk) * FEATURE_DIM * value_size(en);
}

size_t feature_entry_bytes(const FeatureEntry *en) {
    size_t n = 0;
    for (int c = 0; c < feature_entry_chunks(en); c++) n += chunk_bytes(en, c);
    return n;
}

static void chunk_path(char *buf, size_t n, const char *dir, const FeatureEntry *en, int chunk) {
    snprintf(buf, n, "%s/%s/chunk-%05d.%s", dir, en->key, chunk, en->dtype == CACHE_FP16 ? "f16" : "f32");
}

static ChunkHeader header_for(const FeatureEntry *en, int chunk) {
    ChunkHeader h = {.rows = (uint32_t)chunk_rows(en, chunk), .dim = FEATURE_DIM, .chunk = (uint32_t)chunk,
                     .dtype = (uint32_t)en->dtype};
    memcpy(h.magic, CHUNK_MAGIC, sizeof h.magic);
    memcpy(h.key, en->key, sizeof h.key);
    return h;
}

/* CRC-32 of the header (its crc field as 0) and then of the stored values. */
static uint32_t chunk_crc(ChunkHeader h, const void *values, size_t bytes) {
    h.crc = 0;
    return checksum_update(checksum_update(0, &h, sizeof h), values, bytes);
}

/* ---------------------------------------------------------------- checking */

/* What is wrong with a chunk's header for chunk `chunk` of en, or 0 when nothing is. */
static int header_check(const ChunkHeader *h, size_t file_size, const FeatureEntry *en, int chunk, const char *path, Err *e) {
    if (!memcmp(h->magic, CHUNK_MAGIC_V1, sizeof h->magic))
        return err_fail(e, "%s: a chunk of the older format TLFEAT01 (no checksum): stale", path);
    if (memcmp(h->magic, CHUNK_MAGIC, sizeof h->magic)) return err_fail(e, "%s: not a feature cache chunk (bad magic)", path);
    if (memcmp(h->key, en->key, sizeof h->key))
        return err_fail(e, "%s: holds chunk %u of another table (key %.32s), not of %s (%s view %u)", path, h->chunk, h->key,
                        en->key, en->split, en->view);
    if (h->chunk != (uint32_t)chunk) return err_fail(e, "%s: holds chunk %u of its table, not chunk %d", path, h->chunk, chunk);
    ChunkHeader want = header_for(en, chunk);
    if (h->rows != want.rows || h->dim != want.dim || h->dtype != want.dtype)
        return err_fail(e, "%s: shape %u x %u dtype %u, expected %u x %u dtype %u", path, h->rows, h->dim, h->dtype, want.rows,
                        want.dim, want.dtype);
    if (file_size != chunk_bytes(en, chunk))
        return err_fail(e, "%s: %zu bytes, expected %zu (truncated or extended)", path, file_size, chunk_bytes(en, chunk));
    return 0;
}

/* Opens the chunk and reads and checks its header. NULL with *absent = 1 when there is no
 * file; NULL with e set when it is not this chunk. */
static FILE *open_chunk(const char *path, const FeatureEntry *en, int chunk, ChunkHeader *h, int *absent, Err *e) {
    *absent = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *absent = errno == ENOENT;
        err_fail(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    int ok = fstat(fileno(f), &st) == 0 && fread(h, sizeof *h, 1, f) == 1;
    if (!ok) err_fail(e, "%s: shorter than a chunk header (%zu bytes)", path, sizeof *h);
    if (!ok || header_check(h, (size_t)st.st_size, en, chunk, path, e)) { fclose(f); return NULL; }
    return f;
}

ChunkState feature_chunk_state(const char *dir, const FeatureEntry *en, int chunk, Err *why) {
    char path[1200];
    chunk_path(path, sizeof path, dir, en, chunk);
    ChunkHeader h;
    int absent;
    Err local;
    FILE *f = open_chunk(path, en, chunk, &h, &absent, why ? why : &local);
    if (!f) return absent ? CHUNK_ABSENT : CHUNK_BAD;
    fclose(f);
    return CHUNK_PRESENT;
}

int feature_chunk_present(const char *dir, const FeatureEntry *en, int chunk) {
    return feature_chunk_state(dir, en, chunk, NULL) == CHUNK_PRESENT;
}

void feature_entry_missing(const char *dir, const FeatureEntry *en, long *rows, size_t *bytes) {
    *rows = 0, *bytes = 0;
    for (int c = 0; c < feature_entry_chunks(en); c++)
        if (!feature_chunk_present(dir, en, c)) *rows += chunk_rows(en, c), *bytes += chunk_bytes(en, c);
}

/* The stored values into dst: fp16 values land in dst's second half and are widened
 * in place (floats_from_halves reads each half before writing its float). */
static int read_values(FILE *f, const ChunkHeader *h, const FeatureEntry *en, float *dst, const char *path, Err *e) {
    size_t n = (size_t)h->rows * FEATURE_DIM, bytes = n * value_size(en);
    void *raw = en->dtype == CACHE_FP16 ? (void *)((uint16_t *)dst + n) : (void *)dst;
    if (fread(raw, 1, bytes, f) != bytes) return err_fail(e, "%s: short read", path);
    if (chunk_crc(*h, raw, bytes) != h->crc) return err_fail(e, "%s: checksum mismatch (damaged data)", path);
    if (en->dtype == CACHE_FP16) floats_from_halves(raw, n, dst);
    long bad = floats_first_nonfinite(dst, n);
    if (bad >= 0)
        return err_fail(e, "%s: value %g at row %ld is not finite", path, (double)dst[bad], bad / FEATURE_DIM);
    return 0;
}

int feature_chunk_read_path(const char *path, const FeatureEntry *en, int chunk, float *dst, Err *e) {
    ChunkHeader h;
    int absent;
    FILE *f = open_chunk(path, en, chunk, &h, &absent, e);
    if (!f) return -1;
    int rc = read_values(f, &h, en, dst, path, e);
    fclose(f);
    return rc;
}

int feature_chunk_read(const char *dir, const FeatureEntry *en, int chunk, float *dst, Err *e) {
    char path[1200];
    chunk_path(path, sizeof path, dir, en, chunk);
    return feature_chunk_read_path(path, en, chunk, dst, e);
}

/* ---------------------------------------------------------------- computing */

int cache_nonfinite_error(Err *e, const float *x, long at, size_t row_floats, const DatasetItem *items, int first,
                          const char *what, const char *weights) {
    long row = at / (long)row_floats;
    return err_fail(e, "%s is not finite (%g) for image %s with model.weights %s: these weights give no usable features "
                    "(a damaged or wrong weight file?)", what, (double)x[at], items[first + row].path, weights);
}

/* Runs the backbone over rows [first, first + rows) of en into fx->chunk, checking that
 * every feature is finite. */
static int compute_rows(FeatureExtractor *fx, const FeatureEntry *en, int first, int rows, Err *e) {
    if (extractor_ready(fx, e)) return -1;
    int order[FEATURE_CHUNK];
    for (int i = 0; i < rows; i++) order[i] = first + i;
    Loader *l = en->augment ? fx->loader_aug : fx->loader;
    if (loader_start(l, en->items, order, rows, fx->bb.max_batch, en->view, e)) return -1;
    LoaderBatch *b;
    int got, row = 0;
    while ((got = loader_next(l, &b, e)) == 1) {
        float *out = fx->chunk + (size_t)row * FEATURE_DIM;
        int rc = backbone_forward(&fx->bb, b->x, b->count, out, e);
        long bad = rc ? -1 : floats_first_nonfinite(out, (size_t)b->count * FEATURE_DIM);
        if (bad >= 0) rc = cache_nonfinite_error(e, out, bad, FEATURE_DIM, en->items, first + row, "backbone output", fx->cfg->model.weights);
        row += b->count;
        loader_release(l, b);
        if (rc) return -1;
        if (fx->stop && *fx->stop) return err_fail(e, "interrupted");
    }
    fx->images_done += rows;
    return got < 0 ? -1 : 0;
}

/* The chunk's features into fx->chunk, rounded as they are stored (fp16: fx->halves
 * holds them, and fx->chunk their widened values, so a trial that computes a chunk uses
 * the numbers a trial that reads it gets). */
static int compute_chunk(FeatureExtractor *fx, const FeatureEntry *en, int chunk, Err *e) {
    int rows = chunk_rows(en, chunk);
    if (compute_rows(fx, en, chunk * FEATURE_CHUNK, rows, e)) return err_context(e, "features of %s", en->split);
    if (en->dtype != CACHE_FP16) return 0;
    size_t n = (size_t)rows * FEATURE_DIM;
    halves_from_floats(fx->chunk, n, fx->halves);
    long big = halves_first_nonfinite(fx->halves, n);
    if (big >= 0)
        return err_fail(e, "feature %g of image %s is beyond float16's range (65504): use feature_cache.dtype: fp32",
                        (double)fx->chunk[big], en->items[chunk * FEATURE_CHUNK + big / FEATURE_DIM].path);
    floats_from_halves(fx->halves, n, fx->chunk);
    return 0;
}

static int write_chunk(const FeatureExtractor *fx, const char *dir, const FeatureEntry *en, int chunk, Err *e) {
    char sub[1100], path[1200];
    snprintf(sub, sizeof sub, "%s/%s", dir, en->key);
    if (fs_mkdir_p(sub, e)) return -1;
    ChunkHeader h = header_for(en, chunk);
    const void *values = en->dtype == CACHE_FP16 ? (const void *)fx->halves : (const void *)fx->chunk;
    size_t bytes = (size_t)h.rows * FEATURE_DIM * value_size(en);
    h.crc = chunk_crc(h, values, bytes);
    chunk_path(path, sizeof path, dir, en, chunk);
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    if (fwrite(&h, sizeof h, 1, af.f) != 1 || fwrite(values, 1, bytes, af.f) != bytes) {
        fs_atomic_abort(&af);
        return err_fail(e, "%s: write failed", path);
    }
    return fs_atomic_commit(&af, e);
}

static int write_about(const char *dir, const FeatureEntry *en, const FeatureExtractor *fx, Err *e) {
    char path[1200], text[2048];
    snprintf(path, sizeof path, "%s/%s/about.txt", dir, en->key);
    if (fs_exists(path)) return 0;
    const TrialConfig *c = fx->cfg;
    int len = snprintf(text, sizeof text,
                       "split: %s\nimages: %d\nweights: %s\nbackbone: %s\nbackend: %s\nimage_size: %d\ninterpolation: %s\n"
                       "augment: %s\nview: %u\nseed: %ld\naugment.strength: %g\n",
                       en->split, en->n, c->model.weights, c->model.backbone, fx->be->name, c->data.image_size,
                       c->data.interpolation, en->augment ? "yes" : "no", en->view, view_seed(c), c->augment.strength);
    return fs_write_atomic(path, text, (size_t)len, e);
}

int feature_chunk_compute(FeatureExtractor *fx, const char *dir, const FeatureEntry *en, int chunk, Err *e) {
    if (compute_chunk(fx, en, chunk, e) || write_chunk(fx, dir, en, chunk, e)) return -1;
    return write_about(dir, en, fx, e);
}

/* A chunk that failed its check: said in the log, deleted; the caller computes it again. */
static void drop_chunk(FeatureExtractor *fx, const char *dir, const FeatureEntry *en, int chunk, const Err *why) {
    char path[1200];
    chunk_path(path, sizeof path, dir, en, chunk);
    cache_log(fx, "feature cache: %s; deleted, computing it again", why->msg);
    if (unlink(path) != 0 && errno != ENOENT) cache_log(fx, "feature cache: %s: cannot delete: %s", path, strerror(errno));
    fx->chunks_replaced++;
}

static void progress(const FeatureExtractor *fx, const FeatureEntry *en, int done) {
    if (!fx->progress) return;
    fprintf(stderr, "\rfeatures %-10s view %-3u %6d/%d images", en->split, en->view, done, en->n);
    if (done >= en->n) fputc('\n', stderr);
}

/* Chunk c of en into out: read and verified when stored, else (or when it fails) computed. */
static int get_chunk(FeatureExtractor *fx, const char *dir, const FeatureEntry *en, int c, float *out, Err *e) {
    Err why;
    if (dir && feature_chunk_read(dir, en, c, out, &why) == 0) return 0;
    if (dir && feature_chunk_state(dir, en, c, NULL) != CHUNK_ABSENT) drop_chunk(fx, dir, en, c, &why);
    if (compute_chunk(fx, en, c, e)) return -1;
    memcpy(out, fx->chunk, (size_t)chunk_rows(en, c) * FEATURE_DIM * sizeof(float));
    if (dir && (write_chunk(fx, dir, en, c, e) || write_about(dir, en, fx, e))) return -1;
    progress(fx, en, c * FEATURE_CHUNK + chunk_rows(en, c));
    return 0;
}

int feature_entry_get(FeatureExtractor *fx, const char *dir, const FeatureEntry *en, float *dst, Err *e) {
    for (int c = 0; c < feature_entry_chunks(en); c++)
        if (get_chunk(fx, dir, en, c, dst + (size_t)c * FEATURE_CHUNK * FEATURE_DIM, e)) return -1;
    return 0;
}

/* One loader pass over images 0..n-1 of en through the backbone; *seconds its wall time. */
static int timed_pass(FeatureExtractor *fx, const FeatureEntry *en, int n, double *seconds, Err *e) {
    int order[FEATURE_CHUNK];
    for (int i = 0; i < n; i++) order[i] = i;
    Loader *l = en->augment ? fx->loader_aug : fx->loader;
    double t0 = now_seconds();
    if (loader_start(l, en->items, order, n, fx->bb.max_batch, en->view, e)) return -1;
    LoaderBatch *b;
    int got;
    while ((got = loader_next(l, &b, e)) == 1) {
        int rc = backbone_forward(&fx->bb, b->x, b->count, fx->chunk, e);
        loader_release(l, b);
        if (rc) return -1;
    }
    *seconds = now_seconds() - t0;
    return got < 0 ? -1 : 0;
}

int feature_extractor_measure(FeatureExtractor *fx, const FeatureEntry *en, int batches, double *images_per_s,
                              double *setup_seconds, Err *e) {
    double t0 = now_seconds();
    if (extractor_ready(fx, e)) return -1;
    int B = fx->bb.max_batch, n = batches * B < en->n ? batches * B : en->n;
    if (batches < 1 || batches * B > FEATURE_CHUNK || n < 1)
        return err_fail(e, "measure: %d batches of %d images from %d (at most %d)", batches, B, en->n, FEATURE_CHUNK);
    double warm, timed;
    if (timed_pass(fx, en, n < B ? n : B, &warm, e)) return -1;
    *setup_seconds = now_seconds() - t0;
    if (timed_pass(fx, en, n, &timed, e)) return -1;
    *images_per_s = n / timed;
    return 0;
}

/* ---------------------------------------------------------------- a trial's tables */

int trial_entries_init(TrialEntries *te, const FeatureExtractor *fx, const Dataset *ds, Err *e) {
    memset(te, 0, sizeof *te);
    const TrialConfig *c = fx->cfg;
    feature_entry_init(&te->validation, fx, "validation", ds->validation.items, ds->validation.n, 0, 0);
    feature_entry_init(&te->test, fx, "test", ds->test.items, ds->test.n, 0, 0);
    te->train_augment = is_augmenting(&c->augment);
    te->n_train_views = te->train_augment ? c->feature_cache.views : 1;
    if (te->n_train_views == 0) return 0;
    te->train = tl_calloc(e, (size_t)te->n_train_views, sizeof *te->train, "feature entries");
    if (!te->train) return -1;
    for (int v = 0; v < te->n_train_views; v++)
        feature_entry_init(&te->train[v], fx, "train", ds->train.items, ds->train.n, te->train_augment, (uint32_t)v);
    return 0;
}

void trial_entries_free(TrialEntries *te) {
    free(te->train);
    memset(te, 0, sizeof *te);
}

int trial_entries_list(const TrialEntries *te, const FeatureEntry **out, int max) {
    int n = 0;
    if (n < max) out[n++] = &te->validation;
    if (n < max) out[n++] = &te->test;
    for (int v = 0; v < te->n_train_views && n < max; v++) out[n++] = &te->train[v];
    return n;
}

int feature_cache_fill_shard(FeatureExtractor *fx, const char *dir, const TrialEntries *te, int shard, int shards, Err *e) {
    const FeatureEntry *all[2 + 64];
    int n = trial_entries_list(te, all, 2 + 64);
    long index = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < feature_entry_chunks(all[i]); c++, index++) {
            Err why;
            ChunkState st = index % shards != shard ? CHUNK_PRESENT : feature_chunk_state(dir, all[i], c, &why);
            if (st == CHUNK_PRESENT) continue;
            if (st == CHUNK_BAD) drop_chunk(fx, dir, all[i], c, &why);
            if (feature_chunk_compute(fx, dir, all[i], c, e)) return -1;
            if (fx->stop && *fx->stop) return err_fail(e, "interrupted");
        }
    return 0;
}
