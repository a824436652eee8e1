/* The optimizers' arithmetic on flat float32 arrays (Keras Adam and SGD): the spec, the
 * trainable ranges and one update step. Every parameter update runs these formulas: the
 * host optimizer (model/optimizer.c, Optimizer), the backends' optimizer_step
 * (backend_train.h; the CUDA kernels in backend/cuda/cuda_optimizer_kernels.cuh) and the
 * GPU head. It lives in the backend layer because BackendTrainOps.optimizer_step takes
 * these types, and a backend includes nothing above itself.
 *
 *   Adam:  m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2)
 *          alpha = lr sqrt(1 - b2^t) / (1 - b1^t),  b^t = powf(b, t), t = iterations + 1
 *          w -= (m alpha) / (sqrt(v) + eps)                       ("epsilon-hat" form)
 *   SGD:   momentum 0: w += -g lr
 *          else m = -g lr + m momentum; nesterov: w += -g lr + m momentum; else w += m
 * Coefficients are rounded to float32 as Keras 2.11+ does ((float)(1.0 - b1): the Python
 * float difference, then the float32 cast). Same numbers for any thread count: every
 * element is independent. */
#ifndef TL_OPTIMIZER_MATH_H
#define TL_OPTIMIZER_MATH_H

#include <stddef.h>

typedef enum OptimizerKind { OPT_ADAM, OPT_SGD, N_OPTIMIZERS } OptimizerKind;
/* The YAML names (train.optimizer), in enum order. */
extern const char *const OPTIMIZER_NAMES[N_OPTIMIZERS];

typedef struct OptimizerSpec {
    OptimizerKind kind;
    double beta_1, beta_2, epsilon;   /* adam: 0.9, 0.999, 1e-7 */
    double momentum;                  /* sgd, [0, 1) */
    int nesterov;                     /* sgd */
} OptimizerSpec;

/* A trainable span of a parameter arena: elements [offset, offset + count). */
typedef struct OptRange { size_t offset, count; } OptRange;

/* Adam's per-step scalars (float32, as Keras rounds them): alpha = lr sqrt(1 - b2^t) /
 * (1 - b1^t) with t = iterations + 1, omb1 = 1 - b1, omb2 = 1 - b2. The GPU updates use
 * these too, so host and device steps share one rounding. */
void optimizer_adam_scalars(const OptimizerSpec *s, long iterations, float lr, float *alpha, float *omb1, float *omb2);

/* One update with learning rate lr of params[r.offset, +r.count) for every range, from
 * grads, with the moments m and v (v NULL for SGD) laid out as params; host memory.
 * iterations: the steps applied before this one (Adam's t = iterations + 1). */
void optimizer_update_ranges(const OptimizerSpec *s, long iterations, float lr, float *params, const float *grads,
                             float *m, float *v, const OptRange *ranges, int n_ranges);

#endif
