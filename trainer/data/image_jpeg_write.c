#include "data/image_jpeg_write.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/jpeg_check.h"

enum { JPEG_SIDE_MAX = 65500 };   /* libjpeg's JPEG_MAX_DIMENSION */

/* Removes what a failed write left, but only a regular file (never /dev/full and the like). */
static void remove_partial(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) unlink(path);
}

static J_COLOR_SPACE color_space(int components) {
    return components == 1 ? JCS_GRAYSCALE : components == 4 ? JCS_CMYK : JCS_RGB;
}

static int check_pixels(const char *path, const JpegPixels *px, Err *e) {
    if (px->h <= 0 || px->w <= 0 || px->h > JPEG_SIDE_MAX || px->w > JPEG_SIDE_MAX)
        return err_fail(e, "%s: cannot encode a %dx%d image", path, px->w, px->h);
    if (px->components != 1 && px->components != 3 && px->components != 4)
        return err_fail(e, "%s: cannot encode %d components per pixel (1, 3 or 4)", path, px->components);
    if (px->stride < (size_t)px->w * (size_t)px->components)
        return err_fail(e, "%s: row stride %zu is shorter than a row", path, px->stride);
    return 0;
}

/* The compressor's settings: size, color space, defaults, quality; CMYK gets the Adobe marker. */
static void set_params(struct jpeg_compress_struct *c, JpegCheck *jc, const JpegPixels *px, int quality) {
    c->image_width = (JDIMENSION)px->w;
    c->image_height = (JDIMENSION)px->h;
    c->input_components = px->components;
    c->in_color_space = color_space(px->components);
    JPEG_CHECK(jc, jpeg_set_defaults(c));
    JPEG_CHECK(jc, jpeg_set_quality(c, quality, TRUE));
    if (px->components == 4) c->write_Adobe_marker = TRUE;
}

int image_encode_jpeg_file(const char *path, const JpegPixels *px, int quality, Err *e) {
    if (check_pixels(path, px, e)) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) return err_fail(e, "%s: cannot create: %s", path, strerror(errno));
    struct jpeg_compress_struct c;
    JpegCheck jc;
    c.err = jpeg_check_init(&jc);
    if (setjmp(jc.jump)) {
        jpeg_destroy_compress(&c);
        fclose(f);
        remove_partial(path);
        return err_fail(e, "%s: libjpeg compress failed: %s", path, jc.message);
    }
    JPEG_CHECK(&jc, jpeg_create_compress(&c));
    JPEG_CHECK(&jc, jpeg_stdio_dest(&c, f));
    set_params(&c, &jc, px, quality);
    JPEG_CHECK(&jc, jpeg_start_compress(&c, TRUE));
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px->data + (size_t)c.next_scanline * px->stride);
        if (JPEG_CHECK(&jc, jpeg_write_scanlines(&c, &row, 1)) != 1) jpeg_check_raise(&jc, "wrote no scanline");
    }
    JPEG_CHECK(&jc, jpeg_finish_compress(&c));
    JPEG_CHECK(&jc, jpeg_destroy_compress(&c));
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) { remove_partial(path); return err_fail(e, "%s: write error: %s", path, strerror(errno)); }
    return 0;
}
