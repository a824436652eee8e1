/* Resizing with Pillow's exact semantics, as Keras's load_img uses it.
 * NEAREST: Pillow's ImagingScaleAffine: source index = (int)(running double sum that
 * starts at 0.5*scale and adds scale per output pixel).
 * BILINEAR: Pillow's ImagingResample: separable triangle filter widened by the scale
 * factor when shrinking (antialiasing), coefficients in 22-bit fixed point, horizontal
 * pass first. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"

enum { PRECISION_BITS = 32 - 8 - 2 };

static void nearest_index_table(int in_size, int out_size, int *tab) {
    double scale = (double)in_size / out_size, pos = scale * 0.5;
    for (int i = 0; i < out_size; i++) {
        int s = (int)pos;
        tab[i] = s < in_size ? s : in_size - 1;
        pos += scale;
    }
}

static void resize_nearest(const Image *src, int oh, int ow, uint8_t *dst) {
    int *cols = malloc(sizeof(int) * (size_t)(ow + oh)), *rows = cols + ow;
    nearest_index_table(src->w, ow, cols);
    nearest_index_table(src->h, oh, rows);
    for (int y = 0; y < oh; y++) {
        const uint8_t *srow = src->rgb + (size_t)rows[y] * src->w * 3;
        uint8_t *drow = dst + (size_t)y * ow * 3;
        for (int x = 0; x < ow; x++) memcpy(drow + 3 * x, srow + 3 * cols[x], 3);
    }
    free(cols);
}

static double triangle(double x) {
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow precompute_coeffs + normalize_coeffs_8bpc: for each output index, the first
 * source index bounds[2i], the tap count bounds[2i+1], ksize fixed-point weights. */
static int bilinear_coeffs(int in_size, int out_size, int **bounds_out, int **kk_out) {
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    int *kk = malloc(sizeof(int) * (size_t)out_size * ksize);
    double *w = malloc(sizeof(double) * (size_t)ksize);
    for (int o = 0; o < out_size; o++) {
        double center = (o + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) ww += w[x] = triangle((x + xmin - center + 0.5) * ss);
        for (int x = 0; x < ksize; x++) {
            double k = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;
            kk[o * ksize + x] = (int)(k < 0 ? k * (1 << PRECISION_BITS) - 0.5 : k * (1 << PRECISION_BITS) + 0.5);
        }
        bounds[2 * o] = xmin;
        bounds[2 * o + 1] = xmax;
    }
    free(w);
    *bounds_out = bounds;
    *kk_out = kk;
    return ksize;
}

static inline uint8_t clip8_fixed(int v) {
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One separable pass. along_x: resample columns of each row; else rows of each column.
 * src (sh, sw, 3) -> dst (dh, dw, 3). */
static void resample_pass(const uint8_t *src, int sh, int sw, uint8_t *dst, int dh, int dw, int along_x) {
    int in_size = along_x ? sw : sh, out_size = along_x ? dw : dh;
    int *bounds, *kk;
    int ksize = bilinear_coeffs(in_size, out_size, &bounds, &kk);
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
            int o = along_x ? x : y, first = bounds[2 * o], taps = bounds[2 * o + 1];
            const int *k = kk + (size_t)o * ksize;
            for (int c = 0; c < 3; c++) {
                int ss = 1 << (PRECISION_BITS - 1);
                for (int t = 0; t < taps; t++) {
                    size_t si = along_x ? ((size_t)y * sw + first + t) : ((size_t)(first + t) * sw + x);
                    ss += src[si * 3 + c] * k[t];
                }
                dst[((size_t)y * dw + x) * 3 + c] = clip8_fixed(ss);
            }
        }
    free(bounds);
    free(kk);
}

static void resize_bilinear(const Image *src, int oh, int ow, uint8_t *dst) {
    if (src->w == ow) { resample_pass(src->rgb, src->h, src->w, dst, oh, ow, 0); return; }
    if (src->h == oh) { resample_pass(src->rgb, src->h, src->w, dst, oh, ow, 1); return; }
    uint8_t *mid = malloc((size_t)src->h * ow * 3);
    resample_pass(src->rgb, src->h, src->w, mid, src->h, ow, 1);
    resample_pass(mid, src->h, ow, dst, oh, ow, 0);
    free(mid);
}

void image_resize(const Image *src, int oh, int ow, Interp interp, uint8_t *dst) {
    if (src->h == oh && src->w == ow) { memcpy(dst, src->rgb, (size_t)oh * ow * 3); return; }
    if (interp == INTERP_BILINEAR) resize_bilinear(src, oh, ow, dst);
    else resize_nearest(src, oh, ow, dst);
}

void rgb8_to_float(const uint8_t *rgb, float *out, size_t n_values) {
    for (size_t i = 0; i < n_values; i++) out[i] = (float)rgb[i];
}

void preprocess_caffe(const float *rgb, float *bgr, size_t n) {
    const float mean_b = 103.939f, mean_g = 116.779f, mean_r = 123.68f;
    for (size_t i = 0; i < n; i++) {
        float r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
        bgr[3 * i] = b - mean_b;
        bgr[3 * i + 1] = g - mean_g;
        bgr[3 * i + 2] = r - mean_r;
    }
}
