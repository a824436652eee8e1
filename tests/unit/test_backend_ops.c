/* The op table of tests/backend_ops_cases.h (ggml's test-backend-ops in spirit: one table
 * of cases, every backend) on the CPU backend against the float32 reference backend; the
 * CUDA backend runs the same table in tests/gpu/test_cuda_ops.c. Also checks the
 * reference itself on hand-computed cases, and that unknown device and precision names
 * are refused. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend_ops_cases.h"
#include "test_util.h"

/* The CPU backend's average pool sums in float32, one term after the other (ResNet
 * averages 7x7 windows): over 64x64 terms its relative error passes AVGPOOL_TOL (1.5e-6
 * at 112x112), so longer windows are not asked of it. The CUDA backend sums in double. */
enum { CPU_AVG_WINDOW = 64 * 64 };

/* The reference conv on a case small enough to do by hand. */
static void test_reference_by_hand(Backend *ref) {
    Err e = {{0}};
    /* 1 image 2x2x1, 3x3 kernel of ones, pad 1, bias 0.5: each output = sum of the image + 0.5. */
    float x[4] = {1, 2, 3, 4}, w[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, bias[1] = {0.5f}, y[4];
    ConvData cd = {.d = {.n = 1, .h = 2, .w = 2, .cin = 1, .cout = 1, .kh = 3, .kw = 3, .stride = 1, .pad_top = 1,
                         .pad_left = 1, .pad_bottom = 1, .pad_right = 1},
                   .x = x, .w = w, .bias = bias};
    CHECK_OK(conv_desc_init(&cd.d, &e), &e);
    CHECK_OK(run_conv(ref, &cd, y, &e), &e);
    CHECK(y[0] == 10.5f && y[3] == 10.5f, "3x3 ones: %g %g", y[0], y[3]);
    /* Stride 2 1x1: samples rows/cols 0, 2 (TF's valid conv: out = floor((in - k) / s) + 1). */
    float x2[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w2[1] = {2}, y2[4];
    ConvData cd2 = {.d = {.n = 1, .h = 3, .w = 3, .cin = 1, .cout = 1, .kh = 1, .kw = 1, .stride = 2, .relu = 1},
                    .x = x2, .w = w2};   /* no bias */
    CHECK_OK(conv_desc_init(&cd2.d, &e), &e);
    CHECK_OK(run_conv(ref, &cd2, y2, &e), &e);
    CHECK(cd2.d.oh == 2 && y2[0] == 2 && y2[1] == 6 && y2[2] == 14 && y2[3] == 18, "stride-2 1x1: %g %g %g %g", y2[0], y2[1],
          y2[2], y2[3]);
    /* Max pool pads with zeros that take part: all-negative input gives 0 at the border. */
    float neg[9] = {-1, -2, -3, -4, -5, -6, -7, -8, -9}, pooled[4];
    CHECK_OK(ref->ops->maxpool3x3s2(ref, neg, 1, 3, 3, 1, pooled, &e), &e);
    CHECK(pooled[0] == 0.0f, "pad takes part in max pool");
}

/* Names outside backend.h's tables fail, naming what was given. */
static void test_names(void) {
    Err e = {{0}};
    BackendDevice d;
    Precision p;
    CHECK(backend_precision_parse("fp8", &p, &e) != 0 && strstr(e.msg, "fp8"), "unknown precision: %s", e.msg);
    CHECK(backend_device_parse("tpu", &d, &e) != 0 && strstr(e.msg, "tpu"), "unknown device: %s", e.msg);
    CHECK(backend_precision_parse("bf16", &p, &e) == 0 && p == PREC_BF16 && backend_device_parse("cuda", &d, &e) == 0 &&
          d == DEVICE_CUDA, "known names");
}

int main(void) {
    Err e = {{0}};
    Backend *ref, *cpu;
    if (backend_reference_create(&ref, &e) || backend_cpu_create(&cpu, 2, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    test_reference_by_hand(ref);
    test_names();
    ops_test_backend(ref, cpu, &OP_PRECISIONS[PREC_FP32], CPU_AVG_WINDOW);   /* the CPU computes in float32 only */
    backend_destroy(cpu);
    backend_destroy(ref);
    return TEST_END();
}
