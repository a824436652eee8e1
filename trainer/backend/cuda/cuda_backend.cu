/* CUDA backend: cuDNN convolutions (legacy API; NHWC tensors, KRSC filters) and a few
 * small kernels (conv epilogue, pooling, float -> half conversion). Every op is queued
 * on the backend's one stream; only download and sync wait for the device.
 *
 * Precision. The interface is float32 at every boundary: x, res, y of a conv, pooling
 * inputs and outputs, uploads and downloads are float32 tensors in device memory.
 *   fp32       cuDNN in float with CUDNN_FMA_MATH: no tensor cores, plain float32 math.
 *   tf32       cuDNN in float with CUDNN_DEFAULT_MATH: tensor cores round inputs to tf32.
 *   fp16/bf16  weights are stored in half (fp16 or bf16). A conv reads a half copy of x,
 *              cuDNN accumulates in float and writes its result in half, then the
 *              epilogue adds bias and residual (float32) in float, applies the ReLU and
 *              writes y in float32 and also a half copy of y. These half copies
 *              ("shadows") are kept per float32 tensor: a conv whose x already has one
 *              (the previous conv's y, or an input another conv converted, such as a
 *              block input read by both the 1x1 conv and the projection shortcut) reads
 *              it instead of converting x again. A shadow is exactly half(tensor), so it
 *              is a pure cache: results are the same bits with or without it. Any write
 *              to float32 memory through the backend (upload, pooling, a conv's y) marks
 *              the overlapping shadows stale; release frees them. Pooling always runs in
 *              float32.
 * Algorithm choice: cuDNN's heuristics (cudnnGetConvolutionForwardAlgorithm_v7), which
 * pick the same algorithm every run, so the same inputs give the same numbers; set
 * TL_CUDNN_FIND=1 to time the algorithms instead (cudnnFindConvolutionForwardAlgorithm,
 * faster, but the choice, and so the last bits, can change between runs).
 * One device per backend; the backend selects it at the start of every op. */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cudnn.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_internal.h"
#include "core/parallel_copy.h"

extern "C" {
#include "backend/backend.h"
}

/* Each of the two pinned host buffers: a batch of 32 float32 224x224 images (19 MB)
 * fits in both, so its upload does not wait for work queued before it. */
static const size_t STAGING_BYTES = (size_t)16 << 20;

typedef struct CudaConv {
    ConvDesc d;
    cudnnTensorDescriptor_t x_desc;         /* (n, cin, h, w) in NHWC */
    cudnnTensorDescriptor_t y_desc;         /* (n, cout, oh, ow) in NHWC */
    cudnnFilterDescriptor_t w_desc;         /* (cout, cin, kh, kw) in NHWC = KRSC */
    cudnnConvolutionDescriptor_t conv_desc;
    cudnnConvolutionFwdAlgo_t algo;
    size_t workspace_bytes;
    void *w;                                /* device KRSC, float32 or half */
    float *bias;                            /* device (cout) */
} CudaConv;

static cudnnDataType_t data_type(Precision p) {
    if (p == PREC_FP16) return CUDNN_DATA_HALF;
    if (p == PREC_BF16) return CUDNN_DATA_BFLOAT16;
    return CUDNN_DATA_FLOAT;
}

/* fp32 excludes tensor cores (and so TF32); DEFAULT lets cuDNN use TF32 for float data. */
static cudnnMathType_t math_type(Precision p) {
    if (p == PREC_FP32) return CUDNN_FMA_MATH;
    if (p == PREC_TF32) return CUDNN_DEFAULT_MATH;
    return CUDNN_TENSOR_OP_MATH;
}

static cublasMath_t cublas_math(Precision p) {
    return p == PREC_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
}

/* ---------------------------------------------------------------- kernels */

