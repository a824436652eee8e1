/* The boundary cache's fp16 conversion (IEEE binary16, round to nearest even) against a
 * reference computed here in double with rint (ties to even), every half bit pattern's
 * value against its defining formula, the edge cases (ties, subnormals, overflow, inf,
 * NaN, signed zero), and the boundary's size and name for ResNet50's stages. */
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "model/resnet.h"
#include "model/resnet_train.h"
#include "train/boundary_cache.h"
#include "test_util.h"

static int is_nan_bits(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu); }

/* The value a half bit pattern stands for, from the format's definition. */
static double half_value(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

/* The nearest half of x (ties to even), as a value: x / ulp rounded by rint. */
static double reference_round(double x) {
    double a = fabs(x);
    int ex = a < 0x1p-14 ? -14 : ilogb(a);
    double ulp = ldexp(1, ex - 10), v = rint(a / ulp) * ulp;
    if (v >= 65536) v = INFINITY;
    return x < 0 ? -v : v;
}

static void test_every_half(void) {
    int bad_value = 0, bad_back = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = half_to_float((uint16_t)h);
        double want = half_value((uint16_t)h);
        if (is_nan_bits((uint16_t)h)) {
            uint16_t back = half_from_float(f);
            bad_value += !isnan(f) || !signbit(f) != !(h >> 15);
            bad_back += !is_nan_bits(back) || (back >> 15) != (h >> 15);
            continue;
        }
        bad_value += (double)f != want || !signbit(f) != !(h >> 15);
        bad_back += half_from_float(f) != h;
    }
    CHECK(bad_value == 0, "%d half patterns widen to the wrong float", bad_value);
    CHECK(bad_back == 0, "%d half patterns do not survive float and back", bad_back);
}

/* Random floats over every range (normal, subnormal, near overflow): the result is the
 * nearest half, ties to even. */
static void test_rounding_random(void) {
    CHECK(fegetround() == FE_TONEAREST, "rint rounds to nearest");
    Rng r;
    rng_init(&r, 5, RNG_INIT, 0, 0);
    int bad = 0, n = 0;
    for (int i = 0; i < 200000; i++) {
        double lg = rng_uniform(&r, -27, 16.2); /* 2^-27 .. ~75000 */
        float f = (float)exp2(lg);
        if (i & 1) f = -f;
        if (i % 7 == 0) { /* exact ties: a half plus half its ulp */
            uint16_t h = (uint16_t)(rng_u32(&r) % 0x7bff);
            double lo = half_value(h), hi = half_value((uint16_t)(h + 1));
            f = (float)((lo + hi) / 2);
        }
        double got = half_value(half_from_float(f)), want = reference_round(f);
        bad += !(got == want && signbit(got) == signbit(want));
        n++;
    }
    CHECK(bad == 0, "%d of %d random floats not rounded to the nearest half (ties to even)", bad, n);
}

static void test_edges(void) {
    struct { float f; uint16_t h; const char *what; } cases[] = {
        {1.0f, 0x3c00, "one"},
        {1.0f + 0x1p-11f, 0x3c00, "tie at 1 + ulp/2 -> even 1.0"},
        {1.0f + 3 * 0x1p-11f, 0x3c02, "tie at 1 + 3ulp/2 -> even"},
        {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01, "just above a tie -> up"},
        {0x1p-24f, 0x0001, "smallest subnormal"},
        {0x1p-25f, 0x0000, "half the smallest subnormal ties to zero"},
        {1.5f * 0x1p-25f, 0x0001, "above half the smallest subnormal"},
        {3 * 0x1p-25f, 0x0002, "subnormal tie 1.5 ulp -> even 2"},
        {5 * 0x1p-25f, 0x0002, "subnormal tie 2.5 ulp -> even 2"},
        {0x1p-14f - 0x1p-25f, 0x0400, "largest subnormal tie rounds up to the smallest normal"},
        {0x1p-14f, 0x0400, "smallest normal"},
        {1e-30f, 0x0000, "tiny -> zero"},
        {-1e-40f, 0x8000, "float subnormal -> negative zero"},
        {-0.0f, 0x8000, "negative zero"},
        {65504.0f, 0x7bff, "largest half"},
        {65519.99f, 0x7bff, "below the overflow tie"},
        {65520.0f, 0x7c00, "overflow tie -> inf"},
        {1e10f, 0x7c00, "overflow"},
        {INFINITY, 0x7c00, "inf"},
        {-INFINITY, 0xfc00, "-inf"},
        {-2.5f, 0xc100, "-2.5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK(half_from_float(cases[i].f) == cases[i].h, "%s: %a -> 0x%04x, want 0x%04x", cases[i].what, (double)cases[i].f,
              half_from_float(cases[i].f), cases[i].h);
    CHECK(is_nan_bits(half_from_float(NAN)) && isnan(half_to_float(half_from_float(NAN))), "NaN stays NaN");
    CHECK(half_to_float(0x0001) == 0x1p-24f && half_to_float(0x8000) == 0 && signbit(half_to_float(0x8000)), "widen");
    float src[5] = {0.1f, -3.0f, 1e-6f, 70000.0f, 0.333333f}, back[5];
    uint16_t h[5];
    halves_from_floats(src, 5, h);
    floats_from_halves(h, 5, back);
    for (int i = 0; i < 5; i++)
        CHECK(h[i] == half_from_float(src[i]) && back[i] == half_to_float(h[i]), "array helpers %d", i);
    CHECK_NEAR(back[0], 0.1, 0.1 * 0x1p-11, "0.1 within half an ulp");
}

/* conv5 starts after conv4_block6_out: 14x14x1024 at 224 px, 2x2x1024 at 32 px. */
static void test_boundary_shape(void) {
    ResnetArch a;
    Err e = {0};
    CHECK_OK(resnet_arch_init(&a, "resnet50", &e), &e);
    int first = -1;
    CHECK_OK(resnet_suffix_start(&a, "conv5", &first, &e), &e);
    char name[64];
    boundary_name(&a, first, name, sizeof name);
    CHECK(!strcmp(name, "conv4_block6_out"), "boundary of conv5: %s", name);
    size_t hdr = boundary_cache_bytes(&a, first, 224, 0, 0);
    CHECK(boundary_cache_bytes(&a, first, 224, 3, 1) - hdr == 4u * 14 * 14 * 1024 * 2, "bytes at 224");
    CHECK(boundary_cache_bytes(&a, first, 32, 10, 0) - hdr == 10u * 2 * 2 * 1024 * 2, "bytes at 32");
    CHECK_OK(resnet_suffix_start(&a, "conv4_block6", &first, &e), &e);
    boundary_name(&a, first, name, sizeof name);
    CHECK(!strcmp(name, "conv4_block5_out"), "boundary of conv4_block6: %s", name);
    CHECK(boundary_cache_bytes(&a, first, 224, 1, 0) - hdr == 14u * 14 * 1024 * 2, "conv4_block6 bytes");
    CHECK_OK(resnet_suffix_start(&a, "conv4", &first, &e), &e);
    boundary_name(&a, first, name, sizeof name);
    CHECK(!strcmp(name, "conv3_block4_out"), "boundary of conv4: %s", name);
    CHECK(boundary_cache_bytes(&a, first, 224, 1, 0) - hdr == 28u * 28 * 512 * 2, "conv4 bytes");
    resnet_arch_free(&a);
}

int main(void) {
    test_every_half();
    test_rounding_random();
    test_edges();
    test_boundary_shape();
    return TEST_END();
}
