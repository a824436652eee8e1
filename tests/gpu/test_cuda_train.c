/* Every CUDA training op (backend_train.h) against the reference backend's on random
 * inputs (never zeros), outputs poisoned with NaN first so that an element an op never
 * writes fails the check:
 *   - convolutions forward, backward data, backward weights + bias over the conv classes of
 *     a trainable ResNet suffix (1x1/1, 1x1/2, 3x3/1 pad 1; cin != cout, odd sides,
 *     batch 3) in fp32 (relative L2 1e-5) and tf32 (5e-3), plus the 7x7/2 stem;
 *   - directional finite differences of L = sum(y * r) on the GPU in fp32: conv is linear
 *     in x and in (w, bias), so L(+) - L(-) equals the gradient dotted with the actual
 *     step up to float rounding of y (checked to 1e-4 relative);
 *   - frozen BN forward/backward (with residual in place, dx = dy in place, NULL outputs),
 *     ReLU backward, accumulate, global average pool backward, and max pool backward on
 *     inputs full of ties and negative windows (the pad wins): the same bits as the
 *     reference for the ops that compute in the same order, 1e-6 for BN;
 *   - determinism (weight and BN gradients twice give the same bits), the error cases, and
 *     a training op writing a tensor that has a half copy in fp16 (the copy goes stale);
 *   - a ResNet50 suffix from conv4_block6 (4x4 and 2x2 maps, 64x64 images, batch 3)
 *     forward + backward on cuda against the cpu backend: features, every trainable
 *     gradient view and d(suffix input), relative L2 < 1e-3 in fp32 (5e-2 in tf32).
 * Exits 77 (skipped) when no GPU is visible. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_train.h"
#include "core/rng.h"
#include "model/resnet.h"
#include "model/resnet_train.h"
#include "gpu/gpu_test.h"
#include "test_resnet_util.h"
#include "test_util.h"

static float *random_floats(size_t n, uint32_t key, double lo, double hi) { return test_random_floats(2468, 0, n, key, lo, hi); }

/* ------------------------------------------------------------ backend memory helpers */

/* Backend copy of host[0, n), or NULL (message in e). */
static float *to_backend(Backend *b, const float *host, size_t n, Err *e) {
    void *p = NULL;
    if (b->ops->alloc(b, n * sizeof(float), &p, e)) return NULL;
    if (b->ops->upload(b, p, host, n * sizeof(float), e)) { b->ops->release(b, p); return NULL; }
    return p;
}

/* Backend buffer of n floats filled with NaN. */
static float *nan_buffer(Backend *b, size_t n, Err *e) {
    float *host = malloc(n * sizeof(float));
    if (!host) { err_fail(e, "out of memory"); return NULL; }
    for (size_t i = 0; i < n; i++) host[i] = NAN;
    float *p = to_backend(b, host, n, e);
    free(host);
    return p;
}

/* Overwrites backend memory p[0, n) with NaN. */
static int poison(Backend *b, float *p, size_t n, Err *e) {
    float *host = malloc(n * sizeof(float));
    if (!host) return err_fail(e, "out of memory");
    for (size_t i = 0; i < n; i++) host[i] = NAN;
    int rc = b->ops->upload(b, p, host, n * sizeof(float), e);
    free(host);
    return rc;
}

static int to_host(Backend *b, float *host, const float *dev, size_t n, Err *e) {
    return b->ops->download(b, host, dev, n * sizeof(float), e) || b->ops->sync(b, e) ? -1 : 0;
}

static void release_all(Backend *b, float **p, int n) {
    for (int i = 0; i < n; i++)
        if (p[i]) b->ops->release(b, p[i]);
}

/* 1 when a and b hold the same bits (NaN == NaN). */
static int same_bits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* ------------------------------------------------------------ convolutions */

typedef struct ConvCase {
    const char *what;
    int n, h, w, cin, cout, k, stride, pad;
} ConvCase;

static const ConvCase CONVS[] = {
    {"1x1/1", 3, 7, 7, 24, 40, 1, 1, 0},
    {"1x1/1 wide", 3, 5, 5, 96, 64, 1, 1, 0},
    {"1x1/2 odd side", 3, 9, 9, 32, 48, 1, 2, 0},
    {"1x1/2 even side", 3, 8, 6, 40, 24, 1, 2, 0},
    {"3x3/1 pad 1", 3, 7, 7, 20, 36, 3, 1, 1},
    {"3x3/1 pad 1 wide, odd", 3, 5, 3, 64, 48, 3, 1, 1},
    {"7x7/2 pad 3 (stem)", 3, 11, 11, 3, 16, 7, 2, 3},
};
enum { N_CONVS = sizeof CONVS / sizeof CONVS[0] };

