/* Every backend op against the float32 reference backend on random inputs (never zeros),
 * over the kernel sizes, strides and paddings ResNet uses, with and without the fused
 * residual add and ReLU. Also checks the reference itself on a hand-computed case.
 * ggml's test-backend-ops in spirit: one table of cases, every backend. The bf16 CPU
 * backend (model.precision bf16) runs the same cases within BF16_BAR (measured on Zen 4's
 * AVX-512 BF16: 2.5e-3..2.8e-3: bf16 rounds inputs and weights to 8 significant bits), where
 * the CPU has AMX or AVX-512 BF16; elsewhere it says why it is skipped. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/rng.h"
#include "test_util.h"

#define BF16_BAR 1e-2

static float *random_floats(size_t n, uint32_t key, double lo, double hi) { return test_random_floats(1234, 0, n, key, lo, hi); }

/* Runs one op on backend b with host in/out via upload/download. */
static int conv_on(Backend *b, const ConvDesc *d, const float *w, const float *bias, const float *x, const float *res,
                   float *y, int in_place, Err *e) {
    size_t nx = (size_t)d->n * d->h * d->w * d->cin, ny = (size_t)d->n * d->oh * d->ow * d->cout;
    void *conv, *dx, *dy, *dr = NULL;
    if (b->conv_create(b, d, w, bias, &conv, e) || b->alloc(b, nx * 4, &dx, e) || b->alloc(b, ny * 4, &dy, e)) return -1;
    if (b->upload(b, dx, x, nx * 4, e)) return -1;
    if (res && in_place && b->upload(b, dy, res, ny * 4, e)) return -1;
    if (res && !in_place && (b->alloc(b, ny * 4, &dr, e) || b->upload(b, dr, res, ny * 4, e))) return -1;
    const float *rp = res ? (in_place ? dy : dr) : NULL;
    int rc = b->conv_forward(b, conv, dx, rp, dy, e) || b->download(b, y, dy, ny * 4, e) || b->sync(b, e);
    b->conv_destroy(b, conv);
    b->release(b, dx);
    b->release(b, dy);
    if (dr) b->release(b, dr);
    return rc ? -1 : 0;
}

typedef struct Case { int n, h, w, cin, cout, k, stride, pad, residual, relu; } Case;

static const Case CASES[] = {
    {2, 23, 19, 3, 16, 7, 2, 3, 0, 1},    /* conv1: 7x7/2 pad 3 */
    {2, 12, 12, 16, 16, 3, 1, 1, 0, 1},   /* _2_conv: 3x3 same */
    {2, 12, 12, 32, 64, 1, 1, 0, 1, 1},   /* _3_conv with residual + relu */
    {2, 13, 13, 32, 64, 1, 2, 0, 0, 0},   /* _0_conv: strided projection, odd size, no relu */
    {1, 9, 9, 64, 32, 1, 2, 0, 0, 1},     /* strided _1_conv */
    {3, 7, 7, 48, 48, 3, 1, 1, 1, 1},     /* 3x3 with residual */
    {1, 5, 5, 17, 5, 3, 1, 1, 0, 0},      /* odd channel counts */
};

static void test_conv_cases(Backend *b, Backend *ref, double bar) {
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        const Case *k = &CASES[c];
        Err e = {{0}};
        ConvDesc d = {.n = k->n, .h = k->h, .w = k->w, .cin = k->cin, .cout = k->cout, .kh = k->k, .kw = k->k, .stride = k->stride,
                      .pad_top = k->pad, .pad_left = k->pad, .pad_bottom = k->pad, .pad_right = k->pad,
                      .has_residual = k->residual, .relu = k->relu};
        CHECK_OK(conv_desc_init(&d, &e), &e);
        size_t nx = (size_t)d.n * d.h * d.w * d.cin, ny = (size_t)d.n * d.oh * d.ow * d.cout;
        size_t nw = (size_t)d.kh * d.kw * d.cin * d.cout;
        float *x = random_floats(nx, 1 + (uint32_t)c, -2, 2), *w = random_floats(nw, 100 + (uint32_t)c, -0.5, 0.5);
        float *bias = random_floats((size_t)d.cout, 200 + (uint32_t)c, -1, 1), *res = random_floats(ny, 300 + (uint32_t)c, -3, 3);
        float *y_ref = malloc(ny * 4), *y = malloc(ny * 4);
        for (int in_place = 0; in_place <= k->residual; in_place++) {
            CHECK_OK(conv_on(ref, &d, w, bias, x, k->residual ? res : NULL, y_ref, in_place, &e), &e);
            CHECK_OK(conv_on(b, &d, w, bias, x, k->residual ? res : NULL, y, in_place, &e), &e);
            double err = rel_l2(y, y_ref, ny);
            if (bar > 1e-5) printf("%s %s conv case %zu%s: rel L2 %.2g (bar %g)\n", b->name, b->precision, c, in_place ? " in place" : "",
                                   err, bar);
            CHECK(err < bar, "%s %s conv case %zu (in_place %d): rel L2 %.3g", b->name, b->precision, c, in_place, err);
        }
        free(x); free(w); free(bias); free(res); free(y_ref); free(y);
    }
}

