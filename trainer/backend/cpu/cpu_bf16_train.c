/* Training convolutions of the bfloat16 CPU backend: the mixed-precision recipe. The
 * caller's tensors stay float32 (activations NHWC, master weights HWIO, gradients, BN,
 * the optimizer); each convolution rounds its inputs to bf16 on the way in (x and w
 * forward, dy and w backward-data, x and dy backward-weights), multiplies on the bf16
 * units with float32 accumulation, and writes float32 (y, dx, dw, dbias). Every other
 * training op is the float32 CPU backend's (cpu_train.c).
 *
 * Formats: the bf16 sides are "any" (oneDNN picks its fastest), the float32 sides are the
 * caller's; a port (cpu_bf16.h) reorders between them per call. Slots per call:
 *   forward          x -> 0, w -> 1, y <- 2
 *   backward data    dy -> 0, w -> 1, dx <- 2
 *   backward weights x -> 0, dy -> 2, dw <- 1 */
#include <omp.h>
#include <stdlib.h>

#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/cpu_onednn.h"

typedef struct Bf16TrainConv {
    ConvDesc d;
    dnnl_primitive_t fwd, bwd_data, bwd_weights;
    Bf16Port fwd_x, fwd_w, fwd_y, bd_dy, bd_w, bd_dx, bw_x, bw_dy, bw_dw;
    dnnl_memory_t bias, diff_bias;   /* float32 (cout), handles set per call */
} Bf16TrainConv;

/* The caller's float32 descriptors and the "any" ones of one convolution (with float32
 * NHWC outputs oneDNN 2.6 falls back to its reference kernel; with "any" it picks the
 * blocked layouts of its bf16 kernels and the ports convert). */
typedef struct TrainMds {
    dnnl_memory_desc_t x, y, w, bias;             /* float32: NHWC, NHWC, HWIO, (cout) */
    dnnl_memory_desc_t x16, y16, w16;             /* bf16, format any */
    dnnl_memory_desc_t x32, y32;                  /* float32, format any: y and dx as the kernel writes them */
    dnnl_dims_t strides, pad_l, pad_r;
} TrainMds;

static int train_mds(const ConvDesc *d, TrainMds *m, Err *e) {
    dnnl_dims_t xd = {d->n, d->cin, d->h, d->w}, yd = {d->n, d->cout, d->oh, d->ow}, wd = {d->cout, d->cin, d->kh, d->kw};
    dnnl_dims_t bd = {d->cout};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&m->x, 4, xd, dnnl_f32, dnnl_nhwc));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&m->y, 4, yd, dnnl_f32, dnnl_nhwc));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&m->w, 4, wd, dnnl_f32, dnnl_hwio));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&m->bias, 1, bd, dnnl_f32, dnnl_x));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&m->x16, 4, xd, dnnl_bf16, dnnl_format_tag_any));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&m->y16, 4, yd, dnnl_bf16, dnnl_format_tag_any));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&m->w16, 4, wd, dnnl_bf16, dnnl_format_tag_any));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&m->x32, 4, xd, dnnl_f32, dnnl_format_tag_any));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&m->y32, 4, yd, dnnl_f32, dnnl_format_tag_any));
    m->strides[0] = m->strides[1] = d->stride;
    m->pad_l[0] = d->pad_top, m->pad_l[1] = d->pad_left;
    m->pad_r[0] = d->pad_bottom, m->pad_r[1] = d->pad_right;
    return 0;
}

static const dnnl_memory_desc_t *md_of(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

/* Creates the primitive of pd (the caller destroys pd) and notes its implementation. */
static int make_prim(Backend *b, const_dnnl_primitive_desc_t pd, dnnl_primitive_t *prim, Err *e) {
    cpu_note_kernel(b->kernels, sizeof b->kernels, pd);
    DNNL_CHECK(e, dnnl_primitive_create(prim, pd));
    return 0;
}

static int plan_forward(Backend *b, Bf16TrainConv *c, const TrainMds *m, dnnl_primitive_desc_t *fwd_pd, Err *e) {
    Bf16Ctx *ctx = b->ctx;
    dnnl_convolution_desc_t cd;
    DNNL_CHECK(e, dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, &m->x16, &m->w16,
                                                     &m->bias, &m->y32, m->strides, m->pad_l, m->pad_r));
    DNNL_CHECK(e, dnnl_primitive_desc_create(fwd_pd, &cd, NULL, ctx->engine, NULL));
    if (bf16_port_init(ctx, &c->fwd_x, &m->x, md_of(*fwd_pd, dnnl_query_src_md), PORT_IN, 0, e) ||
        bf16_port_init(ctx, &c->fwd_w, &m->w, md_of(*fwd_pd, dnnl_query_weights_md), PORT_WEIGHTS, 1, e) ||
        bf16_port_init(ctx, &c->fwd_y, &m->y, md_of(*fwd_pd, dnnl_query_dst_md), PORT_OUT, 2, e))
        return -1;
    return make_prim(b, *fwd_pd, &c->fwd, e);
}