static ConvDesc conv_desc(const ConvCase *k) {
    ConvDesc d = {.n = k->n, .h = k->h, .w = k->w, .cin = k->cin, .cout = k->cout, .kh = k->k, .kw = k->k,
                  .stride = k->stride, .pad_top = k->pad, .pad_left = k->pad, .pad_bottom = k->pad, .pad_right = k->pad};
    conv_desc_init(&d, NULL);
    return d;
}

static size_t x_len(const ConvDesc *d) { return (size_t)d->n * d->h * d->w * d->cin; }
static size_t y_len(const ConvDesc *d) { return (size_t)d->n * d->oh * d->ow * d->cout; }
static size_t w_len(const ConvDesc *d) { return (size_t)d->kh * d->kw * d->cin * d->cout; }

/* Host inputs and results of one conv case. */
typedef struct ConvRun {
    float *x, *w, *bias, *dy;         /* inputs */
    float *y, *dx, *dw, *db;          /* results */
} ConvRun;

static void conv_run_init(ConvRun *r, const ConvDesc *d, uint32_t key) {
    float scale = 1.f / sqrtf((float)(d->kh * d->kw * d->cin));
    r->x = random_floats(x_len(d), 10 * key + 1, -1, 1);
    r->w = random_floats(w_len(d), 10 * key + 2, -scale, scale);
    r->bias = random_floats((size_t)d->cout, 10 * key + 3, -0.5, 0.5);
    r->dy = random_floats(y_len(d), 10 * key + 4, -1, 1);
    r->y = malloc(y_len(d) * sizeof(float));
    r->dx = malloc(x_len(d) * sizeof(float));
    r->dw = malloc(w_len(d) * sizeof(float));
    r->db = malloc((size_t)d->cout * sizeof(float));
}

static void conv_run_free(ConvRun *r) {
    free(r->x); free(r->w); free(r->bias); free(r->dy);
    free(r->y); free(r->dx); free(r->dw); free(r->db);
}

/* Forward, backward data and backward weights of one conv on backend b: r's results from
 * r's inputs. */
static int conv_ops(Backend *b, const ConvDesc *d, ConvRun *r, Err *e) {
    const BackendTrainOps *t = b->train;
    float *buf[8] = {0};
    void *plan = NULL;
    int rc = -1;
    if (!(buf[0] = to_backend(b, r->x, x_len(d), e)) || !(buf[1] = to_backend(b, r->w, w_len(d), e)) ||
        !(buf[2] = to_backend(b, r->bias, (size_t)d->cout, e)) || !(buf[3] = to_backend(b, r->dy, y_len(d), e)) ||
        !(buf[4] = nan_buffer(b, y_len(d), e)) || !(buf[5] = nan_buffer(b, x_len(d), e)) || !(buf[6] = nan_buffer(b, w_len(d), e)) ||
        !(buf[7] = nan_buffer(b, (size_t)d->cout, e)))
        goto done;
    if (t->conv_plan_create(b, d, &plan, e) || t->conv_plan_forward(b, plan, buf[0], buf[1], buf[2], buf[4], e) ||
        t->conv_backward_data(b, plan, buf[3], buf[1], buf[5], e) ||
        t->conv_backward_weights(b, plan, buf[0], buf[3], buf[6], buf[7], e))
        goto done;
    if (to_host(b, r->y, buf[4], y_len(d), e) || to_host(b, r->dx, buf[5], x_len(d), e) || to_host(b, r->dw, buf[6], w_len(d), e) ||
        to_host(b, r->db, buf[7], (size_t)d->cout, e))
        goto done;
    rc = 0;
done:
    if (plan) t->conv_plan_destroy(b, plan);
    release_all(b, buf, 8);
    return rc;
}

static void test_convs(Backend *ref, Backend *g, const char *prec, double tol) {
    for (int k = 0; k < N_CONVS; k++) {
        Err e = {{0}};
        ConvDesc d = conv_desc(&CONVS[k]);
        ConvRun want, got;
        conv_run_init(&want, &d, (uint32_t)k);
        conv_run_init(&got, &d, (uint32_t)k);
        CHECK_OK(conv_ops(ref, &d, &want, &e), &e);
        int ok = conv_ops(g, &d, &got, &e) == 0;
        CHECK(ok, "%s %s: %s", prec, CONVS[k].what, e.msg);
        if (ok) {
            double ey = rel_l2(got.y, want.y, y_len(&d)), edx = rel_l2(got.dx, want.dx, x_len(&d));
            double edw = rel_l2(got.dw, want.dw, w_len(&d)), edb = rel_l2(got.db, want.db, (size_t)d.cout);
            CHECK(ey <= tol && edx <= tol && edw <= tol && edb <= tol,
                  "%s %s: rel L2 y %.2e dx %.2e dw %.2e dbias %.2e (tol %.0e)", prec, CONVS[k].what, ey, edx, edw, edb, tol);
            printf("%s %-22s y %.2e  dx %.2e  dw %.2e  dbias %.2e\n", prec, CONVS[k].what, ey, edx, edw, edb);
        }
        conv_run_free(&want);
        conv_run_free(&got);
    }
}

