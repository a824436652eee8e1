/* One table of backend op cases for every backend, as ggml's test-backend-ops: each case
 * (op, shapes, strides, padding, fused residual and ReLU) runs on a backend under test and
 * on the float32 reference backend, and the outputs must agree within the tolerance of the
 * precision the backend runs in. tests/unit/test_backend_ops.c runs the table on the CPU
 * backend (float32); tests/gpu/test_cuda_ops.c on the CUDA backend in each precision
 * (skipped without a GPU). Inputs are random, never zeros; outputs are poisoned with NaN
 * before each run, so an element an op never wrote fails the check.
 *
 * Tolerances (relative L2 error of the output): convolutions fp32 1e-5, tf32 5e-3, fp16 and
 * bf16 2e-2; pooling runs in float32 in every precision: max pooling must match exactly,
 * average pooling to 1e-6. backbone_tol is for the 2048 features of a whole ResNet50 (53
 * layers compound the rounding; test_cuda_ops.c's backbone check). */
#ifndef TL_BACKEND_OPS_CASES_H
#define TL_BACKEND_OPS_CASES_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "test_util.h"

typedef struct OpPrecision {
    Precision prec;
    double tol;             /* relative L2 error allowed for a conv output */
    double backbone_tol;    /* ... for the 2048 features of the whole backbone */
} OpPrecision;

/* Indexed by Precision. */
static const OpPrecision OP_PRECISIONS[N_PRECISIONS] = {
    {PREC_FP32, 1e-5, 1e-4}, {PREC_TF32, 5e-3, 2e-2}, {PREC_FP16, 2e-2, 4e-2}, {PREC_BF16, 2e-2, 8e-2}};

static const double MAXPOOL_TOL = 0.0, AVGPOOL_TOL = 1e-6;

/* y = act(conv(x) + bias [+ res]), k x k kernel, the same padding on every side. A case
 * with a residual runs twice: res in a buffer of its own, and res in y (res == y, in
 * place, as in the backbone's identity blocks). */
typedef struct ConvCase {
    const char *what;
    int n, h, w, cin, cout, k, stride, pad, residual, relu;
} ConvCase;

static const ConvCase CONV_CASES[] = {
    {"conv1 7x7/2 pad 3 relu, 3 -> 16", 2, 23, 19, 3, 16, 7, 2, 3, 0, 1},
    {"_2_conv 3x3/1 same relu", 2, 12, 12, 16, 16, 3, 1, 1, 0, 1},
    {"_3_conv 1x1/1 residual relu", 2, 12, 12, 32, 64, 1, 1, 0, 1, 1},
    {"_0_conv 1x1/2 projection, odd size, linear", 2, 13, 13, 32, 64, 1, 2, 0, 0, 0},
    {"strided _1_conv 1x1/2 relu", 1, 9, 9, 64, 32, 1, 2, 0, 0, 1},
    {"3x3/1 pad 1 residual relu", 3, 7, 7, 48, 48, 3, 1, 1, 1, 1},
    {"3x3/1 pad 1, odd channels 17 -> 5", 1, 5, 5, 17, 5, 3, 1, 1, 0, 0},
    {"conv1 7x7/2 pad 3 relu", 2, 32, 32, 3, 64, 7, 2, 3, 0, 1},
    {"3x3/1 pad 1 relu", 2, 14, 14, 64, 64, 3, 1, 1, 0, 1},
    {"3x3/1 pad 1 residual linear", 1, 9, 9, 32, 32, 3, 1, 1, 1, 0},
    {"1x1/1 residual relu", 2, 14, 14, 64, 256, 1, 1, 0, 1, 1},
    {"1x1/1 linear", 3, 7, 7, 128, 512, 1, 1, 0, 0, 0},
    {"1x1/2 shortcut linear", 2, 14, 14, 256, 512, 1, 2, 0, 0, 0},
    {"1x1/2 block entry relu, odd size", 2, 15, 15, 256, 128, 1, 2, 0, 0, 1},
};
enum { N_CONV_CASES = sizeof CONV_CASES / sizeof CONV_CASES[0] };

/* Max pooling 3x3/2 and global average pooling of x (n, h, w, c). */
typedef struct PoolCase { int n, h, w, c; } PoolCase;

static const PoolCase POOL_CASES[] = {{2, 11, 12, 19}, {2, 16, 16, 8}, {1, 15, 15, 24}, {2, 112, 112, 64}, {3, 7, 7, 2048}};
enum { N_POOL_CASES = sizeof POOL_CASES / sizeof POOL_CASES[0] };

/* n floats uniform in [lo, hi), from the stream (a, b) of the op tests' seed. */
static inline float *ops_random_floats(size_t n, float lo, float hi, uint32_t a, uint32_t b) {
    float *v = test_random_floats(1234, b, n, a, lo, hi);
    if (!v) { fprintf(stderr, "out of memory\n"); exit(1); }
    return v;
}

