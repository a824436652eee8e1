/* The CPU backend in bfloat16 (model.precision: bf16 on the CPU): oneDNN's bf16
 * convolutions on the CPU's matrix units (AMX tiles on Sapphire Rapids and later, AVX-512
 * BF16 dot products on Zen 4 and Cooper Lake and later; oneDNN picks at run time).
 *
 * The frozen backbone: weights folded with BN in float32 by the caller, reordered to bf16
 * once at plan time; activations bf16 between layers in the native layout (nChw16c, as
 * the float32 backend); accumulation in float32 inside oneDNN; bias + residual (sum
 * post-op) + ReLU fused; pooled features returned as float32. A conv with plain I/O
 * (native_io 0, and the image input of the stem) converts float32 NHWC on the way in and
 * out around the very same primitive. Everything else is the wrapped float32 backend's
 * (cpu_bf16.h). On a CPU without bf16 units creation fails: oneDNN would emulate bf16,
 * slower than float32. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/cpu_onednn.h"

enum { BLOCK = 16 };

/* ------------------------------------------------------------------ ports */

static int grow_slot(Bf16Ctx *ctx, int slot, size_t bytes, Err *e) {
    if (bytes <= ctx->slot_bytes[slot]) return 0;
    free(ctx->slot[slot]);
    ctx->slot_bytes[slot] = 0;
    if (posix_memalign(&ctx->slot[slot], 64, bytes) != 0) {
        ctx->slot[slot] = NULL;
        return err_fail(e, "out of memory (bf16 scratch, %zu bytes)", bytes);
    }
    ctx->slot_bytes[slot] = bytes;
    return 0;
}

static int make_reorder(Bf16Ctx *ctx, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, dnnl_primitive_t *r, Err *e) {
    dnnl_primitive_desc_t rpd;
    DNNL_CHECK(e, dnnl_reorder_primitive_desc_create(&rpd, from, ctx->engine, to, ctx->engine, NULL));
    dnnl_status_t st = dnnl_primitive_create(r, rpd);
    dnnl_primitive_desc_destroy(rpd);
    if (st != dnnl_success)
        return err_fail(e, "%s:%d: dnnl_primitive_create(bf16 reorder) failed: %s", __FILE__, __LINE__, dnnl_status_name(st));
    return 0;
}

/* PORT_WEIGHTS: float32 user -> bf16 in the user's layout (same strides) -> want. */
static int plan_mid(Bf16Ctx *ctx, Bf16Port *p, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want, Err *e) {
    dnnl_memory_desc_t mid = *user;
    mid.data_type = dnnl_bf16;
    if (grow_slot(ctx, BF16_SLOT_MID, dnnl_memory_desc_get_size(&mid), e)) return -1;
    DNNL_CHECK(e, dnnl_memory_create(&p->mid, &mid, ctx->engine, DNNL_MEMORY_NONE));
    return make_reorder(ctx, user, &mid, &p->to_mid, e) || make_reorder(ctx, &mid, want, &p->reorder, e) ? -1 : 0;
}

int bf16_port_init(Bf16Ctx *ctx, Bf16Port *p, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want, Bf16PortKind kind,
                   int slot, Err *e) {
    memset(p, 0, sizeof *p);
    p->slot = slot;
    p->kind = kind;
    DNNL_CHECK(e, dnnl_memory_create(&p->user, user, ctx->engine, DNNL_MEMORY_NONE));
    if (dnnl_memory_desc_equal(user, want)) return 0;
    if (grow_slot(ctx, slot, dnnl_memory_desc_get_size(want), e)) return -1;
    DNNL_CHECK(e, dnnl_memory_create(&p->prim, want, ctx->engine, DNNL_MEMORY_NONE));
    if (kind == PORT_WEIGHTS && user->data_type == dnnl_f32 && want->data_type == dnnl_bf16) return plan_mid(ctx, p, user, want, e);
    return kind == PORT_OUT ? make_reorder(ctx, want, user, &p->reorder, e) : make_reorder(ctx, user, want, &p->reorder, e);
}

int bf16_execute(Bf16Ctx *ctx, dnnl_primitive_t prim, int n_args, const dnnl_exec_arg_t *args, Err *e) {
    DNNL_CHECK(e, dnnl_primitive_execute(prim, ctx->stream, n_args, args));
    DNNL_CHECK(e, dnnl_stream_wait(ctx->stream));
    return 0;
}