__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ void store(__half *p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void store(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

/* ReLU that keeps NaN visible (fmaxf would turn NaN into 0). */
__device__ __forceinline__ float relu_keep_nan(float v) { return v < 0.f ? 0.f : v; }

/* y (n elements, channels last, cout channels) = act(y + bias[c] + res), in place.
 * res: NULL or n elements. */
__global__ void epilogue_float_kernel(float *y, const float *bias, const float *res, unsigned n, unsigned cout, int relu) {
    GRID_STRIDE_LOOP(i, n) {
        float v = y[i] + bias[i % cout];
        if (res) v += res[i];
        y[i] = relu ? relu_keep_nan(v) : v;
    }
}

/* acc: cuDNN's half result, rewritten in place with half(y) so that it becomes the
 * shadow of y. y = act(acc + bias[c] + res) in float32. */
template <typename T>
__global__ void epilogue_half_kernel(T *acc, const float *bias, const float *res, float *y, unsigned n, unsigned cout,
                                     int relu) {
    GRID_STRIDE_LOOP(i, n) {
        float v = to_float(acc[i]) + bias[i % cout];
        if (res) v += res[i];
        if (relu) v = relu_keep_nan(v);
        y[i] = v;
        store(&acc[i], v);
    }
}

template <typename T>
__global__ void to_half_kernel(const float *x, T *y, unsigned n) {
    GRID_STRIDE_LOOP(i, n) store(&y[i], x[i]);
}

/* x: (n, h, w, c); y: (n, oh, ow, c), oh = (h - 1) / 2 + 1. Window 3x3, stride 2, zero pad 1:
 * taps outside the image count as 0, exactly like Keras's ZeroPadding2D + MaxPooling2D. */
__global__ void maxpool3x3s2_kernel(const float *x, int n, int h, int w, int c, int oh, int ow, float *y) {
    unsigned total = (unsigned)n * oh * ow * c;
    GRID_STRIDE_LOOP(i, total) {
        unsigned ch = i % c, t = i / c;
        int ox = (int)(t % ow);
        t /= ow;
        int oy = (int)(t % oh);
        unsigned img = t / oh;
        float m = -INFINITY;
        for (int dy = 0; dy < 3; dy++) {
            int iy = 2 * oy - 1 + dy;
            for (int dx = 0; dx < 3; dx++) {
                int ix = 2 * ox - 1 + dx;
                int inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                float v = inside ? x[((img * h + iy) * w + ix) * c + ch] : 0.f;
                m = fmaxf(m, v);
            }
        }
        y[i] = m;
    }
}

/* x: (n, h, w, c); y: (n, c) = mean over h*w. One thread per (image, channel); neighbouring
 * threads read neighbouring channels, so the loads coalesce. The sum is in double: the
 * op is tiny in ResNet (7x7), and the result is then float32's rounding of the mean. */
__global__ void global_avgpool_kernel(const float *x, int n, int hw, int c, float *y) {
    unsigned total = (unsigned)n * c;
    GRID_STRIDE_LOOP(i, total) {
        unsigned img = i / c, ch = i % c;
        const float *p = x + (size_t)img * hw * c + ch;
        double sum = 0.0;
        for (int k = 0; k < hw; k++) sum += p[(size_t)k * c];
        y[i] = (float)(sum / hw);
    }
}

/* ---------------------------------------------------------------- allocation table */

static int allocs_add(CudaCtx *c, void *ptr, size_t bytes, Err *e) {
    if (c->n_allocs == c->cap_allocs) {
        int cap = c->cap_allocs ? 2 * c->cap_allocs : 64;
        Allocation *a = (Allocation *)realloc(c->allocs, (size_t)cap * sizeof *a);
        if (!a) return err_fail(e, "CUDA backend: out of host memory for the allocation table");
        c->allocs = a;
        c->cap_allocs = cap;
    }
    c->allocs[c->n_allocs].ptr = ptr;
    c->allocs[c->n_allocs].bytes = bytes;
    c->n_allocs++;
    return 0;
}

/* Removes ptr from the table; returns its size, or 0 when ptr was not allocated here. */
static size_t allocs_remove(CudaCtx *c, void *ptr) {
    for (int i = 0; i < c->n_allocs; i++) {
        if (c->allocs[i].ptr != ptr) continue;
        size_t bytes = c->allocs[i].bytes;
        c->allocs[i] = c->allocs[--c->n_allocs];
        return bytes;
    }
    return 0;
}

/* ---------------------------------------------------------------- memory ops */

static int cuda_alloc(Backend *b, size_t bytes, void **ptr, Err *e) {
    CudaCtx *c = ctx_of(b);
    *ptr = NULL;
    if (cuda_use_device(c, e)) return -1;
    CUDA_CHECK(cudaMalloc(ptr, bytes ? bytes : 1));
    if (allocs_add(c, *ptr, bytes ? bytes : 1, e)) {
        (void)cudaFree(*ptr);
        *ptr = NULL;
        return -1;
    }
    return 0;
}

static void cuda_release(Backend *b, void *ptr) {
    CudaCtx *c = ctx_of(b);
    if (!ptr) return;
    (void)cudaSetDevice(c->device);             /* void op: errors have nowhere to go */
    cuda_shadows_drop(c, ptr, allocs_remove(c, ptr));
    (void)cudaFree(ptr);
}

/* Host -> device through the two pinned buffers: the host copies chunk k+1 (on all cores:
 * one core's memcpy would cost more than the DMA) while the DMA engine moves chunk k. Returns once src may be reused; the device copy is queued. */
static int cuda_upload(Backend *b, void *dst, const void *src, size_t bytes, Err *e) {
    CudaCtx *c = ctx_of(b);
    if (cuda_use_device(c, e)) return -1;
    cuda_shadows_invalidate(c, dst, bytes);
    size_t len;
    for (size_t off = 0, k = 0; off < bytes; off += len, k++) {
        int s = (int)(k & 1);
        len = bytes - off < STAGING_BYTES ? bytes - off : STAGING_BYTES;
        CUDA_CHECK(cudaEventSynchronize(c->staging_done[s]));   /* its previous chunk has left */
        memcpy_parallel(c->staging[s], (const char *)src + off, len);
        CUDA_CHECK(cudaMemcpyAsync((char *)dst + off, c->staging[s], len, cudaMemcpyHostToDevice, c->stream));
        CUDA_CHECK(cudaEventRecord(c->staging_done[s], c->stream));
    }
    return 0;
}

/* Device -> host through the pinned buffers: the host copies chunk k out while the DMA
 * engine fills the other buffer with chunk k+1. Waits for all queued work on the stream. */
static int cuda_download(Backend *b, void *dst, const void *src, size_t bytes, Err *e) {
    CudaCtx *c = ctx_of(b);
    if (cuda_use_device(c, e)) return -1;
    size_t prev_off = 0, prev_len = 0, len;
    int prev = 0;
    for (size_t off = 0, k = 0; off < bytes; off += len, k++) {
        int s = (int)(k & 1);
        len = bytes - off < STAGING_BYTES ? bytes - off : STAGING_BYTES;
        CUDA_CHECK(cudaMemcpyAsync(c->staging[s], (const char *)src + off, len, cudaMemcpyDeviceToHost, c->stream));
        CUDA_CHECK(cudaEventRecord(c->staging_done[s], c->stream));
        if (k > 0) {
            CUDA_CHECK(cudaEventSynchronize(c->staging_done[prev]));
            memcpy_parallel((char *)dst + prev_off, c->staging[prev], prev_len);
        }
        prev = s;
        prev_off = off;
        prev_len = len;
    }
    if (bytes > 0) {
        CUDA_CHECK(cudaEventSynchronize(c->staging_done[prev]));
        memcpy_parallel((char *)dst + prev_off, c->staging[prev], prev_len);
    }
    return 0;
}

static int cuda_sync(Backend *b, Err *e) {
    CudaCtx *c = ctx_of(b);
    if (cuda_use_device(c, e)) return -1;
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return 0;
}

/* ---------------------------------------------------------------- convolution */

/* w: HWIO (kh, kw, cin, cout) -> out: KRSC (cout, kh, kw, cin), cuDNN's NHWC filter layout. */
static void hwio_to_krsc(const float *w, int kh, int kw, int cin, int cout, float *out) {
    for (int r = 0; r < kh; r++)
        for (int s = 0; s < kw; s++)
            for (int ci = 0; ci < cin; ci++)
                for (int k = 0; k < cout; k++)
                    out[(((size_t)k * kh + r) * kw + s) * cin + ci] = w[(((size_t)r * kw + s) * cin + ci) * cout + k];
}

/* v (n floats) in the precision's element type: a new host buffer of n elements. */
static void *pack_host(Precision p, const float *v, size_t n, Err *e) {
    void *out = tl_malloc(e, n * elem_bytes(p), "conv weights (packed)");
    if (!out) return NULL;
    if (p == PREC_FP16) {
        __half *h = (__half *)out;
        for (size_t i = 0; i < n; i++) h[i] = __float2half_rn(v[i]);
    } else if (p == PREC_BF16) {
        __nv_bfloat16 *h = (__nv_bfloat16 *)out;
        for (size_t i = 0; i < n; i++) h[i] = __float2bfloat16_rn(v[i]);
    } else {
        memcpy(out, v, n * sizeof(float));
    }
    return out;
}

/* Device copies of the packed weights (wbytes) and the float32 bias (cout). */
static int conv_copy_params(CudaCtx *c, CudaConv *cv, const void *w, size_t wbytes, const float *bias, Err *e) {
    size_t bbytes = (size_t)cv->d.cout * sizeof(float);
    CUDA_CHECK(cudaMalloc(&cv->w, wbytes));
    CUDA_CHECK(cudaMalloc((void **)&cv->bias, bbytes));
    CUDA_CHECK(cudaMemcpyAsync(cv->w, w, wbytes, cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(cudaMemcpyAsync(cv->bias, bias, bbytes, cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));       /* the host buffers are freed next */
    return 0;
}

/* w: host HWIO float32 -> device KRSC in the precision's type; bias -> device float32. */
static int conv_upload_params(CudaCtx *c, CudaConv *cv, const float *w, const float *bias, Err *e) {
    const ConvDesc *d = &cv->d;
    size_t wn = (size_t)d->kh * d->kw * d->cin * d->cout;
    float *krsc = (float *)tl_malloc(e, wn * sizeof(float), "conv weights (KRSC)");
    if (!krsc) return -1;
    hwio_to_krsc(w, d->kh, d->kw, d->cin, d->cout, krsc);
    void *packed = pack_host(c->precision, krsc, wn, e);
    int rc = packed ? conv_copy_params(c, cv, packed, wn * elem_bytes(c->precision), bias, e) : -1;
    free(packed);
    free(krsc);
    return rc;
}

static int conv_describe(CudaCtx *c, CudaConv *cv, Err *e) {
    const ConvDesc *d = &cv->d;
    cudnnDataType_t dt = data_type(c->precision);
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&cv->x_desc));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(cv->x_desc, CUDNN_TENSOR_NHWC, dt, d->n, d->cin, d->h, d->w));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&cv->y_desc));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(cv->y_desc, CUDNN_TENSOR_NHWC, dt, d->n, d->cout, d->oh, d->ow));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&cv->w_desc));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(cv->w_desc, dt, CUDNN_TENSOR_NHWC, d->cout, d->cin, d->kh, d->kw));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cv->conv_desc));
    /* Accumulate in float for every precision (cuDNN's "pseudo half" configuration). */
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(cv->conv_desc, d->pad_top, d->pad_left, d->stride, d->stride,
                                                1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(cv->conv_desc, math_type(c->precision)));
    int n, ch, oh, ow;
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(cv->conv_desc, cv->x_desc, cv->w_desc, &n, &ch, &oh, &ow));
    if (n != d->n || ch != d->cout || oh != d->oh || ow != d->ow)
        return err_fail(e, "CUDA conv: cuDNN computes output %dx%dx%dx%d, the descriptor says %dx%dx%dx%d",
                        n, oh, ow, ch, d->n, d->oh, d->ow, d->cout);
    return 0;
}

