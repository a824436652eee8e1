/* Keras ImageDataGenerator augmentation (keras v2.15 = K>=2.9, scipy >= 1.6): exact transforms on
 * synthetic images, draw order and determinism. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/augment.h"
#include "test_util.h"

static AugmentConfig recipe(void) {
    AugmentConfig c;
    memset(&c, 0, sizeof c);
    c.strength = 1.0;
    c.horizontal_flip = 1;
    c.rotation = 8;
    c.width_shift = 0.1;
    c.height_shift = 0.1;
    c.zoom = 0.1;
    c.shear = 0.1;
    c.brightness = 0.15;
    c.channel_shift = 10.0;
    strcpy(c.fill, "reflect");
    return c;
}

static AugmentConfig with_fill(const char *fill) {
    AugmentConfig c = recipe();
    strcpy(c.fill, fill);
    return c;
}

/* Integer-valued pixels 0..255 (what a decoded JPEG gives), pattern from a seed. */
static float *make_image(int h, int w, uint32_t seed) {
    float *x = malloc(sizeof(float) * h * w * 3);
    Rng r;
    rng_init(&r, seed, RNG_AUGMENT, 999, 999);
    for (int i = 0; i < h * w * 3; i++) x[i] = (float)rng_below(&r, 256);
    return x;
}

static float px(const float *x, int w, int r, int c, int ch) { return x[((size_t)r * w + c) * 3 + ch]; }

static int reflect_index(int v, int n) {
    while (v < 0 || v >= n) v = v < 0 ? -v - 1 : 2 * n - v - 1;
    return v;
}

static int nearest_index(int v, int n) { return v < 0 ? 0 : (v >= n ? n - 1 : v); }

/* scipy 'wrap' (period n - 1, as S>=1.6 map_coordinate does it). */
static int wrap_index(int v, int n) {
    int sz = n - 1;
    if (v < 0) return v + sz * ((-v) / sz + 1);
    if (v > n - 1) return v - sz * (v / sz);
    return v;
}

static int same_params(const AugmentParams *a, const AugmentParams *b) {
    return a->theta == b->theta && a->tx == b->tx && a->ty == b->ty && a->shear == b->shear &&
           a->zx == b->zx && a->zy == b->zy && a->flip_h == b->flip_h && a->flip_v == b->flip_v &&
           a->channel_shift_on == b->channel_shift_on && a->channel_shift == b->channel_shift &&
           a->brightness_on == b->brightness_on && a->brightness == b->brightness;
}

static void apply(const AugmentParams *p, const AugmentConfig *c, const float *in, float *out, int h, int w) {
    AugmentScratch s;
    Err e;
    if (augment_scratch_init(&s, h, w, &e) != 0) { fprintf(stderr, "%s\n", e.msg); exit(2); }
    augment_apply(p, c, in, out, h, w, &s);
    augment_scratch_free(&s);
}

static void test_identity(void) {
    int h = 23, w = 31;
    float *in = make_image(h, w, 1), *out = malloc(sizeof(float) * h * w * 3);
    AugmentConfig c = recipe();
    c.strength = 0;
    Rng r, fresh;
    rng_init(&r, 42, RNG_AUGMENT, 5, 0);
    rng_init(&fresh, 42, RNG_AUGMENT, 5, 0);
    AugmentParams p = augment_draw(&c, &r, h, w), id = augment_identity();
    CHECK(same_params(&p, &id), "strength 0 must give the identity transform");
    CHECK(rng_u32(&r) == rng_u32(&fresh), "strength 0 must draw nothing");
    double A[2][2], b[2];
    CHECK(augment_affine(&p, h, w, A, b) == 0, "identity has no warp");
    apply(&p, &c, in, out, h, w);
    CHECK(memcmp(in, out, sizeof(float) * h * w * 3) == 0, "identity output differs from input");

    /* All ranges zero, flip off: only the two flip draws happen, result is the identity. */
    AugmentConfig z;
    memset(&z, 0, sizeof z);
    z.strength = 1;
    strcpy(z.fill, "reflect");
    rng_init(&r, 42, RNG_AUGMENT, 5, 0);
    rng_init(&fresh, 42, RNG_AUGMENT, 5, 0);
    p = augment_draw(&z, &r, h, w);
    CHECK(same_params(&p, &id), "zero ranges must give the identity");
    rng_double(&fresh);
    rng_double(&fresh);
    CHECK(rng_u32(&r) == rng_u32(&fresh), "zero ranges must consume exactly the two flip draws");
    apply(&p, &z, in, out, h, w);
    CHECK(memcmp(in, out, sizeof(float) * h * w * 3) == 0, "zero-range output differs from input");
    free(in);
    free(out);
}