/* Both directions: the caller's pointer on the user side, the slot on the primitive side. */
static int port_bind(Bf16Ctx *ctx, Bf16Port *p, const void *data, dnnl_memory_t *mem, Err *e) {
    DNNL_CHECK(e, dnnl_memory_set_data_handle(p->user, (void *)data));
    *mem = p->user;
    if (!p->reorder) return 0;
    DNNL_CHECK(e, dnnl_memory_set_data_handle(p->prim, ctx->slot[p->slot]));
    *mem = p->prim;
    return 0;
}

int bf16_port_in(Bf16Ctx *ctx, Bf16Port *p, const void *data, dnnl_memory_t *mem, Err *e) {
    if (port_bind(ctx, p, data, mem, e)) return -1;
    if (!p->reorder) return 0;
    dnnl_memory_t from = p->user;
    if (p->to_mid) {
        DNNL_CHECK(e, dnnl_memory_set_data_handle(p->mid, ctx->slot[BF16_SLOT_MID]));
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, p->user}, {DNNL_ARG_TO, p->mid}};
        if (bf16_execute(ctx, p->to_mid, 2, args, e)) return -1;
        from = p->mid;
    }
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, p->prim}};
    return bf16_execute(ctx, p->reorder, 2, args, e);
}

int bf16_port_out(Bf16Ctx *ctx, Bf16Port *p, void *data, dnnl_memory_t *mem, Err *e) {
    return port_bind(ctx, p, data, mem, e);
}

int bf16_port_flush(Bf16Ctx *ctx, Bf16Port *p, Err *e) {
    if (!p->reorder) return 0;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, p->prim}, {DNNL_ARG_TO, p->user}};
    return bf16_execute(ctx, p->reorder, 2, args, e);
}

void bf16_port_free(Bf16Port *p) {
    if (p->to_mid) dnnl_primitive_destroy(p->to_mid);
    if (p->mid) dnnl_memory_destroy(p->mid);
    if (p->reorder) dnnl_primitive_destroy(p->reorder);
    if (p->prim) dnnl_memory_destroy(p->prim);
    if (p->user) dnnl_memory_destroy(p->user);
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------ convolution */

/* Ports: in/out between plain float32 NHWC and the primitive's bf16 src/dst (unused when
 * both sides are native); res carries a plain residual into dst's slot for the sum post-op. */
typedef struct Bf16Conv {
    ConvDesc d;
    dnnl_primitive_t prim;
    dnnl_memory_t weights, bias, src, dst;   /* src/dst: native handles, set per call */
    Bf16Port in, res, out;
    int plain_in, plain_out;
    size_t dst_bytes;                        /* of the native dst */
} Bf16Conv;

enum { SLOT_IN = 0, SLOT_OUT = 1 };

static int md_plain(dnnl_memory_desc_t *md, int n, int c, int h, int w, Err *e) {
    dnnl_dims_t dims = {n, c, h, w};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nhwc));
    return 0;
}

/* bf16 activations in the native layout; the image (fewer than 16 channels) in whatever
 * layout the primitive picks (the port converts it). */
static int md_bf16(const Bf16Ctx *ctx, dnnl_memory_desc_t *md, int n, int c, int h, int w, Err *e) {
    dnnl_dims_t dims = {n, c, h, w};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_bf16, c % BLOCK ? dnnl_format_tag_any : ctx->native));
    return 0;
}

/* A new memory of to_md holding host float32 weights `from` (from_md), reordered once. */
static int reorder_once(Bf16Ctx *ctx, const dnnl_memory_desc_t *from_md, const void *from, const dnnl_memory_desc_t *to_md,
                        dnnl_memory_t *to, Err *e) {
    Bf16Port p;
    dnnl_memory_t m;
    void *dst;
    DNNL_CHECK(e, dnnl_memory_create(to, to_md, ctx->engine, DNNL_MEMORY_ALLOCATE));
    DNNL_CHECK(e, dnnl_memory_get_data_handle(*to, &dst));
    int rc = bf16_port_init(ctx, &p, from_md, to_md, PORT_WEIGHTS, SLOT_IN, e) || bf16_port_in(ctx, &p, from, &m, e) ? -1 : 0;
    if (rc == 0) memcpy(dst, p.reorder ? ctx->slot[SLOT_IN] : from, dnnl_memory_desc_get_size(to_md));
    bf16_port_free(&p);
    return rc;
}