/* fp32: the descriptor already has CUDNN_FMA_MATH, the only math cuda_pick_algo accepts
 * there, so setting the algorithm's math type changes nothing. */
static int conv_choose_algo(CudaCtx *c, CudaConv *cv, Err *e) {
    return cuda_choose_forward_algo(c, cv->x_desc, cv->w_desc, cv->conv_desc, cv->y_desc, &cv->d, "CUDA conv", &cv->algo,
                                    &cv->workspace_bytes, e);
}

static void conv_free(CudaConv *cv) {
    if (!cv) return;
    if (cv->x_desc) (void)cudnnDestroyTensorDescriptor(cv->x_desc);      /* teardown: nothing to report to */
    if (cv->y_desc) (void)cudnnDestroyTensorDescriptor(cv->y_desc);
    if (cv->w_desc) (void)cudnnDestroyFilterDescriptor(cv->w_desc);
    if (cv->conv_desc) (void)cudnnDestroyConvolutionDescriptor(cv->conv_desc);
    (void)cudaFree(cv->w);
    (void)cudaFree(cv->bias);
    free(cv);
}

static int conv_check_desc(const ConvDesc *d, Err *e) {
    if (d->pad_top != d->pad_bottom || d->pad_left != d->pad_right)
        return err_fail(e, "CUDA conv: asymmetric padding (top %d, bottom %d, left %d, right %d) is not supported by "
                           "cuDNN's legacy API; pad the input explicitly instead",
                        d->pad_top, d->pad_bottom, d->pad_left, d->pad_right);
    if (d->n <= 0 || d->h <= 0 || d->w <= 0 || d->cin <= 0 || d->cout <= 0 || d->kh <= 0 || d->kw <= 0 ||
        d->stride <= 0 || d->oh <= 0 || d->ow <= 0)
        return err_fail(e, "CUDA conv: bad shape n %d, %dx%dx%d, kernel %dx%d stride %d, cout %d, out %dx%d "
                           "(was conv_desc_init called?)",
                        d->n, d->h, d->w, d->cin, d->kh, d->kw, d->stride, d->cout, d->oh, d->ow);
    return 0;
}

