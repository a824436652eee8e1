/* Test images written at test time (data/image_jpeg_write.c): RGB, grayscale and CMYK (Adobe-inverted)
 * JPEGs, a truncated copy and a PNG signature under a .jpg name. */
#ifndef TL_TEST_IMAGES_H
#define TL_TEST_IMAGES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image_jpeg_write.h"

/* pixels: h*w*components bytes (1 gray, 3 RGB, 4 CMYK). Returns 0, or -1 with the message on stderr. */
static int write_test_jpeg(const char *path, const uint8_t *pixels, int h, int w, int components, int quality) {
    JpegPixels px = {.data = pixels, .h = h, .w = w, .components = components, .stride = (size_t)w * (size_t)components};
    Err e;
    if (image_encode_jpeg_file(path, &px, quality, &e) == 0) return 0;
    fprintf(stderr, "%s\n", e.msg);
    return -1;
}

/* A smooth pattern with a little texture (compresses like a photo, never all zeros). */
static void test_pattern(uint8_t *p, int h, int w, int comps, unsigned seed) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < comps; c++) {
                int v = 20 + (x * 200 / w) * (1 + c) / 3 + (y * 150 / h) + (int)((x * 7 + y * 13 + seed) % 5);
                p[((size_t)y * w + x) * comps + c] = (uint8_t)(v > 255 ? 255 : v);
            }
}

/* Copies the first `keep` bytes of src into dst. */
static int truncate_copy(const char *src, const char *dst, long keep) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    if (!in || !out) return -1;
    for (long i = 0; i < keep; i++) {
        int ch = fgetc(in);
        if (ch == EOF) break;
        fputc(ch, out);
    }
    fclose(in);
    return fclose(out);
}

static int write_png_signature(const char *path) {
    static const uint8_t sig[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(sig, 1, sizeof sig, f);
    return fclose(f);
}

#endif
