#include "core/floats.h"

#include <math.h>
#include <string.h>

uint16_t half_from_float(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN, quiet */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 (inf included) rounds to inf */
    if (a >= 0x38800000u) {                                     /* normal half: >= 2^-14 */
        uint32_t r = a - (112u << 23);                          /* rebias the exponent 127 -> 15 */
        r += 0xfffu + ((r >> 13) & 1u);                         /* ties to even on the 13 dropped bits */
        return (uint16_t)(sign | (r >> 13));                    /* a carry moves into the exponent */
    }
    if (a < 0x33000000u) return sign;                           /* <= 2^-25: zero (2^-25 ties to even) */
    /* Subnormal half: value / 2^-24 rounded, = m * 2^(e - 126) with the 24-bit significand m. */
    uint32_t exp = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    int shift = 126 - (int)exp;                                 /* 14..24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (q & 1u))) q++;             /* 0x400 = the smallest normal */
    return (uint16_t)(sign | q);
}

float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (exp == 0x1f) x = sign | 0x7f800000u | (m << 13);
    else if (exp) x = sign | ((exp + 112u) << 23) | (m << 13);
    else {
        float v = ldexpf((float)m, -24); /* subnormal (or zero): exact */
        return sign ? -v : v;
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

void halves_from_floats(const float *src, size_t n, uint16_t *dst) {
    for (size_t i = 0; i < n; i++) dst[i] = half_from_float(src[i]);
}

void floats_from_halves(const uint16_t *src, size_t n, float *dst) {
    for (size_t i = 0; i < n; i++) {
        uint16_t h = src[i];   /* read before dst[i] may overwrite it (see floats.h) */
        dst[i] = half_to_float(h);
    }
}

long floats_first_nonfinite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (long)i;
    return -1;
}

long halves_first_nonfinite(const uint16_t *h, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((h[i] & 0x7c00u) == 0x7c00u) return (long)i;   /* exponent all ones: inf or NaN */
    return -1;
}
