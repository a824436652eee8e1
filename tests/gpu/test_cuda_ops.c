/* Every CUDA backend op against the reference backend, on random inputs (never zeros),
 * for each precision, over the kinds of convolution ResNet50 has (7x7 s2 pad 3, 3x3 s1
 * pad 1, 1x1 s1/s2, with and without residual and ReLU) at small batch and image sizes.
 * Tolerances (relative L2 error of the output): fp32 1e-5, tf32 5e-3, fp16 and bf16 2e-2;
 * pooling runs in float32 in every precision: max pooling must match exactly, average
 * pooling to 1e-6. Then the whole ResNet50 backbone (trainer/model, random weights, 32x32
 * images) against the reference: 53 layers compound the rounding, so its tolerances are
 * wider (BACKBONE_TOL). Outputs are poisoned with NaN before each run, so an element the
 * op never wrote fails the check. Exits 77 (skipped) when no GPU is visible. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/rng.h"
#include "model/resnet.h"
#include "gpu/gpu_test.h"
#include "test_util.h"

typedef struct PrecisionCase {
    Precision prec;
    const char *name;
    double tol;             /* relative L2 error allowed for a conv output */
    double backbone_tol;    /* ... for the 2048 features of the whole backbone */
} PrecisionCase;

static const PrecisionCase PRECISIONS[] = {
    {PREC_FP32, "fp32", 1e-5, 1e-4}, {PREC_TF32, "tf32", 5e-3, 2e-2}, {PREC_FP16, "fp16", 2e-2, 4e-2}, {PREC_BF16, "bf16", 2e-2, 8e-2}};

typedef struct ConvCase {
    const char *what;
    int n, h, w, cin, cout, k, stride, pad, residual, relu;
    int res_in_y;       /* the residual lives in y (res == y), as in the backbone's identity blocks */
} ConvCase;

static const ConvCase CASES[] = {
    {"conv1 7x7/2 pad 3 relu", 2, 32, 32, 3, 64, 7, 2, 3, 0, 1, 0},
    {"3x3/1 pad 1 relu", 2, 14, 14, 64, 64, 3, 1, 1, 0, 1, 0},
    {"3x3/1 pad 1 residual linear", 1, 9, 9, 32, 32, 3, 1, 1, 1, 0, 0},
    {"1x1/1 residual relu", 2, 14, 14, 64, 256, 1, 1, 0, 1, 1, 0},
    {"1x1/1 residual in y (res = y) relu", 2, 14, 14, 64, 256, 1, 1, 0, 1, 1, 1},
    {"3x3/1 pad 1 residual in y, linear", 1, 9, 9, 32, 32, 3, 1, 1, 1, 0, 1},
    {"1x1/1 linear", 3, 7, 7, 128, 512, 1, 1, 0, 0, 0, 0},
    {"1x1/2 shortcut linear", 2, 14, 14, 256, 512, 1, 2, 0, 0, 0, 0},
    {"1x1/2 block entry relu, odd size", 2, 15, 15, 256, 128, 1, 2, 0, 0, 1, 0},
};
enum { N_CASES = sizeof CASES / sizeof CASES[0], N_PRECISION_CASES = sizeof PRECISIONS / sizeof PRECISIONS[0] };

/* n floats uniform in [lo, hi), from the stream (a, b). */
static float *random_floats(size_t n, float lo, float hi, uint32_t a, uint32_t b) {
    float *v = malloc(n * sizeof *v);
    if (!v) { fprintf(stderr, "out of memory\n"); exit(1); }
    Rng r;
    rng_init(&r, 1234, RNG_INIT, a, b);
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng_float(&r);
    return v;
}

static void conv_desc_of(const ConvCase *c, ConvDesc *d) {
    memset(d, 0, sizeof *d);
    d->n = c->n; d->h = c->h; d->w = c->w; d->cin = c->cin;
    d->cout = c->cout; d->kh = c->k; d->kw = c->k; d->stride = c->stride;
    d->pad_top = d->pad_left = d->pad_bottom = d->pad_right = c->pad;
    d->has_residual = c->residual;
    d->relu = c->relu;
}

