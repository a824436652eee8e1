/* The CUDA backend's context, shared by the .cu files of the backend (convolutions and
 * pooling in cuda_backend.cu, training ops, the head). Not part of the public interface:
 * C code sees only backend.h. */
#ifndef TL_CUDA_INTERNAL_H
#define TL_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cudnn.h>

#include <stddef.h>
#include <stdint.h>

#include "backend/cuda/cuda_check.h"

extern "C" {
#include "backend/backend.h"
#include "backend/optimizer_math.h"
}

typedef struct Allocation {
    void *ptr;
    size_t bytes;
} Allocation;

/* A half copy of a float32 tensor in device memory (cuda_shadows.cu). */
typedef struct Shadow {
    const char *ptr;    /* the float32 tensor mirrored (device) */
    size_t cap;         /* elements the half buffer holds */
    size_t valid;       /* ptr[0, valid) is mirrored; 0 = stale */
    void *half;         /* device, cap elements of __half or __nv_bfloat16 */
} Shadow;

typedef struct CudaCtx {
    int device;
    Precision precision;
    int find_algo;                  /* 1: time algorithms (TL_CUDNN_FIND=1); 0: heuristics */
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;          /* on the stream, math mode set for the precision */
    void *workspace;                /* cuDNN scratch shared by all convs (one stream) */
    size_t workspace_bytes;
    char *staging[2];               /* pinned host buffers for upload/download */
    cudaEvent_t staging_done[2];    /* the last copy through each buffer finished */
    Allocation *allocs;             /* live ->alloc blocks, so release knows their size */
    int n_allocs, cap_allocs;
    Shadow *shadows;
    int n_shadows, cap_shadows;
} CudaCtx;

/* The backend's context (Backend.ctx of a "cuda" backend). */
static inline CudaCtx *ctx_of(Backend *b) { return (CudaCtx *)b->ctx; }

static inline int is_half(Precision p) { return p == PREC_FP16 || p == PREC_BF16; }

static inline size_t elem_bytes(Precision p) { return is_half(p) ? 2 : 4; }

/* The shadow table (cuda_shadows.cu). Every op that writes float32 device memory calls
 * cuda_shadows_invalidate first: the half copies of [p, p + bytes) go stale. */
void cuda_shadows_invalidate(CudaCtx *c, const void *p, size_t bytes);
/* The valid half copy of the float32 tensor x[0, elems), or NULL. */
const void *cuda_shadows_lookup(CudaCtx *c, const float *x, size_t elems);
/* The slot for the tensor at y with room for elems half values (the caller sets ->valid
 * once it has queued the write). */
int cuda_shadows_slot(CudaCtx *c, const float *y, size_t elems, Shadow **out, Err *e);
/* Frees the copies of tensors inside [p, p + bytes) (memory being released). */
void cuda_shadows_drop(CudaCtx *c, const void *p, size_t bytes);

/* BackendTrainOps.optimizer_step of the CUDA backend (cuda_optimizer.cu). */
int cuda_optimizer_step(Backend *b, const OptimizerSpec *spec, long iterations, float lr, float *params,
                        const float *grads, float *m, float *v, const OptRange *ranges, int n_ranges, Err *e);
/* Its launches alone, also used by the GPU head: optimizer_step's update of every range of
 * device arrays, queued on stream. stop_step (device, may be NULL): skip the update when
 * *stop_step < step (the head's TerminateOnNaN). m may be NULL for SGD without momentum. */
int cuda_optimizer_launch(cudaStream_t stream, const OptimizerSpec *spec, long iterations, float lr, float *params,
                          const float *grads, float *m, float *v, const OptRange *ranges, int n_ranges,
                          const int *stop_step, int step, Err *e);

/* The training-op table (cuda_train.cu) that backend_cuda_create installs in Backend.train. */
extern "C" const struct BackendTrainOps *backend_cuda_train_ops(void);

/* ---------------------------------------------------------------- shared helpers */

/* Threads per block of the grid-stride kernels. */
enum { CUDA_THREADS = 256 };
/* Largest tensor (elements) the kernels take: they index with 32-bit unsigned arithmetic (a
 * 64-bit division per element would cost more than the memory traffic). 256 x 112 x 112 x 64
 * is 2^27.6. */
