/* The op table of tests/backend_ops_cases.h (every op against the reference backend on
 * random inputs, the cases and tolerances every backend shares) on the CUDA backend in
 * each precision; then what only the GPU has: upload/download round trips through the
 * staging buffers, the half copies of a chain of convs (fp16/bf16 shadows must never go
 * stale), the whole ResNet50 backbone (trainer/model, random weights, 32x32 images)
 * against the reference (53 layers compound the rounding: OpPrecision.backbone_tol), and
 * the errors that must be clear. Exits 77 (skipped) when no GPU is visible. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend_ops_cases.h"
#include "core/rng.h"
#include "model/resnet.h"
#include "gpu/gpu_test.h"
#include "test_util.h"

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
    ConvCase ca = {"a", 2, 12, 12, 32, 64, 3, 1, 1, 0, 1}, cb = {"b", 2, 12, 12, 64, 64, 1, 1, 0, 0, 1};
    conv_desc_of(&ca, &c->a);
    conv_desc_of(&cb, &c->b);
    if (conv_desc_init(&c->a, e) || conv_desc_init(&c->b, e)) return -1;
    c->hx = ops_random_floats(x_elems(&c->a), -1.f, 1.f, 300, 0);
    c->wa = ops_random_floats(3 * 3 * 32 * 64, -0.06f, 0.06f, 300, 1);
    c->ba = ops_random_floats(64, -0.5f, 0.5f, 300, 2);
    c->wb = ops_random_floats(64 * 64, -0.12f, 0.12f, 300, 3);
    c->bb = ops_random_floats(64, -0.5f, 0.5f, 300, 4);
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

static void test_chain(Backend *ref, Backend *g, const OpPrecision *p) {
    const char *name = PRECISION_NAMES[p->prec];
    Err e = {{0}};
    Chain c;
    memset(&c, 0, sizeof c);
    if (chain_open(g, &c, &e)) { CHECK(0, "%s chain setup: %s", name, e.msg); chain_close(g, &c); return; }
    size_t nm = y_elems(&c.a), no = y_elems(&c.b);
    float *mid = malloc(nm * 4), *fresh = ops_random_floats(nm, -1.f, 2.f, 301, 0);
    float *o1 = malloc(no * 4), *o2 = malloc(no * 4), *want = malloc(no * 4);

    /* A then B through the shadow, then B on an uploaded copy of A's output: same bits. */
    CHECK_OK(g->ops->conv_forward(g, c.conv_a, c.x, NULL, c.mid, &e), &e);
    CHECK_OK(chain_run_b(g, &c, c.mid, o1, &e), &e);
    CHECK_OK(g->ops->download(g, mid, c.mid, nm * 4, &e), &e);
    CHECK_OK(g->ops->upload(g, c.mid2, mid, nm * 4, &e), &e);
    CHECK_OK(chain_run_b(g, &c, c.mid2, o2, &e), &e);
    CHECK(memcmp(o1, o2, no * 4) == 0, "%s: B through A's half copy differs from B on a fresh upload", name);
    CHECK_OK(chain_run_b(g, &c, c.mid, o2, &e), &e);
    CHECK(memcmp(o1, o2, no * 4) == 0, "%s: running B twice gives different bits", name);
    CHECK_OK(chain_reference_b(ref, &c, mid, want, &e), &e);
    CHECK(rel_l2(o1, want, no) <= p->tol, "%s chain: rel L2 %.3e", name, rel_l2(o1, want, no));

    /* Overwrite all of mid: B must see the new values. */
    CHECK_OK(g->ops->conv_forward(g, c.conv_a, c.x, NULL, c.mid, &e), &e);
    CHECK_OK(g->ops->upload(g, c.mid, fresh, nm * 4, &e), &e);
    CHECK_OK(chain_run_b(g, &c, c.mid, o1, &e), &e);
    CHECK_OK(chain_reference_b(ref, &c, fresh, want, &e), &e);
    CHECK(rel_l2(o1, want, no) <= p->tol, "%s: stale half copy after a full upload (rel L2 %.3e)", name,
          rel_l2(o1, want, no));

    /* Overwrite the second half of mid only. */
    CHECK_OK(g->ops->conv_forward(g, c.conv_a, c.x, NULL, c.mid, &e), &e);
    CHECK_OK(g->ops->download(g, mid, c.mid, nm * 4, &e), &e);
    memcpy(mid + nm / 2, fresh, (nm - nm / 2) * 4);
    CHECK_OK(g->ops->upload(g, (float *)c.mid + nm / 2, fresh, (nm - nm / 2) * 4, &e), &e);
    CHECK_OK(chain_run_b(g, &c, c.mid, o1, &e), &e);
    CHECK_OK(chain_reference_b(ref, &c, mid, want, &e), &e);
    CHECK(rel_l2(o1, want, no) <= p->tol, "%s: stale half copy after a partial upload (rel L2 %.3e)", name,
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
        CHECK(rel_l2(o1, want, no) <= p->tol, "%s: stale half copy after release + alloc (rel L2 %.3e)", name,
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
static void test_backbone(Backend *g, const OpPrecision *p, const float *images, const float *want) {
    const char *name = PRECISION_NAMES[p->prec];
    Err e = {{0}};
    float got[BB_BATCH * 2048];
    int ok = backbone_features(g, images, got, &e) == 0;
    CHECK(ok, "%s backbone: %s", name, e.msg);
    if (!ok) return;
    double err = rel_l2(got, want, BB_BATCH * 2048);
    printf("%s backbone resnet50 %dx%d batch %d   rel L2 %.2e (tol %.0e)\n", name, BB_SIZE, BB_SIZE, BB_BATCH, err, p->backbone_tol);
    CHECK(err <= p->backbone_tol, "%s backbone: rel L2 %.3e > %.0e", name, err, p->backbone_tol);
}

/* What must fail, and say why. */
static void test_errors(Backend *g) {
    Err e = {{0}};
    ConvDesc d;
    ConvCase cc = {"asym", 1, 8, 8, 8, 8, 3, 2, 0, 0, 0};
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
    float *images = ops_random_floats((size_t)BB_BATCH * BB_SIZE * BB_SIZE * 3, -120.f, 150.f, 400, 0);
    float want[BB_BATCH * 2048];
    int have_want = backbone_features(ref, images, want, &e) == 0;
    CHECK(have_want, "reference backbone: %s", e.msg);
    for (int p = 0; p < N_PRECISIONS; p++) {
        const OpPrecision *op = &OP_PRECISIONS[p];
        Backend *gpu = NULL;
        int ok = backend_cuda_create(&gpu, 0, op->prec, &e) == 0;
        CHECK(ok, "backend_cuda_create(%s): %s", PRECISION_NAMES[op->prec], e.msg);
        if (!ok) continue;
        ops_test_backend(ref, gpu, op, 0);    /* averages in double: any window */
        test_chain(ref, gpu, op);
        if (have_want) test_backbone(gpu, op, images, want);
        if (op->prec == PREC_FP32) {
            test_copies(gpu);
            test_errors(gpu);
        }
        backend_destroy(gpu);
    }
    free(images);
    backend_destroy(ref);
    return TEST_END();
}
