/* The float32 reference backend: plain loops, double accumulation, host memory.
 * Slow on purpose; it is the ground truth every other backend is tested against. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/backend_train.h"

typedef struct RefConv {
    ConvDesc d;
    float *w;       /* (kh, kw, cin, cout) */
    float *bias;    /* (cout) */
} RefConv;

static int ref_alloc(Backend *b, size_t bytes, void **ptr, Err *e) {
    (void)b;
    *ptr = tl_malloc(e, bytes, "reference buffer");
    return *ptr ? 0 : -1;
}
static void ref_release(Backend *b, void *ptr) { (void)b; free(ptr); }
static int ref_copy(Backend *b, void *dst, const void *src, size_t bytes, Err *e) {
    (void)b; (void)e;
    memmove(dst, src, bytes);
    return 0;
}
static int ref_sync(Backend *b, Err *e) { (void)b; (void)e; return 0; }

static int ref_conv_create(Backend *b, const ConvDesc *d, const float *w, const float *bias, void **conv, Err *e) {
    (void)b;
    RefConv *c = tl_calloc(e, 1, sizeof *c, "conv");
    if (!c) return -1;
    c->d = *d;
    size_t nw = (size_t)d->kh * d->kw * d->cin * d->cout;
    c->w = tl_malloc(e, nw * sizeof(float), "conv weights");
    c->bias = tl_malloc(e, (size_t)d->cout * sizeof(float), "conv bias");
    if (!c->w || !c->bias) { free(c->w); free(c->bias); free(c); return -1; }
    memcpy(c->w, w, nw * sizeof(float));
    if (bias) memcpy(c->bias, bias, (size_t)d->cout * sizeof(float));
    else memset(c->bias, 0, (size_t)d->cout * sizeof(float));
    *conv = c;
    return 0;
}

/* One output pixel, all output channels: acc (cout) accumulates in double. */
static void ref_conv_pixel(const RefConv *c, const float *x, int n, int r, int col, double *acc) {
    const ConvDesc *d = &c->d;
    for (int o = 0; o < d->cout; o++) acc[o] = c->bias[o];
    for (int i = 0; i < d->kh; i++) {
        int y = r * d->stride + i - d->pad_top;
        if (y < 0 || y >= d->h) continue;
        for (int j = 0; j < d->kw; j++) {
            int xx = col * d->stride + j - d->pad_left;
            if (xx < 0 || xx >= d->w) continue;
            const float *px = x + (((size_t)n * d->h + y) * d->w + xx) * d->cin;
            const float *pw = c->w + ((size_t)i * d->kw + j) * d->cin * d->cout;
            for (int ci = 0; ci < d->cin; ci++)
                for (int o = 0; o < d->cout; o++) acc[o] += (double)px[ci] * pw[(size_t)ci * d->cout + o];
        }
    }
}

static int ref_conv_forward(Backend *b, void *conv, const float *x, const float *res, float *y, Err *e) {
    (void)b;
    const RefConv *c = conv;
    const ConvDesc *d = &c->d;
    double *acc = tl_malloc(e, sizeof(double) * (size_t)d->cout, "conv accumulator");
    if (!acc) return -1;
    for (int n = 0; n < d->n; n++)
        for (int r = 0; r < d->oh; r++)
            for (int col = 0; col < d->ow; col++) {
                ref_conv_pixel(c, x, n, r, col, acc);
                size_t base = (((size_t)n * d->oh + r) * d->ow + col) * d->cout;
                for (int o = 0; o < d->cout; o++) {
                    double v = acc[o] + (d->has_residual ? res[base + o] : 0.0);
                    y[base + o] = (float)(d->relu && v < 0 ? 0 : v);
                }
            }
    free(acc);
    return 0;
}

static void ref_conv_destroy(Backend *b, void *conv) {
    (void)b;
    RefConv *c = conv;
    if (!c) return;
    free(c->w);
    free(c->bias);
    free(c);
}

static int ref_maxpool(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    (void)b; (void)e;
    int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
    for (int i = 0; i < n; i++)
        for (int r = 0; r < oh; r++)
            for (int q = 0; q < ow; q++)
                for (int ch = 0; ch < c; ch++) {
                    float m = 0.0f; /* the zero pad takes part, as in Keras */
                    int any_pad = 0;
                    float best = -FLT_MAX;
                    for (int a = 0; a < 3; a++)
                        for (int bb = 0; bb < 3; bb++) {
                            int yy = 2 * r + a - 1, xx = 2 * q + bb - 1;
                            if (yy < 0 || yy >= h || xx < 0 || xx >= w) { any_pad = 1; continue; }
                            float v = x[(((size_t)i * h + yy) * w + xx) * c + ch];
                            if (v > best) best = v;
                        }
                    if (any_pad && m > best) best = m;
                    y[(((size_t)i * oh + r) * ow + q) * c + ch] = best;
                }
    return 0;
}

static int ref_gap(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    (void)b; (void)e;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            double s = 0;
            for (int p = 0; p < h * w; p++) s += x[((size_t)i * h * w + p) * c + ch];
            y[(size_t)i * c + ch] = (float)(s / (h * w));
        }
    return 0;
}

static void ref_destroy(Backend *b) { free(b); }

static const BackendOps REFERENCE_OPS = {
    .alloc = ref_alloc,
    .release = ref_release,
    .upload = ref_copy,
    .download = ref_copy,
    .sync = ref_sync,
    .conv_create = ref_conv_create,
    .conv_forward = ref_conv_forward,
    .conv_destroy = ref_conv_destroy,
    .maxpool3x3s2 = ref_maxpool,
    .global_avgpool = ref_gap,
    .destroy = ref_destroy,
};

int backend_reference_create(Backend **out, Err *e) {
    Backend *b = tl_calloc(e, 1, sizeof *b, "backend");
    if (!b) return -1;
    *b = (Backend){.ops = &REFERENCE_OPS, .name = "reference", .threads = 1, .train = backend_reference_train_ops()};
    *out = b;
    return 0;
}
