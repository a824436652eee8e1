/* Loader threads: batches equal the single-image pipeline, are bit-identical for 1 and 3
 * threads, follow the caller's order, survive restarts, and report a corrupt file by name.
 * JPEGs are written at test time (data/image_jpeg_write.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "data/image_jpeg_write.h"
#include "data/loader.h"
#include "test_util.h"

enum { N_ITEMS = 11, S = 32 };

static char base[512];
static char paths[N_ITEMS][640];
static DatasetItem items[N_ITEMS];

/* A w x h JPEG (RGB, or grayscale when gray) with a smooth pattern plus a seeded texture. */
static void write_jpeg(const char *path, int w, int h, int gray, uint32_t seed) {
    int comps = gray ? 1 : 3;
    unsigned char *pix = malloc((size_t)h * w * comps);
    if (!pix) { perror(path); exit(2); }
    Rng r;
    rng_init(&r, seed, RNG_INIT, 7, 7);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w * comps; x++) pix[(size_t)y * w * comps + x] = (unsigned char)((x * 5 + y * 3 + (int)rng_below(&r, 40)) & 255);
    JpegPixels px = {.data = pix, .h = h, .w = w, .components = comps, .stride = (size_t)w * comps};
    Err e;
    if (image_encode_jpeg_file(path, &px, 90, &e)) { fprintf(stderr, "%s\n", e.msg); exit(2); }
    free(pix);
}

static void make_files(void) {
    const char *top = getenv("TL_TESTDATA");
    Err e;
    snprintf(base, sizeof base, "%s/loader_%ld", top ? top : "/tmp", (long)getpid());
    fs_remove_tree(base, &e);
    if (fs_mkdir_p(base, &e) != 0) { fprintf(stderr, "%s\n", e.msg); exit(2); }
    static const int sizes[N_ITEMS][2] = {{37, 53}, {64, 64}, {20, 90}, {32, 32}, {100, 40}, {45, 45},
                                          {33, 31}, {70, 50}, {16, 16}, {90, 20}, {50, 70}};
    for (int i = 0; i < N_ITEMS; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/img%02d.jpg", base, i);
        write_jpeg(paths[i], sizes[i][0], sizes[i][1], i == 4, (uint32_t)i);
        items[i].path = paths[i];
        items[i].label = i % 3;
    }
}

static AugmentConfig recipe(void) {
    AugmentConfig c;
    memset(&c, 0, sizeof c);
    c.strength = 1.0;
    c.horizontal_flip = 1;
    c.rotation = 8;
    c.width_shift = c.height_shift = 0.1;
    c.zoom = 0.1;
    c.shear = 0.1;
    c.brightness = 0.15;
    c.channel_shift = 10.0;
    strcpy(c.fill, "reflect");
    return c;
}

/* The single-image pipeline, written out: decode, resize, (augment), preprocess. */
static void expected_image(int item, const AugmentConfig *aug, uint64_t seed, uint32_t view, float *out) {
    Image img = {0};
    Err e;
    uint8_t *resized = malloc(S * S * 3);
    float *rgb = malloc(sizeof(float) * S * S * 3);
    if (image_decode_jpeg_file(items[item].path, &img, 0, NULL, &e) != 0) { fprintf(stderr, "%s\n", e.msg); exit(2); }
    image_resize(&img, S, S, INTERP_NEAREST, resized);
    if (aug) {
        AugmentScratch sc;
        augment_scratch_init(&sc, S, S, &e);
        Rng r;
        rng_init(&r, seed, RNG_AUGMENT, (uint32_t)item, view);
        AugmentParams p = augment_draw(aug, &r, S, S);
        rgb8_to_float(resized, rgb, S * S * 3);
        augment_apply(&p, aug, rgb, out, S, S, &sc);
        augment_scratch_free(&sc);
    } else {
        rgb8_to_float(resized, out, S * S * 3);
    }
    preprocess_caffe(out, out, S * S);
    image_free(&img);
    free(resized);
    free(rgb);
}

static Loader *make_loader(int threads, int depth, const AugmentConfig *aug, int capacity) {
    LoaderConfig cfg = {threads, S, INTERP_NEAREST, 0, aug, 42, capacity, depth};
    Loader *l;
    Err e;
    if (loader_create(&l, &cfg, &e) != 0) { fprintf(stderr, "%s\n", e.msg); exit(2); }
    return l;
}

/* Runs a whole pass, copying every image (in order) into out (n, S, S, 3); returns the
 * number of batches, or -1 on a loader error. */