static int load_params(Bf16Ctx *ctx, Bf16Conv *c, const_dnnl_primitive_desc_t pd, const float *w, const float *bias, Err *e) {
    const ConvDesc *d = &c->d;
    dnnl_memory_desc_t user_w, b_md;
    dnnl_dims_t wdims = {d->cout, d->cin, d->kh, d->kw}, bdims = {d->cout};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&user_w, 4, wdims, dnnl_f32, dnnl_hwio));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&b_md, 1, bdims, dnnl_f32, dnnl_x));
    if (reorder_once(ctx, &user_w, w, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), &c->weights, e)) return -1;
    DNNL_CHECK(e, dnnl_memory_create(&c->bias, &b_md, ctx->engine, DNNL_MEMORY_ALLOCATE));
    void *bias_ptr;
    DNNL_CHECK(e, dnnl_memory_get_data_handle(c->bias, &bias_ptr));
    if (bias) memcpy(bias_ptr, bias, sizeof(float) * (size_t)d->cout);
    else memset(bias_ptr, 0, sizeof(float) * (size_t)d->cout);
    return 0;
}

/* The plain-I/O ports around the primitive, and its native src/dst handles. */
static int plan_ports(Bf16Ctx *ctx, Bf16Conv *c, const_dnnl_primitive_desc_t pd, Err *e) {
    const ConvDesc *d = &c->d;
    const dnnl_memory_desc_t *src = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    dnnl_memory_desc_t plain_src, plain_dst;
    c->plain_in = !d->native_io || d->cin % BLOCK;
    c->plain_out = !d->native_io;
    c->dst_bytes = dnnl_memory_desc_get_size(dst);
    if (md_plain(&plain_src, d->n, d->cin, d->h, d->w, e) || md_plain(&plain_dst, d->n, d->cout, d->oh, d->ow, e)) return -1;
    if (c->plain_in && bf16_port_init(ctx, &c->in, &plain_src, src, PORT_IN, SLOT_IN, e)) return -1;
    if (c->plain_out && (bf16_port_init(ctx, &c->out, &plain_dst, dst, PORT_OUT, SLOT_OUT, e) ||
                         (d->has_residual && bf16_port_init(ctx, &c->res, &plain_dst, dst, PORT_IN, SLOT_OUT, e))))
        return -1;
    DNNL_CHECK(e, dnnl_memory_create(&c->src, src, ctx->engine, DNNL_MEMORY_NONE));
    DNNL_CHECK(e, dnnl_memory_create(&c->dst, dst, ctx->engine, DNNL_MEMORY_NONE));
    return 0;
}

