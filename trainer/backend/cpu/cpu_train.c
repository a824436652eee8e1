/* Training ops of the CPU backend. Convolutions: oneDNN forward-training, backward-data
 * and backward-weights primitives on NHWC activations, planned once per shape with the
 * forward primitive descriptor as the hint of both backward ones. Weights arrive as
 * user HWIO every call (the optimizer changes them each step) and are reordered into
 * the layout each primitive prefers (a few MB at most: small next to the convolution);
 * weight gradients come back the same way. Everything else is OpenMP loops.
 *
 * Each plan owns its oneDNN engine and stream: the backend's own live in cpu_backend.c's
 * private context, and a CPU engine costs nothing to create. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_train.h"
#include "backend/cpu/dnnl_check.h"

/* A user (HWIO) weight tensor and the layout one primitive wants; `reorder` is NULL
 * when the two are the same and the user memory is passed straight through. */
typedef struct WeightsPort {
    dnnl_memory_t user, internal;
    dnnl_primitive_t reorder;
} WeightsPort;

typedef struct CpuTrainConv {
    ConvDesc d;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_t fwd, bwd_data, bwd_weights;
    WeightsPort fwd_w, bwd_w, diff_w;                     /* diff_w reorders internal -> user */
    dnnl_memory_t src, dst, bias, diff_src, diff_dst, diff_bias;   /* handles set per call */
} CpuTrainConv;

static int md_nhwc(dnnl_memory_desc_t *md, int n, int c, int h, int w, Err *e) {
    dnnl_dims_t dims = {n, c, h, w};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nhwc));
    return 0;
}

static int md_weights(dnnl_memory_desc_t *md, const ConvDesc *d, dnnl_format_tag_t tag, Err *e) {
    dnnl_dims_t dims = {d->cout, d->cin, d->kh, d->kw};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag));
    return 0;
}

/* Sets up a port between user HWIO memory and `want`. to_user: the reorder runs
 * internal -> user (gradients) instead of user -> internal. */
static int port_init(CpuTrainConv *c, WeightsPort *p, const dnnl_memory_desc_t *want, int to_user, Err *e) {
    dnnl_memory_desc_t user_md;
    if (md_weights(&user_md, &c->d, dnnl_hwio, e)) return -1;
    DNNL_CHECK(e, dnnl_memory_create(&p->user, &user_md, c->engine, DNNL_MEMORY_NONE));
    if (dnnl_memory_desc_equal(&user_md, want)) return 0;
    DNNL_CHECK(e, dnnl_memory_create(&p->internal, want, c->engine, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd;
    const dnnl_memory_desc_t *from = to_user ? want : &user_md, *to = to_user ? &user_md : want;
    DNNL_CHECK(e, dnnl_reorder_primitive_desc_create(&rpd, from, c->engine, to, c->engine, NULL));
    dnnl_status_t st = dnnl_primitive_create(&p->reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    if (st != dnnl_success)
        return err_fail(e, "%s:%d: dnnl_primitive_create(weights reorder) failed: %s", __FILE__, __LINE__, dnnl_status_name(st));
    return 0;
}

/* Points the port at user weights and runs its reorder; returns the memory the
 * convolution should read (or, for gradients, write). */
static int port_user_to_prim(CpuTrainConv *c, WeightsPort *p, const float *w, dnnl_memory_t *mem, Err *e) {
    DNNL_CHECK(e, dnnl_memory_set_data_handle(p->user, (void *)w));
    *mem = p->user;
    if (!p->reorder) return 0;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, p->user}, {DNNL_ARG_TO, p->internal}};
    DNNL_CHECK(e, dnnl_primitive_execute(p->reorder, c->stream, 2, args));
    *mem = p->internal;
    return 0;
}

static void port_free(WeightsPort *p) {
    if (p->reorder) dnnl_primitive_destroy(p->reorder);
    if (p->internal) dnnl_memory_destroy(p->internal);
    if (p->user) dnnl_memory_destroy(p->user);
}

static void cpu_conv_plan_destroy(Backend *b, void *plan) {
    (void)b;
    CpuTrainConv *c = plan;
    if (!c) return;
    dnnl_primitive_t prims[3] = {c->fwd, c->bwd_data, c->bwd_weights};
    for (int i = 0; i < 3; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    port_free(&c->fwd_w);
    port_free(&c->bwd_w);
    port_free(&c->diff_w);
    dnnl_memory_t mems[6] = {c->src, c->dst, c->bias, c->diff_src, c->diff_dst, c->diff_bias};
    for (int i = 0; i < 6; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->engine) dnnl_engine_destroy(c->engine);
    free(c);
}

/* The three convolution descriptors share shapes, strides and padding. */
typedef struct ConvMds {
    dnnl_memory_desc_t src, dst, w_any, bias;
    dnnl_dims_t strides, pad_l, pad_r;
} ConvMds;

static int conv_mds(const ConvDesc *d, ConvMds *m, Err *e) {
    if (md_nhwc(&m->src, d->n, d->cin, d->h, d->w, e) || md_nhwc(&m->dst, d->n, d->cout, d->oh, d->ow, e) ||
        md_weights(&m->w_any, d, dnnl_format_tag_any, e))
        return -1;
    dnnl_dims_t bdims = {d->cout};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&m->bias, 1, bdims, dnnl_f32, dnnl_x));
    m->strides[0] = m->strides[1] = d->stride;
    m->pad_l[0] = d->pad_top, m->pad_l[1] = d->pad_left;
    m->pad_r[0] = d->pad_bottom, m->pad_r[1] = d->pad_right;
    return 0;
}

