/* The compute backend interface: one small table of functions, implemented by the
 * float32 reference (naive loops: the ground truth for tests), the CPU backend
 * (oneDNN convolutions + OpenMP) and the CUDA backend (cuDNN + cuBLAS).
 * Model code calls only this table; it never touches a device directly.
 * Layout is NHWC everywhere; kernels are HWIO (kh, kw, cin, cout), as Keras stores them.
 * Pointers passed to ops are backend memory (from ops->alloc). */
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

/* A backend's functions: one static const table per backend (reference/, cpu/, cuda/), as
 * ggml's backend interface. They reach the backend's state through b->ctx. */
typedef struct BackendOps {
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

    /* The same pools reading the backend's native activation layout (Backend.native_layout;
     * avgpool's y is plain (n, c)); NULL when the backend has none. */
    int (*maxpool3x3s2_native)(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e);
    int (*global_avgpool_native)(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e);

    /* Frees the context and b itself (backend_destroy). */
    void (*destroy)(Backend *b);
} BackendOps;

/* What a backend can do, for callers that choose by it (Backend.caps; never a test of
 * its name). */
enum {
    /* Runs on a CUDA GPU: Backend.ctx is the CUDA context (stream, cuBLAS handle) that the
     * GPU head (model/head_cuda.h) trains on. */
    BACKEND_CAP_GPU = 1u << 0,
    /* Its numbers depend on the precision it was opened with (tf32, fp16, bf16). Without
     * it the backend computes in float32 whatever precision is asked, and feature caches
     * key its results as fp32. */
    BACKEND_CAP_PRECISION = 1u << 1,
};

/* An open backend: its table of functions, its context, and what callers read of it. */
struct Backend {
    const BackendOps *ops;
    void *ctx;                  /* the backend's own state (a CPU engine, a CUDA context) */
    const char *name;           /* "reference", "cpu", "cuda": messages and cache keys */
    unsigned caps;              /* BACKEND_CAP_* */
    int threads;
    /* Native activation layout (e.g. oneDNN's nChw16c on AVX-512) in use, 0 when the
     * backend has none or it is turned off: the layout ConvDesc.native_io and
     * ops->*_native read and write. */
    int native_layout;
    /* Training ops (backward passes, frozen BN; backend_train.h), or NULL on a backend
     * that only runs inference. */
    const struct BackendTrainOps *train;
};

/* Which backend to open (config.yaml's train.device): DEVICE_AUTO takes the GPU when one
 * is visible, else the CPU. */
typedef enum BackendDevice { DEVICE_AUTO, DEVICE_CPU, DEVICE_CUDA, N_DEVICES } BackendDevice;
/* The CUDA backend's convolution arithmetic (model.precision; backend/cuda/cuda_backend.cu
 * says what each means). The CPU backends compute in float32 whatever is asked. */
typedef enum Precision { PREC_FP32, PREC_TF32, PREC_FP16, PREC_BF16, N_PRECISIONS } Precision;
/* Their names as config.yaml and the command line write them, in enum order:
 * "auto", "cpu", "cuda" and "fp32", "tf32", "fp16", "bf16". */
extern const char *const DEVICE_NAMES[N_DEVICES];
extern const char *const PRECISION_NAMES[N_PRECISIONS];
/* The index of name in names[0, n) (an enum value of the table's type), -1 when absent. */
int backend_name_index(const char *const *names, int n, const char *name);
/* A name of those tables -> its value; -1 with a message naming it when it is none. */
int backend_device_parse(const char *name, BackendDevice *out, Err *e);
int backend_precision_parse(const char *name, Precision *out, Err *e);

int backend_reference_create(Backend **out, Err *e);
/* threads <= 0: all cores. */
int backend_cpu_create(Backend **out, int threads, Err *e);
/* Fails with a clear message when built without CUDA or when no GPU is visible. */
int backend_cuda_create(Backend **out, int device, Precision precision, Err *e);
/* 1 when this build has the CUDA backend compiled in. */
int backend_cuda_compiled(void);
/* Number of visible GPUs (0 when none or when not compiled). */
int backend_cuda_device_count(void);
/* The backend of `device` (DEVICE_AUTO: cuda when a GPU is visible): GPU gpu_index in
 * `precision`, or the CPU with `threads`. */
int backend_open(Backend **out, BackendDevice device, int gpu_index, Precision precision, int threads, Err *e);
void backend_destroy(Backend *b);
/* 1 when b has every capability in caps (BACKEND_CAP_* or'ed), else 0. */
int backend_has(const Backend *b, unsigned caps);

#endif