static int cuda_conv_create(Backend *b, const ConvDesc *d, const float *w, const float *bias, void **conv, Err *e) {
    CudaCtx *c = ctx_of(b);
    *conv = NULL;
    if (conv_check_desc(d, e) || cuda_use_device(c, e)) return -1;
    CudaConv *cv = (CudaConv *)tl_calloc(e, 1, sizeof *cv, "CUDA conv");
    if (!cv) return -1;
    cv->d = *d;
    if (conv_describe(c, cv, e) || conv_upload_params(c, cv, w, bias, e) || conv_choose_algo(c, cv, e) ||
        cuda_grow_workspace(c, cv->workspace_bytes, e)) {
        conv_free(cv);
        return err_context(e, "conv %dx%d/%d %dx%dx%d->%d", d->kh, d->kw, d->stride, d->h, d->w, d->cin, d->cout);
    }
    *conv = cv;
    return 0;
}

/* y = act(conv(x) + bias + res) with float32 data (fp32 and tf32). cuDNN writes y, so a
 * residual that lives in y itself (res == y, the backbone's identity blocks) is added by
 * cuDNN's blending (y = conv + 1 * y) instead of by the epilogue. */
static int conv_forward_float(CudaCtx *c, CudaConv *cv, const float *x, const float *res, float *y, Err *e) {
    const ConvDesc *d = &cv->d;
    size_t y_elems = (size_t)d->n * d->oh * d->ow * d->cout;
    int res_in_y = res == y;
    const float one = 1.f, beta = res_in_y ? 1.f : 0.f;
    CUDNN_CHECK(cudnnConvolutionForward(c->cudnn, &one, cv->x_desc, x, cv->w_desc, cv->w, cv->conv_desc, cv->algo,
                                        c->workspace, cv->workspace_bytes, &beta, cv->y_desc, y));
    epilogue_float_kernel<<<cuda_blocks_for(y_elems), CUDA_THREADS, 0, c->stream>>>(y, cv->bias, res_in_y ? NULL : res,
                                                                         (unsigned)y_elems, (unsigned)d->cout, d->relu);
    CUDA_CHECK_LAUNCH("epilogue_float_kernel");
    return 0;
}

