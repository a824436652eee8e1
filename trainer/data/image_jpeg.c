/* JPEG decoding with libjpeg-turbo, matching what PIL (and so Keras) produces:
 * library defaults (JDCT_ISLOW, fancy upsampling), no EXIF rotation, grayscale
 * replicated to RGB, CMYK/YCCK converted with Pillow's cmyk2rgb (Adobe-inverted
 * files un-inverted first, as PIL's "CMYK;I" raw mode does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/fsutil.h"
#include "data/image.h"
#include "data/jpeg_check.h"

static int grow(Image *img, int h, int w, Err *e) {
    size_t need = (size_t)h * w * 3;
    if (need > img->cap) {
        uint8_t *p = realloc(img->rgb, need);
        if (!p) return err_fail(e, "out of memory for a %dx%d image", w, h);
        img->rgb = p;
        img->cap = need;
    }
    img->h = h;
    img->w = w;
    return 0;
}

static inline uint8_t clip8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/* Pillow Convert.c cmyk2rgb: r = nk - c*nk/255 with Pillow's rounding MULDIV255. */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int w, int inverted) {
    for (int x = 0; x < w; x++) {
        int c = in[4 * x], m = in[4 * x + 1], y = in[4 * x + 2], k = in[4 * x + 3];
        if (inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        int nk = 255 - k, t;
        t = c * nk + 128; out[3 * x + 0] = clip8(nk - (((t >> 8) + t) >> 8));
        t = m * nk + 128; out[3 * x + 1] = clip8(nk - (((t >> 8) + t) >> 8));
        t = y * nk + 128; out[3 * x + 2] = clip8(nk - (((t >> 8) + t) >> 8));
    }
}

static int decode_scanlines(struct jpeg_decompress_struct *ci, JpegCheck *jc, Image *img, uint8_t *row_buf) {
    int w = (int)ci->output_width, comps = ci->output_components;
    int inverted = ci->out_color_space == JCS_CMYK && ci->saw_Adobe_marker;
    while (ci->output_scanline < ci->output_height) {
        int y = (int)ci->output_scanline;
        uint8_t *dst = img->rgb + (size_t)y * w * 3;
        JSAMPROW row = comps == 3 ? dst : row_buf;
        if (JPEG_CHECK(jc, jpeg_read_scanlines(ci, &row, 1)) != 1) return -1;
        if (comps == 1)
            for (int x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row_buf[x];
        else if (comps == 4)
            cmyk_row_to_rgb(row_buf, dst, w, inverted);
    }
    return 0;
}

/* The fast path: integer DCT, plain upsampling and, when min_side > 1, the largest
 * DCT-domain downscale (1/8, 1/4, 1/2: libjpeg-turbo decodes fewer coefficients) that keeps
 * both sides >= min_side. A 700x500 photo for 224 px decodes at 350x250. */
static void fast_setup(struct jpeg_decompress_struct *ci, int min_side) {
    ci->dct_method = JDCT_IFAST;
    ci->do_fancy_upsampling = FALSE;
    for (unsigned denom = 8; denom >= 2 && min_side > 1; denom /= 2) {
        unsigned h = (ci->image_height + denom - 1) / denom, w = (ci->image_width + denom - 1) / denom;
        if (h >= (unsigned)min_side && w >= (unsigned)min_side) {
            ci->scale_num = 1;
            ci->scale_denom = denom;
            return;
        }
    }
}

int image_decode_jpeg_mem(const uint8_t *data, size_t size, const char *name, Image *img, int fast,
                          ImageDecodeStats *stats, Err *e) {
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8)
        return err_fail(e, "%s: not a JPEG file (no SOI marker)", name);
    struct jpeg_decompress_struct ci;
    JpegCheck jc;
    ci.err = jpeg_check_init(&jc);
    uint8_t *volatile row_buf = NULL;
    if (setjmp(jc.jump)) {
        jpeg_destroy_decompress(&ci);
        free(row_buf);
        return err_fail(e, "%s: corrupt JPEG: %s", name, jc.message);
    }
    JPEG_CHECK(&jc, jpeg_create_decompress(&ci));
    JPEG_CHECK(&jc, jpeg_mem_src(&ci, data, (unsigned long)size));
    JPEG_CHECK(&jc, jpeg_read_header(&ci, TRUE));
    long limit = img->max_pixels > 0 ? img->max_pixels : IMAGE_MAX_PIXELS_DEFAULT;
    if ((double)ci.image_width * ci.image_height > (double)limit) {
        jpeg_destroy_decompress(&ci);
        return err_fail(e, "%s: %u x %u pixels is more than data.max_pixels (%ld): not decoded (raise data.max_pixels if "
                        "the image is genuine)", name, ci.image_width, ci.image_height, limit);
    }
    if (ci.jpeg_color_space == JCS_GRAYSCALE) ci.out_color_space = JCS_GRAYSCALE;
    else if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK) ci.out_color_space = JCS_CMYK;
    else ci.out_color_space = JCS_RGB;
    if (fast) fast_setup(&ci, fast);
    JPEG_CHECK(&jc, jpeg_start_decompress(&ci));
    int h = (int)ci.output_height, w = (int)ci.output_width;
    if (grow(img, h, w, e)) { jpeg_destroy_decompress(&ci); return -1; }
    if (ci.output_components != 3) {
        row_buf = malloc((size_t)w * ci.output_components);
        if (!row_buf) { jpeg_destroy_decompress(&ci); return err_fail(e, "%s: out of memory", name); }
    }
    if (decode_scanlines(&ci, &jc, img, row_buf)) { jpeg_destroy_decompress(&ci); free(row_buf); return err_fail(e, "%s: short read", name); }
    if (stats) {
        stats->grayscale += ci.output_components == 1;
        stats->cmyk += ci.output_components == 4;
    }
    JPEG_CHECK(&jc, jpeg_finish_decompress(&ci));
    JPEG_CHECK(&jc, jpeg_destroy_decompress(&ci));
    free(row_buf);
    /* libjpeg pads a truncated file with gray and only warns; PIL raises "image file is
     * truncated" for those, so a truncated file is an error here too. */
    if (jc.warnings) return err_fail(e, "%s: corrupt or truncated JPEG: %s", name, jc.message);
    return 0;
}

