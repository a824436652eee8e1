/* Every training op (backend_train.h): the reference backend's backward passes against
 * float64 central differences of its own forward on tiny shapes, then the CPU backend
 * against the reference on random inputs over ResNet's shape classes.
 *
 * The losses are L = sum(y * r) with random r, accumulated in double. Conv, BN and GAP are
 * linear in each input taken alone, and max pool / ReLU are linear between kinks that the
 * inputs keep away from, so a central difference is exact up to float rounding of the
 * forward output: a large step (0.1) keeps that rounding far below the tolerance. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend_train.h"
#include "core/rng.h"
#include "test_util.h"

static float *random_floats(size_t n, uint32_t key, double lo, double hi) { return test_random_floats(4321, 0, n, key, lo, hi); }

static double dot(const float *a, const float *b, size_t n) { return test_dot(a, b, n); }

/* ------------------------------------------------------------ finite differences */

/* A forward pass that returns L = sum(y * r) for the current inputs. */
typedef double (*LossFn)(void *ctx);

/* Central differences of f w.r.t. every entry of p (n floats) against the analytic
 * gradient g; returns max |fd - g| / max |g| (the error normalised by the gradient's scale). */
static double fd_error(LossFn f, void *ctx, float *p, size_t n, const float *g, float step) {
    double worst = 0, scale = 0;
    for (size_t k = 0; k < n; k++) {
        float keep = p[k];
        float up = keep + step, down = keep - step;
        p[k] = up;
        double l_up = f(ctx);
        p[k] = down;
        double l_down = f(ctx);
        p[k] = keep;
        double fd = (l_up - l_down) / ((double)up - (double)down);
        double err = fabs(fd - g[k]);
        worst = err > worst ? err : worst;
        scale = fabs(g[k]) > scale ? fabs(g[k]) : scale;
    }
    return scale > 0 ? worst / scale : worst;
}

typedef struct ConvCase { int n, h, w, cin, cout, k, stride, pad; } ConvCase;

static ConvDesc conv_desc(const ConvCase *k) {
    ConvDesc d = {.n = k->n, .h = k->h, .w = k->w, .cin = k->cin, .cout = k->cout, .kh = k->k, .kw = k->k,
                  .stride = k->stride, .pad_top = k->pad, .pad_left = k->pad, .pad_bottom = k->pad, .pad_right = k->pad};
    conv_desc_init(&d, NULL);
    return d;
}

typedef struct ConvCtx {
    Backend *b;
    void *plan;
    ConvDesc d;
    float *x, *w, *bias, *y, *r;
} ConvCtx;

static double conv_loss(void *p) {
    ConvCtx *c = p;
    Err e = {{0}};
    if (c->b->train->conv_plan_forward(c->b, c->plan, c->x, c->w, c->bias, c->y, &e)) return NAN;
    return dot(c->y, c->r, (size_t)c->d.n * c->d.oh * c->d.ow * c->d.cout);
}

/* Tiny versions of every convolution class ResNet has, odd and even sides. */
static const ConvCase FD_CONVS[] = {
    {2, 9, 8, 2, 3, 7, 2, 3},   /* conv1: 7x7/2 pad 3 */
    {1, 8, 8, 2, 2, 7, 2, 3},   /* conv1 on an even side: the bottom pad is partly unused */
    {2, 5, 4, 3, 4, 3, 1, 1},   /* _2_conv: 3x3 same */
    {2, 4, 3, 5, 3, 1, 1, 0},   /* 1x1 */
    {2, 5, 5, 4, 3, 1, 2, 0},   /* 1x1/2 on an odd side */
    {1, 6, 6, 3, 2, 1, 2, 0},   /* 1x1/2 on an even side: odd rows/cols get no gradient */
};