static int run_pass(Loader *l, const int *order, int n, int batch, uint32_t view, float *out, int *labels, int *idx) {
    Err e;
    if (loader_start(l, items, order, n, batch, view, &e) != 0) { fprintf(stderr, "%s\n", e.msg); return -1; }
    LoaderBatch *b;
    int rc, nb = 0, pos = 0;
    while ((rc = loader_next(l, &b, &e)) == 1) {
        if (b->number != nb || b->count != (n - pos < batch ? n - pos : batch)) {
            fprintf(stderr, "batch %d: number %d count %d\n", nb, b->number, b->count);
            return -1;
        }
        memcpy(out + (size_t)pos * S * S * 3, b->x, sizeof(float) * b->count * S * S * 3);
        memcpy(labels + pos, b->labels, sizeof(int) * b->count);
        memcpy(idx + pos, b->items, sizeof(int) * b->count);
        pos += b->count;
        nb++;
        loader_release(l, b);
    }
    if (rc < 0) { fprintf(stderr, "%s\n", e.msg); return -1; }
    return pos == n ? nb : -1;
}

static const int order[N_ITEMS] = {7, 2, 10, 0, 5, 9, 1, 4, 8, 3, 6};

static void test_matches_single_image_pipeline(void) {
    size_t px = S * S * 3;
    float *got = malloc(sizeof(float) * N_ITEMS * px), *want = malloc(sizeof(float) * px);
    int labels[N_ITEMS], idx[N_ITEMS];
    AugmentConfig aug = recipe();
    for (int with_aug = 0; with_aug <= 1; with_aug++) {
        Loader *l = make_loader(2, 2, with_aug ? &aug : NULL, 4);
        int nb = run_pass(l, order, N_ITEMS, 4, 5, got, labels, idx);
        CHECK(nb == 3, "augment %d: %d batches (want 4+4+3)", with_aug, nb);
        int bad = 0, bad_meta = 0;
        for (int i = 0; i < N_ITEMS && nb > 0; i++) {
            expected_image(order[i], with_aug ? &aug : NULL, 42, 5, want);
            bad += memcmp(got + i * px, want, sizeof(float) * px) != 0;
            bad_meta += idx[i] != order[i] || labels[i] != items[order[i]].label;
        }
        CHECK(bad == 0, "augment %d: %d images differ from the single-image pipeline", with_aug, bad);
        CHECK(bad_meta == 0, "augment %d: %d items/labels not in the caller's order", with_aug, bad_meta);
        ImageDecodeStats st = loader_decode_stats(l);
        CHECK(st.grayscale == 1, "one grayscale JPEG expected, counted %d", st.grayscale);
        loader_destroy(l);
    }
    free(got);
    free(want);
}

static void test_thread_count_invariance(void) {
    size_t px = S * S * 3, bytes = sizeof(float) * N_ITEMS * px;
    float *a = malloc(bytes), *b = malloc(bytes), *v = malloc(bytes);
    int la[N_ITEMS], lb[N_ITEMS], ia[N_ITEMS], ib[N_ITEMS];
    AugmentConfig aug = recipe();
    Loader *one = make_loader(1, 2, &aug, 3), *three = make_loader(3, 3, &aug, 3);
    CHECK(run_pass(one, order, N_ITEMS, 3, 1, a, la, ia) == 4, "1 thread: pass failed");
    CHECK(run_pass(three, order, N_ITEMS, 3, 1, b, lb, ib) == 4, "3 threads: pass failed");
    CHECK(memcmp(a, b, bytes) == 0, "1 and 3 threads gave different pixels");
    CHECK(memcmp(la, lb, sizeof la) == 0 && memcmp(ia, ib, sizeof ia) == 0, "1 and 3 threads gave different labels");
    /* A second pass with another view draws other transforms; the same view repeats exactly. */
    CHECK(run_pass(three, order, N_ITEMS, 3, 2, v, lb, ib) == 4, "view 2 pass failed");
    CHECK(memcmp(a, v, bytes) != 0, "view 2 repeated view 1's augmentation");
    CHECK(run_pass(three, order, N_ITEMS, 3, 1, v, lb, ib) == 4, "repeat pass failed");
    CHECK(memcmp(a, v, bytes) == 0, "repeating view 1 changed the pixels");
    loader_destroy(one);
    loader_destroy(three);
    free(a);
    free(b);
    free(v);
}

