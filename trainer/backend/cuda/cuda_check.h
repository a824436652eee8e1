/* Status checks for the CUDA runtime, cuDNN and cuBLAS: one macro per library.
 * Each names the call, file and line in the Err and returns -1 from the enclosing
 * function (which must return int and have an `Err *e`). Never exits.
 * CUDA_CHECK_LAUNCH() follows every kernel launch: launch errors only show up in
 * cudaGetLastError(). CUDNN_CHECK and CUBLAS_CHECK need <cudnn.h> and <cublas_v2.h>
 * included first (this header does not pull them in, so C code that uses only the
 * runtime or cuBLAS does not need cuDNN's headers). */
#ifndef TL_CUDA_CHECK_H
#define TL_CUDA_CHECK_H

#include <cuda_runtime.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/error.h"
#ifdef __cplusplus
}
#endif

#define CUDA_CHECK(call) do { \
    cudaError_t st_ = (call); \
    if (st_ != cudaSuccess) \
        return err_fail(e, "%s:%d: %s: %s (%s)", __FILE__, __LINE__, #call, \
                        cudaGetErrorString(st_), cudaGetErrorName(st_)); \
} while (0)

#define CUDA_CHECK_LAUNCH(kernel_name) do { \
    cudaError_t st_ = cudaGetLastError(); \
    if (st_ != cudaSuccess) \
        return err_fail(e, "%s:%d: launch of %s: %s (%s)", __FILE__, __LINE__, kernel_name, \
                        cudaGetErrorString(st_), cudaGetErrorName(st_)); \
} while (0)

#define CUDNN_CHECK(call) do { \
    cudnnStatus_t st_ = (call); \
    if (st_ != CUDNN_STATUS_SUCCESS) \
        return err_fail(e, "%s:%d: %s: %s", __FILE__, __LINE__, #call, cudnnGetErrorString(st_)); \
} while (0)

#define CUBLAS_CHECK(call) do { \
    cublasStatus_t st_ = (call); \
    if (st_ != CUBLAS_STATUS_SUCCESS) \
        return err_fail(e, "%s:%d: %s: %s", __FILE__, __LINE__, #call, cublasGetStatusString(st_)); \
} while (0)

#endif