static void test_fd_conv(Backend *ref) {
    for (size_t c = 0; c < sizeof FD_CONVS / sizeof *FD_CONVS; c++) {
        Err e = {{0}};
        ConvCtx k = {.b = ref, .d = conv_desc(&FD_CONVS[c])};
        const ConvDesc *d = &k.d;
        size_t nx = (size_t)d->n * d->h * d->w * d->cin, ny = (size_t)d->n * d->oh * d->ow * d->cout;
        size_t nw = (size_t)d->kh * d->kw * d->cin * d->cout;
        k.x = random_floats(nx, 10 + (uint32_t)c, -1, 1);
        k.w = random_floats(nw, 20 + (uint32_t)c, -1, 1);
        k.bias = random_floats((size_t)d->cout, 30 + (uint32_t)c, -1, 1);
        k.r = random_floats(ny, 40 + (uint32_t)c, -1, 1);
        k.y = malloc(ny * sizeof(float));
        float *dx = malloc(nx * sizeof(float)), *dw = malloc(nw * sizeof(float)), *db = malloc((size_t)d->cout * sizeof(float));
        CHECK_OK(ref->train->conv_plan_create(ref, d, &k.plan, &e), &e);
        CHECK_OK(ref->train->conv_backward_data(ref, k.plan, k.r, k.w, dx, &e), &e);
        CHECK_OK(ref->train->conv_backward_weights(ref, k.plan, k.x, k.r, dw, db, &e), &e);
        double ex = fd_error(conv_loss, &k, k.x, nx, dx, 0.1f), ew = fd_error(conv_loss, &k, k.w, nw, dw, 0.1f);
        double eb = fd_error(conv_loss, &k, k.bias, (size_t)d->cout, db, 0.1f);
        CHECK(ex < 1e-5 && ew < 1e-5 && eb < 1e-5, "fd conv case %zu (%dx%d/%d): dx %.3g dw %.3g db %.3g", c, d->kh, d->kw,
              d->stride, ex, ew, eb);
        ref->train->conv_plan_destroy(ref, k.plan);
        free(k.x); free(k.w); free(k.bias); free(k.r); free(k.y); free(dx); free(dw); free(db);
    }
}

/* ----------------------------------------------------------------- BN, ReLU, add */

typedef struct BnCtx {
    Backend *b;
    BnParams p;
    float *gamma, *beta, *mean, *var;   /* the writable arrays behind p */
    float *x, *res, *y, *r;
    int relu;
    size_t rows;
} BnCtx;

static double bn_loss(void *p) {
    BnCtx *c = p;
    Err e = {{0}};
    if (c->b->train->bn_forward(c->b, &c->p, c->x, c->res, c->relu, c->rows, c->y, &e)) return NAN;
    return dot(c->y, c->r, c->rows * c->p.c);
}

static void bn_ctx_init(BnCtx *k, Backend *b, size_t rows, int c, uint32_t key) {
    memset(k, 0, sizeof *k);
    k->b = b;
    k->rows = rows;
    k->gamma = random_floats((size_t)c, key, 0.5, 1.5);
    k->beta = random_floats((size_t)c, key + 1, -0.5, 0.5);
    k->mean = random_floats((size_t)c, key + 2, -0.3, 0.3);
    k->var = random_floats((size_t)c, key + 3, 0.5, 2.0);
    k->p = (BnParams){k->gamma, k->beta, k->mean, k->var, c};
    k->x = random_floats(rows * c, key + 4, -2, 2);
    k->res = random_floats(rows * c, key + 5, -2, 2);
    k->r = random_floats(rows * c, key + 6, -1, 1);
    k->y = malloc(rows * c * sizeof(float));
}

static void bn_ctx_free(BnCtx *k) {
    free(k->gamma); free(k->beta); free(k->mean); free(k->var); free(k->x); free(k->res); free(k->r); free(k->y);
}

