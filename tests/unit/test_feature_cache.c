/* Feature cache keys: one pool of augmented views for every train.seed (keyed by
 * feature_cache.seed), and with feature_cache.seed: trial exactly the keys tables had before
 * that key existed (so caches made then are still found): the old key, spelled out here as it
 * was hashed, is the pinned reference. */
#include <string.h>

#include "test_util.h"
#include "train/feature_cache.h"

/* The key of a table as feature_cache.c hashed it before feature_cache.seed: every piece in
 * this order, the augmentation keyed by `seed` (then always train.seed). */
static void key_before(const FeatureExtractor *fx, const FeatureEntry *en, long seed, char out[33]) {
    const TrialConfig *c = fx->cfg;
    const AugmentConfig *a = &c->augment;
    Hash128 h;
    hash_init(&h);
    hash_str(&h, "tl-feature-cache v1");
    hash_bytes(&h, &fx->weights_digest, sizeof fx->weights_digest);
    hash_str(&h, c->model.backbone);
    cache_hash_backbone_setup(&h, c, fx->be);
    cache_hash_images(&h, en->items, en->n);
    hash_i64(&h, en->augment);
    if (en->augment) {
        double s = a->strength, ranges[] = {a->rotation, a->width_shift, a->height_shift, a->zoom, a->shear, a->brightness, a->channel_shift};
        hash_f64(&h, s);
        hash_i64(&h, a->horizontal_flip);
        for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) hash_f64(&h, ranges[i] * s);
        hash_str(&h, a->fill);
        hash_i64(&h, seed);
        hash_i64(&h, en->view);
    }
    hash_hex(&h, out);
}

typedef struct Keys {
    char train1[33], validation[33];   /* view 1 of train; validation */
    CacheDtype dtype;
} Keys;

static DatasetItem items[3] = {{.path = (char *)"/nonexistent/a/1.jpg", .label = 0},
                               {.path = (char *)"/nonexistent/a/2.jpg", .label = 0},
                               {.path = (char *)"/nonexistent/b/3.jpg", .label = 1}};

/* The keys a trial with config c gives; before[] the old formula's with `seed`. */
static Keys keys_of(const TrialConfig *c, Backend *be, long seed, Keys *before) {
    FeatureExtractor fx;
    Err e;
    Keys k;
    CHECK_OK(feature_extractor_init(&fx, c, be, 1, &e), &e);
    FeatureEntry tr, va;
    feature_entry_init(&tr, &fx, "train", items, 3, 1, 1);
    feature_entry_init(&va, &fx, "validation", items + 1, 2, 0, 0);
    memcpy(k.train1, tr.key, 33);
    memcpy(k.validation, va.key, 33);
    k.dtype = tr.dtype;
    if (before) {
        key_before(&fx, &tr, seed, before->train1);
        key_before(&fx, &va, seed, before->validation);
    }
    feature_extractor_free(&fx);
    return k;
}

int main(void) {
    Backend *be;
    Err e;
    if (backend_reference_create(&be, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    TrialConfig c;
    config_defaults(&c);
    snprintf(c.model.weights, sizeof c.model.weights, "random:1");
    Keys old, k;

    c.feature_cache.seed = CACHE_SEED_TRIAL;
    c.train.seed = 43;
    k = keys_of(&c, be, 43, &old);
    CHECK(!strcmp(k.train1, old.train1), "seed: trial: the per-seed key of before (%s vs %s)", k.train1, old.train1);
    CHECK(!strcmp(k.validation, old.validation), "validation: the key of before");

    c.feature_cache.seed = 42;          /* the default */
    k = keys_of(&c, be, 42, &old);
    CHECK(!strcmp(k.train1, old.train1), "the default pool: the key a seed-42 trial had before");
    Keys k44;
    c.train.seed = 44;
    k44 = keys_of(&c, be, 0, NULL);
    CHECK(!strcmp(k.train1, k44.train1) && !strcmp(k.validation, k44.validation), "train.seed 43 and 44 share the pool");
    c.feature_cache.seed = 7;
    Keys k7 = keys_of(&c, be, 0, NULL);
    CHECK(strcmp(k7.train1, k44.train1) != 0, "another feature_cache.seed, another pool");
    CHECK(!strcmp(k7.validation, k44.validation), "validation does not depend on any seed");

    snprintf(c.feature_cache.dtype, sizeof c.feature_cache.dtype, "fp16");
    Keys k16 = keys_of(&c, be, 0, NULL);
    CHECK(!strcmp(k16.train1, k7.train1) && k16.dtype == CACHE_FP16 && k7.dtype == CACHE_FP32,
          "fp16 tables: the same key, stored as .f16 files");

    snprintf(c.feature_cache.dtype, sizeof c.feature_cache.dtype, "fp32");
    c.feature_cache.views = 0;          /* recomputed every epoch: drawn from train.seed, no pool */
    c.train.seed = 43;
    k = keys_of(&c, be, 43, &old);
    CHECK(!strcmp(k.train1, old.train1), "views: 0 draws from train.seed");

    backend_destroy(be);
    return TEST_END();
}