static void test_flip(void) {
    int h = 9, w = 14, bad = 0;
    float *in = make_image(h, w, 2), *out = malloc(sizeof(float) * h * w * 3);
    AugmentConfig c = recipe();
    AugmentParams p = augment_identity();
    p.flip_h = 1;
    apply(&p, &c, in, out, h, w);
    for (int r = 0; r < h; r++)
        for (int col = 0; col < w; col++)
            for (int ch = 0; ch < 3; ch++) bad += px(out, w, r, col, ch) != px(in, w, r, w - 1 - col, ch);
    CHECK(bad == 0, "%d values differ from the mirrored image", bad);
    free(in);
    free(out);
}

typedef int (*IndexFold)(int v, int n);

/* Pure integer shift: K>=2.9 tx moves columns, ty moves rows; out(r,c) = in(r+ty, c+tx). */
static int check_integer_shift(const char *fill, IndexFold fold, double tx, double ty, int h, int w) {
    float *in = make_image(h, w, 3), *out = malloc(sizeof(float) * h * w * 3);
    AugmentConfig c = with_fill(fill);
    AugmentParams p = augment_identity();
    p.tx = tx;
    p.ty = ty;
    apply(&p, &c, in, out, h, w);
    int bad = 0;
    for (int r = 0; r < h; r++)
        for (int col = 0; col < w; col++) {
            int sr = r + (int)ty, sc = col + (int)tx;
            int inside = sr >= 0 && sr < h && sc >= 0 && sc < w;
            for (int ch = 0; ch < 3; ch++) {
                float want = fold ? px(in, w, fold(sr, h), fold(sc, w), ch) : (inside ? px(in, w, sr, sc, ch) : 0.0f);
                bad += px(out, w, r, col, ch) != want;
            }
        }
    free(in);
    free(out);
    return bad;
}

static void test_integer_shift(void) {
    int bad;
    bad = check_integer_shift("reflect", reflect_index, 5, 0, 20, 30);
    CHECK(bad == 0, "reflect shift tx=5: %d values differ", bad);
    bad = check_integer_shift("reflect", reflect_index, -7, 3, 20, 30);
    CHECK(bad == 0, "reflect shift tx=-7 ty=3: %d values differ", bad);
    bad = check_integer_shift("reflect", reflect_index, 0, -25, 20, 30);
    CHECK(bad == 0, "reflect shift ty=-25 (beyond one period): %d values differ", bad);
    bad = check_integer_shift("nearest", nearest_index, 6, -4, 20, 30);
    CHECK(bad == 0, "nearest shift: %d values differ", bad);
    bad = check_integer_shift("wrap", wrap_index, -6, 4, 20, 30);
    CHECK(bad == 0, "wrap shift: %d values differ", bad);
    bad = check_integer_shift("constant", NULL, 6, -4, 20, 30);
    CHECK(bad == 0, "constant shift: %d values differ", bad);
}

/* S>=1.6: a sample in [-1, 0] (and [n-1, n]) interpolates the half-sample-symmetric extension,
 * so it equals the edge pixel; S<1.6 would mix in the second pixel. */
