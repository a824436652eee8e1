/* BackendTrainOps.optimizer_step of the CUDA backend: optimizer_step (train/optimizer.h)
 * over device arrays, so that a fine-tuned suffix keeps its parameters, gradients and
 * moments on the GPU for a whole epoch.
 *
 * The scalars (Adam's alpha and 1 - beta) are computed on the host with optimizer.c's
 * float32 expressions, then one kernel per trainable range applies optimizer.c's
 * elementwise update (cuda_optimizer_kernels.cuh, no FMA contraction): the same bits as
 * optimizer_step on the host arrays. Queued on the backend's stream; returns once queued. */
#include <cuda_runtime.h>

#include <math.h>
#include <stddef.h>

#include "backend/cuda_check.h"
#include "backend/cuda_internal.h"
#include "backend/cuda_optimizer_kernels.cuh"

extern "C" {
#include "backend/backend_train.h"
#include "train/optimizer.h"
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

int cuda_optimizer_step(Backend *b, const struct OptimizerSpec *spec, long iterations, float lr, float *params,
                        const float *grads, float *m, float *v, const struct OptRange *ranges, int n_ranges, Err *e) {
    CudaCtx *c = ctx_of(b);
    int adam = spec->kind == OPT_ADAM;
    if (check_ranges(ranges, n_ranges, e)) return -1;
    if (!params || !grads || (!m && (adam || spec->momentum != 0.0)) || (adam && !v))
        return err_fail(e, "CUDA optimizer_step: missing %s array", !params ? "params" : !grads ? "grads" : !m ? "m" : "v");
    CUDA_CHECK(cudaSetDevice(c->device));
    float alpha = 0.0f, omb1 = 0.0f, omb2 = 0.0f;
    if (adam) {                                             /* optimizer.c's host arithmetic */
        float t = (float)(iterations + 1);
        float b1p = powf((float)spec->beta_1, t), b2p = powf((float)spec->beta_2, t);
        alpha = lr * sqrtf(1.0f - b2p) / (1.0f - b1p);
        omb1 = (float)(1.0 - spec->beta_1);
        omb2 = (float)(1.0 - spec->beta_2);
    }
    for (int r = 0; r < n_ranges; r++) {
        size_t off = ranges[r].offset, n = ranges[r].count;
        if (n == 0) continue;
        /* Float32 tensors written: their half copies (if any) go stale. */
        cuda_shadows_invalidate(c, params + off, n * sizeof(float));
        if (m) cuda_shadows_invalidate(c, m + off, n * sizeof(float));
        if (adam) {
            cuda_shadows_invalidate(c, v + off, n * sizeof(float));
            adam_kernel<<<opt_grid(n), OPT_THREADS, 0, c->stream>>>(params + off, m + off, v + off, grads + off, n, alpha,
                                                                   omb1, omb2, (float)spec->epsilon, NULL, 0);
            CUDA_CHECK_LAUNCH("adam_kernel");
        } else {
            sgd_kernel<<<opt_grid(n), OPT_THREADS, 0, c->stream>>>(params + off, m ? m + off : NULL, grads + off, n, lr,
                                                                  (float)spec->momentum, spec->nesterov, NULL, 0);
            CUDA_CHECK_LAUNCH("sgd_kernel");
        }
    }
    return 0;
}