/* Weight and bias gradients computed twice give the same bits (deterministic algorithms,
 * fixed-order sums). */
static void test_conv_determinism(Backend *g) {
    Err e = {{0}};
    ConvDesc d = conv_desc(&CONVS[4]);
    ConvRun a, b;
    conv_run_init(&a, &d, 4);
    conv_run_init(&b, &d, 4);
    CHECK_OK(conv_ops(g, &d, &a, &e), &e);
    CHECK_OK(conv_ops(g, &d, &b, &e), &e);
    CHECK(same_bits(a.dw, b.dw, w_len(&d)) && same_bits(a.db, b.db, (size_t)d.cout) && same_bits(a.dx, b.dx, x_len(&d)),
          "conv gradients differ between two identical runs");
    conv_run_free(&a);
    conv_run_free(&b);
}

/* ------------------------------------------------------------ finite differences */

/* L = sum(y * r) of one forward with the given host inputs (uploaded into dev[0..2]). */
static double conv_loss(Backend *g, void *plan, const ConvDesc *d, float **dev, const float *x, const float *w,
                        const float *bias, const float *r, float *y_host, Err *e) {
    if (g->ops->upload(g, dev[0], x, x_len(d) * sizeof(float), e) || g->ops->upload(g, dev[1], w, w_len(d) * sizeof(float), e) ||
        g->ops->upload(g, dev[2], bias, (size_t)d->cout * sizeof(float), e) ||
        g->train->conv_plan_forward(g, plan, dev[0], dev[1], dev[2], dev[3], e) || to_host(g, y_host, dev[3], y_len(d), e))
        return NAN;
    return test_dot(y_host, r, y_len(d));
}

/* p +- h*u (n floats) into plus, minus; returns the step actually taken, plus - minus. */
static void step_pair(const float *p, const float *u, size_t n, float h, float *plus, float *minus, float *diff) {
    for (size_t i = 0; i < n; i++) {
        plus[i] = p[i] + h * u[i];
        minus[i] = p[i] - h * u[i];
        diff[i] = plus[i] - minus[i];
    }
}

/* Relative error of (L(+) - L(-)) against gradient . step, for a step along x alone and
 * one along (w, bias) together. */
static void test_fd_conv(Backend *g, int k) {
    Err e = {{0}};
    ConvDesc d = conv_desc(&CONVS[k]);
    ConvRun r;
    conv_run_init(&r, &d, (uint32_t)(100 + k));   /* r.dy plays the role of d(L)/dy = r */
    CHECK_OK(conv_ops(g, &d, &r, &e), &e);
    float *dev[4] = {0};
    void *plan = NULL;
    size_t nx = x_len(&d), nw = w_len(&d), nb = (size_t)d.cout;
    float *ux = random_floats(nx, 200 + k, -1, 1), *uw = random_floats(nw, 300 + k, -1, 1), *ub = random_floats(nb, 400 + k, -1, 1);
    float *xp = malloc(nx * 4), *xm = malloc(nx * 4), *dxs = malloc(nx * 4), *wp = malloc(nw * 4), *wm = malloc(nw * 4);
    float *dws = malloc(nw * 4), *bp = malloc(nb * 4), *bm = malloc(nb * 4), *dbs = malloc(nb * 4), *y = malloc(y_len(&d) * 4);
    if (!(dev[0] = nan_buffer(g, nx, &e)) || !(dev[1] = nan_buffer(g, nw, &e)) || !(dev[2] = nan_buffer(g, nb, &e)) ||
        !(dev[3] = nan_buffer(g, y_len(&d), &e)) || g->train->conv_plan_create(g, &d, &plan, &e)) {
        CHECK(0, "fd %s setup: %s", CONVS[k].what, e.msg);
    } else {
        float scale = 1.f / sqrtf((float)(d.kh * d.kw * d.cin));
        step_pair(r.x, ux, nx, 0.25f, xp, xm, dxs);
        double lp = conv_loss(g, plan, &d, dev, xp, r.w, r.bias, r.dy, y, &e);
        double lm = conv_loss(g, plan, &d, dev, xm, r.w, r.bias, r.dy, y, &e);
        double gx = test_dot(r.dx, dxs, nx), ex = fabs((lp - lm) - gx) / fabs(gx);
        CHECK(ex < 1e-4, "fd %s along x: L(+) - L(-) %.9g, dx . step %.9g (rel %.2e)", CONVS[k].what, lp - lm, gx, ex);
        step_pair(r.w, uw, nw, 0.25f * scale, wp, wm, dws);
        step_pair(r.bias, ub, nb, 0.25f, bp, bm, dbs);
        lp = conv_loss(g, plan, &d, dev, r.x, wp, bp, r.dy, y, &e);
        lm = conv_loss(g, plan, &d, dev, r.x, wm, bm, r.dy, y, &e);
        double gw = test_dot(r.dw, dws, nw) + test_dot(r.db, dbs, nb), ew = fabs((lp - lm) - gw) / fabs(gw);
        CHECK(ew < 1e-4, "fd %s along (w, bias): L(+) - L(-) %.9g, grad . step %.9g (rel %.2e)", CONVS[k].what, lp - lm, gw, ew);
        printf("fp32 fd %-22s x %.2e  (w, bias) %.2e\n", CONVS[k].what, ex, ew);
    }
    if (plan) g->train->conv_plan_destroy(g, plan);
    release_all(g, dev, 4);
    free(ux); free(uw); free(ub); free(xp); free(xm); free(dxs); free(wp); free(wm); free(dws);
    free(bp); free(bm); free(dbs); free(y);
    conv_run_free(&r);
}

