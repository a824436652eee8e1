#include "train/feature_cache.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fsutil.h"

static const char CHUNK_MAGIC[8] = {'T', 'L', 'F', 'E', 'A', 'T', '0', '1'};

typedef struct ChunkHeader {
    char magic[8];
    uint32_t rows, dim, chunk, reserved;
    uint64_t key_prefix;         /* first 16 hex digits of the key, as a number */
} ChunkHeader;

static int is_augmenting(const AugmentConfig *a) { return a->strength > 0; }

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
                       .augment = NULL, .seed = (uint64_t)c->train.seed, .batch_capacity = batch, .depth = 3};
    fx->chunk = tl_malloc(e, (size_t)FEATURE_CHUNK * FEATURE_DIM * sizeof(float), "feature chunk");
    int rc2 = !fx->chunk || loader_create(&fx->loader, &lc, e);
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
    fx->loader = fx->loader_aug = NULL;
    fx->chunk = NULL;
    fx->ready = 0;
}

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
    hash_str(h, strcmp(be->name, "cpu") ? c->model.precision : "fp32");
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

void feature_entry_init(FeatureEntry *en, const FeatureExtractor *fx, const char *split, const DatasetItem *items, int n,
                        int augment, uint32_t view) {
    const TrialConfig *c = fx->cfg;
    en->split = split;
    en->items = items;
    en->n = n;
    en->augment = augment;
    en->view = view;
    Hash128 h;
    hash_init(&h);
    hash_str(&h, "tl-feature-cache v1");
    hash_bytes(&h, &fx->weights_digest, sizeof fx->weights_digest);
    hash_str(&h, c->model.backbone);
    cache_hash_backbone_setup(&h, c, fx->be);
    cache_hash_images(&h, items, n);
    hash_i64(&h, augment);
    if (augment) { hash_augment(&h, &c->augment, c->train.seed); hash_i64(&h, view); }
    hash_hex(&h, en->key);
}

int feature_entry_chunks(const FeatureEntry *en) { return (en->n + FEATURE_CHUNK - 1) / FEATURE_CHUNK; }

static void chunk_path(char *buf, size_t n, const char *dir, const FeatureEntry *en, int chunk) {
    snprintf(buf, n, "%s/%s/chunk-%05d.f32", dir, en->key, chunk);
}

static int chunk_rows(const FeatureEntry *en, int chunk) {
    int left = en->n - chunk * FEATURE_CHUNK;
    return left < FEATURE_CHUNK ? left : FEATURE_CHUNK;
}

uint64_t cache_key_prefix(const char *key) {
    char head[17];
    memcpy(head, key, 16);
    head[16] = 0;
    return strtoull(head, NULL, 16);
}

int feature_chunk_present(const char *dir, const FeatureEntry *en, int chunk) {
    char path[1200];
    chunk_path(path, sizeof path, dir, en, chunk);
    struct stat st;
    return stat(path, &st) == 0 && (size_t)st.st_size == sizeof(ChunkHeader) + (size_t)chunk_rows(en, chunk) * FEATURE_DIM * 4;
}

/* Runs the backbone over the chunk's images into fx->chunk. */
static int compute_rows(FeatureExtractor *fx, const FeatureEntry *en, int chunk, Err *e) {
    if (extractor_ready(fx, e)) return -1;
    int first = chunk * FEATURE_CHUNK, rows = chunk_rows(en, chunk);
    int order[FEATURE_CHUNK];
    for (int i = 0; i < rows; i++) order[i] = first + i;
    Loader *l = en->augment ? fx->loader_aug : fx->loader;
    if (loader_start(l, en->items, order, rows, fx->bb.max_batch, en->view, e)) return -1;
    LoaderBatch *b;
    int got, row = 0;
    while ((got = loader_next(l, &b, e)) == 1) {
        int rc = backbone_forward(&fx->bb, b->x, b->count, fx->chunk + (size_t)row * FEATURE_DIM, e);
        row += b->count;
        loader_release(l, b);
        if (rc) return -1;
        if (fx->stop && *fx->stop) return err_fail(e, "interrupted");
    }
    fx->images_done += rows;
    return got < 0 ? -1 : 0;
}