static int create_prim(dnnl_primitive_desc_t pd, dnnl_primitive_t *prim, Err *e) {
    DNNL_CHECK(e, dnnl_primitive_create(prim, pd));
    return 0;
}

static int build_backward(CpuTrainConv *c, const ConvMds *m, const_dnnl_primitive_desc_t fwd_pd, Err *e) {
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(e, dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &m->src, &m->w_any, &m->dst,
                                                           m->strides, m->pad_l, m->pad_r));
    DNNL_CHECK(e, dnnl_primitive_desc_create(&pd, &cd, NULL, c->engine, fwd_pd));
    int rc = port_init(c, &c->bwd_w, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), 0, e) ||
             create_prim(pd, &c->bwd_data, e);
    dnnl_primitive_desc_destroy(pd);
    if (rc) return -1;
    DNNL_CHECK(e, dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &m->src, &m->w_any, &m->bias,
                                                              &m->dst, m->strides, m->pad_l, m->pad_r));
    DNNL_CHECK(e, dnnl_primitive_desc_create(&pd, &cd, NULL, c->engine, fwd_pd));
    rc = port_init(c, &c->diff_w, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0), 1, e) ||
         create_prim(pd, &c->bwd_weights, e);
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

static int build_plan(CpuTrainConv *c, Err *e) {
    const ConvDesc *d = &c->d;
    ConvMds m;
    if (conv_mds(d, &m, e)) return -1;
    DNNL_CHECK(e, dnnl_engine_create(&c->engine, dnnl_cpu, 0));
    DNNL_CHECK(e, dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags));
    dnnl_memory_t *handles[6] = {&c->src, &c->dst, &c->bias, &c->diff_src, &c->diff_dst, &c->diff_bias};
    const dnnl_memory_desc_t *mds[6] = {&m.src, &m.dst, &m.bias, &m.src, &m.dst, &m.bias};
    for (int i = 0; i < 6; i++) DNNL_CHECK(e, dnnl_memory_create(handles[i], mds[i], c->engine, DNNL_MEMORY_NONE));
    dnnl_convolution_desc_t cd;
    DNNL_CHECK(e, dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, &m.src, &m.w_any,
                                                     &m.bias, &m.dst, m.strides, m.pad_l, m.pad_r));
    dnnl_primitive_desc_t fwd_pd;
    DNNL_CHECK(e, dnnl_primitive_desc_create(&fwd_pd, &cd, NULL, c->engine, NULL));
    int rc = port_init(c, &c->fwd_w, dnnl_primitive_desc_query_md(fwd_pd, dnnl_query_weights_md, 0), 0, e) ||
             create_prim(fwd_pd, &c->fwd, e) || build_backward(c, &m, fwd_pd, e);
    dnnl_primitive_desc_destroy(fwd_pd);
    return rc;
}