/* The same in half: x from its shadow (converted into one now if it has none), cuDNN's
 * half result lands in y's shadow, the epilogue writes y in float32 and rewrites the
 * shadow as half(y). res == y is fine here: each element of res is read before the
 * same element of y is written, and cuDNN does not touch y's float32 memory. */
template <typename T>
static int conv_forward_half(CudaCtx *c, CudaConv *cv, const float *x, const float *res, float *y, Err *e) {
    const ConvDesc *d = &cv->d;
    size_t x_elems = (size_t)d->n * d->h * d->w * d->cin;
    size_t y_elems = (size_t)d->n * d->oh * d->ow * d->cout;
    const void *xh = cuda_shadows_lookup(c, x, x_elems);
    if (!xh) {
        Shadow *xs;
        if (cuda_shadows_slot(c, x, x_elems, &xs, e)) return -1;
        to_half_kernel<T><<<cuda_blocks_for(x_elems), CUDA_THREADS, 0, c->stream>>>(x, (T *)xs->half, (unsigned)x_elems);
        CUDA_CHECK_LAUNCH("to_half_kernel");
        xs->valid = x_elems;
        xh = xs->half;
    }
    Shadow *ys;
    if (cuda_shadows_slot(c, y, y_elems, &ys, e)) return -1;
    const float one = 1.f, zero = 0.f;
    CUDNN_CHECK(cudnnConvolutionForward(c->cudnn, &one, cv->x_desc, xh, cv->w_desc, cv->w, cv->conv_desc, cv->algo,
                                        c->workspace, cv->workspace_bytes, &zero, cv->y_desc, ys->half));
    epilogue_half_kernel<T><<<cuda_blocks_for(y_elems), CUDA_THREADS, 0, c->stream>>>((T *)ys->half, cv->bias, res, y,
                                                                             (unsigned)y_elems, (unsigned)d->cout, d->relu);
    CUDA_CHECK_LAUNCH("epilogue_half_kernel");
    ys->valid = y_elems;
    return 0;
}