static int write_chunk(const char *dir, const FeatureEntry *en, int chunk, const float *rows_data, Err *e) {
    char sub[1100], path[1200];
    snprintf(sub, sizeof sub, "%s/%s", dir, en->key);
    if (fs_mkdir_p(sub, e)) return -1;
    ChunkHeader h = {.rows = (uint32_t)chunk_rows(en, chunk), .dim = FEATURE_DIM, .chunk = (uint32_t)chunk};
    memcpy(h.magic, CHUNK_MAGIC, 8);
    h.key_prefix = cache_key_prefix(en->key);
    chunk_path(path, sizeof path, dir, en, chunk);
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    size_t n = (size_t)h.rows * FEATURE_DIM;
    if (fwrite(&h, sizeof h, 1, af.f) != 1 || fwrite(rows_data, sizeof(float), n, af.f) != n) {
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
                       c->data.interpolation, en->augment ? "yes" : "no", en->view, c->train.seed, c->augment.strength);
    return fs_write_atomic(path, text, (size_t)len, e);
}

int feature_chunk_compute(FeatureExtractor *fx, const char *dir, const FeatureEntry *en, int chunk, Err *e) {
    if (compute_rows(fx, en, chunk, e)) return err_context(e, "features of %s", en->split);
    if (write_chunk(dir, en, chunk, fx->chunk, e)) return -1;
    return write_about(dir, en, fx, e);
}

int feature_chunk_read(const char *dir, const FeatureEntry *en, int chunk, float *dst, Err *e) {
    char path[1200];
    chunk_path(path, sizeof path, dir, en, chunk);
    FILE *f = fopen(path, "rb");
    if (!f) return err_fail(e, "%s: cannot open", path);
    ChunkHeader h;
    size_t want = (size_t)chunk_rows(en, chunk) * FEATURE_DIM;
    int ok = fread(&h, sizeof h, 1, f) == 1 && !memcmp(h.magic, CHUNK_MAGIC, 8) && h.rows == (uint32_t)chunk_rows(en, chunk) &&
             h.dim == FEATURE_DIM && fread(dst, sizeof(float), want, f) == want;
    fclose(f);
    return ok ? 0 : err_fail(e, "%s: corrupt feature cache chunk (delete it to recompute)", path);
}

static void progress(const FeatureExtractor *fx, const FeatureEntry *en, int done) {
    if (!fx->progress) return;
    fprintf(stderr, "\rfeatures %-10s view %-3u %6d/%d images", en->split, en->view, done, en->n);
    if (done >= en->n) fputc('\n', stderr);
}

int feature_entry_get(FeatureExtractor *fx, const char *dir, const FeatureEntry *en, float *dst, Err *e) {
    for (int c = 0; c < feature_entry_chunks(en); c++) {
        float *out = dst + (size_t)c * FEATURE_CHUNK * FEATURE_DIM;
        if (dir && feature_chunk_present(dir, en, c)) {
            if (feature_chunk_read(dir, en, c, out, e)) return -1;
            continue;
        }
        if (compute_rows(fx, en, c, e)) return err_context(e, "features of %s", en->split);
        memcpy(out, fx->chunk, (size_t)chunk_rows(en, c) * FEATURE_DIM * sizeof(float));
        if (dir && (write_chunk(dir, en, c, fx->chunk, e) || write_about(dir, en, fx, e))) return -1;
        progress(fx, en, c * FEATURE_CHUNK + chunk_rows(en, c));
    }
    return 0;
}

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

int feature_cache_fill_shard(FeatureExtractor *fx, const char *dir, const TrialEntries *te, int shard, int shards, Err *e) {
    const FeatureEntry *all[2 + 64];
    int n = 0;
    all[n++] = &te->validation;
    all[n++] = &te->test;
    for (int v = 0; v < te->n_train_views && n < 66; v++) all[n++] = &te->train[v];
    long index = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < feature_entry_chunks(all[i]); c++, index++) {
            if (index % shards != shard || feature_chunk_present(dir, all[i], c)) continue;
            if (feature_chunk_compute(fx, dir, all[i], c, e)) return -1;
            if (fx->stop && *fx->stop) return err_fail(e, "interrupted");
        }
    return 0;
}