static void test_boundary_taps(void) {
    int h = 6, w = 8, bad_edge = 0, bad_mid = 0;
    float *in = make_image(h, w, 4), *out = malloc(sizeof(float) * h * w * 3);
    AugmentConfig c = recipe();
    AugmentParams p = augment_identity();
    p.tx = -0.5;
    apply(&p, &c, in, out, h, w);
    for (int r = 0; r < h; r++)
        for (int ch = 0; ch < 3; ch++) {
            bad_edge += px(out, w, r, 0, ch) != px(in, w, r, 0, ch);
            for (int col = 1; col < w; col++) {
                double want = 0.5 * px(in, w, r, col - 1, ch) + 0.5 * px(in, w, r, col, ch);
                bad_mid += fabs(px(out, w, r, col, ch) - want) > 1e-4;
            }
        }
    CHECK(bad_edge == 0, "tx=-0.5: %d left-edge values are not the edge pixel", bad_edge);
    CHECK(bad_mid == 0, "tx=-0.5: %d interior values are not the half-way blend", bad_mid);
    p.tx = 0.5;
    apply(&p, &c, in, out, h, w);
    bad_edge = 0;
    for (int r = 0; r < h; r++)
        for (int ch = 0; ch < 3; ch++) bad_edge += px(out, w, r, w - 1, ch) != px(in, w, r, w - 1, ch);
    CHECK(bad_edge == 0, "tx=+0.5: %d right-edge values are not the edge pixel", bad_edge);
    free(in);
    free(out);
}

/* K>=2.9: theta = +90 maps out(r, c) = in(c, n-1-r), numpy's rot90 (counter-clockwise). */
static void test_rotate90(void) {
    for (int n = 15; n <= 16; n++) {
        float *in = make_image(n, n, 5), *out = malloc(sizeof(float) * n * n * 3);
        AugmentConfig c = recipe();
        AugmentParams p = augment_identity();
        p.theta = 90;
        apply(&p, &c, in, out, n, n);
        double worst = 0;
        for (int r = 0; r < n; r++)
            for (int col = 0; col < n; col++)
                for (int ch = 0; ch < 3; ch++) {
                    double d = fabs(px(out, n, r, col, ch) - px(in, n, col, n - 1 - r, ch));
                    if (d > worst) worst = d;
                }
        CHECK(worst < 1e-3, "n=%d: rotation by +90 deg differs from rot90 by %g", n, worst);
        free(in);
        free(out);
    }
}

/* Independent evaluation of Keras's affine warp (closed form, K>=2.9 axes, scipy's reflect extension). */
static double ref_sample_axis_weights(double v, int n, int *i0, int *i1) {
    double f = floor(v);
    *i0 = reflect_index((int)f, n);
    *i1 = reflect_index((int)f + 1, n);
    return v - f;
}

static double ref_warp(const float *in, int h, int w, const AugmentParams *p, int r, int c, int ch) {
    double o1 = h / 2.0 - 0.5, o2 = w / 2.0 - 0.5; /* coordinate 1 = column, 2 = row */
    double th = p->theta * M_PI / 180, sh = p->shear * M_PI / 180;
    double d1 = c - o1, d2 = r - o2;
    double u1 = p->zx * d1, u2 = p->zy * d2;
    double w1 = u1 - sin(sh) * u2 + p->tx, w2 = cos(sh) * u2 + p->ty;
    double col = o1 + cos(th) * w1 - sin(th) * w2, row = o2 + sin(th) * w1 + cos(th) * w2;
    /* Fold far coordinates into one period first (exact for the reflect extension). */
    int r0, r1, c0, c1;
    double fr = ref_sample_axis_weights(row, h, &r0, &r1), fc = ref_sample_axis_weights(col, w, &c0, &c1);
    return (1 - fr) * ((1 - fc) * px(in, w, r0, c0, ch) + fc * px(in, w, r0, c1, ch)) +
           fr * ((1 - fc) * px(in, w, r1, c0, ch) + fc * px(in, w, r1, c1, ch));
}

static void test_random_warp_vs_closed_form(void) {
    int h = 40, w = 40;
    float *in = make_image(h, w, 6), *out = malloc(sizeof(float) * h * w * 3);
    AugmentConfig c = recipe();
    c.strength = 3; /* larger transforms reach the reflected borders */
    for (uint32_t k = 0; k < 6; k++) {
        Rng r;
        rng_init(&r, 7, RNG_AUGMENT, k, 0);
        AugmentParams p = augment_draw(&c, &r, h, w);
        p.flip_h = 0;
        p.channel_shift_on = 0;
        p.brightness_on = 0;
        apply(&p, &c, in, out, h, w);
        double worst = 0;
        float mn = 255, mx = 0, in_mn = 255, in_mx = 0;
        for (int i = 0; i < h * w * 3; i++) {
            if (out[i] < mn) mn = out[i];
            if (out[i] > mx) mx = out[i];
            if (in[i] < in_mn) in_mn = in[i];
            if (in[i] > in_mx) in_mx = in[i];
        }
        for (int rr = 0; rr < h; rr++)
            for (int cc = 0; cc < w; cc++)
                for (int ch = 0; ch < 3; ch++) {
                    double d = fabs(px(out, w, rr, cc, ch) - ref_warp(in, h, w, &p, rr, cc, ch));
                    if (d > worst) worst = d;
                }
        CHECK(worst < 1e-3, "transform %u (theta %.3f tx %.3f ty %.3f shear %.3f zx %.3f zy %.3f): max diff %g",
              k, p.theta, p.tx, p.ty, p.shear, p.zx, p.zy, worst);
        CHECK(mn >= in_mn && mx <= in_mx, "warp output [%g, %g] leaves input range [%g, %g]", mn, mx, in_mn, in_mx);
    }
    free(in);
    free(out);
}

