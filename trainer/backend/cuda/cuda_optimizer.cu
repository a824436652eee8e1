/* BackendTrainOps.optimizer_step of the CUDA backend: optimizer_update_ranges
 * (backend/optimizer_math.h) over device arrays, so that a fine-tuned suffix keeps its
 * parameters, gradients and moments on the GPU for a whole epoch.
 *
 * The scalars (Adam's alpha and 1 - beta) come from optimizer_math.c
 * (optimizer_adam_scalars), then one kernel per trainable range applies its elementwise
 * update (cuda_optimizer_kernels.cuh, no FMA contraction): the same bits as the update
 * on the host arrays. Queued on the backend's stream; returns once queued. */
#include <cuda_runtime.h>

#include <math.h>
#include <stddef.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_internal.h"
#include "backend/cuda/cuda_optimizer_kernels.cuh"

extern "C" {
#include "backend/backend_train.h"
#include "backend/optimizer_math.h"
}

enum { OPT_THREADS = 256 };

/* Blocks of OPT_THREADS covering n elements (the kernels do one element per thread). */
static unsigned opt_grid(size_t n) { return (unsigned)((n + OPT_THREADS - 1) / OPT_THREADS); }

/* The ranges' bounds within the arena are the caller's (optimizer_add_range checks them);
 * here only what the launch needs. */
static int check_ranges(const OptRange *ranges, int n_ranges, Err *e) {
    if (n_ranges < 0 || (n_ranges > 0 && !ranges)) return err_fail(e, "CUDA optimizer_step: %d ranges", n_ranges);
    for (int r = 0; r < n_ranges; r++)
        if (opt_grid(ranges[r].count) >= (1u << 31))
            return err_fail(e, "CUDA optimizer_step: range %d has %zu elements, too many for one grid", r, ranges[r].count);
    return 0;
}

int cuda_optimizer_launch(cudaStream_t stream, const OptimizerSpec *spec, long iterations, float lr, float *params,
                          const float *grads, float *m, float *v, const OptRange *ranges, int n_ranges,
                          const int *stop_step, int step, Err *e) {
    float alpha = 0.0f, omb1 = 0.0f, omb2 = 0.0f;
    if (spec->kind == OPT_ADAM) optimizer_adam_scalars(spec, iterations, lr, &alpha, &omb1, &omb2);
    for (int r = 0; r < n_ranges; r++) {
        size_t off = ranges[r].offset, n = ranges[r].count;
        if (n == 0) continue;
        if (spec->kind == OPT_ADAM) {
            adam_kernel<<<opt_grid(n), OPT_THREADS, 0, stream>>>(params + off, m + off, v + off, grads + off, n, alpha,
                                                                omb1, omb2, (float)spec->epsilon, stop_step, step);
            CUDA_CHECK_LAUNCH("adam_kernel");
        } else {
            sgd_kernel<<<opt_grid(n), OPT_THREADS, 0, stream>>>(params + off, m ? m + off : NULL, grads + off, n, lr,
                                                               (float)spec->momentum, spec->nesterov, stop_step, step);
            CUDA_CHECK_LAUNCH("sgd_kernel");
        }
    }
    return 0;
}

int cuda_optimizer_step(Backend *b, const OptimizerSpec *spec, long iterations, float lr, float *params,
                        const float *grads, float *m, float *v, const OptRange *ranges, int n_ranges, Err *e) {
    CudaCtx *c = ctx_of(b);
    int adam = spec->kind == OPT_ADAM;
    if (check_ranges(ranges, n_ranges, e)) return -1;
    if (!params || !grads || (!m && (adam || spec->momentum != 0.0)) || (adam && !v))
        return err_fail(e, "CUDA optimizer_step: missing %s array", !params ? "params" : !grads ? "grads" : !m ? "m" : "v");
    if (cuda_use_device(c, e)) return -1;
    for (int r = 0; r < n_ranges; r++) {     /* float32 tensors written: their half copies (if any) go stale */
        size_t off = ranges[r].offset, bytes = ranges[r].count * sizeof(float);
        if (bytes == 0) continue;
        cuda_shadows_invalidate(c, params + off, bytes);
        if (m) cuda_shadows_invalidate(c, m + off, bytes);
        if (adam) cuda_shadows_invalidate(c, v + off, bytes);
    }
    return cuda_optimizer_launch(c->stream, spec, iterations, lr, params, grads, m, v, ranges, n_ranges, NULL, 0, e);
}