int image_decode_jpeg_file(const char *path, Image *img, int fast, ImageDecodeStats *stats, Err *e) {
    char *data;
    size_t size;
    if (fs_read_all(path, &data, &size, e)) return -1;
    int rc = image_decode_jpeg_mem((const uint8_t *)data, size, path, img, fast, stats, e);
    free(data);
    return rc;
}

/* The header of a JPEG in memory (data) or in a stream (f, when data is NULL). */
static int header_info(const uint8_t *data, size_t size, FILE *f, const char *name, int *h, int *w, int *components,
                       Err *e) {
    struct jpeg_decompress_struct ci;
    JpegCheck jc;
    ci.err = jpeg_check_init(&jc);
    if (setjmp(jc.jump)) {
        jpeg_destroy_decompress(&ci);
        return err_fail(e, "%s: not a readable JPEG: %s", name, jc.message);
    }
    JPEG_CHECK(&jc, jpeg_create_decompress(&ci));
    if (data) JPEG_CHECK(&jc, jpeg_mem_src(&ci, data, (unsigned long)size));
    else JPEG_CHECK(&jc, jpeg_stdio_src(&ci, f));
    JPEG_CHECK(&jc, jpeg_read_header(&ci, TRUE));
    *h = (int)ci.image_height;
    *w = (int)ci.image_width;
    *components = ci.num_components;
    JPEG_CHECK(&jc, jpeg_destroy_decompress(&ci));
    return 0;
}

int image_jpeg_info(const char *path, int *h, int *w, int *components, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_fail(e, "%s: cannot open", path);
    int rc = header_info(NULL, 0, f, path, h, w, components, e);
    fclose(f);
    return rc;
}

int image_jpeg_info_mem(const uint8_t *data, size_t size, const char *name, int *h, int *w, int *components, Err *e) {
    return header_info(data, size, NULL, name, h, w, components, e);
}

int image_has_jpeg_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0);
}

void image_free(Image *img) {
    free(img->rgb);
    memset(img, 0, sizeof *img);
}
