/* Training ops of the reference backend: plain loops, double accumulation, host memory.
 * Slow on purpose; these are the ground truth the CPU and GPU backward passes are tested
 * against, and they are checked against finite differences themselves. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_train.h"

static int ref_conv_plan_create(Backend *b, const ConvDesc *d, void **plan, Err *e) {
    (void)b;
    if (d->has_residual || d->relu) return err_fail(e, "training convolution: no fused residual or ReLU");
    ConvDesc *p = tl_malloc(e, sizeof *p, "conv plan");
    if (!p) return -1;
    *p = *d;
    *plan = p;
    return 0;
}

static void ref_conv_plan_destroy(Backend *b, void *plan) { (void)b; free(plan); }

static size_t nhwc(int h, int w, int c, int n, int y, int x) { return (((size_t)n * h + y) * w + x) * c; }

static int ref_conv_plan_forward(Backend *b, void *plan, const float *x, const float *w, const float *bias, float *y,
                                 Err *e) {
    (void)b;
    const ConvDesc *d = plan;
    double *acc = tl_malloc(e, sizeof(double) * (size_t)d->cout, "conv accumulator");
    if (!acc) return -1;
    for (int n = 0; n < d->n; n++)
        for (int r = 0; r < d->oh; r++)
            for (int q = 0; q < d->ow; q++) {
                for (int o = 0; o < d->cout; o++) acc[o] = bias[o];
                for (int i = 0; i < d->kh; i++)
                    for (int j = 0; j < d->kw; j++) {
                        int yy = r * d->stride + i - d->pad_top, xx = q * d->stride + j - d->pad_left;
                        if (yy < 0 || yy >= d->h || xx < 0 || xx >= d->w) continue;
                        const float *px = x + nhwc(d->h, d->w, d->cin, n, yy, xx);
                        const float *pw = w + ((size_t)i * d->kw + j) * d->cin * d->cout;
                        for (int ci = 0; ci < d->cin; ci++)
                            for (int o = 0; o < d->cout; o++) acc[o] += (double)px[ci] * pw[(size_t)ci * d->cout + o];
                    }
                float *py = y + nhwc(d->oh, d->ow, d->cout, n, r, q);
                for (int o = 0; o < d->cout; o++) py[o] = (float)acc[o];
            }
    free(acc);
    return 0;
}

/* Output coordinate that reads input coordinate `in` through tap `k`, or -1:
 * in = out*stride + k - pad. */
static int out_coord(int in, int k, int pad, int stride, int out_size) {
    int t = in + pad - k;
    if (t < 0 || t % stride) return -1;
    return t / stride < out_size ? t / stride : -1;
}

/* dx[n, y, x, ci] = sum over taps (i, j) and outputs (r, q) that read (y, x):
 * sum_o dy[n, r, q, o] * w[i, j, ci, o]. Gathered per input pixel, accumulated in double. */
static int ref_conv_backward_data(Backend *b, void *plan, const float *dy, const float *w, float *dx, Err *e) {
    (void)b;
    const ConvDesc *d = plan;
    double *acc = tl_malloc(e, sizeof(double) * (size_t)d->cin, "conv backward accumulator");
    if (!acc) return -1;
    for (int n = 0; n < d->n; n++)
        for (int yy = 0; yy < d->h; yy++)
            for (int xx = 0; xx < d->w; xx++) {
                for (int ci = 0; ci < d->cin; ci++) acc[ci] = 0;
                for (int i = 0; i < d->kh; i++) {
                    int r = out_coord(yy, i, d->pad_top, d->stride, d->oh);
                    if (r < 0) continue;
                    for (int j = 0; j < d->kw; j++) {
                        int q = out_coord(xx, j, d->pad_left, d->stride, d->ow);
                        if (q < 0) continue;
                        const float *pdy = dy + nhwc(d->oh, d->ow, d->cout, n, r, q);
                        const float *pw = w + ((size_t)i * d->kw + j) * d->cin * d->cout;
                        for (int ci = 0; ci < d->cin; ci++)
                            for (int o = 0; o < d->cout; o++) acc[ci] += (double)pdy[o] * pw[(size_t)ci * d->cout + o];
                    }
                }
                float *px = dx + nhwc(d->h, d->w, d->cin, n, yy, xx);
                for (int ci = 0; ci < d->cin; ci++) px[ci] = (float)acc[ci];
            }
    free(acc);
    return 0;
}

/* dw[i, j, ci, o] = sum_{n, r, q} xpad[n, r*s+i, q*s+j, ci] * dy[n, r, q, o]; dbias[o] = sum dy. */
static int ref_conv_backward_weights(Backend *b, void *plan, const float *x, const float *dy, float *dw, float *dbias,
                                     Err *e) {
    (void)b;
    const ConvDesc *d = plan;
    size_t nw = (size_t)d->kh * d->kw * d->cin * d->cout;
    double *acc = tl_calloc(e, nw + (size_t)d->cout, sizeof(double), "conv weight-gradient accumulator");
    if (!acc) return -1;
    double *acc_b = acc + nw;
    for (int n = 0; n < d->n; n++)
        for (int r = 0; r < d->oh; r++)
            for (int q = 0; q < d->ow; q++) {
                const float *pdy = dy + nhwc(d->oh, d->ow, d->cout, n, r, q);
                for (int o = 0; o < d->cout; o++) acc_b[o] += pdy[o];
                for (int i = 0; i < d->kh; i++)
                    for (int j = 0; j < d->kw; j++) {
                        int yy = r * d->stride + i - d->pad_top, xx = q * d->stride + j - d->pad_left;
                        if (yy < 0 || yy >= d->h || xx < 0 || xx >= d->w) continue;
                        const float *px = x + nhwc(d->h, d->w, d->cin, n, yy, xx);
                        double *pa = acc + ((size_t)i * d->kw + j) * d->cin * d->cout;
                        for (int ci = 0; ci < d->cin; ci++)
                            for (int o = 0; o < d->cout; o++) pa[(size_t)ci * d->cout + o] += (double)px[ci] * pdy[o];
                    }
            }
    for (size_t k = 0; k < nw; k++) dw[k] = (float)acc[k];
    for (int o = 0; o < d->cout; o++) dbias[o] = (float)acc_b[o];
    free(acc);
    return 0;
}

