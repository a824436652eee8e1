/* Fuzz target: the feature-cache chunk reader (trainer/train/feature_cache.c), on the
 * chunk of a FUZZ_CACHE_ROWS-image table: any file there is read or refused by name. */
#include <stdio.h>

#include "fuzz.h"
#include "train/feature_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static float rows[FUZZ_CACHE_ROWS * FEATURE_DIM];
    char path[1024];
    FeatureEntry en = {.split = "train", .n = FUZZ_CACHE_ROWS, .key = FUZZ_CACHE_KEY};
    Err e = {0};
    fuzz_write(path, sizeof path, "cache/" FUZZ_CACHE_KEY "/chunk-00000.f32", data, size);
    char dir[1024];
    fuzz_path(dir, sizeof dir, "cache");
    feature_chunk_present(dir, &en, 0);
    int rc = feature_chunk_read(dir, &en, 0, rows, &e);
    fuzz_expect_named(rc, &e, path);
    return 0;
}
