/* Test images written with libjpeg at test time: RGB, grayscale and CMYK (Adobe-inverted)
 * JPEGs, a truncated copy and a PNG signature under a .jpg name. */
#ifndef TL_TEST_IMAGES_H
#define TL_TEST_IMAGES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

/* pixels: h*w*components bytes. color: JCS_RGB, JCS_GRAYSCALE or JCS_CMYK. */
static inline int write_test_jpeg(const char *path, const uint8_t *pixels, int h, int w, int components, J_COLOR_SPACE color, int quality) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = components;
    c.in_color_space = color;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    if (color == JCS_CMYK) c.write_Adobe_marker = TRUE;
    jpeg_start_compress(&c, TRUE);
    for (int y = 0; y < h; y++) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)y * w * components);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f);
}

/* A smooth pattern with a little texture (compresses like a photo, never all zeros). */
static inline void test_pattern(uint8_t *p, int h, int w, int comps, unsigned seed) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < comps; c++) {
                int v = 20 + (x * 200 / w) * (1 + c) / 3 + (y * 150 / h) + (int)((x * 7 + y * 13 + seed) % 5);
                p[((size_t)y * w + x) * comps + c] = (uint8_t)(v > 255 ? 255 : v);
            }
}

/* Copies the first `keep` bytes of src into dst. */
static inline int truncate_copy(const char *src, const char *dst, long keep) {
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

static inline int write_png_signature(const char *path) {
    static const uint8_t sig[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(sig, 1, sizeof sig, f);
    return fclose(f);
}

#endif
