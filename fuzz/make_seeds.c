/* Writes seed inputs for the fuzz targets with the project's own writers, so each seed is
 * a file the readers meet for real:
 *   fuzz_make_seeds OUT PHOTO1 PHOTO2 [CARS_META_MAT]
 * makes OUT/<target>/... for config, checkpoint, weights_h5, feature_chunk, boundary_table
 * (real ResNet50 features / conv5 inputs of the two photos, random weights) and cars_mat
 * (devkit .mat files as libmatio writes them, in the harness's packing; with the real
 * devkit class list too when given). fuzz/make-corpus runs it; the JPEG, sweep and real
 * checkpoint seeds come from PIL, configs/ and the trainer there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "fuzz.h"
#include "model/resnet_train.h"
#include "model/weights_h5_write.h"
#include "test_mat.h"
#include "train/boundary_cache.h"
#include "train/checkpoint.h"
#include "train/feature_cache.h"

static void die(const Err *e) {
    fprintf(stderr, "fuzz_make_seeds: %s\n", e->msg);
    exit(1);
}

static void out_path(char *p, size_t n, const char *out, const char *target, const char *name) {
    char dir[1024];
    Err e;
    snprintf(dir, sizeof dir, "%s/%s", out, target);
    if (fs_mkdir_p(dir, &e)) die(&e);
    snprintf(p, n, "%s/%s", dir, name);
}

static void copy_file(const char *from, const char *to) {
    char *data;
    size_t size;
    Err e;
    if (fs_read_all(from, &data, &size, &e) || fs_write_atomic(to, data, size, &e)) die(&e);
    free(data);
}

/* config.yaml as a trial folder holds it: the defaults, and one with most sections changed. */
static void config_seeds(const char *out) {
    TrialConfig c;
    char p[1024];
    Err e;
    config_defaults(&c);
    snprintf(c.model.weights, sizeof c.model.weights, "random:1");
    out_path(p, sizeof p, out, "config", "defaults.yaml");
    if (config_write_file(&c, p, &e)) die(&e);
    snprintf(c.model.trainable, sizeof c.model.trainable, "conv5");
    snprintf(c.schedule.name, sizeof c.schedule.name, "cosine");
    c.finetune.after_epochs = 2;
    c.augment.strength = 0.5;
    c.model.head.hidden = 64;
    c.callbacks.early_stopping.enabled = 1;
    c.feature_cache.views = 3;
    static char *classes[] = {"cat", "dog: \"big\"", "42"};
    c.data.classes = classes;
    c.data.n_classes_listed = 3;
    out_path(p, sizeof p, out, "config", "finetune.yaml");
    if (config_write_file(&c, p, &e)) die(&e);
}

/* A checkpoint with every dtype the writer makes, shapes of 0..3 dimensions and metadata. */
static void checkpoint_seed(const char *out) {
    static const float f[6] = {0.5f, -1.25f, 3e-8f, 1e30f, 0, 7};
    static const double d[2] = {0.1, -2.5e-300};
    static const int64_t i64[3] = {-1, 0, 1LL << 40};
    static const uint32_t u32[4] = {1, 2, 0xffffffffu, 0};
    const int64_t s23[2] = {2, 3}, s2[1] = {2}, s3[1] = {3}, s122[3] = {1, 2, 2};
    Checkpoint ck;
    char p[1024];
    Err e;
    ckpt_init(&ck);
    out_path(p, sizeof p, out, "checkpoint", "writer.safetensors");
    if (ckpt_set_meta(&ck, "format", "tl-trial-state 1", &e) || ckpt_set_meta(&ck, "note", "quote \" slash \\ tab \t é", &e) ||
        ckpt_add_f32(&ck, "head.kernel", f, 2, s23, &e) || ckpt_add_f64(&ck, "hist.seconds", d, 1, s2, &e) ||
        ckpt_add_i64(&ck, "ids", i64, 1, s3, &e) || ckpt_add_u32(&ck, "rng", u32, 3, s122, &e) ||
        ckpt_add_scalar_i64(&ck, "trial.next_epoch", 3, &e) || ckpt_add_scalar_f64(&ck, "sched.lr", 1e-3, &e) ||
        ckpt_write_atomic(&ck, p, &e))
        die(&e);
    ckpt_free(&ck);
}