static int cpu_conv_plan_create(Backend *b, const ConvDesc *d, void **plan, Err *e) {
    if (d->has_residual || d->relu) return err_fail(e, "training convolution: no fused residual or ReLU");
    CpuTrainConv *c = tl_calloc(e, 1, sizeof *c, "training conv plan");
    if (!c) return -1;
    c->d = *d;
    if (build_plan(c, e)) {
        cpu_conv_plan_destroy(b, c);
        return err_context(e, "oneDNN training convolution %dx%d/%d %d->%d on %dx%d", d->kh, d->kw, d->stride, d->cin,
                           d->cout, d->h, d->w);
    }
    *plan = c;
    return 0;
}

static int cpu_conv_plan_forward(Backend *b, void *plan, const float *x, const float *w, const float *bias, float *y,
                                 Err *e) {
    (void)b;
    CpuTrainConv *c = plan;
    dnnl_memory_t wm;
    if (port_user_to_prim(c, &c->fwd_w, w, &wm, e)) return -1;
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->src, (void *)x));
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->bias, (void *)bias));
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->dst, y));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, c->bias}, {DNNL_ARG_DST, c->dst}};
    DNNL_CHECK(e, dnnl_primitive_execute(c->fwd, c->stream, 4, args));
    DNNL_CHECK(e, dnnl_stream_wait(c->stream));
    return 0;
}

static int cpu_conv_backward_data(Backend *b, void *plan, const float *dy, const float *w, float *dx, Err *e) {
    (void)b;
    CpuTrainConv *c = plan;
    dnnl_memory_t wm;
    if (port_user_to_prim(c, &c->bwd_w, w, &wm, e)) return -1;
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->diff_dst, (void *)dy));
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->diff_src, dx));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, c->diff_dst}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, c->diff_src}};
    DNNL_CHECK(e, dnnl_primitive_execute(c->bwd_data, c->stream, 3, args));
    DNNL_CHECK(e, dnnl_stream_wait(c->stream));
    return 0;
}

static int cpu_conv_backward_weights(Backend *b, void *plan, const float *x, const float *dy, float *dw, float *dbias,
                                     Err *e) {
    (void)b;
    CpuTrainConv *c = plan;
    WeightsPort *p = &c->diff_w;
    DNNL_CHECK(e, dnnl_memory_set_data_handle(p->user, dw));
    dnnl_memory_t wm = p->reorder ? p->internal : p->user;
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->src, (void *)x));
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->diff_dst, (void *)dy));
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->diff_bias, dbias));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_DIFF_DST, c->diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, wm},
                               {DNNL_ARG_DIFF_BIAS, c->diff_bias}};
    DNNL_CHECK(e, dnnl_primitive_execute(c->bwd_weights, c->stream, 4, args));
    if (p->reorder) {
        dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, p->internal}, {DNNL_ARG_TO, p->user}};
        DNNL_CHECK(e, dnnl_primitive_execute(p->reorder, c->stream, 2, rargs));
    }
    DNNL_CHECK(e, dnnl_stream_wait(c->stream));
    return 0;
}

/* Channels are handled in chunks so per-channel scale and shift fit on the stack. */
enum { BN_CHUNK = 256, BN_ROWS = 32 };

/* scale = gamma/sqrt(var+eps), shift = beta - mean*scale for channels [c0, c0+nc). */
static void bn_scale_shift(const BnParams *p, int c0, int nc, float *scale, float *shift) {
    for (int k = 0; k < nc; k++) {
        int ch = c0 + k;
        double s = p->gamma[ch] / sqrt((double)p->var[ch] + BN_FROZEN_EPSILON);
        scale[k] = (float)s;
        shift[k] = (float)(p->beta[ch] - p->mean[ch] * s);
    }
}