/* ------------------------------------------------------------ BN and elementwise ops */

enum { BN_ROWS = 3 * 5 * 7, BN_C = 70 };

/* Host BN parameters (4 x BN_C) and their backend copy. */
typedef struct Bn {
    float *host[4];                  /* gamma, beta, mean, var */
    float *dev[4];
    BnParams p;
} Bn;

static int bn_open(Backend *b, const float *const host[4], Bn *bn, Err *e) {
    memset(bn, 0, sizeof *bn);
    for (int i = 0; i < 4; i++)
        if (!(bn->dev[i] = to_backend(b, host[i], BN_C, e))) return -1;
    bn->p = (BnParams){bn->dev[0], bn->dev[1], bn->dev[2], bn->dev[3], BN_C};
    return 0;
}

/* All outputs of bn_forward (3 variants) and bn_backward (4 variants) on backend b. */
typedef struct BnOut {
    float *y_plain, *y_res, *y_inplace;          /* (rows, c) */
    float *dx, *dgamma, *dbeta;                  /* full call */
    float *dx_inplace, *dbeta_only, *dgamma_only;
} BnOut;

static void bn_out_alloc(BnOut *o) {
    size_t n = (size_t)BN_ROWS * BN_C;
    o->y_plain = malloc(n * 4); o->y_res = malloc(n * 4); o->y_inplace = malloc(n * 4);
    o->dx = malloc(n * 4); o->dgamma = malloc(BN_C * 4); o->dbeta = malloc(BN_C * 4);
    o->dx_inplace = malloc(n * 4); o->dbeta_only = malloc(BN_C * 4); o->dgamma_only = malloc(BN_C * 4);
}

static void bn_out_free(BnOut *o) {
    free(o->y_plain); free(o->y_res); free(o->y_inplace); free(o->dx); free(o->dgamma); free(o->dbeta);
    free(o->dx_inplace); free(o->dbeta_only); free(o->dgamma_only);
}

