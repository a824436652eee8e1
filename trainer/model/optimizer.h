/* Optimizers on a flat parameter arena (spec §7 and Keras SGD), float32.
 * Only the registered trainable ranges are touched (BN moving statistics, frozen layers
 * are not); m and v have the arena's full length so their layout matches the parameters'
 * for checkpoints. Same numbers for any thread count: every element is independent.
 *
 *   Adam:  m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2)
 *          alpha = lr sqrt(1 - b2^t) / (1 - b1^t),  b^t = powf(b, t), t = iterations + 1
 *          w -= (m alpha) / (sqrt(v) + eps)                       ("epsilon-hat" form)
 *   SGD:   momentum 0: w += -g lr
 *          else m = -g lr + m momentum; nesterov: w += -g lr + m momentum; else w += m
 * Coefficients are rounded to float32 as Keras 2.11+ does ((float)(1.0 - b1): the Python
 * float difference, then the float32 cast). */
#ifndef TL_OPTIMIZER_H
#define TL_OPTIMIZER_H

#include <stddef.h>

#include "core/error.h"

typedef enum OptimizerKind { OPT_ADAM, OPT_SGD } OptimizerKind;

typedef struct OptimizerSpec {
    OptimizerKind kind;
    double beta_1, beta_2, epsilon;   /* adam: 0.9, 0.999, 1e-7 */
    double momentum;                  /* sgd, [0, 1) */
    int nesterov;                     /* sgd */
} OptimizerSpec;

typedef struct OptRange { size_t offset, count; } OptRange;

typedef struct Optimizer {
    OptimizerSpec spec;
    size_t n;                 /* arena length */
    float *m;                 /* (n) adam first moment / sgd momentum; zero outside ranges */
    float *v;                 /* (n) adam second moment; NULL for sgd */
    long iterations;          /* applied steps (Keras optimizer.iterations) */
    OptRange *ranges;
    int n_ranges, cap_ranges;
} Optimizer;

/* "adam" | "sgd" -> kind; -1 with a message for anything else. */
int optimizer_kind_parse(const char *name, OptimizerKind *kind, Err *e);
int optimizer_create(Optimizer *o, const OptimizerSpec *spec, size_t n_params, Err *e);
/* Marks [offset, offset + count) trainable; adjacent ranges merge. */
int optimizer_add_range(Optimizer *o, size_t offset, size_t count, Err *e);
/* Adam's per-step scalars (float32, as Keras rounds them): alpha = lr sqrt(1 - b2^t) /
 * (1 - b1^t) with t = iterations + 1, omb1 = 1 - b1, omb2 = 1 - b2. The GPU updates use
 * these too, so host and device steps share one rounding. */
void optimizer_adam_scalars(const OptimizerSpec *s, long iterations, float lr, float *alpha, float *omb1, float *omb2);
/* One update of every trainable range with learning rate lr; iterations += 1. */
void optimizer_step(Optimizer *o, float *params, const float *grads, float lr);
void optimizer_free(Optimizer *o);

#endif