static int plan_backward_data(Backend *b, Bf16TrainConv *c, const TrainMds *m, const_dnnl_primitive_desc_t fwd_pd, Err *e) {
    Bf16Ctx *ctx = b->ctx;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(e, dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &m->x32, &m->w16, &m->y16, m->strides,
                                                           m->pad_l, m->pad_r));
    DNNL_CHECK(e, dnnl_primitive_desc_create(&pd, &cd, NULL, ctx->engine, fwd_pd));
    int rc = bf16_port_init(ctx, &c->bd_dy, &m->y, md_of(pd, dnnl_query_diff_dst_md), PORT_IN, 0, e) ||
             bf16_port_init(ctx, &c->bd_w, &m->w, md_of(pd, dnnl_query_weights_md), PORT_WEIGHTS, 1, e) ||
             bf16_port_init(ctx, &c->bd_dx, &m->x, md_of(pd, dnnl_query_diff_src_md), PORT_OUT, 2, e) ||
             make_prim(b, pd, &c->bwd_data, e);
    dnnl_primitive_desc_destroy(pd);
    return rc ? -1 : 0;
}

static int plan_backward_weights(Backend *b, Bf16TrainConv *c, const TrainMds *m, const_dnnl_primitive_desc_t fwd_pd, Err *e) {
    Bf16Ctx *ctx = b->ctx;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd;
    dnnl_memory_desc_t dw_any;
    dnnl_dims_t wd = {c->d.cout, c->d.cin, c->d.kh, c->d.kw};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&dw_any, 4, wd, dnnl_f32, dnnl_format_tag_any));
    DNNL_CHECK(e, dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &m->x16, &dw_any, &m->bias, &m->y16,
                                                              m->strides, m->pad_l, m->pad_r));
    DNNL_CHECK(e, dnnl_primitive_desc_create(&pd, &cd, NULL, ctx->engine, fwd_pd));
    int rc = bf16_port_init(ctx, &c->bw_x, &m->x, md_of(pd, dnnl_query_src_md), PORT_IN, 0, e) ||
             bf16_port_init(ctx, &c->bw_dy, &m->y, md_of(pd, dnnl_query_diff_dst_md), PORT_IN, 2, e) ||
             bf16_port_init(ctx, &c->bw_dw, &m->w, md_of(pd, dnnl_query_diff_weights_md), PORT_OUT, 1, e) ||
             make_prim(b, pd, &c->bwd_weights, e);
    dnnl_primitive_desc_destroy(pd);
    return rc ? -1 : 0;
}

static void bf16_conv_plan_destroy(Backend *b, void *plan) {
    (void)b;
    Bf16TrainConv *c = plan;
    if (!c) return;
    dnnl_primitive_t prims[3] = {c->fwd, c->bwd_data, c->bwd_weights};
    for (int i = 0; i < 3; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    Bf16Port *ports[9] = {&c->fwd_x, &c->fwd_w, &c->fwd_y, &c->bd_dy, &c->bd_w, &c->bd_dx, &c->bw_x, &c->bw_dy, &c->bw_dw};
    for (int i = 0; i < 9; i++) bf16_port_free(ports[i]);
    if (c->bias) dnnl_memory_destroy(c->bias);
    if (c->diff_bias) dnnl_memory_destroy(c->diff_bias);
    free(c);
}

static int build_plan(Backend *b, Bf16TrainConv *c, Err *e) {
    Bf16Ctx *ctx = b->ctx;
    TrainMds m;
    if (train_mds(&c->d, &m, e)) return -1;
    DNNL_CHECK(e, dnnl_memory_create(&c->bias, &m.bias, ctx->engine, DNNL_MEMORY_NONE));
    DNNL_CHECK(e, dnnl_memory_create(&c->diff_bias, &m.bias, ctx->engine, DNNL_MEMORY_NONE));
    dnnl_primitive_desc_t fwd_pd = NULL;
    int rc = plan_forward(b, c, &m, &fwd_pd, e) || plan_backward_data(b, c, &m, fwd_pd, e) ||
             plan_backward_weights(b, c, &m, fwd_pd, e);
    if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
    return rc ? -1 : 0;
}

static int bf16_conv_plan_create(Backend *b, const ConvDesc *d, void **plan, Err *e) {
    if (d->has_residual || d->relu) return err_fail(e, "training convolution: no fused residual or ReLU");
    Bf16TrainConv *c = tl_calloc(e, 1, sizeof *c, "training conv plan");
    if (!c) return -1;
    c->d = *d;
    if (build_plan(b, c, e)) {
        bf16_conv_plan_destroy(b, c);
        return err_context(e, "oneDNN bf16 training convolution %dx%d/%d %d->%d on %dx%d", d->kh, d->kw, d->stride, d->cin,
                           d->cout, d->h, d->w);
    }
    *plan = c;
    return 0;
}

static int bf16_conv_plan_forward(Backend *b, void *plan, const float *x, const float *w, const float *bias, float *y, Err *e) {
    Bf16Ctx *ctx = b->ctx;
    Bf16TrainConv *c = plan;
    dnnl_memory_t xm, wm, ym;
    if (bf16_port_in(ctx, &c->fwd_x, x, &xm, e) || bf16_port_in(ctx, &c->fwd_w, w, &wm, e) ||
        bf16_port_out(ctx, &c->fwd_y, y, &ym, e))
        return -1;
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->bias, (void *)bias));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, c->bias}, {DNNL_ARG_DST, ym}};
    return bf16_execute(ctx, c->fwd, 4, args, e) || bf16_port_flush(ctx, &c->fwd_y, e) ? -1 : 0;
}