static int bn_ops(Backend *b, const float *const params[4], const float *x, const float *res, const float *dy, BnOut *o,
                  Err *e) {
    const BackendTrainOps *t = b->train;
    size_t n = (size_t)BN_ROWS * BN_C;
    Bn bn;
    float *buf[8] = {0};
    int rc = -1;
    if (bn_open(b, params, &bn, e)) goto done;
    if (!(buf[0] = to_backend(b, x, n, e)) || !(buf[1] = to_backend(b, res, n, e)) || !(buf[2] = to_backend(b, dy, n, e)) ||
        !(buf[3] = nan_buffer(b, n, e)) || !(buf[4] = nan_buffer(b, BN_C, e)) || !(buf[5] = nan_buffer(b, BN_C, e)) ||
        !(buf[6] = to_backend(b, res, n, e)) || !(buf[7] = to_backend(b, dy, n, e)))
        goto done;
    /* Forward: plain; with a residual and ReLU; residual in y (in place) with ReLU. */
    if (t->bn_forward(b, &bn.p, buf[0], NULL, 0, BN_ROWS, buf[3], e) || to_host(b, o->y_plain, buf[3], n, e) ||
        poison(b, buf[3], n, e) ||
        t->bn_forward(b, &bn.p, buf[0], buf[1], 1, BN_ROWS, buf[3], e) || to_host(b, o->y_res, buf[3], n, e) ||
        poison(b, buf[3], n, e) ||
        t->bn_forward(b, &bn.p, buf[0], buf[6], 1, BN_ROWS, buf[6], e) || to_host(b, o->y_inplace, buf[6], n, e))
        goto done;
    /* Backward: every output; dx in place over dy with no sums; dbeta alone; dgamma alone. */
    if (t->bn_backward(b, &bn.p, buf[0], buf[2], BN_ROWS, buf[3], buf[4], buf[5], e) || to_host(b, o->dx, buf[3], n, e) ||
        to_host(b, o->dgamma, buf[4], BN_C, e) || to_host(b, o->dbeta, buf[5], BN_C, e) ||
        t->bn_backward(b, &bn.p, buf[0], buf[7], BN_ROWS, buf[7], NULL, NULL, e) || to_host(b, o->dx_inplace, buf[7], n, e) ||
        poison(b, buf[4], BN_C, e) || poison(b, buf[5], BN_C, e) ||
        t->bn_backward(b, &bn.p, buf[0], buf[2], BN_ROWS, NULL, NULL, buf[5], e) || to_host(b, o->dbeta_only, buf[5], BN_C, e) ||
        t->bn_backward(b, &bn.p, buf[0], buf[2], BN_ROWS, NULL, buf[4], NULL, e) || to_host(b, o->dgamma_only, buf[4], BN_C, e))
        goto done;
    rc = 0;
done:
    release_all(b, bn.dev, 4);
    release_all(b, buf, 8);
    return rc;
}

static void test_bn(Backend *ref, Backend *g) {
    Err e = {{0}};
    size_t n = (size_t)BN_ROWS * BN_C;
    float *params[4] = {random_floats(BN_C, 500, 0.5, 1.5), random_floats(BN_C, 501, -0.3, 0.3),
                        random_floats(BN_C, 502, -0.5, 0.5), random_floats(BN_C, 503, 0.2, 3.0)};
    float *x = random_floats(n, 504, -2, 2), *res = random_floats(n, 505, -1, 1), *dy = random_floats(n, 506, -1, 1);
    BnOut want, got;
    bn_out_alloc(&want);
    bn_out_alloc(&got);
    CHECK_OK(bn_ops(ref, (const float *const *)params, x, res, dy, &want, &e), &e);
    int ok = bn_ops(g, (const float *const *)params, x, res, dy, &got, &e) == 0;
    CHECK(ok, "cuda bn ops: %s", e.msg);
    if (ok) {
        const float *w[9] = {want.y_plain, want.y_res, want.y_inplace, want.dx, want.dgamma, want.dbeta, want.dx_inplace,
                             want.dbeta_only, want.dgamma_only};
        const float *h[9] = {got.y_plain, got.y_res, got.y_inplace, got.dx, got.dgamma, got.dbeta, got.dx_inplace,
                             got.dbeta_only, got.dgamma_only};
        const char *names[9] = {"y", "y + res, relu", "y in place", "dx", "dgamma", "dbeta", "dx in place", "dbeta alone",
                                "dgamma alone"};
        for (int i = 0; i < 9; i++) {
            size_t len = i == 4 || i == 5 || i == 7 || i == 8 ? BN_C : n;
            double err = rel_l2(h[i], w[i], len);
            CHECK(err < 1e-6, "bn %s: rel L2 %.2e", names[i], err);
        }
        CHECK(same_bits(got.dgamma, got.dgamma_only, BN_C) && same_bits(got.dbeta, got.dbeta_only, BN_C),
              "bn sums depend on which outputs are asked for");
    }
    /* The same sums twice: the same bits. */
    BnOut again;
    bn_out_alloc(&again);
    CHECK_OK(bn_ops(g, (const float *const *)params, x, res, dy, &again, &e), &e);
    CHECK(same_bits(again.dgamma, got.dgamma, BN_C) && same_bits(again.dbeta, got.dbeta, BN_C), "bn sums not deterministic");
    bn_out_free(&again);
    bn_out_free(&want);
    bn_out_free(&got);
    for (int i = 0; i < 4; i++) free(params[i]);
    free(x); free(res); free(dy);
}