static int build_conv(Backend *b, Bf16Conv *c, const float *w, const float *bias, Err *e) {
    Bf16Ctx *ctx = b->ctx;
    const ConvDesc *d = &c->d;
    dnnl_memory_desc_t src_md, dst_md;
    if (md_bf16(ctx, &src_md, d->n, d->cin, d->h, d->w, e) || md_bf16(ctx, &dst_md, d->n, d->cout, d->oh, d->ow, e)) return -1;
    dnnl_primitive_desc_t pd;
    if (cpu_conv_inference_pd(ctx->engine, d, &src_md, &dst_md, dnnl_bf16, &pd, e)) return err_context(e, "bf16 convolution");
    cpu_note_kernel(b->kernels, sizeof b->kernels, pd);
    int rc = load_params(ctx, c, pd, w, bias, e) || plan_ports(ctx, c, pd, e) ? -1 : 0;
    if (rc == 0 && dnnl_primitive_create(&c->prim, pd) != dnnl_success) rc = err_fail(e, "bf16 convolution: primitive creation failed");
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

static void bf16_conv_destroy(Backend *b, void *conv) {
    (void)b;
    Bf16Conv *c = conv;
    if (!c) return;
    if (c->prim) dnnl_primitive_destroy(c->prim);
    dnnl_memory_t mems[4] = {c->weights, c->bias, c->src, c->dst};
    for (int i = 0; i < 4; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    bf16_port_free(&c->in);
    bf16_port_free(&c->res);
    bf16_port_free(&c->out);
    free(c);
}

static int bf16_conv_create(Backend *b, const ConvDesc *d, const float *w, const float *bias, void **conv, Err *e) {
    Bf16Conv *c = tl_calloc(e, 1, sizeof *c, "conv");
    if (!c) return -1;
    c->d = *d;
    if (build_conv(b, c, w, bias, e)) {
        bf16_conv_destroy(b, c);
        return err_context(e, "oneDNN bf16 convolution %dx%d/%d %d->%d on %dx%d", d->kh, d->kw, d->stride, d->cin, d->cout, d->h,
                           d->w);
    }
    *conv = c;
    return 0;
}

/* Native dst: the sum post-op accumulates into dst, so dst holds the residual first.
 * Plain dst: the residual is converted into dst's slot and the result converted out. */
static int bind_dst(Bf16Ctx *ctx, Bf16Conv *c, const float *res, float *y, dnnl_memory_t *dst, Err *e) {
    if (!c->plain_out) {
        if (c->d.has_residual && res != y) memcpy(y, res, c->dst_bytes);
        DNNL_CHECK(e, dnnl_memory_set_data_handle(c->dst, y));
        *dst = c->dst;
        return 0;
    }
    dnnl_memory_t r;
    if (c->d.has_residual && bf16_port_in(ctx, &c->res, res, &r, e)) return -1;
    return bf16_port_out(ctx, &c->out, y, dst, e);
}

static int bf16_conv_forward(Backend *b, void *conv, const float *x, const float *res, float *y, Err *e) {
    Bf16Ctx *ctx = b->ctx;
    Bf16Conv *c = conv;
    dnnl_memory_t src = c->src, dst;
    if (c->plain_in) {
        if (bf16_port_in(ctx, &c->in, x, &src, e)) return -1;
    } else {
        DNNL_CHECK(e, dnnl_memory_set_data_handle(c->src, (void *)x));
    }
    if (bind_dst(ctx, c, res, y, &dst, e)) return -1;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, c->weights}, {DNNL_ARG_BIAS, c->bias}, {DNNL_ARG_DST, dst}};
    if (bf16_execute(ctx, c->prim, 4, args, e)) return -1;
    return c->plain_out ? bf16_port_flush(ctx, &c->out, e) : 0;
}

/* ------------------------------------------------------------------ pools */

/* An activation in the native layout as an NHWC tensor of (images, channels): nChw16c's
 * 16-channel blocks of one image are consecutive NHWC tensors of 16 channels. */
static void native_as_nhwc(const Bf16Ctx *ctx, int n, int c, int *images, int *channels) {
    int blocked = ctx->native != dnnl_nhwc;
    *images = blocked ? n * (c / BLOCK) : n;
    *channels = blocked ? BLOCK : c;
}

/* The loops below run only on CPUs with AVX-512 BF16 (the backend refuses others), so they
 * are compiled for AVX-512 whatever the build's baseline. */
#define AVX512 __attribute__((target("avx512f,avx512bw")))

/* Keras ZeroPadding2D(1) + MaxPooling2D(3, 2) on post-ReLU bf16. Values >= 0 order like
 * their bits read as int16; negative ones (and -0) read as negative int16s and lose to
 * the pad's 0, as in Keras, so the pool is an integer max from 0. One output row r of an
 * image x (h, w, c) -> out (ow, c), channels in chunks of CHUNK held in registers; inlined
 * with c = 16 (a block of nChw16c: one vector, the loops unrolled) and with any c. */