static size_t x_elems(const ConvDesc *d) { return (size_t)d->n * d->h * d->w * d->cin; }
static size_t y_elems(const ConvDesc *d) { return (size_t)d->n * d->oh * d->ow * d->cout; }

/* Host inputs of one conv case: x, res in [-1, 1), weights scaled by 1/sqrt(fan_in). */
typedef struct ConvData {
    ConvDesc d;
    float *x, *w, *bias, *res;
    int res_in_y;
} ConvData;

static int conv_data_make(int index, ConvData *cd, Err *e) {
    conv_desc_of(&CASES[index], &cd->d);
    if (conv_desc_init(&cd->d, e)) return -1;
    const ConvDesc *d = &cd->d;
    float scale = 1.f / sqrtf((float)(d->kh * d->kw * d->cin));
    cd->x = random_floats(x_elems(d), -1.f, 1.f, (uint32_t)index, 1);
    cd->w = random_floats((size_t)d->kh * d->kw * d->cin * d->cout, -scale, scale, (uint32_t)index, 2);
    cd->bias = random_floats((size_t)d->cout, -0.5f, 0.5f, (uint32_t)index, 3);
    cd->res = random_floats(y_elems(d), -1.f, 1.f, (uint32_t)index, 4);
    cd->res_in_y = CASES[index].res_in_y;
    return 0;
}

static void conv_data_free(ConvData *cd) {
    free(cd->x); free(cd->w); free(cd->bias); free(cd->res);
}

/* Fills backend memory with NaN, so that unwritten outputs show. */
static int poison(Backend *b, float *dev, size_t n, Err *e) {
    float *nan = malloc(n * sizeof *nan);
    if (!nan) return err_fail(e, "out of memory");
    for (size_t i = 0; i < n; i++) nan[i] = NAN;
    int rc = b->ops->upload(b, dev, nan, n * sizeof *nan, e);
    free(nan);
    return rc;
}

/* y_host = conv(x) on backend b, from scratch (alloc, upload, create, run, download, free).
 * y is poisoned with NaN first, or holds the residual when cd->res_in_y. */