/* relu_backward (also in place), accumulate: the same bits as the reference. */
static void test_relu_accumulate(Backend *ref, Backend *g) {
    Err e = {{0}};
    enum { N = 3 * 9 * 9 * 17 };
    float *y = random_floats(N, 600, -1, 1), *dy = random_floats(N, 601, -1, 1), *src = random_floats(N, 602, -1, 1);
    for (size_t i = 0; i < N; i += 7) y[i] = 0.f;    /* ReLU outputs: exact zeros pass no gradient */
    float *out[2][3];
    Backend *bs[2] = {ref, g};
    for (int k = 0; k < 2; k++) {
        Backend *b = bs[k];
        float *buf[4] = {to_backend(b, y, N, &e), to_backend(b, dy, N, &e), nan_buffer(b, N, &e), to_backend(b, src, N, &e)};
        for (int i = 0; i < 3; i++) out[k][i] = malloc(N * 4);
        int ok = buf[0] && buf[1] && buf[2] && buf[3] && b->train->relu_backward(b, buf[0], buf[1], N, buf[2], &e) == 0 &&
                 to_host(b, out[k][0], buf[2], N, &e) == 0 && b->train->relu_backward(b, buf[0], buf[1], N, buf[1], &e) == 0 &&
                 to_host(b, out[k][1], buf[1], N, &e) == 0 && b->train->accumulate(b, buf[3], N, buf[2], &e) == 0 &&
                 to_host(b, out[k][2], buf[2], N, &e) == 0;
        CHECK(ok, "%s relu/accumulate: %s", b->name, e.msg);
        release_all(b, buf, 4);
    }
    CHECK(same_bits(out[1][0], out[0][0], N), "relu_backward differs from the reference");
    CHECK(same_bits(out[1][1], out[0][1], N), "relu_backward in place differs from the reference");
    CHECK(same_bits(out[1][2], out[0][2], N), "accumulate differs from the reference");
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 3; i++) free(out[k][i]);
    free(y); free(dy); free(src);
}

/* Max pool backward on values in {-2, -1, 0, 1, 2}: ties everywhere, negative windows at
 * the border where the zero pad wins (its gradient is dropped). Odd and even sides. Also
 * global average pool backward. The same bits as the reference. */
static void test_pool_backward(Backend *ref, Backend *g) {
    const int shapes[3][4] = {{2, 7, 6, 5}, {3, 8, 9, 3}, {1, 1, 2, 33}};
    for (int s = 0; s < 3; s++) {
        Err e = {{0}};
        int n = shapes[s][0], h = shapes[s][1], w = shapes[s][2], c = shapes[s][3];
        int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
        size_t nx = (size_t)n * h * w * c, ny = (size_t)n * oh * ow * c;
        float *x = random_floats(nx, 700 + s, 0, 1), *dy = random_floats(ny, 710 + s, -1, 1);
        for (size_t i = 0; i < nx; i++) x[i] = floorf(x[i] * 5.f) - 2.f;
        float *gp = random_floats((size_t)n * c, 720 + s, -1, 1);
        float *got[2], *want[2];
        Backend *bs[2] = {ref, g};
        for (int k = 0; k < 2; k++) {
            Backend *b = bs[k];
            float **o = k ? got : want;
            o[0] = malloc(nx * 4);
            o[1] = malloc(nx * 4);
            float *buf[4] = {to_backend(b, x, nx, &e), to_backend(b, dy, ny, &e), nan_buffer(b, nx, &e), to_backend(b, gp, (size_t)n * c, &e)};
            int ok = buf[0] && buf[1] && buf[2] && buf[3] &&
                     b->train->maxpool3x3s2_backward(b, buf[0], buf[1], n, h, w, c, buf[2], &e) == 0 &&
                     to_host(b, o[0], buf[2], nx, &e) == 0 &&
                     b->train->global_avgpool_backward(b, buf[3], n, h, w, c, buf[2], &e) == 0 && to_host(b, o[1], buf[2], nx, &e) == 0;
            CHECK(ok, "%s pool backward %dx%dx%dx%d: %s", b->name, n, h, w, c, e.msg);
            release_all(b, buf, 4);
        }
        CHECK(same_bits(got[0], want[0], nx), "maxpool backward %dx%dx%dx%d differs from the reference (rel L2 %.2e)", n, h, w,
              c, rel_l2(got[0], want[0], nx));
        CHECK(same_bits(got[1], want[1], nx), "global_avgpool backward %dx%dx%dx%d differs from the reference", n, h, w, c);
        for (int k = 0; k < 2; k++) { free(got[k]); free(want[k]); }
        free(x); free(dy); free(gp);
    }
}