/* y = BN(x): dx, dgamma, dbeta. */
static void test_fd_bn(Backend *ref) {
    Err e = {{0}};
    BnCtx k;
    bn_ctx_init(&k, ref, 18, 5, 100);
    free(k.res);
    k.res = NULL;
    size_t n = k.rows * k.p.c;
    float *dx = malloc(n * sizeof(float)), *dg = malloc(5 * sizeof(float)), *dbeta = malloc(5 * sizeof(float));
    CHECK_OK(ref->train->bn_backward(ref, &k.p, k.x, k.r, k.rows, dx, dg, dbeta, &e), &e);
    double ex = fd_error(bn_loss, &k, k.x, n, dx, 0.1f), eg = fd_error(bn_loss, &k, k.gamma, 5, dg, 0.1f);
    double eb = fd_error(bn_loss, &k, k.beta, 5, dbeta, 0.1f);
    CHECK(ex < 1e-5 && eg < 1e-5 && eb < 1e-5, "fd bn: dx %.3g dgamma %.3g dbeta %.3g", ex, eg, eb);
    /* dx in place over dy gives the same numbers. */
    float *g = malloc(n * sizeof(float));
    memcpy(g, k.r, n * sizeof(float));
    CHECK_OK(ref->train->bn_backward(ref, &k.p, k.x, g, k.rows, g, NULL, NULL, &e), &e);
    CHECK(memcmp(g, dx, n * sizeof(float)) == 0, "bn backward in place differs");
    free(g); free(dx); free(dg); free(dbeta);
    bn_ctx_free(&k);
}

/* The block epilogue y = relu(BN(x) + res): the ReLU backward from the output, the Add
 * handing the same gradient to both operands, then BN's backward. */
static void test_fd_block_epilogue(Backend *ref) {
    Err e = {{0}};
    BnCtx k;
    bn_ctx_init(&k, ref, 24, 4, 200);
    k.relu = 1;
    size_t n = k.rows * k.p.c;
    /* Keep every pre-activation at least 0.3 from the ReLU kink (a 0.1 step moves it < 0.22). */
    CHECK_OK(ref->train->bn_forward(ref, &k.p, k.x, NULL, 0, k.rows, k.y, &e), &e);
    for (size_t i = 0; i < n; i++) {
        float v = k.y[i] + k.res[i];
        if (fabsf(v) < 0.3f) k.res[i] += v < 0 ? -0.6f : 0.6f;
    }
    CHECK_OK(ref->train->bn_forward(ref, &k.p, k.x, k.res, 1, k.rows, k.y, &e), &e);
    float *g = malloc(n * sizeof(float)), *dx = malloc(n * sizeof(float));
    CHECK_OK(ref->train->relu_backward(ref, k.y, k.r, n, g, &e), &e);
    CHECK_OK(ref->train->bn_backward(ref, &k.p, k.x, g, k.rows, dx, NULL, NULL, &e), &e);
    double ex = fd_error(bn_loss, &k, k.x, n, dx, 0.1f), er = fd_error(bn_loss, &k, k.res, n, g, 0.1f);
    CHECK(ex < 1e-5 && er < 1e-5, "fd relu(bn(x) + res): dx %.3g dres %.3g", ex, er);
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) zeros += k.y[i] == 0.0f;
    CHECK(zeros > n / 5 && zeros < n - n / 5, "epilogue case should have both ReLU sides (%zu of %zu zero)", zeros, n);
    free(g); free(dx);
    bn_ctx_free(&k);
}

typedef struct ReluCtx { float *x, *r; size_t n; } ReluCtx;

static double relu_loss(void *p) {
    ReluCtx *c = p;
    double s = 0;
    for (size_t i = 0; i < c->n; i++) s += (double)(c->x[i] > 0 ? c->x[i] : 0.0f) * c->r[i];
    return s;
}