static void test_holding_and_restart(void) {
    Loader *l = make_loader(2, 3, NULL, 2);
    Err e;
    LoaderBatch *b0, *b1, *b2, *b3, *extra;
    CHECK_OK(loader_start(l, items, NULL, N_ITEMS, 2, 0, &e), &e);
    CHECK(loader_next(l, &b0, &e) == 1 && loader_next(l, &b1, &e) == 1 && loader_next(l, &b2, &e) == 1, "first three batches");
    CHECK(loader_next(l, &extra, &e) == -1 && strstr(e.msg, "release") != NULL, "holding every buffer must be an error: %s", e.msg);
    int b0_first = b0->items[0];
    loader_release(l, b1); /* out of order release */
    CHECK(loader_next(l, &b3, &e) == 1 && b3->number == 3 && b3->items[0] == 6, "batch 3 after releasing batch 1");
    CHECK(b0->items[0] == b0_first && b0->number == 0, "a held batch was overwritten");
    loader_release(l, b0);
    loader_release(l, b2);
    loader_release(l, b3);
    /* Restart mid-pass with another order: the new pass starts from its batch 0. */
    size_t px = S * S * 3;
    float *got = malloc(sizeof(float) * N_ITEMS * px), *want = malloc(sizeof(float) * px);
    int labels[N_ITEMS], idx[N_ITEMS];
    CHECK(run_pass(l, order + 3, 5, 2, 0, got, labels, idx) == 3, "restarted pass failed");
    int bad = 0;
    for (int i = 0; i < 5; i++) {
        expected_image(order[3 + i], NULL, 0, 0, want);
        bad += memcmp(got + i * px, want, sizeof(float) * px) != 0 || idx[i] != order[3 + i];
    }
    CHECK(bad == 0, "restarted pass: %d images wrong", bad);
    CHECK(run_pass(l, NULL, 0, 2, 0, got, labels, idx) == 0, "an empty pass must give no batches");
    /* Destroy while workers wait for free slots. */
    CHECK_OK(loader_start(l, items, NULL, N_ITEMS, 1, 0, &e), &e);
    CHECK(loader_next(l, &b0, &e) == 1, "batch before destroy");
    loader_destroy(l);
    free(got);
    free(want);
}

static void test_corrupt_file(void) {
    char bad_path[640];
    snprintf(bad_path, sizeof bad_path, "%s/broken_cat.jpg", base);
    FILE *f = fopen(bad_path, "wb");
    fputs("this is not a JPEG file\n", f);
    fclose(f);
    DatasetItem list[N_ITEMS + 1];
    memcpy(list, items, sizeof items);
    list[N_ITEMS].path = bad_path;
    list[N_ITEMS].label = 0;
    int ord[8] = {0, 1, 2, 3, 4, N_ITEMS, 5, 6};
    for (int threads = 1; threads <= 3; threads += 2) {
        Loader *l = make_loader(threads, 2, NULL, 4);
        Err e = {{0}};
        LoaderBatch *b;
        CHECK_OK(loader_start(l, list, ord, 8, 4, 0, &e), &e);
        CHECK(loader_next(l, &b, &e) == 1, "first batch is fine");
        loader_release(l, b);
        CHECK(loader_next(l, &b, &e) == -1, "batch with the corrupt file must fail");
        CHECK(strstr(e.msg, "broken_cat.jpg") != NULL, "error does not name the file: %s", e.msg);
        CHECK(loader_next(l, &b, &e) == -1, "the failed pass must stay failed");
        CHECK_OK(loader_start(l, list, ord, 5, 4, 0, &e), &e);
        int n = 0, rc;
        while ((rc = loader_next(l, &b, &e)) == 1) { n += b->count; loader_release(l, b); }
        CHECK(rc == 0 && n == 5, "a new pass after an error: rc %d, %d images", rc, n);
        loader_destroy(l);
    }
    /* A missing file is named too. */
    list[N_ITEMS].path = "/nonexistent/dir/missing_dog.jpg";
    Loader *l = make_loader(2, 2, NULL, 4);
    Err e = {{0}};
    LoaderBatch *b;
    CHECK_OK(loader_start(l, list, ord + 5, 1, 4, 0, &e), &e);
    CHECK(loader_next(l, &b, &e) == -1 && strstr(e.msg, "missing_dog.jpg") != NULL, "missing file: %s", e.msg);
    loader_destroy(l);
}

int main(void) {
    make_files();
    test_matches_single_image_pipeline();
    test_thread_count_invariance();
    test_holding_and_restart();
    test_corrupt_file();
    Err e;
    fs_remove_tree(base, &e);
    return TEST_END();
}