static int cpu_bn_forward(Backend *b, const BnParams *p, const float *x, const float *res, int relu, size_t rows, float *y,
                          Err *e) {
    (void)e;
    const int c = p->c;
    long row_blocks = (long)((rows + BN_ROWS - 1) / BN_ROWS);
#pragma omp parallel for num_threads(b->threads) schedule(static)
    for (long rb = 0; rb < row_blocks; rb++) {
        float scale[BN_CHUNK], shift[BN_CHUNK];
        size_t r_end = (size_t)(rb + 1) * BN_ROWS < rows ? (size_t)(rb + 1) * BN_ROWS : rows;
        for (int c0 = 0; c0 < c; c0 += BN_CHUNK) {
            int nc = c - c0 < BN_CHUNK ? c - c0 : BN_CHUNK;
            bn_scale_shift(p, c0, nc, scale, shift);
            for (size_t r = (size_t)rb * BN_ROWS; r < r_end; r++) {
                const float *xr = x + r * c + c0;
                const float *rr = res ? res + r * c + c0 : NULL;
                float *yr = y + r * c + c0;
#pragma omp simd
                for (int k = 0; k < nc; k++) {
                    float v = xr[k] * scale[k] + shift[k] + (rr ? rr[k] : 0.0f);
                    yr[k] = relu && v < 0.0f ? 0.0f : v;
                }
            }
        }
    }
    return 0;
}

/* dgamma, dbeta: per channel sums over all rows, accumulated in double; the channel
 * range is split across threads so no two threads write one channel. */
static void bn_param_grads(const BnParams *p, const float *x, const float *dy, size_t rows, float *dgamma, float *dbeta,
                           int threads) {
    enum { LANES = 16 };
    const int c = p->c;
    int groups = (c + LANES - 1) / LANES;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int g = 0; g < groups; g++) {
        int c0 = g * LANES, nc = c - c0 < LANES ? c - c0 : LANES;
        double sg[LANES] = {0}, sb[LANES] = {0}, mean[LANES], rstd[LANES];
        for (int k = 0; k < nc; k++) {
            mean[k] = p->mean[c0 + k];
            rstd[k] = 1.0 / sqrt((double)p->var[c0 + k] + BN_FROZEN_EPSILON);
        }
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x + r * c + c0, *gr = dy + r * c + c0;
            for (int k = 0; k < nc; k++) {
                sg[k] += (double)gr[k] * ((xr[k] - mean[k]) * rstd[k]);
                sb[k] += gr[k];
            }
        }
        for (int k = 0; k < nc; k++) {
            if (dgamma) dgamma[c0 + k] = (float)sg[k];
            if (dbeta) dbeta[c0 + k] = (float)sb[k];
        }
    }
}

static int cpu_bn_backward(Backend *b, const BnParams *p, const float *x, const float *dy, size_t rows, float *dx,
                           float *dgamma, float *dbeta, Err *e) {
    (void)e;
    /* Parameter gradients first: dx may overwrite dy. */
    if (dgamma || dbeta) bn_param_grads(p, x, dy, rows, dgamma, dbeta, b->threads);
    if (!dx) return 0;
    const int c = p->c;
    long row_blocks = (long)((rows + BN_ROWS - 1) / BN_ROWS);
#pragma omp parallel for num_threads(b->threads) schedule(static)
    for (long rb = 0; rb < row_blocks; rb++) {
        float scale[BN_CHUNK], shift[BN_CHUNK];
        size_t r_end = (size_t)(rb + 1) * BN_ROWS < rows ? (size_t)(rb + 1) * BN_ROWS : rows;
        for (int c0 = 0; c0 < c; c0 += BN_CHUNK) {
            int nc = c - c0 < BN_CHUNK ? c - c0 : BN_CHUNK;
            bn_scale_shift(p, c0, nc, scale, shift);
            for (size_t r = (size_t)rb * BN_ROWS; r < r_end; r++) {
                const float *gr = dy + r * c + c0;
                float *dr = dx + r * c + c0;
#pragma omp simd
                for (int k = 0; k < nc; k++) dr[k] = gr[k] * scale[k];
            }
        }
    }
    return 0;
}

static int cpu_relu_backward(Backend *b, const float *y, const float *dy, size_t n, float *dx, Err *e) {
    (void)e;
#pragma omp parallel for simd num_threads(b->threads) schedule(static)
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    return 0;
}

static int cpu_accumulate(Backend *b, const float *src, size_t n, float *dst, Err *e) {
    (void)e;
#pragma omp parallel for simd num_threads(b->threads) schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
    return 0;
}

