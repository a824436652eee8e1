/* Fuzz target: the boundary cache's table reader (trainer/train/boundary_cache.c), on the
 * train table of a FUZZ_CACHE_ROWS-image conv5 fine-tuning at FUZZ_IMAGE_SIZE pixels
 * (rows of 2x2x1024 halves): any file there is refused by name, or opened and then every
 * row loads. The table's key is fixed (FUZZ_CACHE_KEY) so seeds stay valid. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "model/resnet_train.h"
#include "train/boundary_cache.h"

/* What every input shares: the backend, the arch and a two-image dataset. Made once. */
typedef struct Setup {
    Backend *be;
    ResnetArch arch;
    int first_conv;
    TrialConfig cfg;
    DatasetItem items[FUZZ_CACHE_ROWS];
    Dataset ds;
    char dir[1024];
} Setup;

static Setup *setup_once(void) {
    static Setup s;
    static int ready;
    if (ready) return &s;
    Err e = {0};
    if (backend_reference_create(&s.be, &e) || resnet_arch_init(&s.arch, "resnet50", &e) ||
        resnet_suffix_start(&s.arch, "conv5", &s.first_conv, &e))
        fuzz_fail("setup: %s", e.msg);
    config_defaults(&s.cfg);
    s.cfg.data.image_size = FUZZ_IMAGE_SIZE;
    for (int i = 0; i < FUZZ_CACHE_ROWS; i++) s.items[i] = (DatasetItem){.path = (char *)"absent.jpg", .label = i};
    s.ds.train = (DatasetSplit){.items = s.items, .n = FUZZ_CACHE_ROWS};
    fuzz_path(s.dir, sizeof s.dir, "boundary");
    ready = 1;
    return &s;
}

static void load_every_row(BoundaryCache *bc) {
    const float *x;
    Err e = {0};
    for (int i = 0; i < FUZZ_CACHE_ROWS; i++) {
        int rows[FUZZ_CACHE_ROWS] = {0};
        rows[0] = i;
        if (boundary_table_load(bc, &bc->train, rows, 1, &x, &e)) fuzz_fail("row %d of an open table: %s", i, e.msg);
    }
}

/* Opens the table from the input: refused by name, or opened and then every row loads. */
static void fill_table(Setup *s, const uint8_t *data, size_t size) {
    BoundaryCache bc;
    Hash128 digest = {0};
    Err e = {0};
    if (boundary_cache_init(&bc, s->be, &s->cfg, &digest, &s->arch, s->first_conv, &s->ds, s->dir, FUZZ_CACHE_ROWS, &e))
        fuzz_fail("boundary_cache_init: %s", e.msg);
    snprintf(bc.train.key, sizeof bc.train.key, "%s", FUZZ_CACHE_KEY);
    char path[1024];
    fuzz_write(path, sizeof path, "boundary/" FUZZ_CACHE_KEY "/boundary.f16", data, size);
    Backbone bb = {.max_batch = FUZZ_CACHE_ROWS};
    int computed;
    int rc = boundary_table_fill(&bc, &bc.train, &bb, NULL, &computed, &e);
    fuzz_expect_named(rc, &e, path);
    if (rc == 0) load_every_row(&bc);
    boundary_cache_free(&bc);
}

/* As it comes, and with its CRC made to match (fuzz.h). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Setup *s = setup_once();
    fill_table(s, data, size);
    const uint8_t *fixed = fuzz_cache_crc_fixed(data, size);
    if (fixed) fill_table(s, fixed, size);
    return 0;
}
