/* JPEG encoding with libjpeg-turbo: the one writer for the importer's crops, the demo data
 * and the tests' fixtures. Baseline JPEG, the library's defaults plus the quality. */
#ifndef TL_IMAGE_JPEG_WRITE_H
#define TL_IMAGE_JPEG_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Pixels to encode: h rows of w pixels of `components` bytes each, rows `stride` bytes apart. */
typedef struct JpegPixels {
    const uint8_t *data;
    int h, w;
    int components;     /* 1 grayscale, 3 RGB, 4 CMYK (written as given, with an Adobe marker) */
    size_t stride;      /* >= w * components */
} JpegPixels;

/* Writes px to path at quality 1..100. Returns 0, or -1 with a message naming the file and
 * the libjpeg call that failed; a failed write leaves no file behind (a regular file; a device is left alone). */
int image_encode_jpeg_file(const char *path, const JpegPixels *px, int quality, Err *e);

#endif