static int run_conv(Backend *b, const ConvData *cd, float *y_host, Err *e) {
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

static void test_convs(Backend *ref, Backend *gpu, const PrecisionCase *p) {
    for (int i = 0; i < N_CASES; i++) {
        Err e = {{0}};
        ConvData cd;
        if (conv_data_make(i, &cd, &e)) { CHECK(0, "%s: %s", CASES[i].what, e.msg); continue; }
        size_t n = y_elems(&cd.d);
        float *want = malloc(n * 4), *got = malloc(n * 4);
        CHECK_OK(run_conv(ref, &cd, want, &e), &e);
        int ok = run_conv(gpu, &cd, got, &e) == 0;
        CHECK(ok, "%s %s: %s", p->name, CASES[i].what, e.msg);
        if (ok) {
            double err = rel_l2(got, want, n);
            printf("%s conv %-34s rel L2 %.2e (tol %.0e)\n", p->name, CASES[i].what, err, p->tol);
            CHECK(err <= p->tol, "%s %s: rel L2 %.3e > %.0e", p->name, CASES[i].what, err, p->tol);
        }
        free(want); free(got);
        conv_data_free(&cd);
    }
}

/* y_host = pool(x_host) on b; which: 0 max 3x3/2, 1 global average. */
static int run_pool(Backend *b, int which, const float *x_host, int n, int h, int w, int c, float *y_host, Err *e) {
    size_t xn = (size_t)n * h * w * c;
    size_t yn = which == 0 ? (size_t)n * ((h - 1) / 2 + 1) * ((w - 1) / 2 + 1) * c : (size_t)n * c;
    void *x = NULL, *y = NULL;
    int rc = -1;
    if (b->ops->alloc(b, xn * 4, &x, e) || b->ops->alloc(b, yn * 4, &y, e)) goto done;
    if (b->ops->upload(b, x, x_host, xn * 4, e) || poison(b, y, yn, e)) goto done;
    if (which == 0 ? b->ops->maxpool3x3s2(b, x, n, h, w, c, y, e) : b->ops->global_avgpool(b, x, n, h, w, c, y, e)) goto done;
    if (b->ops->download(b, y_host, y, yn * 4, e)) goto done;
    rc = 0;
done:
    b->ops->release(b, x);
    b->ops->release(b, y);
    return rc;
}

static void test_pools(Backend *ref, Backend *gpu, const PrecisionCase *p) {
    /* Max pooling inputs are post-ReLU (>= 0) per backend.h; include exact zeros too. */
    static const int shapes[][4] = {{2, 16, 16, 8}, {1, 15, 15, 24}, {2, 112, 112, 64}, {3, 7, 7, 2048}};
    for (int s = 0; s < 4; s++) {
        int n = shapes[s][0], h = shapes[s][1], w = shapes[s][2], c = shapes[s][3];
        size_t xn = (size_t)n * h * w * c;
        float *x = random_floats(xn, -0.2f, 1.f, 100 + (uint32_t)s, 0);
        for (size_t i = 0; i < xn; i++) x[i] = x[i] < 0 ? 0 : x[i];
        size_t yn = (size_t)n * ((h - 1) / 2 + 1) * ((w - 1) / 2 + 1) * c;
        float *want = malloc(yn * 4), *got = malloc(yn * 4);
        for (int which = 0; which < 2; which++) {
            Err e = {{0}};
            size_t m = which == 0 ? yn : (size_t)n * c;
            CHECK_OK(run_pool(ref, which, x, n, h, w, c, want, &e), &e);
            int ok = run_pool(gpu, which, x, n, h, w, c, got, &e) == 0;
            CHECK(ok, "%s pool %d: %s", p->name, which, e.msg);
            if (!ok) continue;
            double err = rel_l2(got, want, m), tol = which == 0 ? 0.0 : 1e-6;
            printf("%s %s %dx%dx%dx%d rel L2 %.2e (tol %.0e)\n", p->name, which == 0 ? "maxpool3x3s2 " : "global_avgpool",
                   n, h, w, c, err, tol);
            CHECK(err <= tol, "%s %s %dx%dx%dx%d: rel L2 %.3e", p->name, which ? "avgpool" : "maxpool", n, h, w, c, err);
        }
        free(x); free(want); free(got);
    }
}

/* Upload then download gives back the same bytes: sizes below, at and across the 16 MiB
 * staging chunks (three chunks and more: both buffers reused), odd sizes, an offset
 * destination. */
static void test_copies(Backend *gpu) {
    static const size_t sizes[] = {1, 12, 4096 + 3, ((size_t)16 << 20) - 4, ((size_t)16 << 20) + 8, ((size_t)50 << 20) + 12};
    for (int s = 0; s < 6; s++) {
        Err e = {{0}};
        size_t bytes = sizes[s];
        unsigned char *src = malloc(bytes), *back = malloc(bytes);
        Rng r;
        rng_init(&r, 99, RNG_INIT, 200, (uint32_t)s);
        for (size_t i = 0; i < bytes; i++) src[i] = (unsigned char)(rng_u32(&r) | 1);
        memset(back, 0, bytes);
        void *dev = NULL;
        CHECK_OK(gpu->ops->alloc(gpu, bytes + 16, &dev, &e), &e);
        if (dev) {
            CHECK_OK(gpu->ops->upload(gpu, (char *)dev + 4, src, bytes, &e), &e);
            CHECK_OK(gpu->ops->download(gpu, back, (char *)dev + 4, bytes, &e), &e);
            CHECK(memcmp(src, back, bytes) == 0, "round trip of %zu bytes differs", bytes);
        }
        gpu->ops->release(gpu, dev);
        free(src); free(back);
    }
}

/* A chain of two convs A -> B, for the half shadows: B reading A's output (through A's
 * shadow in fp16/bf16) gives the same bits as B reading a fresh copy of it; after the
 * float32 tensor is overwritten (all of it, half of it, or freed and reallocated), B
 * must see the new values, not a stale half copy. */
typedef struct Chain {
    ConvDesc a, b;
    void *conv_a, *conv_b;
    void *x, *mid, *mid2, *out;       /* x (a input), mid (a output = b input), out (b output) */
    float *hx, *wa, *ba, *wb, *bb;
} Chain;

static int chain_open(Backend *g, Chain *c, Err *e) {
    ConvCase ca = {"a", 2, 12, 12, 32, 64, 3, 1, 1, 0, 1, 0}, cb = {"b", 2, 12, 12, 64, 64, 1, 1, 0, 0, 1, 0};
    conv_desc_of(&ca, &c->a);
    conv_desc_of(&cb, &c->b);
    if (conv_desc_init(&c->a, e) || conv_desc_init(&c->b, e)) return -1;
    c->hx = random_floats(x_elems(&c->a), -1.f, 1.f, 300, 0);
    c->wa = random_floats(3 * 3 * 32 * 64, -0.06f, 0.06f, 300, 1);
    c->ba = random_floats(64, -0.5f, 0.5f, 300, 2);
    c->wb = random_floats(64 * 64, -0.12f, 0.12f, 300, 3);
    c->bb = random_floats(64, -0.5f, 0.5f, 300, 4);
    size_t mid = y_elems(&c->a) * 4, out = y_elems(&c->b) * 4;
    if (g->ops->alloc(g, x_elems(&c->a) * 4, &c->x, e) || g->ops->alloc(g, mid, &c->mid, e) || g->ops->alloc(g, mid, &c->mid2, e) ||
        g->ops->alloc(g, out, &c->out, e)) return -1;
    if (g->ops->conv_create(g, &c->a, c->wa, c->ba, &c->conv_a, e) || g->ops->conv_create(g, &c->b, c->wb, c->bb, &c->conv_b, e))
        return -1;
    return g->ops->upload(g, c->x, c->hx, x_elems(&c->a) * 4, e);
}

static void chain_close(Backend *g, Chain *c) {
    if (c->conv_a) g->ops->conv_destroy(g, c->conv_a);
    if (c->conv_b) g->ops->conv_destroy(g, c->conv_b);
    g->ops->release(g, c->x); g->ops->release(g, c->mid); g->ops->release(g, c->mid2); g->ops->release(g, c->out);
    free(c->hx); free(c->wa); free(c->ba); free(c->wb); free(c->bb);
}

/* out_host = B(mid) on the GPU, poisoning out first. */
static int chain_run_b(Backend *g, Chain *c, void *mid, float *out_host, Err *e) {
    size_t n = y_elems(&c->b);
    if (poison(g, c->out, n, e) || g->ops->conv_forward(g, c->conv_b, mid, NULL, c->out, e)) return -1;
    return g->ops->download(g, out_host, c->out, n * 4, e);
}

/* want = B(mid_host) on the reference backend. */
static int chain_reference_b(Backend *ref, Chain *c, const float *mid_host, float *want, Err *e) {
    ConvData cd = {c->b, (float *)mid_host, c->wb, c->bb, NULL, 0};
    return run_conv(ref, &cd, want, e);
}

static void test_chain(Backend *ref, Backend *g, const PrecisionCase *p) {
    Err e = {{0}};
    Chain c;
    memset(&c, 0, sizeof c);
    if (chain_open(g, &c, &e)) { CHECK(0, "%s chain setup: %s", p->name, e.msg); chain_close(g, &c); return; }
    size_t nm = y_elems(&c.a), no = y_elems(&c.b);
    float *mid = malloc(nm * 4), *fresh = random_floats(nm, -1.f, 2.f, 301, 0);
    float *o1 = malloc(no * 4), *o2 = malloc(no * 4), *want = malloc(no * 4);

    /* A then B through the shadow, then B on an uploaded copy of A's output: same bits. */
    CHECK_OK(g->ops->conv_forward(g, c.conv_a, c.x, NULL, c.mid, &e), &e);
    CHECK_OK(chain_run_b(g, &c, c.mid, o1, &e), &e);
    CHECK_OK(g->ops->download(g, mid, c.mid, nm * 4, &e), &e);
    CHECK_OK(g->ops->upload(g, c.mid2, mid, nm * 4, &e), &e);
    CHECK_OK(chain_run_b(g, &c, c.mid2, o2, &e), &e);
    CHECK(memcmp(o1, o2, no * 4) == 0, "%s: B through A's half copy differs from B on a fresh upload", p->name);
    CHECK_OK(chain_run_b(g, &c, c.mid, o2, &e), &e);
    CHECK(memcmp(o1, o2, no * 4) == 0, "%s: running B twice gives different bits", p->name);
    CHECK_OK(chain_reference_b(ref, &c, mid, want, &e), &e);
    CHECK(rel_l2(o1, want, no) <= p->tol, "%s chain: rel L2 %.3e", p->name, rel_l2(o1, want, no));

    /* Overwrite all of mid: B must see the new values. */
    CHECK_OK(g->ops->conv_forward(g, c.conv_a, c.x, NULL, c.mid, &e), &e);
    CHECK_OK(g->ops->upload(g, c.mid, fresh, nm * 4, &e), &e);
    CHECK_OK(chain_run_b(g, &c, c.mid, o1, &e), &e);
    CHECK_OK(chain_reference_b(ref, &c, fresh, want, &e), &e);
    CHECK(rel_l2(o1, want, no) <= p->tol, "%s: stale half copy after a full upload (rel L2 %.3e)", p->name,
          rel_l2(o1, want, no));

    /* Overwrite the second half of mid only. */
    CHECK_OK(g->ops->conv_forward(g, c.conv_a, c.x, NULL, c.mid, &e), &e);
    CHECK_OK(g->ops->download(g, mid, c.mid, nm * 4, &e), &e);
    memcpy(mid + nm / 2, fresh, (nm - nm / 2) * 4);
    CHECK_OK(g->ops->upload(g, (float *)c.mid + nm / 2, fresh, (nm - nm / 2) * 4, &e), &e);
    CHECK_OK(chain_run_b(g, &c, c.mid, o1, &e), &e);
    CHECK_OK(chain_reference_b(ref, &c, mid, want, &e), &e);
    CHECK(rel_l2(o1, want, no) <= p->tol, "%s: stale half copy after a partial upload (rel L2 %.3e)", p->name,
          rel_l2(o1, want, no));

    /* Free mid, allocate again (often the same address), fill it by upload. */
    CHECK_OK(g->ops->conv_forward(g, c.conv_a, c.x, NULL, c.mid, &e), &e);
    CHECK_OK(g->ops->sync(g, &e), &e);
    g->ops->release(g, c.mid);
    c.mid = NULL;
    CHECK_OK(g->ops->alloc(g, nm * 4, &c.mid, &e), &e);
    if (c.mid) {
        CHECK_OK(g->ops->upload(g, c.mid, fresh, nm * 4, &e), &e);
        CHECK_OK(chain_run_b(g, &c, c.mid, o1, &e), &e);
        CHECK_OK(chain_reference_b(ref, &c, fresh, want, &e), &e);
        CHECK(rel_l2(o1, want, no) <= p->tol, "%s: stale half copy after release + alloc (rel L2 %.3e)", p->name,
              rel_l2(o1, want, no));
    }
    free(mid); free(fresh); free(o1); free(o2); free(want);
    chain_close(g, &c);
}

enum { BB_BATCH = 2, BB_SIZE = 32 };

/* features (BB_BATCH, 2048) of ResNet50 with random weights on backend b; images
 * (BB_BATCH, 32, 32, 3) in preprocess_input's range. */
static int backbone_features(Backend *b, const float *images, float *features, Err *e) {
    ResnetArch arch;
    ResnetWeights w;
    Backbone bb;
    memset(&w, 0, sizeof w);
    memset(&bb, 0, sizeof bb);
    if (resnet_arch_init(&arch, "resnet50", e)) return -1;
    int rc = -1;
    if (resnet_weights_random(&w, &arch, 7, e) == 0 && backbone_create(&bb, b, "resnet50", &w, BB_SIZE, BB_BATCH, e) == 0)
        rc = backbone_forward(&bb, images, BB_BATCH, features, e);
    backbone_free(&bb);
    resnet_weights_free(&w);
    resnet_arch_free(&arch);
    return rc;
}

/* The whole backbone (53 convs, max pooling, average pooling, in-place residuals) on the
 * GPU against the reference features `want`. */
static void test_backbone(Backend *g, const PrecisionCase *p, const float *images, const float *want) {
    Err e = {{0}};
    float got[BB_BATCH * 2048];
    int ok = backbone_features(g, images, got, &e) == 0;
    CHECK(ok, "%s backbone: %s", p->name, e.msg);
    if (!ok) return;
    double err = rel_l2(got, want, BB_BATCH * 2048);
    printf("%s backbone resnet50 %dx%d batch %d   rel L2 %.2e (tol %.0e)\n", p->name, BB_SIZE, BB_SIZE, BB_BATCH, err,
           p->backbone_tol);
    CHECK(err <= p->backbone_tol, "%s backbone: rel L2 %.3e > %.0e", p->name, err, p->backbone_tol);
}

/* What must fail, and say why. */
static void test_errors(Backend *g) {
    Err e = {{0}};
    ConvDesc d;
    ConvCase cc = {"asym", 1, 8, 8, 8, 8, 3, 2, 0, 0, 0, 0};
    conv_desc_of(&cc, &d);
    d.pad_bottom = d.pad_right = 1;         /* TF "same" for stride 2: 0 before, 1 after */
    CHECK_OK(conv_desc_init(&d, &e), &e);
    float w[3 * 3 * 8 * 8] = {0.5f}, b[8] = {0.5f};
    void *conv = NULL;
    CHECK(g->ops->conv_create(g, &d, w, b, &conv, &e) != 0 && strstr(e.msg, "asymmetric"),
          "asymmetric padding should fail clearly, got: %s", conv ? "success" : e.msg);
    if (conv) g->ops->conv_destroy(g, conv);

    cc.residual = 1;
    conv_desc_of(&cc, &d);
    CHECK_OK(conv_desc_init(&d, &e), &e);
    conv = NULL;
    CHECK_OK(g->ops->conv_create(g, &d, w, b, &conv, &e), &e);
    void *x = NULL, *y = NULL;
    CHECK_OK(g->ops->alloc(g, 8 * 8 * 8 * 4, &x, &e), &e);
    CHECK_OK(g->ops->alloc(g, 8 * 8 * 8 * 4, &y, &e), &e);
    if (conv && x && y) {
        CHECK(g->ops->conv_forward(g, conv, x, NULL, y, &e) != 0 && strstr(e.msg, "res"),
              "a residual conv without res should fail, got: %s", e.msg);
        CHECK(g->ops->conv_forward(g, conv, x, y, x, &e) != 0 && strstr(e.msg, "overlap"),
              "an in-place conv should fail, got: %s", e.msg);
    }
    if (conv) g->ops->conv_destroy(g, conv);
    g->ops->release(g, x);
    g->ops->release(g, y);

    Backend *bad = NULL;
    CHECK(backend_cuda_create(&bad, 0, N_PRECISIONS, &e) != 0 && strstr(e.msg, "precision"), "unknown precision: %s", e.msg);
    CHECK(backend_cuda_create(&bad, 1 << 20, PREC_FP32, &e) != 0, "a GPU index out of range should fail");
}

int main(void) {
    if (gpu_test_skip()) return 77;
    Err e = {{0}};
    Backend *ref = NULL;
    if (backend_reference_create(&ref, &e)) {
        fprintf(stderr, "reference backend: %s\n", e.msg);
        return 1;
    }
    float *images = random_floats((size_t)BB_BATCH * BB_SIZE * BB_SIZE * 3, -120.f, 150.f, 400, 0);
    float want[BB_BATCH * 2048];
    int have_want = backbone_features(ref, images, want, &e) == 0;
    CHECK(have_want, "reference backbone: %s", e.msg);
    for (int p = 0; p < N_PRECISION_CASES; p++) {
        Backend *gpu = NULL;
        int ok = backend_cuda_create(&gpu, 0, PRECISIONS[p].prec, &e) == 0;
        CHECK(ok, "backend_cuda_create(%s): %s", PRECISIONS[p].name, e.msg);
        if (!ok) continue;
        test_convs(ref, gpu, &PRECISIONS[p]);
        test_pools(ref, gpu, &PRECISIONS[p]);
        test_chain(ref, gpu, &PRECISIONS[p]);
        if (have_want) test_backbone(gpu, &PRECISIONS[p], images, want);
        if (p == 0) {
            test_copies(gpu);
            test_errors(gpu);
        }
        backend_destroy(gpu);
    }
    free(images);
    backend_destroy(ref);
    return TEST_END();
}
