/* Image input as Keras reads it: libjpeg-turbo decode to RGB (PIL's pixels), resize with
 * PIL's NEAREST (Keras default) or BILINEAR semantics, caffe preprocess_input.
 * Pixel layout: HWC, RGB, uint8 unless said otherwise. */
#ifndef TL_IMAGE_H
#define TL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Pixels a JPEG header may claim before the decoder refuses it (data.max_pixels), as PIL's
 * decompression-bomb limit: 178956970 (a 20000 x 20000 photo would take 1.2 GB decoded). */
#define IMAGE_MAX_PIXELS_DEFAULT 178956970L

typedef struct Image {
    int h, w;                   /* rows, columns */
    uint8_t *rgb;               /* h * w * 3, owned; reused across decodes */
    size_t cap;                 /* bytes allocated */
    long max_pixels;            /* refuse larger headers before decoding; 0 = IMAGE_MAX_PIXELS_DEFAULT */
} Image;

typedef enum Interp { INTERP_NEAREST = 0, INTERP_BILINEAR = 1 } Interp;

typedef struct ImageDecodeStats {
    int grayscale, cmyk;        /* counts of converted inputs */
} ImageDecodeStats;

/* Decodes a JPEG (by content, whatever its name) into img (buffer reused/grown).
 * Grayscale is replicated to RGB; CMYK/YCCK converted as PIL does. fast: 0 exact (PIL's
 * pixels); 1 the fast DCT and no fancy upsampling (not exact); N > 1 that, plus
 * downscaling in the DCT domain by 1/2, 1/4 or 1/8 while both sides stay >= N (pass the
 * size the image is resized to next: img is then smaller than the file's image).
 * Corrupt, truncated or non-JPEG files fail with a message naming the file, and so does a
 * header claiming more than img->max_pixels pixels (nothing decoded). stats may be NULL. */
int image_decode_jpeg_file(const char *path, Image *img, int fast, ImageDecodeStats *stats, Err *e);
int image_decode_jpeg_mem(const uint8_t *data, size_t size, const char *name, Image *img, int fast,
                          ImageDecodeStats *stats, Err *e);
/* 1 when the file name ends in ".jpg" or ".jpeg" (any case): what check-data and import-cars
 * take for a JPEG by its name. */
int image_has_jpeg_name(const char *name);
/* Reads only the header: size and component count. */
int image_jpeg_info(const char *path, int *h, int *w, int *components, Err *e);
int image_jpeg_info_mem(const uint8_t *data, size_t size, const char *name, int *h, int *w, int *components, Err *e);
void image_free(Image *img);

/* Resize src to (oh, ow) into dst (oh*ow*3 bytes), PIL semantics; a same-size
 * input is copied (Keras skips the resize then). */
void image_resize(const Image *src, int oh, int ow, Interp interp, uint8_t *dst);

/* keras.applications.resnet.preprocess_input (caffe mode): RGB 0..255 float -> BGR minus
 * the ImageNet BGR means [103.939, 116.779, 123.68]. n = pixels. in == out allowed. */
void preprocess_caffe(const float *rgb, float *bgr, size_t n);
void rgb8_to_float(const uint8_t *rgb, float *out, size_t n_values);

#endif
