/* Fuzz target: the image path of the loader: JPEG decode (trainer/data/image_jpeg.c, exact
 * and fast DCT by the input's last bit) and resize (image_resize.c) to sizes below, at and
 * above the image's, both filters. Images over FUZZ_JPEG_MAX_PIXELS (from the header)
 * are skipped for speed, as libjpeg-turbo's own fuzzers do: decoding a big one is slow,
 * not wrong. */
#include <stdlib.h>

#include "data/image.h"
#include "fuzz.h"

enum { FUZZ_JPEG_MAX_PIXELS = 1 << 20, MAX_SIDE_OUT = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static Image img;                 /* reused across inputs, as a loader thread does */
    static uint8_t out[MAX_SIDE_OUT * MAX_SIDE_OUT * 3];
    const char *name = "input.jpg";
    int h, w, comps;
    Err e = {0};
    int info = image_jpeg_info_mem(data, size, name, &h, &w, &comps, &e);
    fuzz_expect_named(info, &e, name);
    if (info == 0 && (size_t)h * (size_t)w > FUZZ_JPEG_MAX_PIXELS) return 0;
    ImageDecodeStats stats = {0};
    int rc = image_decode_jpeg_mem(data, size, name, &img, size > 0 && (data[size - 1] & 1), &stats, &e);
    fuzz_expect_named(rc, &e, name);
    if (rc) return 0;
    int sides[][2] = {{32, 32}, {7, 45}, {img.h < MAX_SIDE_OUT ? img.h : 1, img.w < MAX_SIDE_OUT ? img.w : 1},
                      {img.h * 2 < MAX_SIDE_OUT ? img.h * 2 : MAX_SIDE_OUT, img.w + 1 < MAX_SIDE_OUT ? img.w + 1 : 3}};
    for (size_t i = 0; i < sizeof sides / sizeof *sides; i++) {
        image_resize(&img, sides[i][0], sides[i][1], INTERP_NEAREST, out);
        image_resize(&img, sides[i][0], sides[i][1], INTERP_BILINEAR, out);
    }
    return 0;
}