static inline void conv_desc_of(const ConvCase *c, ConvDesc *d) {
    memset(d, 0, sizeof *d);
    d->n = c->n; d->h = c->h; d->w = c->w; d->cin = c->cin;
    d->cout = c->cout; d->kh = c->k; d->kw = c->k; d->stride = c->stride;
    d->pad_top = d->pad_left = d->pad_bottom = d->pad_right = c->pad;
    d->has_residual = c->residual;
    d->relu = c->relu;
}

static inline size_t x_elems(const ConvDesc *d) { return (size_t)d->n * d->h * d->w * d->cin; }
static inline size_t y_elems(const ConvDesc *d) { return (size_t)d->n * d->oh * d->ow * d->cout; }

/* Host inputs of one conv: x, res in [-1, 1), weights scaled by 1/sqrt(fan_in). */
typedef struct ConvData {
    ConvDesc d;
    float *x, *w, *bias, *res;
    int res_in_y;       /* the residual lives in y (res == y) */
} ConvData;

/* The inputs of case c, drawn from the streams (key, 1..4). */
static inline int conv_data_make(const ConvCase *c, uint32_t key, int res_in_y, ConvData *cd, Err *e) {
    conv_desc_of(c, &cd->d);
    if (conv_desc_init(&cd->d, e)) return -1;
    const ConvDesc *d = &cd->d;
    float scale = 1.f / sqrtf((float)(d->kh * d->kw * d->cin));
    cd->x = ops_random_floats(x_elems(d), -1.f, 1.f, key, 1);
    cd->w = ops_random_floats((size_t)d->kh * d->kw * d->cin * d->cout, -scale, scale, key, 2);
    cd->bias = ops_random_floats((size_t)d->cout, -0.5f, 0.5f, key, 3);
    cd->res = ops_random_floats(y_elems(d), -1.f, 1.f, key, 4);
    cd->res_in_y = res_in_y;
    return 0;
}

static inline void conv_data_free(ConvData *cd) {
    free(cd->x); free(cd->w); free(cd->bias); free(cd->res);
}

/* Fills backend memory with NaN, so that unwritten outputs show. */
static inline int poison(Backend *b, float *dev, size_t n, Err *e) {
    float *nan = malloc(n * sizeof *nan);
    if (!nan) return err_fail(e, "out of memory");
    for (size_t i = 0; i < n; i++) nan[i] = NAN;
    int rc = b->ops->upload(b, dev, nan, n * sizeof *nan, e);
    free(nan);
    return rc;
}

/* y_host = conv(x) on backend b, from scratch (alloc, upload, create, run, download, free).
 * y is poisoned with NaN first, or holds the residual when cd->res_in_y. */
static inline int run_conv(Backend *b, const ConvData *cd, float *y_host, Err *e) {
    const ConvDesc *d = &cd->d;
    void *x = NULL, *y = NULL, *res = NULL, *conv = NULL;
    int rc = -1;
    if (b->ops->alloc(b, x_elems(d) * 4, &x, e) || b->ops->alloc(b, y_elems(d) * 4, &y, e)) goto done;
    if (cd->res_in_y) res = y;
    else if (b->ops->alloc(b, y_elems(d) * 4, &res, e)) goto done;
    if (b->ops->upload(b, x, cd->x, x_elems(d) * 4, e) || poison(b, y, y_elems(d), e)) goto done;
    if (d->has_residual && b->ops->upload(b, res, cd->res, y_elems(d) * 4, e)) goto done;
    if (b->ops->conv_create(b, d, cd->w, cd->bias, &conv, e)) goto done;
    if (b->ops->conv_forward(b, conv, x, d->has_residual ? res : NULL, y, e)) goto done;
    if (b->ops->download(b, y_host, y, y_elems(d) * 4, e) || b->ops->sync(b, e)) goto done;
    rc = 0;
done:
    if (conv) b->ops->conv_destroy(b, conv);
    if (res != y) b->ops->release(b, res);
    b->ops->release(b, x);
    b->ops->release(b, y);
    return rc;
}

/* Case i (with its residual in y or not) on b against the reference. */
static inline void ops_test_conv(Backend *ref, Backend *b, const OpPrecision *p, int i, int res_in_y) {
    const char *prec = PRECISION_NAMES[p->prec];
    Err e = {{0}};
    ConvData cd;
    if (conv_data_make(&CONV_CASES[i], (uint32_t)i, res_in_y, &cd, &e)) { CHECK(0, "%s: %s", CONV_CASES[i].what, e.msg); return; }
    size_t n = y_elems(&cd.d);
    float *want = malloc(n * 4), *got = malloc(n * 4);
    CHECK_OK(run_conv(ref, &cd, want, &e), &e);
    int ok = run_conv(b, &cd, got, &e) == 0;
    CHECK(ok, "%s %s %s: %s", b->name, prec, CONV_CASES[i].what, e.msg);
    if (ok) {
        char what[96];
        snprintf(what, sizeof what, "%s%s", CONV_CASES[i].what, res_in_y ? " (res in y)" : "");
        double err = rel_l2(got, want, n);
        printf("%s %s conv %-54s rel L2 %.2e (tol %.0e)\n", b->name, prec, what, err, p->tol);
        CHECK(err <= p->tol, "%s %s %s: rel L2 %.3e > %.0e", b->name, prec, what, err, p->tol);
    }
    free(want); free(got);
    conv_data_free(&cd);
}

