/* data.fast_decode: the fast JPEG path scales in the DCT domain by the largest of 1/2, 1/4,
 * 1/8 that keeps both sides >= the target (fast = N), never when fast = 1 or 0; exact
 * decoding (fast = 0) is unchanged; after the resize to the target the fast picture is
 * close to the exact one (same picture, not the same pixels), through image_load_preprocessed
 * as the loaders run it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/image.h"
#include "data/image_batch.h"
#include "test_images.h"
#include "test_util.h"

static char dir[] = "/tmp/tl_test_fast_XXXXXX";

/* A 700x500 photo-like JPEG (the Stanford Cars size class). */
static void write_photo(char *path, size_t n) {
    enum { H = 500, W = 700 };
    uint8_t *px = malloc((size_t)H * W * 3);
    test_pattern(px, H, W, 3, 5);
    snprintf(path, n, "%s/photo.jpg", dir);
    CHECK(write_test_jpeg(path, px, H, W, 3, 90) == 0, "write photo");
    free(px);
}

static void test_scales(const char *path) {
    struct { int fast, h, w; } cases[] = {
        {0, 500, 700},     /* exact */
        {1, 500, 700},     /* fast DCT, no downscaling */
        {224, 250, 350},   /* 1/2: 250 >= 224, 1/4 would give 125 */
        {100, 125, 175},   /* 1/4 */
        {60, 63, 88},      /* 1/8: ceil(500/8) = 63 */
        {300, 500, 700},   /* not twice the target: full size */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Err e = {{0}};
        Image img = {0};
        CHECK_OK(image_decode_jpeg_file(path, &img, cases[i].fast, NULL, &e), &e);
        CHECK(img.h == cases[i].h && img.w == cases[i].w, "fast %d: %dx%d, expected %dx%d", cases[i].fast, img.w, img.h, cases[i].w,
              cases[i].h);
        image_free(&img);
    }
}

/* Resized to 224 (bilinear, which averages like the DCT scaling does), fast and exact
 * differ by a few levels per pixel on average: the same picture. */
static void test_close_to_exact(const char *path) {
    enum { S = 224 };
    Err e = {{0}};
    Image scratch = {0};
    uint8_t *resized = malloc((size_t)S * S * 3);
    float *exact = malloc((size_t)S * S * 3 * sizeof(float)), *fast = malloc((size_t)S * S * 3 * sizeof(float));
    CHECK_OK(image_load_preprocessed(path, S, INTERP_BILINEAR, 0, &scratch, resized, exact, &e), &e);
    CHECK_OK(image_load_preprocessed(path, S, INTERP_BILINEAR, 1, &scratch, resized, fast, &e), &e);
    double diff = 0;
    int same = 1;
    for (size_t i = 0; i < (size_t)S * S * 3; i++) {
        diff += fabs((double)fast[i] - exact[i]);
        same &= fast[i] == exact[i];
    }
    diff /= (double)S * S * 3;
    printf("fast decode of a 700x500 JPEG at 224 px: mean |fast - exact| %.2f levels\n", diff);
    CHECK(diff < 4.0 && !same, "fast decode: mean abs difference %.2f levels (identical: %d)", diff, same);
    image_free(&scratch);
    free(resized); free(exact); free(fast);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    char path[256];
    write_photo(path, sizeof path);
    test_scales(path);
    test_close_to_exact(path);
    unlink(path);
    rmdir(dir);
    return TEST_END();
}