static int cuda_conv_forward(Backend *b, void *conv, const float *x, const float *res, float *y, Err *e) {
    CudaCtx *c = ctx_of(b);
    CudaConv *cv = (CudaConv *)conv;
    const ConvDesc *d = &cv->d;
    size_t x_bytes = (size_t)d->n * d->h * d->w * d->cin * sizeof(float);
    size_t y_bytes = (size_t)d->n * d->oh * d->ow * d->cout * sizeof(float);
    if (d->has_residual && !res) return err_fail(e, "CUDA conv: the descriptor has a residual but res is NULL");
    if (cuda_ranges_overlap(x, x_bytes, y, y_bytes)) return err_fail(e, "CUDA conv: x and y overlap (no in-place convs)");
    if (d->has_residual && res != y && cuda_ranges_overlap(res, y_bytes, y, y_bytes))
        return err_fail(e, "CUDA conv: res overlaps y without being y");
    if (cuda_check_elems(x_bytes / sizeof(float), "CUDA backend", "conv input", e) ||
        cuda_check_elems(y_bytes / sizeof(float), "CUDA backend", "conv output", e))
        return -1;
    if (cuda_use_device(c, e)) return -1;
    cuda_shadows_invalidate(c, y, y_bytes);
    const float *r = d->has_residual ? res : NULL;
    int rc;
    if (c->precision == PREC_FP16) rc = conv_forward_half<__half>(c, cv, x, r, y, e);
    else if (c->precision == PREC_BF16) rc = conv_forward_half<__nv_bfloat16>(c, cv, x, r, y, e);
    else rc = conv_forward_float(c, cv, x, r, y, e);
    if (rc) return err_context(e, "conv %dx%d/%d %dx%dx%d->%d", d->kh, d->kw, d->stride, d->h, d->w, d->cin, d->cout);
    return 0;
}

static void cuda_conv_destroy(Backend *b, void *conv) {
    (void)cudaSetDevice(ctx_of(b)->device);     /* void op: errors have nowhere to go */
    conv_free((CudaConv *)conv);
}

/* ---------------------------------------------------------------- pooling */

static int cuda_maxpool3x3s2(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    CudaCtx *cx = ctx_of(b);
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0) return err_fail(e, "CUDA maxpool: bad shape %dx%dx%dx%d", n, h, w, c);
    int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
    size_t y_elems = (size_t)n * oh * ow * c;
    if (cuda_check_elems((size_t)n * h * w * c, "CUDA backend", "maxpool input", e) || cuda_use_device(cx, e)) return -1;
    cuda_shadows_invalidate(cx, y, y_elems * sizeof(float));
    maxpool3x3s2_kernel<<<cuda_blocks_for(y_elems), CUDA_THREADS, 0, cx->stream>>>(x, n, h, w, c, oh, ow, y);
    CUDA_CHECK_LAUNCH("maxpool3x3s2_kernel");
    return 0;
}

static int cuda_global_avgpool(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e) {
    CudaCtx *cx = ctx_of(b);
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0) return err_fail(e, "CUDA global_avgpool: bad shape %dx%dx%dx%d", n, h, w, c);
    if (cuda_check_elems((size_t)n * h * w * c, "CUDA backend", "global_avgpool input", e) || cuda_use_device(cx, e)) return -1;
    cuda_shadows_invalidate(cx, y, (size_t)n * c * sizeof(float));
    global_avgpool_kernel<<<cuda_blocks_for((size_t)n * c), CUDA_THREADS, 0, cx->stream>>>(x, n, h * w, c, y);
    CUDA_CHECK_LAUNCH("global_avgpool_kernel");
    return 0;
}

/* ---------------------------------------------------------------- create / destroy */

/* Frees whatever ctx holds (also a half-built one). Memory still allocated through
 * ->alloc is freed too. */
