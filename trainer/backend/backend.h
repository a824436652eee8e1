/* The compute backend interface: one small table of functions, implemented by the
 * float32 reference (naive loops: the ground truth for tests), the CPU backend
 * (oneDNN convolutions + OpenMP) and the CUDA backend (cuDNN + cuBLAS).
 * Model code calls only this table; it never touches a device directly.
 * Layout is NHWC everywhere; kernels are HWIO (kh, kw, cin, cout), as Keras stores them.
 * Pointers passed to ops are backend memory (from ->alloc). */
#ifndef TL_BACKEND_H
#define TL_BACKEND_H

#include <stddef.h>

#include "core/error.h"

/* y[n, r, c, o] = act( b[o] + sum_{i,j,ci} xpad[n, s*r+i, s*c+j, ci] * w[i, j, ci, o] + res[n, r, c, o] )
 * x: (n, h, w, cin); y: (n, oh, ow, cout); res: same shape as y or NULL; zero padding. */
typedef struct ConvDesc {
    int n, h, w, cin;           /* input */
    int cout, kh, kw, stride;
    int pad_top, pad_left, pad_bottom, pad_right;
    int oh, ow;                 /* filled by conv_desc_init */
    int has_residual;           /* add res before the activation */
    int relu;
    /* 1: activations in the backend's native layout (Backend.native_layout) instead of
     * NHWC; an input with fewer than 16 channels (the image) stays NHWC. Only whole
     * networks use it: tensors in a native layout are opaque to everyone else. */
    int native_io;
} ConvDesc;

/* Fills oh/ow from the rest; fails on non-positive output sizes. */
int conv_desc_init(ConvDesc *d, Err *e);
/* Multiply-adds x2 of one conv (FLOP, counting bias/residual/relu as free). */
double conv_desc_flops(const ConvDesc *d);

typedef struct Backend Backend;
struct Backend {
    const char *name;           /* "reference", "cpu", "cuda" */
    void *ctx;
    int threads;
    /* What the cpu backend's convolutions compute in: "fp32", or "bf16" (model.precision:
     * bf16 on a CPU with AMX or AVX-512 BF16). Part of the cache keys. NULL elsewhere. */
    const char *precision;
    /* oneDNN's implementations of the convolutions planned so far, space separated (e.g.
     * "brgconv:avx512_core_bf16 jit_bf16:avx512_core_bf16"), for logs and benchmarks. */
    char kernels[160];

    int (*alloc)(Backend *b, size_t bytes, void **ptr, Err *e);
    void (*release)(Backend *b, void *ptr);
    int (*upload)(Backend *b, void *dst, const void *src, size_t bytes, Err *e);
    int (*download)(Backend *b, void *dst, const void *src, size_t bytes, Err *e);
    int (*sync)(Backend *b, Err *e);

    /* A convolution is planned once per shape (algorithm, workspace, weights in the
     * backend's preferred layout) and run many times. w: host HWIO, bias: host (cout). */
    int (*conv_create)(Backend *b, const ConvDesc *d, const float *w, const float *bias, void **conv, Err *e);
    int (*conv_forward)(Backend *b, void *conv, const float *x, const float *res, float *y, Err *e);
    void (*conv_destroy)(Backend *b, void *conv);

    /* Max pooling 3x3, stride 2, after a zero pad of 1 on each side (Keras pool1_pad +
     * pool1_pool). Inputs are post-ReLU (>= 0), so the pad never wins.
     * x: (n, h, w, c); y: (n, (h+2-3)/2+1, (w+2-3)/2+1, c). */
    int (*maxpool3x3s2)(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e);
    /* y[n, c] = mean over h*w of x[n, :, :, c]. x: (n, h, w, c); y: (n, c). */
    int (*global_avgpool)(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e);

    /* Native activation layout (e.g. oneDNN's nChw16c on AVX-512), NULL/0 when the backend
     * has none: the same ops reading and writing that layout; avgpool's y is plain (n, c).
     * Nonzero values name the layout (part of the cache keys): cpu fp32 1; cpu bf16 1
     * (nChw16c) or 2 (channels-last). */
    int native_layout;
    int (*maxpool3x3s2_native)(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e);
    int (*global_avgpool_native)(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e);

    void (*destroy)(Backend *b);

    /* Training ops (backward passes, frozen BN; backend_train.h), or NULL on a backend
     * that only runs inference. */
    const struct BackendTrainOps *train;
};

int backend_reference_create(Backend **out, Err *e);
/* threads <= 0: all cores. */
int backend_cpu_create(Backend **out, int threads, Err *e);
/* The CPU backend in bfloat16 (cpu_bf16.c): fails, naming model.precision, on a CPU (or a
 * oneDNN capped by ONEDNN_MAX_CPU_ISA) without AMX or AVX-512 BF16. */
int backend_cpu_bf16_create(Backend **out, int threads, Err *e);
/* Fails with a clear message when built without CUDA or when no GPU is visible.
 * precision: "fp32" | "tf32" | "fp16" | "bf16". */
int backend_cuda_create(Backend **out, int device, const char *precision, Err *e);
/* 1 when this build has the CUDA backend compiled in. */
int backend_cuda_compiled(void);
/* Number of visible GPUs (0 when none or when not compiled). */
int backend_cuda_device_count(void);
/* "auto" | "cpu" | "cuda": auto picks cuda when a GPU is visible. On the CPU, precision
 * "bf16" opens backend_cpu_bf16_create; any other precision runs float32. */
int backend_open(Backend **out, const char *device, int gpu_index, const char *precision, int threads, Err *e);
void backend_destroy(Backend *b);

#endif