/* relu_backward given the ReLU's input and given its output: the same gradient. */
static void test_fd_relu(Backend *ref) {
    Err e = {{0}};
    size_t n = 97;
    ReluCtx k = {random_floats(n, 300, -1, 1), random_floats(n, 301, -1, 1), n};
    for (size_t i = 0; i < n; i++) k.x[i] += k.x[i] < 0 ? -0.2f : 0.2f;   /* away from the kink */
    float *y = malloc(n * sizeof(float)), *g_in = malloc(n * sizeof(float)), *g_out = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) y[i] = k.x[i] > 0 ? k.x[i] : 0.0f;
    CHECK_OK(ref->train->relu_backward(ref, k.x, k.r, n, g_in, &e), &e);
    CHECK_OK(ref->train->relu_backward(ref, y, k.r, n, g_out, &e), &e);
    CHECK(memcmp(g_in, g_out, n * sizeof(float)) == 0, "relu backward from input and from output differ");
    double err = fd_error(relu_loss, &k, k.x, n, g_in, 0.1f);
    CHECK(err < 1e-6, "fd relu: %.3g", err);
    float acc[3] = {1, 2, 3}, src[3] = {0.5f, -4, 0.25f};
    CHECK_OK(ref->train->accumulate(ref, src, 3, acc, &e), &e);
    CHECK(acc[0] == 1.5f && acc[1] == -2.0f && acc[2] == 3.25f, "accumulate: %g %g %g", acc[0], acc[1], acc[2]);
    free(k.x); free(k.r); free(y); free(g_in); free(g_out);
}

/* ---------------------------------------------------------------------- pooling */

typedef struct PoolCtx { Backend *b; float *x, *y, *r; int n, h, w, c, oh, ow, avg; } PoolCtx;

static double pool_loss(void *p) {
    PoolCtx *k = p;
    Err e = {{0}};
    int rc = k->avg ? k->b->ops->global_avgpool(k->b, k->x, k->n, k->h, k->w, k->c, k->y, &e)
                    : k->b->ops->maxpool3x3s2(k->b, k->x, k->n, k->h, k->w, k->c, k->y, &e);
    if (rc) return NAN;
    return dot(k->y, k->r, k->avg ? (size_t)k->n * k->c : (size_t)k->n * k->oh * k->ow * k->c);
}

/* Distinct values 0.01 apart in [-0.5, 2) (never 0), shuffled: no ties and no kink
 * within the 1e-3 step. Negative cells next to the border lose to the zero pad. */
static float *distinct_floats(size_t n, uint32_t key) {
    int *idx = malloc(n * sizeof(int));
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) idx[i] = (int)i;
    Rng r;
    rng_init(&r, 4321, RNG_INIT, key, 1);
    rng_shuffle(&r, idx, (int)n);
    for (size_t i = 0; i < n; i++) p[i] = -0.505f + 2.5f * (float)idx[i] / (float)n;
    free(idx);
    return p;
}

static void test_fd_pools(Backend *ref) {
    Err e = {{0}};
    const int sizes[2][2] = {{7, 6}, {8, 5}};
    for (int s = 0; s < 2; s++) {
        PoolCtx k = {.b = ref, .n = 2, .h = sizes[s][0], .w = sizes[s][1], .c = 3};
        k.oh = (k.h + 2 - 3) / 2 + 1, k.ow = (k.w + 2 - 3) / 2 + 1;
        size_t nx = (size_t)k.n * k.h * k.w * k.c, ny = (size_t)k.n * k.oh * k.ow * k.c;
        k.x = distinct_floats(nx, 400 + (uint32_t)s);
        k.r = random_floats(ny, 410 + (uint32_t)s, -1, 1);
        k.y = malloc(ny * sizeof(float));
        float *dx = malloc(nx * sizeof(float));
        CHECK_OK(ref->train->maxpool3x3s2_backward(ref, k.x, k.r, k.n, k.h, k.w, k.c, dx, &e), &e);
        double err = fd_error(pool_loss, &k, k.x, nx, dx, 1e-3f);
        CHECK(err < 1e-4, "fd maxpool %dx%d: %.3g", k.h, k.w, err);
        free(k.r);
        k.avg = 1;
        k.r = random_floats((size_t)k.n * k.c, 420 + (uint32_t)s, -1, 1);
        CHECK_OK(ref->train->global_avgpool_backward(ref, k.r, k.n, k.h, k.w, k.c, dx, &e), &e);
        err = fd_error(pool_loss, &k, k.x, nx, dx, 0.1f);
        CHECK(err < 1e-5, "fd global avgpool %dx%d: %.3g", k.h, k.w, err);
        free(k.x); free(k.r); free(k.y); free(dx);
    }
}