enum { CHUNK = 64 };
static inline __attribute__((always_inline)) void maxpool_row(const int16_t *restrict x, int h, int w, int c, int r,
                                                               int16_t *restrict out) {
    int ow = (w + 2 - 3) / 2 + 1, y0 = 2 * r - 1 < 0 ? 0 : 2 * r - 1, y1 = 2 * r + 1 < h ? 2 * r + 1 : h - 1;
    for (int q = 0; q < ow; q++) {
        int x0 = 2 * q - 1 < 0 ? 0 : 2 * q - 1, x1 = 2 * q + 1 < w ? 2 * q + 1 : w - 1;
        for (int c0 = 0; c0 < c; c0 += CHUNK) {
            int nc = c - c0 < CHUNK ? c - c0 : CHUNK;
            int16_t best[CHUNK] = {0};
            for (int yy = y0; yy <= y1; yy++)
                for (int xx = x0; xx <= x1; xx++) {
                    const int16_t *restrict in = x + ((size_t)yy * w + xx) * c + c0;
                    for (int k = 0; k < nc; k++) best[k] = in[k] > best[k] ? in[k] : best[k];
                }
            memcpy(out + (size_t)q * c + c0, best, (size_t)nc * sizeof *best);
        }
    }
}

AVX512 static void maxpool_bf16(const int16_t *x, int n, int h, int w, int c, int16_t *y, int threads) {
    int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
#pragma omp parallel for collapse(2) num_threads(threads)
    for (int i = 0; i < n; i++)
        for (int r = 0; r < oh; r++) {
            const int16_t *img = x + (size_t)i * h * w * c;
            int16_t *out = y + ((size_t)i * oh + r) * ow * c;
            if (c == 16) maxpool_row(img, h, w, 16, r, out);
            else maxpool_row(img, h, w, c, r, out);
        }
}

static int bf16_maxpool_native(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    (void)e;
    int images, channels;
    native_as_nhwc(b->ctx, n, c, &images, &channels);
    maxpool_bf16((const int16_t *)x, images, h, w, channels, (int16_t *)y, b->threads);
    return 0;
}

/* Mean over h*w in float32: (images, h, w, c) bf16 -> (images, c) float32. */
AVX512 static int bf16_gap_native(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    (void)e;
    int images, channels;
    native_as_nhwc(b->ctx, n, c, &images, &channels);
    const uint16_t *in = (const uint16_t *)x;
#pragma omp parallel for num_threads(b->threads)
    for (int i = 0; i < images; i++) {
        float *out = y + (size_t)i * channels;
        for (int ch = 0; ch < channels; ch++) out[ch] = 0.0f;
        for (int p = 0; p < h * w; p++) {
            const uint16_t *px = in + ((size_t)i * h * w + p) * channels;
            for (int ch = 0; ch < channels; ch++) out[ch] += bf16_to_f32(px[ch]);
        }
        for (int ch = 0; ch < channels; ch++) out[ch] /= (float)(h * w);
    }
    return 0;
}

/* ---------------------------------------- the float32 backend's other ops */

static Backend *inner(Backend *b) { return ((Bf16Ctx *)b->ctx)->fp32; }
static int fw_alloc(Backend *b, size_t bytes, void **ptr, Err *e) { return inner(b)->ops->alloc(inner(b), bytes, ptr, e); }
static void fw_release(Backend *b, void *ptr) { inner(b)->ops->release(inner(b), ptr); }
static int fw_upload(Backend *b, void *dst, const void *src, size_t bytes, Err *e) {
    return inner(b)->ops->upload(inner(b), dst, src, bytes, e);
}
static int fw_download(Backend *b, void *dst, const void *src, size_t bytes, Err *e) {
    return inner(b)->ops->download(inner(b), dst, src, bytes, e);
}
static int fw_sync(Backend *b, Err *e) { return inner(b)->ops->sync(inner(b), e); }
static int fw_maxpool(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    return inner(b)->ops->maxpool3x3s2(inner(b), x, n, h, w, c, y, e);
}
static int fw_gap(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    return inner(b)->ops->global_avgpool(inner(b), x, n, h, w, c, y, e);
}

static void bf16_destroy(Backend *b) {
    Bf16Ctx *ctx = b->ctx;
    if (ctx) {
        for (int i = 0; i < BF16_SLOTS; i++) free(ctx->slot[i]);
        if (ctx->stream) dnnl_stream_destroy(ctx->stream);
        if (ctx->engine) dnnl_engine_destroy(ctx->engine);
        backend_destroy(ctx->fp32);
        free(ctx);
    }
    free(b);
}

/* oneDNN's choice of dst layout and kernel for a ResNet 3x3 convolution in bf16 (conv3's
 * _2_conv at 224 px, batch 32) when the layouts are left to it. */
