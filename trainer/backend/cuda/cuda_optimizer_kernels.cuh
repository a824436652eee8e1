/* optimizer_math.c's Adam and SGD updates as CUDA kernels, shared by the GPU head
 * (model/head_cuda.cu) and the backend's optimizer_step (cuda_optimizer.cu): one copy of
 * the formulas.
 *
 * Every op is written with the _rn intrinsics so that nvcc cannot contract a*b+c into an
 * FMA: the CPU build has no FMA and each op rounds on its own, so the results are the same
 * bits as optimizer_math.c's (sqrt and division are correctly rounded on both sides).
 * One thread per element, i = blockIdx.x * blockDim.x + threadIdx.x < n (the grid covers n).
 * stop_step (device, may be NULL): the kernel does nothing when *stop_step < step (the GPU
 * head's TerminateOnNaN); NULL always updates. */
#ifndef TL_CUDA_OPTIMIZER_KERNELS_CUH
#define TL_CUDA_OPTIMIZER_KERNELS_CUH

#include <cuda_runtime.h>

#include <stddef.h>

/* optimizer_math.c's Adam ("epsilon-hat"): m += (g - m) omb1; v += (g^2 - v) omb2;
 * w -= (m alpha) / (sqrt(v) + eps). */
static __global__ void adam_kernel(float *w, float *m, float *v, const float *g, size_t n, float alpha, float omb1,
                                   float omb2, float eps, const int *stop_step, int step) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n || (stop_step && *stop_step < step)) return;
    float gi = g[i];
    float mi = __fadd_rn(m[i], __fmul_rn(__fsub_rn(gi, m[i]), omb1));
    float vi = __fadd_rn(v[i], __fmul_rn(__fsub_rn(__fmul_rn(gi, gi), v[i]), omb2));
    float st = __fdiv_rn(__fmul_rn(mi, alpha), __fadd_rn(__fsqrt_rn(vi), eps));
    m[i] = mi;
    v[i] = vi;
    w[i] = __fsub_rn(w[i], st);
}

/* optimizer_math.c's SGD: w += -g lr; with momentum m = -g lr + m mom, then w += m, or
 * (nesterov) w += -g lr + m mom. m is not touched when mom == 0. */
static __global__ void sgd_kernel(float *w, float *m, const float *g, size_t n, float lr, float mom, int nesterov,
                                  const int *stop_step, int step) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n || (stop_step && *stop_step < step)) return;
    float d = __fmul_rn(-g[i], lr);
    if (mom == 0.0f) { w[i] = __fadd_rn(w[i], d); return; }
    float mi = __fadd_rn(d, __fmul_rn(m[i], mom));
    m[i] = mi;
    w[i] = __fadd_rn(w[i], nesterov ? __fadd_rn(d, __fmul_rn(mi, mom)) : mi);
}

#endif