/* Ties: the first maximum of the padded window, row-major, takes the gradient; a pad
 * cell that comes first and ties drops it. 4x4 input, 2x2 output, dy = 1, 2, 3, 4. */
static void check_maxpool_ties(Backend *b) {
    Err e = {{0}};
    float *x = NULL, *dy = NULL, *dx = NULL;
    float ones[16], zeros[16] = {0}, g[4] = {1, 2, 3, 4}, out[16];
    for (int i = 0; i < 16; i++) ones[i] = 1.0f;
    CHECK_OK(b->ops->alloc(b, sizeof ones, (void **)&x, &e) || b->ops->alloc(b, sizeof g, (void **)&dy, &e) ||
             b->ops->alloc(b, sizeof out, (void **)&dx, &e) || b->ops->upload(b, dy, g, sizeof g, &e), &e);
    /* All ones: each window's first real cell, (max(2r-1, 0), max(2q-1, 0)), gets its gradient. */
    CHECK_OK(b->ops->upload(b, x, ones, sizeof ones, &e) || b->train->maxpool3x3s2_backward(b, x, dy, 1, 4, 4, 1, dx, &e) ||
             b->ops->download(b, out, dx, sizeof out, &e), &e);
    CHECK(out[0] == 1 && out[1] == 2 && out[4] == 3 && out[5] == 4, "%s ties: %g %g %g %g", b->name, out[0], out[1], out[4], out[5]);
    double total = 0;
    for (int i = 0; i < 16; i++) total += out[i];
    CHECK(total == 10, "%s ties: gradient mass %g", b->name, total);
    /* All zeros: windows that start on the pad lose their gradient; (1,1) starts on a real cell. */
    CHECK_OK(b->ops->upload(b, x, zeros, sizeof zeros, &e) || b->train->maxpool3x3s2_backward(b, x, dy, 1, 4, 4, 1, dx, &e) ||
             b->ops->download(b, out, dx, sizeof out, &e), &e);
    total = 0;
    for (int i = 0; i < 16; i++) total += out[i];
    CHECK(out[5] == 4 && total == 4, "%s zero ties: dx[1,1] %g, mass %g", b->name, out[5], total);
    b->ops->release(b, x); b->ops->release(b, dy); b->ops->release(b, dx);
}

/* ------------------------------------------------------------- CPU vs reference */

/* A backend copy of host data. */
static float *dev_copy(Backend *b, const float *host, size_t n) {
    Err e = {{0}};
    void *p = NULL;
    if (b->ops->alloc(b, n * sizeof(float), &p, &e) || (host && b->ops->upload(b, p, host, n * sizeof(float), &e))) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    return p;
}