/* Plans the training ops refuse. */
static void test_errors(Backend *g) {
    Err e = {{0}};
    void *plan = NULL;
    ConvDesc d = conv_desc(&CONVS[4]);
    d.pad_bottom = 2;
    conv_desc_init(&d, NULL);
    CHECK(g->train->conv_plan_create(g, &d, &plan, &e) != 0 && strstr(e.msg, "asymmetric"), "asymmetric padding refused: %s",
          e.msg);
    d = conv_desc(&CONVS[0]);
    d.relu = 1;
    CHECK(g->train->conv_plan_create(g, &d, &plan, &e) != 0 && strstr(e.msg, "ReLU"), "fused ReLU refused: %s", e.msg);
    CHECK(g->train->native_to_nhwc == NULL && !g->native_layout, "no native layout on cuda");
}

/* fp16: a conv keeps a half copy of its input; a training op that then writes that input
 * (accumulate) must make the next conv read the new values. */
static void test_shadow_invalidation(Backend *ref, Backend *h16) {
    Err e = {{0}};
    ConvDesc d = conv_desc(&CONVS[0]);
    float *x = random_floats(x_len(&d), 800, -1, 1), *add = random_floats(x_len(&d), 801, -1, 1);
    float *w = random_floats(w_len(&d), 802, -0.2, 0.2), *bias = random_floats((size_t)d.cout, 803, -0.5, 0.5);
    float *sum = malloc(x_len(&d) * 4), *y = malloc(y_len(&d) * 4), *want = malloc(y_len(&d) * 4);
    for (size_t i = 0; i < x_len(&d); i++) sum[i] = x[i] + add[i];
    void *conv = NULL, *conv_ref = NULL;
    float *buf[3] = {to_backend(h16, x, x_len(&d), &e), to_backend(h16, add, x_len(&d), &e), nan_buffer(h16, y_len(&d), &e)};
    float *rbuf[2] = {to_backend(ref, sum, x_len(&d), &e), nan_buffer(ref, y_len(&d), &e)};
    int ok = buf[0] && buf[1] && buf[2] && rbuf[0] && rbuf[1] && h16->ops->conv_create(h16, &d, w, bias, &conv, &e) == 0 &&
             h16->ops->conv_forward(h16, conv, buf[0], NULL, buf[2], &e) == 0 &&        /* x now has a half copy */
             h16->train->accumulate(h16, buf[1], x_len(&d), buf[0], &e) == 0 &&
             h16->ops->conv_forward(h16, conv, buf[0], NULL, buf[2], &e) == 0 && to_host(h16, y, buf[2], y_len(&d), &e) == 0 &&
             ref->ops->conv_create(ref, &d, w, bias, &conv_ref, &e) == 0 &&
             ref->ops->conv_forward(ref, conv_ref, rbuf[0], NULL, rbuf[1], &e) == 0 && to_host(ref, want, rbuf[1], y_len(&d), &e) == 0;
    CHECK(ok, "fp16 shadow test: %s", e.msg);
    if (ok) CHECK(rel_l2(y, want, y_len(&d)) < 2e-2, "fp16 conv after accumulate into its input: rel L2 %.2e (stale half copy?)",
                  rel_l2(y, want, y_len(&d)));
    if (conv) h16->ops->conv_destroy(h16, conv);
    if (conv_ref) ref->ops->conv_destroy(ref, conv_ref);
    release_all(h16, buf, 3);
    release_all(ref, rbuf, 2);
    free(x); free(add); free(w); free(bias); free(sum); free(y); free(want);
}

/* ------------------------------------------------------------ ResNet suffix end to end */

enum { E2E_SIZE = 64, E2E_BATCH = 3 };

/* One backend's forward + backward of the suffix: features, gradients (in s) and d(input). */
typedef struct E2e {
    Backbone bb;
    ResnetSuffix s;
    float *features, *d_input;        /* host */
    size_t n_input;
} E2e;

static int e2e_run(Backend *be, const ResnetWeights *w, const float *images, const float *r, E2e *o, Err *e) {
    memset(o, 0, sizeof *o);
    if (backbone_create(&o->bb, be, "resnet50", w, E2E_SIZE, E2E_BATCH, e) ||
        resnet_suffix_create(&o->s, be, "resnet50", w, "conv4_block6", E2E_SIZE, E2E_BATCH, 1, e))
        return -1;
    o->n_input = (size_t)E2E_BATCH * o->s.in_side * o->s.in_side * o->s.in_c;
    o->features = malloc((size_t)E2E_BATCH * RESNET_FEATURES * sizeof(float));
    o->d_input = malloc(o->n_input * sizeof(float));
    float *din = nan_buffer(be, o->n_input, e);
    int rc = din && o->features && o->d_input &&
             resnet_suffix_forward_images(&o->s, &o->bb, images, E2E_BATCH, o->features, e) == 0 &&
             resnet_suffix_backward(&o->s, r, E2E_BATCH, din, e) == 0 && to_host(be, o->d_input, din, o->n_input, e) == 0
             ? 0 : -1;
    if (din) be->ops->release(be, din);
    return rc;
}