/* The two-conv arch's weights in the layouts Keras files come in. */
static void weights_seeds(const char *out) {
    ResnetArch a;
    ResnetConvSpec convs[2];
    ResnetWeights w;
    Err e;
    fuzz_tiny_arch(&a, convs);
    if (resnet_weights_random(&w, &a, 7, &e)) die(&e);
    const struct { const char *name; H5WriteStyle style; } files[] = {
        {"keras.h5", {0}}, {"vlen.h5", {.vlen_strings = 1}}, {"flat_nosuffix.h5", {.flat = 1, .no_suffix = 1}}};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[1024];
        out_path(p, sizeof p, out, "weights_h5", files[i].name);
        if (resnet_weights_save_h5_style(&w, &a, p, &files[i].style, &e)) die(&e);
    }
    resnet_weights_free(&w);
}

/* Feature chunk 0 of the two photos, as feature_cache.c computes and stores it, in each
 * dtype (chunk-00000.f32, chunk-00000.f16). */
static void feature_seed(const char *out, Backend *be, const TrialConfig *c, DatasetItem *items, const char *tmp) {
    static const char *const ext[2] = {"f32", "f16"};
    for (int dt = CACHE_FP32; dt <= CACHE_FP16; dt++) {
        FeatureExtractor fx;
        FeatureEntry en = {.split = "train", .items = items, .n = FUZZ_CACHE_ROWS, .dtype = dt, .key = FUZZ_CACHE_KEY};
        char from[1024], to[1024], name[32];
        Err e;
        if (feature_extractor_init(&fx, c, be, 1, &e) || feature_chunk_compute(&fx, tmp, &en, 0, &e)) die(&e);
        feature_extractor_free(&fx);
        snprintf(name, sizeof name, "chunk-00000.%s", ext[dt]);
        snprintf(from, sizeof from, "%s/%s/%s", tmp, FUZZ_CACHE_KEY, name);
        out_path(to, sizeof to, out, "feature_chunk", name);
        copy_file(from, to);
    }
}

/* The conv5 boundary table of the two photos, as fine-tuning computes and stores it. */
static void boundary_seed(const char *out, Backend *be, const TrialConfig *c, DatasetItem *items, const char *tmp) {
    ResnetArch a;
    ResnetWeights w;
    Backbone bb;
    BoundaryCache bc;
    Loader *l = NULL;
    int first, computed;
    Hash128 digest = {0};
    Dataset ds = {.train = {.items = items, .n = FUZZ_CACHE_ROWS}};
    LoaderConfig lc = {.threads = 1, .image_size = FUZZ_IMAGE_SIZE, .batch_capacity = FUZZ_CACHE_ROWS, .depth = 2};
    char from[1024], to[1024];
    Err e;
    if (resnet_arch_init(&a, "resnet50", &e) || resnet_suffix_start(&a, "conv5", &first, &e) ||
        resnet_weights_open(&w, &a, "random:1", &e) ||
        backbone_create(&bb, be, "resnet50", &w, FUZZ_IMAGE_SIZE, FUZZ_CACHE_ROWS, &e) || loader_create(&l, &lc, &e) ||
        boundary_cache_init(&bc, be, c, &digest, &a, first, &ds, tmp, FUZZ_CACHE_ROWS, &e))
        die(&e);
    snprintf(bc.train.key, sizeof bc.train.key, "%s", FUZZ_CACHE_KEY);
    if (boundary_table_fill(&bc, &bc.train, &bb, l, &computed, &e)) die(&e);
    boundary_cache_free(&bc);
    loader_destroy(l);
    backbone_free(&bb);
    resnet_weights_free(&w);
    resnet_arch_free(&a);
    snprintf(from, sizeof from, "%s/%s/boundary.f16", tmp, FUZZ_CACHE_KEY);
    out_path(to, sizeof to, out, "boundary_table", "boundary.f16");
    copy_file(from, to);
}

