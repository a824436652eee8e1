/* The CPU backend: oneDNN (AVX-512 direct/brgemm convolutions, NHWC) with bias,
 * residual add (sum post-op) and ReLU fused into the convolution; OpenMP loops for
 * pooling. oneDNN uses OpenMP too, so both share one thread pool sized by `threads`.
 * Chosen over OpenBLAS sgemm by measurement (bench/bench_backbone: the machine's
 * OPENBLAS_CORETYPE=Haswell holds sgemm to ~200 GFLOP/s; oneDNN reaches well above). */
#include <float.h>
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/backend_train.h"
#include "backend/cpu/dnnl_check.h"

typedef struct CpuCtx {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
} CpuCtx;

typedef struct CpuConv {
    ConvDesc d;
    dnnl_primitive_t prim;
    dnnl_memory_t src, weights, bias, dst;   /* src/dst handles are set per call */
    float *nchw;                             /* native_io with a plain input: NHWC -> NCHW copy */
} CpuConv;

/* The native layout: oneDNN's nChw16c (channels in blocks of 16, innermost), where its
 * AVX-512 direct convolutions run fastest; element (n, c, h, w) of a C-channel tensor
 * sits at ((n * C/16 + c/16) * H + h) * W + w) * 16 + c%16. */
enum { BLOCK = 16 };

static int cpu_alloc(Backend *b, size_t bytes, void **ptr, Err *e) {
    (void)b;
    /* 64-byte alignment for AVX-512 loads. */
    if (posix_memalign(ptr, 64, bytes ? (bytes + 63) / 64 * 64 : 64) != 0) return err_fail(e, "out of memory (%zu bytes)", bytes);
    return 0;
}
static void cpu_release(Backend *b, void *ptr) { (void)b; free(ptr); }
static int cpu_copy(Backend *b, void *dst, const void *src, size_t bytes, Err *e) {
    (void)b; (void)e;
    memmove(dst, src, bytes);
    return 0;
}
static int cpu_sync(Backend *b, Err *e) { (void)b; (void)e; return 0; }

/* oneDNN logical dims are (N, C, H, W) whatever the physical layout. Native: blocked
 * when C is a multiple of 16, else plain NCHW (the image; converted from NHWC per call,
 * because oneDNN's direct first-layer convolution reads NCHW). */
static int md_act(dnnl_memory_desc_t *md, int n, int c, int h, int w, int native, Err *e) {
    dnnl_dims_t dims = {n, c, h, w};
    dnnl_format_tag_t tag = !native ? dnnl_nhwc : c % BLOCK ? dnnl_nchw : dnnl_nChw16c;
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag));
    return 0;
}

static int make_post_ops_attr(const ConvDesc *d, dnnl_primitive_attr_t *attr, Err *e) {
    dnnl_post_ops_t po;
    DNNL_CHECK(e, dnnl_primitive_attr_create(attr));
    DNNL_CHECK(e, dnnl_post_ops_create(&po));
    if (d->has_residual) DNNL_CHECK(e, dnnl_post_ops_append_sum(po, 1.0f));
    if (d->relu) DNNL_CHECK(e, dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
    DNNL_CHECK(e, dnnl_primitive_attr_set_post_ops(*attr, po));
    DNNL_CHECK(e, dnnl_post_ops_destroy(po));
    return 0;
}

/* Reorders HWIO host weights into the layout the primitive prefers. */
static int load_weights(CpuCtx *ctx, CpuConv *c, const dnnl_memory_desc_t *want, const float *w, Err *e) {
    const ConvDesc *d = &c->d;
    dnnl_memory_desc_t user_md;
    dnnl_dims_t wdims = {d->cout, d->cin, d->kh, d->kw};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&user_md, 4, wdims, dnnl_f32, dnnl_hwio));
    dnnl_memory_t user;
    DNNL_CHECK(e, dnnl_memory_create(&user, &user_md, ctx->engine, (void *)w));
    DNNL_CHECK(e, dnnl_memory_create(&c->weights, want, ctx->engine, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder;
    DNNL_CHECK(e, dnnl_reorder_primitive_desc_create(&rpd, &user_md, ctx->engine, want, ctx->engine, NULL));
    DNNL_CHECK(e, dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, c->weights}};
    DNNL_CHECK(e, dnnl_primitive_execute(reorder, ctx->stream, 2, args));
    DNNL_CHECK(e, dnnl_stream_wait(ctx->stream));
    DNNL_CHECK(e, dnnl_primitive_destroy(reorder));
    DNNL_CHECK(e, dnnl_primitive_desc_destroy(rpd));
    DNNL_CHECK(e, dnnl_memory_destroy(user));
    return 0;
}

