/* The optimizer of a training run (Keras Adam and SGD): its spec, the moments and
 * step count over a flat parameter arena, and the registered trainable ranges. Only those
 * ranges are touched (BN moving statistics, frozen layers are not); m and v have the
 * arena's full length so their layout matches the parameters' for checkpoints. The
 * arithmetic of one step is backend/optimizer_math.h's, shared with the GPU updates. */
#ifndef TL_OPTIMIZER_H
#define TL_OPTIMIZER_H

#include <stddef.h>

#include "backend/optimizer_math.h"
#include "core/error.h"

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
/* One update of every trainable range with learning rate lr; iterations += 1. */
void optimizer_step(Optimizer *o, float *params, const float *grads, float lr);
void optimizer_free(Optimizer *o);

#endif