static void test_channel_shift(void) {
    int h = 7, w = 9, n = h * w * 3, bad = 0;
    float *in = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++) in[i] = 10.0f + (float)((i * 37) % 191); /* 10 .. 200 */
    in[0] = 10.0f;
    in[1] = 200.0f;
    AugmentConfig c = recipe();
    AugmentParams p = augment_identity();
    p.channel_shift_on = 1;
    p.channel_shift = 50.25;
    apply(&p, &c, in, out, h, w);
    for (int i = 0; i < n; i++) bad += out[i] != fminf(in[i] + 50.25f, 200.0f);
    CHECK(bad == 0, "+50.25 shift: %d values not clipped at the image max", bad);
    p.channel_shift = -50.25;
    apply(&p, &c, in, out, h, w);
    bad = 0;
    for (int i = 0; i < n; i++) bad += out[i] != fmaxf(in[i] - 50.25f, 10.0f);
    CHECK(bad == 0, "-50.25 shift: %d values not clipped at the image min", bad);
    free(in);
    free(out);
}

static void test_brightness(void) {
    int h = 1, w = 4;
    float in[12] = {20.7f, 100.9f, 10.0f, 255.0f, 0.0f, 254.99f, 20.0f, 10.0f, 100.0f, 250.0f, 3.5f, 7.0f};
    float out[12];
    AugmentConfig c = recipe();
    AugmentParams p = augment_identity();
    p.brightness_on = 1;
    p.brightness = 1.15;
    apply(&p, &c, in, out, h, w);
    /* float32 factor: 1.15f * 20 rounds to 23.0f (a double product would truncate to 22). */
    CHECK(out[0] == 23.0f, "20.7 -> trunc 20 -> 1.15f*20 = 23, got %g", out[0]);
    CHECK(out[1] == 115.0f, "100.9 -> 100 -> 115, got %g", out[1]);
    CHECK(out[3] == 255.0f, "255*1.15 clips to 255, got %g", out[3]);
    CHECK(out[4] == 0.0f, "0 stays 0, got %g", out[4]);
    CHECK(out[5] == 255.0f, "254.99 -> 254 -> 292 clips to 255, got %g", out[5]);
    p.brightness = 0.9;
    apply(&p, &c, in, out, h, w);
    CHECK(out[2] == 9.0f, "0.9f*10 rounds to 9.0f (a double product gives 8), got %g", out[2]);
    CHECK(out[11] == 6.0f, "0.9f*7 -> 6, got %g", out[11]);
    CHECK(out[10] == 2.0f, "3.5 -> 3 -> 2.7 -> 2, got %g", out[10]);
    p.brightness = 1.0;
    apply(&p, &c, in, out, h, w);
    CHECK(out[0] == 20.0f && out[1] == 100.0f && out[10] == 3.0f, "factor 1 still truncates to uint8: %g %g %g",
          out[0], out[1], out[10]);
}