static void e2e_free(E2e *o) {
    if (o->s.convs) resnet_suffix_free(&o->s);
    if (o->bb.convs) backbone_free(&o->bb);
    free(o->features);
    free(o->d_input);
}

static void test_suffix_e2e(Backend *g, Backend *cpu, const ResnetWeights *w, const char *prec, double tol) {
    Err e = {{0}};
    float *images = random_floats((size_t)E2E_BATCH * E2E_SIZE * E2E_SIZE * 3, 900, -128, 128);
    float *r = random_floats((size_t)E2E_BATCH * RESNET_FEATURES, 901, -1, 1);
    E2e want, got;
    CHECK_OK(e2e_run(cpu, w, images, r, &want, &e), &e);
    int ok = e2e_run(g, w, images, r, &got, &e) == 0;
    CHECK(ok, "%s suffix on cuda: %s", prec, e.msg);
    if (ok) {
        double ef = rel_l2(got.features, want.features, (size_t)E2E_BATCH * RESNET_FEATURES);
        double ein = rel_l2(got.d_input, want.d_input, want.n_input);
        double worst = 0;
        const char *worst_name = "";
        int n_trainable = 0;
        for (int i = 0; i < want.s.n_views; i++) {
            const SuffixView *v = &want.s.views[i];
            if (!v->trainable) continue;
            n_trainable++;
            double err = rel_l2(got.s.grads + v->offset, want.s.grads + v->offset, v->size);
            if (!(err <= worst)) { worst = err; worst_name = v->name; }
        }
        CHECK(ef < tol, "%s suffix features: rel L2 %.2e", prec, ef);
        CHECK(worst < tol, "%s suffix gradients: worst view %s rel L2 %.2e", prec, worst_name, worst);
        CHECK(ein < tol, "%s suffix d(input): rel L2 %.2e", prec, ein);
        CHECK(n_trainable == 4 * 13, "conv4_block6 + conv5: %d trainable views", n_trainable);
        printf("%s suffix conv4_block6 (cuda vs cpu): features %.2e, worst gradient %.2e (%s), d(input) %.2e\n", prec, ef,
               worst, worst_name, ein);
    }
    e2e_free(&want);
    e2e_free(&got);
    free(images);
    free(r);
}

int main(void) {
    if (gpu_test_skip()) return 77;
    Err e = {{0}};
    Backend *ref = NULL, *cpu = NULL, *fp32 = NULL, *tf32 = NULL, *h16 = NULL;
    ResnetArch a;
    ResnetWeights w;
    if (backend_reference_create(&ref, &e) || backend_cpu_create(&cpu, 2, &e) || backend_cuda_create(&fp32, 0, PREC_FP32, &e) ||
        backend_cuda_create(&tf32, 0, PREC_TF32, &e) || backend_cuda_create(&h16, 0, PREC_FP16, &e) ||
        resnet_arch_init(&a, "resnet50", &e) || resnet_weights_random(&w, &a, 7, &e)) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return 1;
    }
    CHECK(fp32->train && tf32->train && h16->train, "the cuda backend has training ops");
    test_randomize_bn(&w, &a, 5, 3, 0.5);
    test_convs(ref, fp32, "fp32", 1e-5);
    test_convs(ref, tf32, "tf32", 5e-3);
    test_conv_determinism(fp32);
    test_conv_determinism(tf32);
    for (int k = 0; k < N_CONVS; k++) test_fd_conv(fp32, k);
    test_bn(ref, fp32);
    test_relu_accumulate(ref, fp32);
    test_pool_backward(ref, fp32);
    test_errors(fp32);
    test_shadow_invalidation(ref, h16);
    test_suffix_e2e(fp32, cpu, &w, "fp32", 1e-3);
    test_suffix_e2e(tf32, cpu, &w, "tf32", 5e-2);
    resnet_weights_free(&w);
    resnet_arch_free(&a);
    backend_destroy(h16);
    backend_destroy(tf32);
    backend_destroy(fp32);
    backend_destroy(cpu);
    backend_destroy(ref);
    return TEST_END();
}