static void test_pools(Backend *b, Backend *ref) {
    Err e = {{0}};
    int n = 2, h = 11, w = 12, c = 19;
    size_t nx = (size_t)n * h * w * c;
    int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
    float *x = random_floats(nx, 7, 0.01, 5); /* post-ReLU inputs are >= 0 */
    float *y1 = malloc((size_t)n * oh * ow * c * 4), *y2 = malloc((size_t)n * oh * ow * c * 4);
    void *dx, *dy;
    CHECK_OK(b->alloc(b, nx * 4, &dx, &e) || b->alloc(b, (size_t)n * oh * ow * c * 4, &dy, &e) || b->upload(b, dx, x, nx * 4, &e), &e);
    CHECK_OK(ref->maxpool3x3s2(ref, x, n, h, w, c, y1, &e), &e);
    CHECK_OK(b->maxpool3x3s2(b, dx, n, h, w, c, dy, &e) || b->download(b, y2, dy, (size_t)n * oh * ow * c * 4, &e), &e);
    CHECK(rel_l2(y2, y1, (size_t)n * oh * ow * c) == 0.0, "%s maxpool differs", b->name);
    CHECK_OK(ref->global_avgpool(ref, x, n, h, w, c, y1, &e), &e);
    CHECK_OK(b->global_avgpool(b, dx, n, h, w, c, dy, &e) || b->download(b, y2, dy, (size_t)n * c * 4, &e), &e);
    CHECK(rel_l2(y2, y1, (size_t)n * c) < 1e-6, "%s avgpool differs", b->name);
    b->release(b, dx);
    b->release(b, dy);
    free(x); free(y1); free(y2);
}

/* The reference conv on a case small enough to do by hand. */
static void test_reference_by_hand(Backend *ref) {
    Err e = {{0}};
    /* 1 image 2x2x1, 3x3 kernel of ones, pad 1, bias 0.5: each output = sum of the image + 0.5. */
    float x[4] = {1, 2, 3, 4}, w[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, bias[1] = {0.5f}, y[4];
    ConvDesc d = {.n = 1, .h = 2, .w = 2, .cin = 1, .cout = 1, .kh = 3, .kw = 3, .stride = 1, .pad_top = 1, .pad_left = 1,
                  .pad_bottom = 1, .pad_right = 1};
    CHECK_OK(conv_desc_init(&d, &e), &e);
    CHECK_OK(conv_on(ref, &d, w, bias, x, NULL, y, 0, &e), &e);
    CHECK(y[0] == 10.5f && y[3] == 10.5f, "3x3 ones: %g %g", y[0], y[3]);
    /* Stride 2 1x1: samples rows/cols 0, 2 (spec 1.1.5). */
    float x2[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w2[1] = {2}, y2[4];
    ConvDesc d2 = {.n = 1, .h = 3, .w = 3, .cin = 1, .cout = 1, .kh = 1, .kw = 1, .stride = 2, .relu = 1};
    CHECK_OK(conv_desc_init(&d2, &e), &e);
    CHECK_OK(conv_on(ref, &d2, w2, NULL, x2, NULL, y2, 0, &e), &e);
    CHECK(d2.oh == 2 && y2[0] == 2 && y2[1] == 6 && y2[2] == 14 && y2[3] == 18, "stride-2 1x1: %g %g %g %g", y2[0], y2[1], y2[2], y2[3]);
    /* Max pool pads with zeros that take part: all-negative input gives 0 at the border. */
    float neg[9] = {-1, -2, -3, -4, -5, -6, -7, -8, -9}, pooled[4];
    CHECK_OK(ref->maxpool3x3s2(ref, neg, 1, 3, 3, 1, pooled, &e), &e);
    CHECK(pooled[0] == 0.0f, "pad takes part in max pool");
}

int main(void) {
    Err e = {{0}};
    Backend *ref, *cpu;
    if (backend_reference_create(&ref, &e) || backend_cpu_create(&cpu, 2, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    test_reference_by_hand(ref);
    test_conv_cases(cpu, ref, 1e-5);
    test_pools(cpu, ref);
    Backend *bf16;
    if (backend_cpu_bf16_create(&bf16, 2, &e) == 0) {
        test_conv_cases(bf16, ref, BF16_BAR);
        test_pools(bf16, ref);
        CHECK(!strstr(bf16->kernels, "ref:"), "a bf16 convolution fell back to oneDNN's reference kernel: %s", bf16->kernels);
        backend_destroy(bf16);
    } else {
        printf("SKIP bf16 cases: %s\n", e.msg);
    }
    backend_destroy(cpu);
    backend_destroy(ref);
    return TEST_END();
}