static int bf16_conv_backward_data(Backend *b, void *plan, const float *dy, const float *w, float *dx, Err *e) {
    Bf16Ctx *ctx = b->ctx;
    Bf16TrainConv *c = plan;
    dnnl_memory_t dym, wm, dxm;
    if (bf16_port_in(ctx, &c->bd_dy, dy, &dym, e) || bf16_port_in(ctx, &c->bd_w, w, &wm, e) ||
        bf16_port_out(ctx, &c->bd_dx, dx, &dxm, e))
        return -1;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, dxm}};
    return bf16_execute(ctx, c->bwd_data, 3, args, e) || bf16_port_flush(ctx, &c->bd_dx, e) ? -1 : 0;
}

static int bf16_conv_backward_weights(Backend *b, void *plan, const float *x, const float *dy, float *dw, float *dbias,
                                      Err *e) {
    Bf16Ctx *ctx = b->ctx;
    Bf16TrainConv *c = plan;
    dnnl_memory_t xm, dym, dwm;
    if (bf16_port_in(ctx, &c->bw_x, x, &xm, e) || bf16_port_in(ctx, &c->bw_dy, dy, &dym, e) ||
        bf16_port_out(ctx, &c->bw_dw, dw, &dwm, e))
        return -1;
    DNNL_CHECK(e, dnnl_memory_set_data_handle(c->diff_bias, dbias));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_DIFF_WEIGHTS, dwm},
                               {DNNL_ARG_DIFF_BIAS, c->diff_bias}};
    return bf16_execute(ctx, c->bwd_weights, 4, args, e) || bf16_port_flush(ctx, &c->bw_dw, e) ? -1 : 0;
}

/* The backbone's bf16 native activation (cpu_bf16.c: nChw16c, or NHWC) -> float32 NHWC,
 * exact (compiled for AVX-512: the backend runs only on CPUs with AVX-512 BF16). nChw16c element (n, c, h, w) sits at (((n * C/16 + c/16) * H + h) * W + w) * 16 + c%16. */
__attribute__((target("avx512f,avx512bw"))) static int bf16_native_to_nhwc(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    enum { BLOCK = 16 };
    const Bf16Ctx *ctx = b->ctx;
    const uint16_t *in = (const uint16_t *)x;
    int block = ctx->native == dnnl_nhwc ? c : BLOCK;
    if (c % block) return err_fail(e, "native_to_nhwc: %d channels are not in 16-channel blocks", c);
    int blocks = c / block;
#pragma omp parallel for collapse(2) num_threads(b->threads) schedule(static)
    for (int i = 0; i < n; i++)
        for (int r = 0; r < h; r++)
            for (int cb = 0; cb < blocks; cb++) {
                const uint16_t *src = in + (((size_t)i * blocks + cb) * h + r) * w * block;
                float *dst = y + ((size_t)i * h + r) * w * c + (size_t)cb * block;
                for (int q = 0; q < w; q++)
                    for (int k = 0; k < block; k++) dst[(size_t)q * c + k] = bf16_to_f32(src[(size_t)q * block + k]);
            }
    return 0;
}

void cpu_bf16_train_ops(BackendTrainOps *ops) {
    *ops = *backend_cpu_train_ops();
    ops->conv_plan_create = bf16_conv_plan_create;
    ops->conv_plan_forward = bf16_conv_plan_forward;
    ops->conv_backward_data = bf16_conv_backward_data;
    ops->conv_backward_weights = bf16_conv_backward_weights;
    ops->conv_plan_destroy = bf16_conv_plan_destroy;
    ops->native_to_nhwc = bf16_native_to_nhwc;
}