static int build_conv(CpuCtx *ctx, CpuConv *c, const float *w, const float *bias, Err *e) {
    const ConvDesc *d = &c->d;
    dnnl_memory_desc_t src_md, dst_md, w_any, b_md;
    if (md_act(&src_md, d->n, d->cin, d->h, d->w, d->native_io, e) || md_act(&dst_md, d->n, d->cout, d->oh, d->ow, d->native_io, e))
        return -1;
    if (d->native_io && d->cin % BLOCK) {
        c->nchw = tl_malloc(e, sizeof(float) * (size_t)d->n * d->h * d->w * d->cin, "NCHW input");
        if (!c->nchw) return -1;
    }
    dnnl_dims_t wdims = {d->cout, d->cin, d->kh, d->kw}, bdims = {d->cout};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&w_any, 4, wdims, dnnl_f32, dnnl_format_tag_any));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&b_md, 1, bdims, dnnl_f32, dnnl_x));
    dnnl_dims_t strides = {d->stride, d->stride}, pl = {d->pad_top, d->pad_left}, pr = {d->pad_bottom, d->pad_right};
    dnnl_convolution_desc_t cd;
    DNNL_CHECK(e, dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src_md, &w_any,
                                                     &b_md, &dst_md, strides, pl, pr));
    dnnl_primitive_attr_t attr;
    if (make_post_ops_attr(d, &attr, e)) return -1;
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(e, dnnl_primitive_desc_create(&pd, &cd, attr, ctx->engine, NULL));
    DNNL_CHECK(e, dnnl_primitive_attr_destroy(attr));
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (load_weights(ctx, c, w_md, w, e)) { dnnl_primitive_desc_destroy(pd); return -1; }
    DNNL_CHECK(e, dnnl_memory_create(&c->bias, &b_md, ctx->engine, DNNL_MEMORY_ALLOCATE));
    void *bias_ptr;
    DNNL_CHECK(e, dnnl_memory_get_data_handle(c->bias, &bias_ptr));
    if (bias) memcpy(bias_ptr, bias, sizeof(float) * (size_t)d->cout);
    else memset(bias_ptr, 0, sizeof(float) * (size_t)d->cout);
    DNNL_CHECK(e, dnnl_memory_create(&c->src, &src_md, ctx->engine, DNNL_MEMORY_NONE));
    DNNL_CHECK(e, dnnl_memory_create(&c->dst, &dst_md, ctx->engine, DNNL_MEMORY_NONE));
    DNNL_CHECK(e, dnnl_primitive_create(&c->prim, pd));
    DNNL_CHECK(e, dnnl_primitive_desc_destroy(pd));
    return 0;
}

static void cpu_conv_destroy(Backend *b, void *conv) {
    (void)b;
    CpuConv *c = conv;
    if (!c) return;
    if (c->prim) dnnl_primitive_destroy(c->prim);
    if (c->src) dnnl_memory_destroy(c->src);
    if (c->dst) dnnl_memory_destroy(c->dst);
    if (c->weights) dnnl_memory_destroy(c->weights);
    if (c->bias) dnnl_memory_destroy(c->bias);
    free(c->nchw);
    free(c);
}

static int cpu_conv_create(Backend *b, const ConvDesc *d, const float *w, const float *bias, void **conv, Err *e) {
    CpuConv *c = tl_calloc(e, 1, sizeof *c, "conv");
    if (!c) return -1;
    c->d = *d;
    if (build_conv(b->ctx, c, w, bias, e)) {
        cpu_conv_destroy(b, c);
        return err_context(e, "oneDNN convolution %dx%d/%d %d->%d on %dx%d", d->kh, d->kw, d->stride, d->cin, d->cout, d->h, d->w);
    }
    *conv = c;
    return 0;
}

static void nhwc_to_nchw(const float *x, float *y, int n, int h, int w, int c, int threads) {
#pragma omp parallel for collapse(2) num_threads(threads)
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < h * w; p++) y[((size_t)i * c + ch) * h * w + p] = x[((size_t)i * h * w + p) * c + ch];
}

static int cpu_conv_forward(Backend *b, void *conv, const float *x, const float *res, float *y, Err *e) {
    CpuCtx *ctx = b->ctx;
    CpuConv *c = conv;
    const ConvDesc *d = &c->d;
    /* The sum post-op accumulates into dst, so dst must hold the residual first. */
    if (d->has_residual && res != y) memcpy(y, res, sizeof(float) * (size_t)d->n * d->oh * d->ow * d->cout);
    if (c->nchw) {
        nhwc_to_nchw(x, c->nchw, d->n, d->h, d->w, d->cin, b->threads);
        x = c->nchw;
    }
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->src, (void *)x));
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->dst, y));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_WEIGHTS, c->weights}, {DNNL_ARG_BIAS, c->bias}, {DNNL_ARG_DST, c->dst}};
    DNNL_CHECK(e, dnnl_primitive_execute(c->prim, ctx->stream, 4, args));
    DNNL_CHECK(e, dnnl_stream_wait(ctx->stream));
    return 0;
}

