/* Fuzz target: the feature-cache chunk reader (trainer/train/feature_cache.c), on chunk 0
 * of a FUZZ_CACHE_ROWS-image table stored as the input's header says (dtype 1: fp16, else
 * fp32): any file there is read or refused by name, as it comes and with its CRC made to
 * match (fuzz.h), so that the checks behind the checksum are reached too. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "train/feature_cache.h"

enum { DTYPE_AT = 20 };   /* the header's dtype field (after magic, rows, dim, chunk) */

static void read_chunk(const uint8_t *data, size_t size, CacheDtype dtype) {
    static float rows[FUZZ_CACHE_ROWS * FEATURE_DIM];
    char path[1024], dir[1024];
    FeatureEntry en = {.split = "train", .n = FUZZ_CACHE_ROWS, .dtype = dtype, .key = FUZZ_CACHE_KEY};
    Err e = {0};
    fuzz_write(path, sizeof path, dtype == CACHE_FP16 ? "cache/" FUZZ_CACHE_KEY "/chunk-00000.f16"
                                                      : "cache/" FUZZ_CACHE_KEY "/chunk-00000.f32", data, size);
    fuzz_path(dir, sizeof dir, "cache");
    Err why = {0};
    ChunkState st = feature_chunk_state(dir, &en, 0, &why);
    if (st == CHUNK_BAD) fuzz_expect_named(-1, &why, path);
    if (st == CHUNK_ABSENT) fuzz_fail("%s: written but reported absent", path);
    int rc = feature_chunk_read(dir, &en, 0, rows, &e);
    fuzz_expect_named(rc, &e, path);
    if (rc == 0 && st != CHUNK_PRESENT) fuzz_fail("%s: read although its header was refused", path);
    remove(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint32_t dtype = 0;
    if (size >= DTYPE_AT + 4) memcpy(&dtype, data + DTYPE_AT, 4);
    CacheDtype dt = dtype == CACHE_FP16 ? CACHE_FP16 : CACHE_FP32;
    read_chunk(data, size, dt);
    const uint8_t *fixed = fuzz_cache_crc_fixed(data, size);
    if (fixed) read_chunk(fixed, size, dt);
    return 0;
}
