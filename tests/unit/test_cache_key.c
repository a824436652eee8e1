/* Cache keys and the CPU's precision: the float32 CPU keys of the feature cache and the
 * boundary cache are byte-identical to those computed before bf16 existed (GOLDEN_*:
 * computed with the code of commit 90e3df5, so existing caches are still found), while a
 * bf16 CPU backend and data.fast_decode each give keys of their own, different from
 * float32's and from each other's. Needs no bf16 hardware: the key follows the backend's
 * BACKEND_CAP_PRECISION (which the bf16 CPU backend has), so the float32 backend with that
 * flag set and model.precision bf16 stands in for it. */
#include <string.h>

#include "model/resnet.h"
#include "train/boundary_cache.h"
#include "train/feature_cache.h"
#include "test_util.h"

/* feature_entry_init and boundary_cache_init of the fixed setup below, before bf16. */
#define GOLDEN_FEATURE "7dc3ae5d84a2ea1e51feed03a8fab638"
#define GOLDEN_BOUNDARY "91f0c16666b524ce981e4904261f4ba5"

/* Paths that do not exist: their size and mtime are not hashed, so the keys are fixed. */
static DatasetItem ITEMS[] = {{"/nonexistent/a/1.jpg", 0}, {"/nonexistent/a/2.jpg", 0}, {"/nonexistent/b/3.jpg", 1}};

typedef struct Keys { char feature[33], train[33], validation[33]; } Keys;

static void keys_for(Backend *be, const TrialConfig *c, Keys *k) {
    Err e = {{0}};
    FeatureExtractor fx;
    CHECK_OK(feature_extractor_init(&fx, c, be, 1, &e), &e);
    FeatureEntry en;
    feature_entry_init(&en, &fx, "train", ITEMS, 3, 0, 0);
    memcpy(k->feature, en.key, sizeof en.key);
    ResnetArch a;
    Dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.train = (DatasetSplit){ITEMS, 2};
    ds.validation = (DatasetSplit){ITEMS + 2, 1};
    BoundaryCache bc;
    CHECK_OK(resnet_arch_init(&a, "resnet50", &e), &e);
    CHECK_OK(boundary_cache_init(&bc, be, c, &fx.weights_digest, &a, resnet_arch_find(&a, "conv5_block1_1_conv"), &ds, "/tmp", 2,
                                 &e), &e);
    memcpy(k->train, bc.train.key, sizeof bc.train.key);
    memcpy(k->validation, bc.validation.key, sizeof bc.validation.key);
    boundary_cache_free(&bc);
    resnet_arch_free(&a);
    feature_extractor_free(&fx);
}

int main(void) {
    Err e = {{0}};
    Backend *cpu;
    if (backend_cpu_create(&cpu, 1, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    TrialConfig c;
    config_defaults(&c);
    snprintf(c.model.weights, sizeof c.model.weights, "random:1");
    c.data.image_size = 64;
    Keys fp32, bf16, fast;
    keys_for(cpu, &c, &fp32);
    printf("fp32 cpu keys: feature %s, boundary train %s\n", fp32.feature, fp32.train);
    CHECK(!strcmp(fp32.feature, GOLDEN_FEATURE), "fp32 feature key changed: %s (was %s)", fp32.feature, GOLDEN_FEATURE);
    CHECK(!strcmp(fp32.train, GOLDEN_BOUNDARY), "fp32 boundary key changed: %s (was %s)", fp32.train, GOLDEN_BOUNDARY);
    /* model.precision bf16 on a float32 CPU backend (device auto without bf16 units never
     * opens one, but the key follows the backend, not the config). */
    c.model.precision = PREC_BF16;
    Keys same;
    keys_for(cpu, &c, &same);
    CHECK(!strcmp(same.feature, fp32.feature) && !strcmp(same.train, fp32.train), "the fp32 backend keys by its own precision");
    cpu->caps |= BACKEND_CAP_PRECISION;
    keys_for(cpu, &c, &bf16);
    cpu->caps &= ~(unsigned)BACKEND_CAP_PRECISION;
    CHECK(strcmp(bf16.feature, fp32.feature) && strcmp(bf16.train, fp32.train) && strcmp(bf16.validation, fp32.validation),
          "bf16 keys differ from fp32's");
    c.model.precision = PREC_FP32;
    c.data.fast_decode = 1;
    keys_for(cpu, &c, &fast);
    CHECK(strcmp(fast.feature, fp32.feature) && strcmp(fast.train, fp32.train) && strcmp(fast.feature, bf16.feature),
          "data.fast_decode keys differ from exact decoding's");
    backend_destroy(cpu);
    return TEST_END();
}