static void test_draw_order_and_ranges(void) {
    AugmentConfig c = recipe();
    int h = 224, w = 200;
    Rng r, m;
    rng_init(&r, 42, RNG_AUGMENT, 17, 3);
    rng_init(&m, 42, RNG_AUGMENT, 17, 3);
    AugmentParams p = augment_draw(&c, &r, h, w);
    double theta = rng_uniform(&m, -8, 8), tx = rng_uniform(&m, -0.1, 0.1) * h;
    double ty = rng_uniform(&m, -0.1, 0.1) * w, shear = rng_uniform(&m, -0.1, 0.1);
    double zx = rng_uniform(&m, 0.9, 1.1), zy = rng_uniform(&m, 0.9, 1.1);
    int flip = rng_double(&m) < 0.5;
    rng_double(&m);
    double cs = rng_uniform(&m, -10, 10), br = rng_uniform(&m, 0.85, 1.15);
    CHECK(p.theta == theta && p.tx == tx && p.ty == ty && p.shear == shear, "geometry draws out of Keras order");
    CHECK(p.zx == zx && p.zy == zy && p.flip_h == flip, "zoom/flip draws out of Keras order");
    CHECK(p.channel_shift_on && p.channel_shift == cs && p.brightness_on && p.brightness == br,
          "channel shift / brightness draws out of Keras order");
    CHECK(rng_u32(&r) == rng_u32(&m), "stream position after the draws differs");

    /* strength scales every range */
    c.strength = 0.5;
    rng_init(&r, 42, RNG_AUGMENT, 17, 3);
    rng_init(&m, 42, RNG_AUGMENT, 17, 3);
    p = augment_draw(&c, &r, h, w);
    CHECK(p.theta == rng_uniform(&m, -4, 4), "strength 0.5 must halve the rotation range");
    CHECK(p.tx == rng_uniform(&m, -0.05, 0.05) * h, "strength 0.5 must halve the shift range");

    c.strength = 1;
    int flips = 0, n = 2000, out_of_range = 0;
    for (int i = 0; i < n; i++) {
        rng_init(&r, 1, RNG_AUGMENT, (uint32_t)i, 0);
        p = augment_draw(&c, &r, h, w);
        flips += p.flip_h;
        out_of_range += fabs(p.theta) > 8 || fabs(p.tx) > 0.1 * h || fabs(p.ty) > 0.1 * w ||
                        fabs(p.shear) > 0.1 || p.zx < 0.9 || p.zx > 1.1 || p.zy < 0.9 || p.zy > 1.1 ||
                        fabs(p.channel_shift) > 10 || p.brightness < 0.85 || p.brightness > 1.15 || p.flip_v;
    }
    CHECK(out_of_range == 0, "%d draws outside the configured ranges", out_of_range);
    CHECK(flips > n * 0.45 && flips < n * 0.55, "flip rate %d/%d", flips, n);
    c.horizontal_flip = 0;
    rng_init(&r, 1, RNG_AUGMENT, 0, 0);
    flips = 0;
    for (int i = 0; i < 50; i++) flips += augment_draw(&c, &r, h, w).flip_h;
    CHECK(flips == 0, "horizontal_flip off still flipped %d times", flips);
}

static void test_determinism(void) {
    int h = 32, w = 32, n = h * w * 3;
    float *in = make_image(h, w, 8);
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    AugmentConfig c = recipe();
    Rng r1, r2, r3, r4;
    rng_init(&r1, 42, RNG_AUGMENT, 11, 2);
    rng_init(&r2, 42, RNG_AUGMENT, 11, 2);
    rng_init(&r3, 42, RNG_AUGMENT, 12, 2);
    rng_init(&r4, 42, RNG_AUGMENT, 11, 3);
    AugmentParams p1 = augment_draw(&c, &r1, h, w), p2 = augment_draw(&c, &r2, h, w);
    AugmentParams p3 = augment_draw(&c, &r3, h, w), p4 = augment_draw(&c, &r4, h, w);
    CHECK(same_params(&p1, &p2), "same key gave different params");
    CHECK(p1.theta != p3.theta && p1.tx != p3.tx, "different image index gave the same params");
    CHECK(p1.theta != p4.theta, "different view gave the same params");
    apply(&p1, &c, in, a, h, w);
    apply(&p2, &c, in, b, h, w);
    CHECK(memcmp(a, b, sizeof(float) * n) == 0, "same params gave different outputs");
    free(in);
    free(a);
    free(b);
}

int main(void) {
    test_identity();
    test_flip();
    test_integer_shift();
    test_boundary_taps();
    test_rotate90();
    test_random_warp_vs_closed_form();
    test_channel_shift();
    test_brightness();
    test_draw_order_and_ranges();
    test_determinism();
    return TEST_END();
}
