/* The CUDA backend's context, shared by the .cu files of the backend (convolutions and
 * pooling in cuda_backend.cu, training ops, the head). Not part of the public interface:
 * C code sees only backend.h. */
#ifndef TL_CUDA_INTERNAL_H
#define TL_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cudnn.h>

#include <stddef.h>

extern "C" {
#include "backend/backend.h"
}

typedef enum Precision { PREC_FP32, PREC_TF32, PREC_FP16, PREC_BF16 } Precision;

typedef struct Allocation {
    void *ptr;
    size_t bytes;
} Allocation;

/* A half copy of a float32 tensor in device memory (see the top of cuda_backend.cu). */
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

/* Every op that writes float32 device memory calls this first: the half copies of
 * [p, p + bytes) go stale (cuda_backend.cu). */
void cuda_shadows_invalidate(CudaCtx *c, const void *p, size_t bytes);

/* BackendTrainOps.optimizer_step of the CUDA backend (cuda_optimizer.cu). */
struct OptimizerSpec;
struct OptRange;
int cuda_optimizer_step(Backend *b, const struct OptimizerSpec *spec, long iterations, float lr, float *params,
                        const float *grads, float *m, float *v, const struct OptRange *ranges, int n_ranges, Err *e);

/* The training-op table (cuda_train.cu) that backend_cuda_create installs in Backend.train. */
extern "C" const struct BackendTrainOps *backend_cuda_train_ops(void);

#endif