static int probe_layout(Bf16Ctx *ctx, int *nhwc, int *amx, Err *e) {
    dnnl_memory_desc_t src, w, bias, dst, plain;
    dnnl_dims_t dims = {32, 128, 28, 28}, wdims = {128, 128, 3, 3}, bdims = {128}, strides = {1, 1}, pad = {1, 1};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&src, 4, dims, dnnl_bf16, dnnl_format_tag_any));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&dst, 4, dims, dnnl_bf16, dnnl_format_tag_any));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&w, 4, wdims, dnnl_bf16, dnnl_format_tag_any));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&bias, 1, bdims, dnnl_f32, dnnl_x));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&plain, 4, dims, dnnl_bf16, dnnl_nhwc));
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd;
    const char *impl = "";
    DNNL_CHECK(e, dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src, &w, &bias, &dst,
                                                     strides, pad, pad));
    DNNL_CHECK(e, dnnl_primitive_desc_create(&pd, &cd, NULL, ctx->engine, NULL));
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    *amx = strstr(impl, "amx") != NULL;
    *nhwc = dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), &plain);
    dnnl_primitive_desc_destroy(pd);
    return 0;
}

/* The bf16 activation layout between layers. On AVX-512 BF16, nChw16c: oneDNN 2.6's direct
 * bf16 kernels there run 3% faster than the channels-last brgemm ones it would pick (1.16 vs
 * 1.20 s of CPU per 32 images on Zen 4). With AMX, the layout oneDNN picks (its AMX kernels
 * are channels-last). TL_CPU_LAYOUT=nhwc forces channels-last (benchmarks, debugging). */
static int pick_layout(Bf16Ctx *ctx, Err *e) {
    const char *layout = getenv("TL_CPU_LAYOUT");
    int nhwc = 0, amx = 0;
    if (probe_layout(ctx, &nhwc, &amx, e)) return err_context(e, "bf16 layout");
    ctx->native = (layout && !strcmp(layout, "nhwc")) || (amx && nhwc) ? dnnl_nhwc : dnnl_nChw16c;
    return 0;
}

static const BackendOps BF16_OPS = {
    .alloc = fw_alloc,
    .release = fw_release,
    .upload = fw_upload,
    .download = fw_download,
    .sync = fw_sync,
    .conv_create = bf16_conv_create,
    .conv_forward = bf16_conv_forward,
    .conv_destroy = bf16_conv_destroy,
    .maxpool3x3s2 = fw_maxpool,
    .global_avgpool = fw_gap,
    .maxpool3x3s2_native = bf16_maxpool_native,
    .global_avgpool_native = bf16_gap_native,
    .destroy = bf16_destroy,
};

int backend_cpu_bf16_create(Backend **out, int threads, Err *e) {
    if (backend_cpu_bf16_check(e)) return err_context(e, "model.precision bf16 on the CPU");
    Backend *b = tl_calloc(e, 1, sizeof *b, "backend");
    Bf16Ctx *ctx = tl_calloc(e, 1, sizeof *ctx, "backend context");
    if (!b || !ctx) { free(b); free(ctx); return -1; }
    /* caps: bf16 numbers differ from float32 ones, so the cache keys name the precision. */
    *b = (Backend){.ops = &BF16_OPS, .ctx = ctx, .name = "cpu", .caps = BACKEND_CAP_PRECISION, .train = &ctx->train};
    cpu_bf16_train_ops(&ctx->train);
    if (backend_cpu_create(&ctx->fp32, threads, e)) { bf16_destroy(b); return -1; }
    b->threads = ctx->fp32->threads;
    dnnl_status_t st = dnnl_engine_create(&ctx->engine, dnnl_cpu, 0);
    if (st == dnnl_success) st = dnnl_stream_create(&ctx->stream, ctx->engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        bf16_destroy(b);
        return err_fail(e, "%s:%d: oneDNN engine/stream creation failed: %s", __FILE__, __LINE__, dnnl_status_name(st));
    }
    if (pick_layout(ctx, e)) { bf16_destroy(b); return -1; }
    /* Always native (bf16 activations are opaque to the float32 ops); 1 nChw16c, 2 NHWC:
     * the value enters the cache keys, and the two layouts' kernels sum differently. */
    b->native_layout = ctx->native == dnnl_nhwc ? 2 : 1;
    *out = b;
    return 0;
}