static void cache_seeds(const char *out, const char *photo1, const char *photo2) {
    Backend *be;
    TrialConfig c;
    DatasetItem items[FUZZ_CACHE_ROWS] = {{.path = (char *)photo1, .label = 0}, {.path = (char *)photo2, .label = 1}};
    char tmp[1024];
    Err e;
    config_defaults(&c);
    c.data.image_size = FUZZ_IMAGE_SIZE;
    snprintf(c.model.weights, sizeof c.model.weights, "random:1");
    snprintf(tmp, sizeof tmp, "%s/caches", fuzz_dir());
    if (backend_cpu_create(&be, 1, &e)) die(&e);
    feature_seed(out, be, &c, items, tmp);
    boundary_seed(out, be, &c, items, tmp);
    backend_destroy(be);
}

/* Appends a file to the cars_mat packing: u32 LE length, then its bytes (the last part: bytes only). */
static void pack_file(FILE *f, const char *path, int last) {
    char *data;
    size_t size;
    Err e;
    if (fs_read_all(path, &data, &size, &e)) die(&e);
    unsigned char len[4] = {(unsigned char)size, (unsigned char)(size >> 8), (unsigned char)(size >> 16), (unsigned char)(size >> 24)};
    if (!last) fwrite(len, 1, 4, f);
    fwrite(data, 1, size, f);
    free(data);
}

static void pack(const char *out, const char *name, int flags, const char *meta, const char *train, const char *test) {
    char p[1024];
    out_path(p, sizeof p, out, "cars_mat", name);
    FILE *f = fopen(p, "wb");
    if (!f) { fprintf(stderr, "cannot write %s\n", p); exit(1); }
    fputc(flags, f);
    pack_file(f, meta, 0);
    pack_file(f, train, 0);
    pack_file(f, test, 1);
    if (fclose(f)) exit(1);
}

/* Annotations of the harness's images 00001..00003.jpg (24x24). */
static void cars_seeds(const char *out, const char *real_meta) {
    static const char *const names[3] = {"AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Ram C/V Cargo Van Minivan 2012"};
    Anno a[3] = {{"00001.jpg", 1, {2, 3, 20, 22}}, {"00002.jpg", 2, {1, 1, 24, 24}}, {"00003.jpg", 3, {5, 0, 1000, 9}}};
    char meta[1024], plain[1024], zipped[1024];
    fuzz_path(meta, sizeof meta, "mat/meta.mat");
    fuzz_path(plain, sizeof plain, "mat/annos.mat");
    fuzz_path(zipped, sizeof zipped, "mat/annos_zlib.mat");
    if (write_meta(meta, names, 3) || write_annos(plain, a, 3, MAT_COMPRESSION_NONE) ||
        write_annos(zipped, a, 3, MAT_COMPRESSION_ZLIB))
        exit(1);
    pack(out, "plain", 0, meta, plain, zipped);
    pack(out, "crop", 1, meta, zipped, plain);
    if (real_meta) pack(out, "devkit_meta", 2, real_meta, plain, zipped);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: fuzz_make_seeds OUT PHOTO1 PHOTO2 [CARS_META_MAT]\n");
        return 2;
    }
    config_seeds(argv[1]);
    checkpoint_seed(argv[1]);
    weights_seeds(argv[1]);
    cache_seeds(argv[1], argv[2], argv[3]);
    cars_seeds(argv[1], argc > 4 ? argv[4] : NULL);
    printf("fuzz_make_seeds: seeds in %s\n", argv[1]);
    return 0;
}