static float *host_copy(Backend *b, const float *dev, size_t n) {
    Err e = {{0}};
    float *p = malloc(n * sizeof(float));
    if (b->ops->download(b, p, dev, n * sizeof(float), &e) || b->ops->sync(b, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    return p;
}

/* The conv's forward, backward data and backward weights on backend b, host in and out. */
static void conv_all_on(Backend *b, const ConvDesc *d, const float *x, const float *w, const float *bias, const float *dy,
                        float *out[4]) {
    Err e = {{0}};
    size_t nx = (size_t)d->n * d->h * d->w * d->cin, ny = (size_t)d->n * d->oh * d->ow * d->cout;
    size_t nw = (size_t)d->kh * d->kw * d->cin * d->cout;
    void *plan = NULL;
    float *X = dev_copy(b, x, nx), *W = dev_copy(b, w, nw), *B = dev_copy(b, bias, (size_t)d->cout), *DY = dev_copy(b, dy, ny);
    float *Y = dev_copy(b, NULL, ny), *DX = dev_copy(b, NULL, nx), *DW = dev_copy(b, NULL, nw), *DB = dev_copy(b, NULL, (size_t)d->cout);
    CHECK_OK(b->train->conv_plan_create(b, d, &plan, &e), &e);
    CHECK_OK(b->train->conv_plan_forward(b, plan, X, W, B, Y, &e), &e);
    CHECK_OK(b->train->conv_backward_data(b, plan, DY, W, DX, &e), &e);
    CHECK_OK(b->train->conv_backward_weights(b, plan, X, DY, DW, DB, &e), &e);
    out[0] = host_copy(b, Y, ny), out[1] = host_copy(b, DX, nx), out[2] = host_copy(b, DW, nw), out[3] = host_copy(b, DB, (size_t)d->cout);
    b->train->conv_plan_destroy(b, plan);
    float *bufs[8] = {X, W, B, DY, Y, DX, DW, DB};
    for (int i = 0; i < 8; i++) b->ops->release(b, bufs[i]);
}

static const ConvCase CMP_CONVS[] = {
    {2, 23, 19, 3, 16, 7, 2, 3},    /* conv1, odd sides */
    {2, 24, 24, 3, 64, 7, 2, 3},    /* conv1, even side (as at 224) */
    {2, 12, 12, 16, 16, 3, 1, 1},   /* _2_conv */
    {2, 7, 7, 128, 64, 3, 1, 1},    /* _2_conv, wider */
    {2, 12, 12, 32, 64, 1, 1, 0},   /* _3_conv / identity _1_conv */
    {2, 13, 13, 32, 64, 1, 2, 0},   /* strided _0_conv / _1_conv, odd side */
    {2, 14, 14, 64, 32, 1, 2, 0},   /* strided, even side */
    {1, 5, 5, 17, 5, 3, 1, 1},      /* odd channel counts */
};

static void test_cpu_conv(Backend *cpu, Backend *ref) {
    static const char *what[4] = {"forward", "backward data", "backward weights", "backward bias"};
    for (size_t c = 0; c < sizeof CMP_CONVS / sizeof *CMP_CONVS; c++) {
        ConvDesc d = conv_desc(&CMP_CONVS[c]);
        size_t nx = (size_t)d.n * d.h * d.w * d.cin, ny = (size_t)d.n * d.oh * d.ow * d.cout;
        size_t nw = (size_t)d.kh * d.kw * d.cin * d.cout, sizes[4] = {ny, nx, nw, (size_t)d.cout};
        float *x = random_floats(nx, 500 + (uint32_t)c, -2, 2), *w = random_floats(nw, 510 + (uint32_t)c, -0.5, 0.5);
        float *bias = random_floats((size_t)d.cout, 520 + (uint32_t)c, -1, 1), *dy = random_floats(ny, 530 + (uint32_t)c, -1, 1);
        float *want[4], *got[4];
        conv_all_on(ref, &d, x, w, bias, dy, want);
        conv_all_on(cpu, &d, x, w, bias, dy, got);
        for (int i = 0; i < 4; i++) {
            double err = rel_l2(got[i], want[i], sizes[i]);
            CHECK(err < 1e-5, "cpu conv case %zu (%dx%d/%d %d->%d) %s: rel L2 %.3g", c, d.kh, d.kw, d.stride, d.cin, d.cout,
                  what[i], err);
            free(want[i]);
            free(got[i]);
        }
        free(x); free(w); free(bias); free(dy);
    }
}

/* BN forward in all three epilogues and BN backward, CPU against reference. */
static void test_cpu_bn(Backend *cpu, Backend *ref, size_t rows, int c) {
    Err e = {{0}};
    BnCtx k;
    bn_ctx_init(&k, ref, rows, c, 600 + (uint32_t)c);
    size_t n = rows * c;
    float *G = dev_copy(cpu, k.gamma, c), *Bt = dev_copy(cpu, k.beta, c), *M = dev_copy(cpu, k.mean, c), *V = dev_copy(cpu, k.var, c);
    BnParams p = {G, Bt, M, V, c};
    float *X = dev_copy(cpu, k.x, n), *R = dev_copy(cpu, k.res, n), *Y = dev_copy(cpu, NULL, n), *DY = dev_copy(cpu, k.r, n);
    float *want = malloc(n * sizeof(float));
    for (int mode = 0; mode < 4; mode++) {   /* plain, relu, res + relu, res + relu in place */
        const float *res = mode >= 2 ? k.res : NULL;
        CHECK_OK(ref->train->bn_forward(ref, &k.p, k.x, res, mode > 0, rows, want, &e), &e);
        if (mode == 3) CHECK_OK(cpu->ops->upload(cpu, Y, k.res, n * sizeof(float), &e), &e);
        const float *Res = mode == 3 ? Y : mode == 2 ? R : NULL;
        CHECK_OK(cpu->train->bn_forward(cpu, &p, X, Res, mode > 0, rows, Y, &e), &e);
        float *got = host_copy(cpu, Y, n);
        double err = rel_l2(got, want, n);
        CHECK(err < 1e-6, "cpu bn forward c=%d mode %d: rel L2 %.3g", c, mode, err);
        free(got);
    }
    float *dx = malloc(n * sizeof(float)), *dg = malloc(c * sizeof(float)), *db = malloc(c * sizeof(float));
    float *DX = dev_copy(cpu, NULL, n), *DG = dev_copy(cpu, NULL, c), *DB = dev_copy(cpu, NULL, c);
    CHECK_OK(ref->train->bn_backward(ref, &k.p, k.x, k.r, rows, dx, dg, db, &e), &e);
    CHECK_OK(cpu->train->bn_backward(cpu, &p, X, DY, rows, DX, DG, DB, &e), &e);
    float *got[3] = {host_copy(cpu, DX, n), host_copy(cpu, DG, c), host_copy(cpu, DB, c)};
    double ex = rel_l2(got[0], dx, n), eg = rel_l2(got[1], dg, c), eb = rel_l2(got[2], db, c);
    CHECK(ex < 1e-6 && eg < 1e-6 && eb < 1e-6, "cpu bn backward c=%d: dx %.3g dgamma %.3g dbeta %.3g", c, ex, eg, eb);
    /* In place (dx over dy): same dx, and parameter gradients read dy before it is overwritten. */
    CHECK_OK(cpu->train->bn_backward(cpu, &p, X, DY, rows, DY, DG, DB, &e), &e);
    float *in_place = host_copy(cpu, DY, n), *dg2 = host_copy(cpu, DG, c);
    CHECK(memcmp(in_place, got[0], n * sizeof(float)) == 0 && memcmp(dg2, got[1], c * sizeof(float)) == 0,
          "cpu bn backward in place differs");
    free(in_place); free(dg2);
    for (int i = 0; i < 3; i++) free(got[i]);
    float *bufs[11] = {G, Bt, M, V, X, R, Y, DY, DX, DG, DB};
    for (int i = 0; i < 11; i++) cpu->ops->release(cpu, bufs[i]);
    free(want); free(dx); free(dg); free(db);
    bn_ctx_free(&k);
}

static void test_cpu_elementwise(Backend *cpu, Backend *ref) {
    Err e = {{0}};
    size_t n = 10007;
    float *y = random_floats(n, 700, -1, 1), *dy = random_floats(n, 701, -1, 1), *want = malloc(n * sizeof(float));
    float *Y = dev_copy(cpu, y, n), *DY = dev_copy(cpu, dy, n), *DX = dev_copy(cpu, NULL, n);
    CHECK_OK(ref->train->relu_backward(ref, y, dy, n, want, &e), &e);
    CHECK_OK(cpu->train->relu_backward(cpu, Y, DY, n, DX, &e), &e);
    float *got = host_copy(cpu, DX, n);
    CHECK(memcmp(got, want, n * sizeof(float)) == 0, "cpu relu backward differs");
    free(got);
    CHECK_OK(ref->train->accumulate(ref, y, n, dy, &e), &e);
    CHECK_OK(cpu->train->accumulate(cpu, Y, n, DY, &e), &e);
    got = host_copy(cpu, DY, n);
    CHECK(memcmp(got, dy, n * sizeof(float)) == 0, "cpu accumulate differs");
    free(got);
    cpu->ops->release(cpu, Y); cpu->ops->release(cpu, DY); cpu->ops->release(cpu, DX);
    free(y); free(dy); free(want);
}

/* Max pool backward on post-ReLU data (about a third exact zeros, so ties happen) and
 * global average pool backward, at conv1's channel count. */
static void test_cpu_pools(Backend *cpu, Backend *ref) {
    Err e = {{0}};
    const int shapes[2][2] = {{13, 12}, {16, 16}};
    for (int s = 0; s < 2; s++) {
        int n = 2, h = shapes[s][0], w = shapes[s][1], c = 64, oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
        size_t nx = (size_t)n * h * w * c, ny = (size_t)n * oh * ow * c;
        float *x = random_floats(nx, 800 + (uint32_t)s, -1, 2), *dy = random_floats(ny, 810 + (uint32_t)s, -1, 1);
        for (size_t i = 0; i < nx; i++) x[i] = x[i] > 0 ? x[i] : 0.0f;
        float *want = malloc(nx * sizeof(float));
        float *X = dev_copy(cpu, x, nx), *DY = dev_copy(cpu, dy, ny), *DX = dev_copy(cpu, NULL, nx);
        CHECK_OK(ref->train->maxpool3x3s2_backward(ref, x, dy, n, h, w, c, want, &e), &e);
        CHECK_OK(cpu->train->maxpool3x3s2_backward(cpu, X, DY, n, h, w, c, DX, &e), &e);
        float *got = host_copy(cpu, DX, nx);
        CHECK(memcmp(got, want, nx * sizeof(float)) == 0, "cpu maxpool backward %dx%d differs", h, w);
        free(got);
        CHECK_OK(ref->train->global_avgpool_backward(ref, dy, n, h, w, c, want, &e), &e);
        CHECK_OK(cpu->train->global_avgpool_backward(cpu, DY, n, h, w, c, DX, &e), &e);
        got = host_copy(cpu, DX, nx);
        CHECK(rel_l2(got, want, nx) < 1e-6, "cpu global avgpool backward %dx%d differs", h, w);
        free(got);
        cpu->ops->release(cpu, X); cpu->ops->release(cpu, DY); cpu->ops->release(cpu, DX);
        free(x); free(dy); free(want);
    }
}

int main(void) {
    Err e = {{0}};
    Backend *ref, *cpu;
    if (backend_reference_create(&ref, &e) || backend_cpu_create(&cpu, 2, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    CHECK(ref->train && cpu->train, "reference and cpu backends have training ops");
    test_fd_conv(ref);
    test_fd_bn(ref);
    test_fd_block_epilogue(ref);
    test_fd_relu(ref);
    test_fd_pools(ref);
    check_maxpool_ties(ref);
    check_maxpool_ties(cpu);
    test_cpu_conv(cpu, ref);
    test_cpu_bn(cpu, ref, 2 * 7 * 7, 2048);
    test_cpu_bn(cpu, ref, 2 * 56 * 56, 64);
    test_cpu_bn(cpu, ref, 37, 300);   /* channels not a multiple of the chunk */
    test_cpu_elementwise(cpu, ref);
    test_cpu_pools(cpu, ref);
    backend_destroy(cpu);
    backend_destroy(ref);
    return TEST_END();
}
