/* JPEG decoding (RGB, grayscale, CMYK, corrupt inputs), PIL-exact resizing, caffe preprocessing. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/image.h"
#include "test_images.h"
#include "test_util.h"

static char dir[] = "/tmp/tl_test_image_XXXXXX";

static void test_rgb_roundtrip(void) {
    Err e = {{0}};
    int h = 37, w = 53;
    uint8_t *px = malloc((size_t)h * w * 3);
    test_pattern(px, h, w, 3, 1);
    char path[256];
    snprintf(path, sizeof path, "%s/rgb.jpg", dir);
    CHECK(write_test_jpeg(path, px, h, w, 3, 100) == 0, "write");
    Image img = {0};
    ImageDecodeStats st = {0};
    CHECK_OK(image_decode_jpeg_file(path, &img, 0, &st, &e), &e);
    CHECK(img.h == h && img.w == w, "size %dx%d", img.w, img.h);
    double err = 0;
    for (size_t i = 0; i < (size_t)h * w * 3; i++) err += abs((int)img.rgb[i] - (int)px[i]);
    CHECK(err / (h * w * 3) < 3.0, "quality-100 JPEG should be close to its source (mean abs %.2f)", err / (h * w * 3));
    int ih, iw, comps;
    CHECK_OK(image_jpeg_info(path, &ih, &iw, &comps, &e), &e);
    CHECK(ih == h && iw == w && comps == 3, "info %d %d %d", ih, iw, comps);
    image_free(&img);
    free(px);
}

static void test_grayscale_and_cmyk(void) {
    Err e = {{0}};
    int h = 16, w = 24;
    uint8_t gray[16 * 24], cmyk[16 * 24 * 4];
    test_pattern(gray, h, w, 1, 2);
    for (int i = 0; i < h * w; i++) { cmyk[4 * i] = 30; cmyk[4 * i + 1] = 200; cmyk[4 * i + 2] = 90; cmyk[4 * i + 3] = 60; }
    char gp[256], cp[256];
    snprintf(gp, sizeof gp, "%s/gray.jpg", dir);
    snprintf(cp, sizeof cp, "%s/cmyk.jpg", dir);
    CHECK(write_test_jpeg(gp, gray, h, w, 1, 95) == 0, "write gray");
    CHECK(write_test_jpeg(cp, cmyk, h, w, 4, 100) == 0, "write cmyk");
    Image img = {0};
    ImageDecodeStats st = {0};
    CHECK_OK(image_decode_jpeg_file(gp, &img, 0, &st, &e), &e);
    int replicated = 1;
    for (int i = 0; i < h * w; i++) replicated &= img.rgb[3 * i] == img.rgb[3 * i + 1] && img.rgb[3 * i] == img.rgb[3 * i + 2];
    CHECK(replicated && st.grayscale == 1, "grayscale must be replicated to RGB");
    CHECK_OK(image_decode_jpeg_file(cp, &img, 0, &st, &e), &e);
    CHECK(st.cmyk == 1, "cmyk counted");
    /* libjpeg writes Adobe CMYK as given; the reader un-inverts Adobe files, so stored
     * (30,200,90,60) reads as ink (225,55,165,195): r = nk - c*nk/255 with nk = 60. */
    int r = img.rgb[3 * 40], g = img.rgb[3 * 40 + 1], b = img.rgb[3 * 40 + 2];
    CHECK(abs(r - 7) <= 2 && abs(g - 47) <= 2 && abs(b - 21) <= 2, "cmyk -> rgb got (%d,%d,%d)", r, g, b);
    image_free(&img);
}

static void test_bad_files(void) {
    Err e = {{0}};
    char good[256], trunc[256], png[256], missing[256];
    snprintf(good, sizeof good, "%s/rgb.jpg", dir);
    snprintf(trunc, sizeof trunc, "%s/trunc.jpg", dir);
    snprintf(png, sizeof png, "%s/fake.jpg", dir);
    snprintf(missing, sizeof missing, "%s/nope.jpg", dir);
    CHECK(truncate_copy(good, trunc, 700) == 0, "truncate");
    CHECK(write_png_signature(png) == 0, "png");
    Image img = {0};
    CHECK(image_decode_jpeg_file(trunc, &img, 0, NULL, &e) != 0 && strstr(e.msg, "trunc.jpg"), "truncated: %s", e.msg);
    CHECK(image_decode_jpeg_file(png, &img, 0, NULL, &e) != 0 && strstr(e.msg, "fake.jpg") && strstr(e.msg, "not a JPEG"), "png: %s", e.msg);
    CHECK(image_decode_jpeg_file(missing, &img, 0, NULL, &e) != 0 && strstr(e.msg, "nope.jpg"), "missing: %s", e.msg);
    image_free(&img);
}

/* PIL NEAREST picks source index floor of a running sum starting at scale/2. */
static void test_resize_nearest(void) {
    Image src = {.h = 5, .w = 7};
    src.rgb = malloc(5 * 7 * 3);
    for (int i = 0; i < 5 * 7 * 3; i++) src.rgb[i] = (uint8_t)i;
    uint8_t out[3 * 3 * 3];
    image_resize(&src, 3, 3, INTERP_NEAREST, out);
    /* rows: scale 5/3 -> 0.833, 2.5, 4.17 -> 0,2,4; cols: scale 7/3 -> 1.17, 3.5, 5.83 -> 1,3,5 */
    int rows[3] = {0, 2, 4}, cols[3] = {1, 3, 5}, ok = 1;
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++)
            for (int c = 0; c < 3; c++) ok &= out[(y * 3 + x) * 3 + c] == src.rgb[(rows[y] * 7 + cols[x]) * 3 + c];
    CHECK(ok, "nearest index choice");
    uint8_t same[5 * 7 * 3];
    image_resize(&src, 5, 7, INTERP_BILINEAR, same);
    CHECK(!memcmp(same, src.rgb, sizeof same), "same size is a copy");
    /* Bilinear 2x upscale of a constant image stays constant; of a ramp stays monotone. */
    uint8_t up[10 * 14 * 3];
    image_resize(&src, 10, 14, INTERP_BILINEAR, up);
    int mono = 1;
    for (int x = 1; x < 14; x++) mono &= up[x * 3] >= up[(x - 1) * 3];
    CHECK(mono, "bilinear ramp monotone");
    free(src.rgb);
}

static void test_preprocess(void) {
    float rgb[6] = {10, 20, 30, 255, 0, 128}, bgr[6];
    preprocess_caffe(rgb, bgr, 2);
    CHECK_NEAR(bgr[0], 30 - 103.939f, 1e-5, "B");
    CHECK_NEAR(bgr[1], 20 - 116.779f, 1e-5, "G");
    CHECK_NEAR(bgr[2], 10 - 123.68f, 1e-5, "R");
    CHECK_NEAR(bgr[3], 128 - 103.939f, 1e-5, "B2");
    CHECK_NEAR(bgr[5], 255 - 123.68f, 1e-5, "R2");
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    test_rgb_roundtrip();
    test_grayscale_and_cmyk();
    test_bad_files();
    test_resize_nearest();
    test_preprocess();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return TEST_END();
}