/* y_host = pool(x_host) on b; which: 0 max 3x3/2, 1 global average. */
static inline int run_pool(Backend *b, int which, const float *x_host, const PoolCase *s, float *y_host, Err *e) {
    size_t xn = (size_t)s->n * s->h * s->w * s->c;
    size_t yn = which == 0 ? (size_t)s->n * ((s->h - 1) / 2 + 1) * ((s->w - 1) / 2 + 1) * s->c : (size_t)s->n * s->c;
    void *x = NULL, *y = NULL;
    int rc = -1;
    if (b->ops->alloc(b, xn * 4, &x, e) || b->ops->alloc(b, yn * 4, &y, e)) goto done;
    if (b->ops->upload(b, x, x_host, xn * 4, e) || poison(b, y, yn, e)) goto done;
    if (which == 0 ? b->ops->maxpool3x3s2(b, x, s->n, s->h, s->w, s->c, y, e)
                   : b->ops->global_avgpool(b, x, s->n, s->h, s->w, s->c, y, e))
        goto done;
    if (b->ops->download(b, y_host, y, yn * 4, e) || b->ops->sync(b, e)) goto done;
    rc = 0;
done:
    b->ops->release(b, x);
    b->ops->release(b, y);
    return rc;
}

/* Pool case i, max and average, on b against the reference. Max pooling inputs are
 * post-ReLU (>= 0) per backend.h, exact zeros included. max_avg_window: the most terms
 * (h*w) an average of b is held to AVGPOOL_TOL for (0: any); a longer one is skipped, as
 * ggml's test-backend-ops skips what a backend does not support. */
static inline void ops_test_pool(Backend *ref, Backend *b, const OpPrecision *p, int i, int max_avg_window) {
    const PoolCase *s = &POOL_CASES[i];
    const char *prec = PRECISION_NAMES[p->prec];
    size_t xn = (size_t)s->n * s->h * s->w * s->c, yn = (size_t)s->n * ((s->h - 1) / 2 + 1) * ((s->w - 1) / 2 + 1) * s->c;
    float *x = ops_random_floats(xn, -0.2f, 1.f, 100 + (uint32_t)i, 0);
    for (size_t k = 0; k < xn; k++) x[k] = x[k] < 0 ? 0 : x[k];
    float *want = malloc(yn * 4), *got = malloc(yn * 4);
    for (int which = 0; which < 2; which++) {
        Err e = {{0}};
        const char *op = which == 0 ? "maxpool3x3s2" : "global_avgpool";
        if (which == 1 && max_avg_window > 0 && s->h * s->w > max_avg_window) {
            printf("%s %s %-14s %dx%dx%dx%d skipped (%d terms per average, more than %d)\n", b->name, prec, op, s->n, s->h, s->w,
                   s->c, s->h * s->w, max_avg_window);
            continue;
        }
        CHECK_OK(run_pool(ref, which, x, s, want, &e), &e);
        int ok = run_pool(b, which, x, s, got, &e) == 0;
        CHECK(ok, "%s %s %s: %s", b->name, prec, op, e.msg);
        if (!ok) continue;
        double err = rel_l2(got, want, which == 0 ? yn : (size_t)s->n * s->c), tol = which == 0 ? MAXPOOL_TOL : AVGPOOL_TOL;
        printf("%s %s %-14s %dx%dx%dx%d rel L2 %.2e (tol %.0e)\n", b->name, prec, op, s->n, s->h, s->w, s->c, err, tol);
        CHECK(err <= tol, "%s %s %s %dx%dx%dx%d: rel L2 %.3e", b->name, prec, op, s->n, s->h, s->w, s->c, err);
    }
    free(x); free(want); free(got);
}

/* The whole table on backend b, which runs in precision p->prec (max_avg_window: as
 * ops_test_pool's). */
static inline void ops_test_backend(Backend *ref, Backend *b, const OpPrecision *p, int max_avg_window) {
    for (int i = 0; i < N_CONV_CASES; i++)
        for (int res_in_y = 0; res_in_y <= CONV_CASES[i].residual; res_in_y++) ops_test_conv(ref, b, p, i, res_in_y);
    for (int i = 0; i < N_POOL_CASES; i++) ops_test_pool(ref, b, p, i, max_avg_window);
}

#endif