static double bn_rstd(const BnParams *p, int ch) { return 1.0 / sqrt((double)p->var[ch] + BN_FROZEN_EPSILON); }

static int ref_bn_forward(Backend *b, const BnParams *p, const float *x, const float *res, int relu, size_t rows, float *y,
                          Err *e) {
    (void)b; (void)e;
    for (size_t r = 0; r < rows; r++)
        for (int ch = 0; ch < p->c; ch++) {
            size_t k = r * p->c + ch;
            double v = p->gamma[ch] * ((double)x[k] - p->mean[ch]) * bn_rstd(p, ch) + p->beta[ch];
            if (res) v += res[k];
            y[k] = (float)(relu && v < 0 ? 0 : v);
        }
    return 0;
}

static int ref_bn_backward(Backend *b, const BnParams *p, const float *x, const float *dy, size_t rows, float *dx,
                           float *dgamma, float *dbeta, Err *e) {
    (void)b;
    double *acc = tl_calloc(e, 2 * (size_t)p->c, sizeof(double), "bn accumulators");
    if (!acc) return -1;
    for (size_t r = 0; r < rows; r++)
        for (int ch = 0; ch < p->c; ch++) {
            size_t k = r * p->c + ch;
            double rstd = bn_rstd(p, ch);
            acc[ch] += (double)dy[k] * ((double)x[k] - p->mean[ch]) * rstd;
            acc[p->c + ch] += dy[k];
            if (dx) dx[k] = (float)((double)dy[k] * p->gamma[ch] * rstd);
        }
    for (int ch = 0; ch < p->c; ch++) {
        if (dgamma) dgamma[ch] = (float)acc[ch];
        if (dbeta) dbeta[ch] = (float)acc[p->c + ch];
    }
    free(acc);
    return 0;
}

static int ref_relu_backward(Backend *b, const float *y, const float *dy, size_t n, float *dx, Err *e) {
    (void)b; (void)e;
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0.0f;
    return 0;
}

static int ref_accumulate(Backend *b, const float *src, size_t n, float *dst, Err *e) {
    (void)b; (void)e;
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
    return 0;
}

static int ref_maxpool_backward(Backend *b, const float *x, const float *dy, int n, int h, int w, int c, float *dx,
                                Err *e) {
    (void)b; (void)e;
    int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
    memset(dx, 0, sizeof(float) * (size_t)n * h * w * c);
    for (int i = 0; i < n; i++)
        for (int r = 0; r < oh; r++)
            for (int q = 0; q < ow; q++)
                for (int ch = 0; ch < c; ch++) {
                    /* Scan the padded 3x3 window row-major; strictly greater replaces, so
                     * the first maximum wins. best_at = -1: a pad cell holds the maximum. */
                    float best = 0.0f;
                    long best_at = -2;
                    for (int a = 0; a < 3; a++)
                        for (int bb = 0; bb < 3; bb++) {
                            int yy = 2 * r + a - 1, xx = 2 * q + bb - 1;
                            int pad = yy < 0 || yy >= h || xx < 0 || xx >= w;
                            long at = pad ? -1 : (long)(nhwc(h, w, c, i, yy, xx) + ch);
                            float v = pad ? 0.0f : x[at];
                            if (best_at == -2 || v > best) { best = v; best_at = at; }
                        }
                    if (best_at >= 0) dx[best_at] += dy[nhwc(oh, ow, c, i, r, q) + ch];
                }
    return 0;
}

static int ref_gap_backward(Backend *b, const float *dy, int n, int h, int w, int c, float *dx, Err *e) {
    (void)b; (void)e;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < h * w; p++)
            for (int ch = 0; ch < c; ch++)
                dx[((size_t)i * h * w + p) * c + ch] = (float)((double)dy[(size_t)i * c + ch] / (h * w));
    return 0;
}

static const BackendTrainOps REFERENCE_TRAIN_OPS = {
    .conv_plan_create = ref_conv_plan_create,
    .conv_plan_forward = ref_conv_plan_forward,
    .conv_backward_data = ref_conv_backward_data,
    .conv_backward_weights = ref_conv_backward_weights,
    .conv_plan_destroy = ref_conv_plan_destroy,
    .bn_forward = ref_bn_forward,
    .bn_backward = ref_bn_backward,
    .relu_backward = ref_relu_backward,
    .accumulate = ref_accumulate,
    .maxpool3x3s2_backward = ref_maxpool_backward,
    .global_avgpool_backward = ref_gap_backward,
    .optimizer_step = NULL,   /* optimizer_step on the host arrays */
};

const BackendTrainOps *backend_reference_train_ops(void) { return &REFERENCE_TRAIN_OPS; }
