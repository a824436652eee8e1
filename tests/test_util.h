/* Minimal test harness: CHECK records failures and goes on; TEST_END prints a closing
 * line ("N passed, N failed") and returns the exit status. */
#ifndef TL_TEST_UTIL_H
#define TL_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/rng.h"

typedef struct TestCounts { int passed, failed; } TestCounts;
static TestCounts test_counts;

#define CHECK(cond, ...) do { \
    if (cond) test_counts.passed++; \
    else { test_counts.failed++; fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
           fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_OK(call, errp) do { \
    if ((call) == 0) test_counts.passed++; \
    else { test_counts.failed++; fprintf(stderr, "FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, (errp)->msg); } } while (0)
#define CHECK_NEAR(a, b, tol, ...) CHECK(fabs((double)(a) - (double)(b)) <= (tol), __VA_ARGS__)
#define TEST_END() (printf("%d passed, %d failed\n", test_counts.passed, test_counts.failed), test_counts.failed ? 1 : 0)

/* Relative L2 error ||a-b|| / ||b||. */
static inline double rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) { double d = (double)a[i] - b[i]; num += d * d; den += (double)b[i] * b[i]; }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* n floats uniform in [lo, hi) from the stream (seed, RNG_INIT, key, b): random test
 * inputs, never zeros, the same on every run. Caller frees. */
static inline float *test_random_floats(uint64_t seed, uint32_t b, size_t n, uint32_t key, double lo, double hi) {
    float *p = malloc(n * sizeof(float));
    Rng r;
    rng_init(&r, seed, RNG_INIT, key, b);
    for (size_t i = 0; p && i < n; i++) p[i] = (float)rng_uniform(&r, lo, hi);
    return p;
}

/* sum a[i] * b[i] in double. */
static inline double test_dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

#endif