static void ctx_free(CudaCtx *c) {
    if (!c) return;
    /* A context that failed before its stream existed never selected its device (which
     * may be out of range): selecting it now would leave an error behind. */
    if (c->stream) {
        (void)cudaSetDevice(c->device);         /* teardown: errors have nowhere to go */
        (void)cudaStreamSynchronize(c->stream);
    }
    for (int i = 0; i < c->n_shadows; i++) (void)cudaFree(c->shadows[i].half);
    for (int i = 0; i < c->n_allocs; i++) (void)cudaFree(c->allocs[i].ptr);
    for (int s = 0; s < 2; s++) {
        if (c->staging[s]) (void)cudaFreeHost(c->staging[s]);
        if (c->staging_done[s]) (void)cudaEventDestroy(c->staging_done[s]);
    }
    (void)cudaFree(c->workspace);
    if (c->cublas) (void)cublasDestroy(c->cublas);
    if (c->cudnn) (void)cudnnDestroy(c->cudnn);
    if (c->stream) (void)cudaStreamDestroy(c->stream);
    free(c->allocs);
    free(c->shadows);
    free(c);
    /* The ignored statuses above stay readable through cudaGetLastError(): clear them, or
     * the next kernel launch check of another backend in this process reports them. */
    (void)cudaGetLastError();
}

static void cuda_destroy(Backend *b) {
    if (!b) return;
    ctx_free(ctx_of(b));
    free(b);
}

static int ctx_open(CudaCtx *c, Err *e) {
    int count = 0;
    cudaError_t st = cudaGetDeviceCount(&count);
    if (st != cudaSuccess || count == 0)
        return err_fail(e, "CUDA backend: no GPU visible (cudaGetDeviceCount: %s)",
                        st != cudaSuccess ? cudaGetErrorString(st) : "0 devices");
    if (c->device < 0 || c->device >= count)
        return err_fail(e, "CUDA backend: GPU index %d out of range (%d visible)", c->device, count);
    CUDA_CHECK(cudaSetDevice(c->device));
    CUDA_CHECK(cudaStreamCreate(&c->stream));
    CUDNN_CHECK(cudnnCreate(&c->cudnn));
    CUDNN_CHECK(cudnnSetStream(c->cudnn, c->stream));
    CUBLAS_CHECK(cublasCreate(&c->cublas));
    CUBLAS_CHECK(cublasSetStream(c->cublas, c->stream));
    CUBLAS_CHECK(cublasSetMathMode(c->cublas, cublas_math(c->precision)));
    for (int s = 0; s < 2; s++) {
        CUDA_CHECK(cudaMallocHost((void **)&c->staging[s], STAGING_BYTES));
        CUDA_CHECK(cudaEventCreateWithFlags(&c->staging_done[s], cudaEventDisableTiming));
    }
    return 0;
}

static const BackendOps CUDA_OPS = {
    cuda_alloc, cuda_release, cuda_upload, cuda_download, cuda_sync,
    cuda_conv_create, cuda_conv_forward, cuda_conv_destroy,
    cuda_maxpool3x3s2, cuda_global_avgpool,
    NULL, NULL,                             /* no native layout */
    cuda_destroy,
};

int backend_cuda_create(Backend **out, int device, Precision p, Err *e) {
    *out = NULL;
    if (p < PREC_FP32 || p >= N_PRECISIONS) return err_fail(e, "CUDA backend: unknown precision %d", (int)p);
    CudaCtx *c = (CudaCtx *)tl_calloc(e, 1, sizeof *c, "CUDA backend");
    if (!c) return -1;
    c->device = device;
    c->precision = p;
    const char *find = getenv("TL_CUDNN_FIND");
    c->find_algo = find && !strcmp(find, "1");
    Backend *b = (Backend *)tl_calloc(e, 1, sizeof *b, "CUDA backend");
    if (!b || ctx_open(c, e)) {
        ctx_free(c);
        free(b);
        return -1;
    }
    b->ops = &CUDA_OPS;
    b->ctx = c;
    b->name = "cuda";
    b->caps = BACKEND_CAP_GPU | BACKEND_CAP_PRECISION;
    b->train = backend_cuda_train_ops();    /* threads 0 and no native layout: calloc's zeros */
    *out = b;
    return 0;
}

int backend_cuda_compiled(void) { return 1; }

int backend_cuda_device_count(void) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        (void)cudaGetLastError();               /* clear the sticky "no device" status */
        return 0;
    }
    return count;
}