/* One output pixel of max-pool backward, all channels; same scan as the reference. */
static void maxpool_route_pixel(const float *x, const float *dy_px, int h, int w, int c, int r, int q, float *dx) {
    for (int ch = 0; ch < c; ch++) {
        float best = 0.0f;
        long best_at = -2;
        for (int a = 0; a < 3; a++)
            for (int bb = 0; bb < 3; bb++) {
                int yy = 2 * r + a - 1, xx = 2 * q + bb - 1;
                int pad = yy < 0 || yy >= h || xx < 0 || xx >= w;
                long at = pad ? -1 : ((long)yy * w + xx) * c + ch;
                float v = pad ? 0.0f : x[at];
                if (best_at == -2 || v > best) { best = v; best_at = at; }
            }
        if (best_at >= 0) dx[best_at] += dy_px[ch];
    }
}

static int cpu_maxpool_backward(Backend *b, const float *x, const float *dy, int n, int h, int w, int c, float *dx,
                                Err *e) {
    (void)e;
    int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
    size_t in_img = (size_t)h * w * c, out_img = (size_t)oh * ow * c;
    /* Windows overlap within an image, so threads split images. */
#pragma omp parallel for num_threads(b->threads) schedule(static)
    for (int i = 0; i < n; i++) {
        float *dxi = dx + i * in_img;
        memset(dxi, 0, in_img * sizeof(float));
        for (int r = 0; r < oh; r++)
            for (int q = 0; q < ow; q++)
                maxpool_route_pixel(x + i * in_img, dy + i * out_img + ((size_t)r * ow + q) * c, h, w, c, r, q, dxi);
    }
    return 0;
}

static int cpu_gap_backward(Backend *b, const float *dy, int n, int h, int w, int c, float *dx, Err *e) {
    (void)e;
    const float inv = 1.0f / (float)(h * w);
#pragma omp parallel for collapse(2) num_threads(b->threads) schedule(static)
    for (int i = 0; i < n; i++)
        for (int p = 0; p < h * w; p++) {
            const float *g = dy + (size_t)i * c;
            float *out = dx + ((size_t)i * h * w + p) * c;
#pragma omp simd
            for (int ch = 0; ch < c; ch++) out[ch] = g[ch] * inv;
        }
    return 0;
}

/* cpu_backend.c's native layout is oneDNN's nChw16c for C a multiple of 16: element
 * (n, c, h, w) at (((n * C/16 + c/16) * H + h) * W + w) * 16 + c%16. */
static int cpu_native_to_nhwc(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    enum { BLOCK = 16 };
    if (c % BLOCK) return err_fail(e, "native_to_nhwc: %d channels are not in 16-channel blocks", c);
    int blocks = c / BLOCK;
#pragma omp parallel for collapse(2) num_threads(b->threads) schedule(static)
    for (int i = 0; i < n; i++)
        for (int r = 0; r < h; r++)
            for (int cb = 0; cb < blocks; cb++) {
                const float *src = x + (((size_t)i * blocks + cb) * h + r) * w * BLOCK;
                float *dst = y + ((size_t)i * h + r) * w * c + (size_t)cb * BLOCK;
                for (int q = 0; q < w; q++)
#pragma omp simd
                    for (int k = 0; k < BLOCK; k++) dst[(size_t)q * c + k] = src[(size_t)q * BLOCK + k];
            }
    return 0;
}

static const BackendTrainOps CPU_TRAIN_OPS = {
    .conv_plan_create = cpu_conv_plan_create,
    .conv_plan_forward = cpu_conv_plan_forward,
    .conv_backward_data = cpu_conv_backward_data,
    .conv_backward_weights = cpu_conv_backward_weights,
    .conv_plan_destroy = cpu_conv_plan_destroy,
    .bn_forward = cpu_bn_forward,
    .bn_backward = cpu_bn_backward,
    .relu_backward = cpu_relu_backward,
    .accumulate = cpu_accumulate,
    .maxpool3x3s2_backward = cpu_maxpool_backward,
    .global_avgpool_backward = cpu_gap_backward,
    .native_to_nhwc = cpu_native_to_nhwc,
    .optimizer_step = NULL,   /* optimizer_step on the host arrays */
};

const BackendTrainOps *backend_cpu_train_ops(void) { return &CPU_TRAIN_OPS; }