static const size_t CUDA_MAX_ELEMS = (size_t)1 << 31;
/* Largest cuDNN scratch one convolution (one direction) may ask for. */
static const size_t CUDA_WORKSPACE_LIMIT = (size_t)1 << 30;

#define GRID_STRIDE_LOOP(i, n) \
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += gridDim.x * blockDim.x)

/* Do [a, a + a_bytes) and [b, b + b_bytes) share a byte? */
static inline int cuda_ranges_overlap(const void *a, size_t a_bytes, const void *b, size_t b_bytes) {
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x < y + b_bytes && y < x + a_bytes;
}

/* One device per backend: every op selects it first. */
static inline int cuda_use_device(CudaCtx *c, Err *e) {
    CUDA_CHECK(cudaSetDevice(c->device));
    return 0;
}

/* who: the message's prefix ("CUDA backend", "CUDA training"). */
static inline int cuda_check_elems(size_t n, const char *who, const char *what, Err *e) {
    if (n >= CUDA_MAX_ELEMS) return err_fail(e, "%s: %s has %zu elements, more than 2^31", who, what, n);
    return 0;
}

/* Blocks of CUDA_THREADS for a grid-stride loop over n elements (at least 1, at most 2^20). */
static inline unsigned cuda_blocks_for(size_t n) {
    size_t blocks = (n + CUDA_THREADS - 1) / CUDA_THREADS;
    return (unsigned)(blocks < (1u << 20) ? (blocks ? blocks : 1) : (1u << 20));
}

/* Grows the context's shared cuDNN workspace to at least need bytes (at plan creation
 * only, never per batch or step). */
static inline int cuda_grow_workspace(CudaCtx *c, size_t need, Err *e) {
    if (need <= c->workspace_bytes) return 0;
    CUDA_CHECK(cudaFree(c->workspace));         /* cudaFree waits for queued work using it */
    c->workspace = NULL;
    c->workspace_bytes = 0;
    CUDA_CHECK(cudaMalloc(&c->workspace, need));
    c->workspace_bytes = need;
    return 0;
}

/* Index of the first usable entry of cuDNN's ranked list of algorithms (forward, backward
 * data or filter), deterministic ones first; -1 when none. Usable: it succeeded, fits
 * CUDA_WORKSPACE_LIMIT, uses FMA math only for fp32 (no TF32), and never the fp16
 * down-conversion of float data. */
template <typename Perf>
static inline int cuda_pick_algo(const Perf *perf, int count, Precision p) {
    for (int det = 1; det >= 0; det--)
        for (int i = 0; i < count; i++) {
            if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > CUDA_WORKSPACE_LIMIT) continue;
            if (p == PREC_FP32 && perf[i].mathType != CUDNN_FMA_MATH) continue;
            if (perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
            if (det && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
            return i;
        }
    return -1;
}

/* The forward algorithm of one convolution x (*) w -> y: cuDNN's ranked list (timed when
 * TL_CUDNN_FIND=1, else its heuristics), its first usable entry (cuda_pick_algo), conv's
 * math type set to that entry's, and the workspace bytes it needs. Used by inference
 * (cuda_backend.cu) and training (cuda_train.cu) plans alike. who: the message's prefix
 * ("CUDA conv", "CUDA training conv"); d: the shapes, for the message. */
static inline int cuda_choose_forward_algo(CudaCtx *c, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                           cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t y,
                                           const ConvDesc *d, const char *who, cudnnConvolutionFwdAlgo_t *algo,
                                           size_t *workspace_bytes, Err *e) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count = 0;
    if (c->find_algo)
        CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(c->cudnn, x, w, conv, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                         &count, perf));
    else
        CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(c->cudnn, x, w, conv, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                           &count, perf));
    int i = cuda_pick_algo(perf, count, c->precision);
    if (i < 0)
        return err_fail(e, "%s: cuDNN offers no forward algorithm for %dx%d stride %d, %dx%dx%d -> %d channels "
                           "(%d candidates)", who, d->kh, d->kw, d->stride, d->h, d->w, d->cin, d->cout, count);
    *algo = perf[i].algo;
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv, perf[i].mathType));
    CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(c->cudnn, x, w, conv, y, *algo, workspace_bytes));
    return 0;
}

#endif