/* Keras: ZeroPadding2D(1) then MaxPooling2D(3, 2, valid); padded zeros take part. */
static int cpu_maxpool(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    (void)e;
    int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
#pragma omp parallel for collapse(2) num_threads(b->threads)
    for (int i = 0; i < n; i++)
        for (int r = 0; r < oh; r++)
            for (int q = 0; q < ow; q++) {
                float *out = y + (((size_t)i * oh + r) * ow + q) * c;
                int padded = 2 * r - 1 < 0 || 2 * q - 1 < 0 || 2 * r + 1 >= h || 2 * q + 1 >= w;
                for (int ch = 0; ch < c; ch++) out[ch] = padded ? 0.0f : -FLT_MAX;
                for (int a = 0; a < 3; a++) {
                    int yy = 2 * r + a - 1;
                    if (yy < 0 || yy >= h) continue;
                    for (int bb = 0; bb < 3; bb++) {
                        int xx = 2 * q + bb - 1;
                        if (xx < 0 || xx >= w) continue;
                        const float *in = x + (((size_t)i * h + yy) * w + xx) * c;
                        for (int ch = 0; ch < c; ch++) out[ch] = in[ch] > out[ch] ? in[ch] : out[ch];
                    }
                }
            }
    return 0;
}

static int cpu_gap(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    (void)e;
#pragma omp parallel for num_threads(b->threads)
    for (int i = 0; i < n; i++) {
        float *out = y + (size_t)i * c;
        for (int ch = 0; ch < c; ch++) out[ch] = 0.0f;
        for (int p = 0; p < h * w; p++) {
            const float *in = x + ((size_t)i * h * w + p) * c;
            for (int ch = 0; ch < c; ch++) out[ch] += in[ch];
        }
        for (int ch = 0; ch < c; ch++) out[ch] /= (float)(h * w);
    }
    return 0;
}

/* In nChw16c each 16-channel block of an image is an NHWC tensor with 16 channels, and
 * the blocks of one image are consecutive: the NHWC pools over n * C/16 "images" of 16
 * channels compute the blocked pools, and the average pool's (n * C/16, 16) output is
 * exactly the plain (n, C). */
static int cpu_maxpool_native(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    return cpu_maxpool(b, x, n * (c / BLOCK), h, w, BLOCK, y, e);
}

static int cpu_gap_native(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    return cpu_gap(b, x, n * (c / BLOCK), h, w, BLOCK, y, e);
}

static void cpu_destroy(Backend *b) {
    CpuCtx *ctx = b->ctx;
    if (ctx) {
        if (ctx->stream) dnnl_stream_destroy(ctx->stream);
        if (ctx->engine) dnnl_engine_destroy(ctx->engine);
        free(ctx);
    }
    free(b);
}

static const BackendOps CPU_OPS = {
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_copy,
    .download = cpu_copy,
    .sync = cpu_sync,
    .conv_create = cpu_conv_create,
    .conv_forward = cpu_conv_forward,
    .conv_destroy = cpu_conv_destroy,
    .maxpool3x3s2 = cpu_maxpool,
    .global_avgpool = cpu_gap,
    .maxpool3x3s2_native = cpu_maxpool_native,
    .global_avgpool_native = cpu_gap_native,
    .destroy = cpu_destroy,
};

int backend_cpu_create(Backend **out, int threads, Err *e) {
    Backend *b = tl_calloc(e, 1, sizeof *b, "backend");
    CpuCtx *ctx = tl_calloc(e, 1, sizeof *ctx, "backend context");
    if (!b || !ctx) { free(b); free(ctx); return -1; }
    /* TL_CPU_LAYOUT=nhwc turns the blocked layout off (for benchmarks and debugging). */
    const char *layout = getenv("TL_CPU_LAYOUT");
    *b = (Backend){.ops = &CPU_OPS, .ctx = ctx, .name = "cpu",
                   .threads = threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN),
                   .native_layout = !(layout && !strcmp(layout, "nhwc")), .train = backend_cpu_train_ops()};
    omp_set_num_threads(b->threads); /* oneDNN's OpenMP runtime reads this */
    openblas_set_num_threads(b->threads); /* the head's GEMMs: one thread budget for both pools */
    dnnl_status_t st = dnnl_engine_create(&ctx->engine, dnnl_cpu, 0);
    if (st == dnnl_success) st = dnnl_stream_create(&ctx->stream, ctx->engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        cpu_destroy(b);
        return err_fail(e, "%s:%d: oneDNN engine/stream creation failed: %s", __FILE__, __LINE__, dnnl_status_name(st));
    }
    *out = b;
    return 0;
}
