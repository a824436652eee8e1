/* Training ops of the compute backend: the backward pass of every op in a trainable
 * ResNet suffix, and the frozen-statistics BatchNorm forward that training keeps apart
 * from the convolution (the weights change every step, so BN cannot be folded in).
 *
 * A backend that can train points Backend.train at one of these tables; NULL means
 * inference only. Conventions are backend.h's: NHWC activations, HWIO kernels
 * (kh, kw, cin, cout), every pointer is backend memory, 0 ok / -1 with a message.
 *
 * One bottleneck block, forward and backward, in these ops (z* are conv outputs = BN inputs):
 *   forward   z1 = conv1(x);  t1 = bn_forward(z1, relu)        (same for conv2 on t1)
 *             z3 = conv3(t2); s = bn0(conv0(x)) or x;  out = bn_forward(z3, res = s, relu)
 *   backward  g = relu_backward(out, dout)         the Add's backward: g goes to both operands
 *             dz3 = bn_backward(z3, g) -> conv_backward_weights(t2, dz3), conv_backward_data -> dt2
 *             ...  dx = conv1's backward data;  accumulate(dx += g or conv0's backward data)
 */
#ifndef TL_BACKEND_TRAIN_H
#define TL_BACKEND_TRAIN_H

#include <stddef.h>

#include "backend/backend.h"
#include "backend/optimizer_math.h"

/* Keras ResNet's BatchNormalization epsilon (keras/applications/resnet.py gives every BN 1.001e-5). */
#define BN_FROZEN_EPSILON 1.001e-5

/* One frozen BatchNormalization over the last axis: y = gamma*(x - mean)/sqrt(var + eps) + beta. */
typedef struct BnParams {
    const float *gamma, *beta, *mean, *var;   /* (c) each */
    int c;
} BnParams;

typedef struct BackendTrainOps {
    /* Convolution whose weights are passed on every call (they change every step):
     * y = conv(x, w) + bias, no residual and no ReLU (d->has_residual and d->relu must be 0).
     * A plan holds the algorithm choice and layouts for one shape (d->n fixed). */
    int (*conv_plan_create)(Backend *b, const ConvDesc *d, void **plan, Err *e);
    /* x (n, h, w, cin), w (kh, kw, cin, cout), bias (cout) -> y (n, oh, ow, cout). */
    int (*conv_plan_forward)(Backend *b, void *plan, const float *x, const float *w, const float *bias, float *y, Err *e);
    /* dy (n, oh, ow, cout), w -> dx (n, h, w, cin), overwritten (0 where no output reads x). */
    int (*conv_backward_data)(Backend *b, void *plan, const float *dy, const float *w, float *dx, Err *e);
    /* x (forward input), dy -> dw (kh, kw, cin, cout) and dbias (cout), overwritten. */
    int (*conv_backward_weights)(Backend *b, void *plan, const float *x, const float *dy, float *dw, float *dbias, Err *e);
    void (*conv_plan_destroy)(Backend *b, void *plan);

    /* y = act(BN(x) + res): BN with frozen statistics, then the residual add and ReLU that
     * follow it in ResNet. x, res, y: (rows, p->c); res NULL or equal to y (in place). */
    int (*bn_forward)(Backend *b, const BnParams *p, const float *x, const float *res, int relu, size_t rows, float *y,
                      Err *e);
    /* x: the BN input of the forward, dy: d(BN output), both (rows, c). Overwrites
     * dx = dy*gamma/sqrt(var+eps) (rows, c), dgamma = sum_rows dy*xhat and dbeta = sum_rows dy (c);
     * any output may be NULL (not computed). dx may equal dy. */
    int (*bn_backward)(Backend *b, const BnParams *p, const float *x, const float *dy, size_t rows, float *dx,
                       float *dgamma, float *dbeta, Err *e);
    /* dx = dy where y > 0, else 0. y is the ReLU's output or its input (the same sign
     * pattern). dx may equal dy. */
    int (*relu_backward)(Backend *b, const float *y, const float *dy, size_t n, float *dx, Err *e);
    /* dst += src (n floats): where fanned-out gradients meet again (a block input feeds
     * both the shortcut and _1_conv). The Add's own backward is the identity on both
     * operands, so it needs no op of its own. */
    int (*accumulate)(Backend *b, const float *src, size_t n, float *dst, Err *e);
    /* Backward of maxpool3x3s2 (zero pad 1, as Keras's pool1_pad + pool1_pool). x: the
     * forward input (n, h, w, c); dy (n, oh, ow, c); dx (n, h, w, c) overwritten. Each
     * window's gradient goes to its maximum, ties to the first in row-major order of the
     * padded window (TensorFlow's MaxPoolGrad); a pad cell that wins drops its gradient
     * (ZeroPadding2D's backward crops it). */
    int (*maxpool3x3s2_backward)(Backend *b, const float *x, const float *dy, int n, int h, int w, int c, float *dx,
                                 Err *e);
    /* dy (n, c) -> dx (n, h, w, c) = dy / (h*w), overwritten. */
    int (*global_avgpool_backward)(Backend *b, const float *dy, int n, int h, int w, int c, float *dx, Err *e);

    /* An activation in the backend's native layout (Backend.native_layout: what a backbone
     * planned with native_io produces) -> NHWC (n, h, w, c), for a trainable suffix that
     * starts where the frozen backbone stops. NULL on a backend without a native layout. */
    int (*native_to_nhwc)(Backend *b, const float *x, int n, int h, int w, int c, float *y, Err *e);

    /* optimizer_update_ranges (optimizer_math.h) on backend memory, queued on the backend's
     * stream: one update of params[r.offset, +r.count) for every range from grads, with the
     * moments m and v (v NULL for SGD) laid out as params, exactly its float32 formulas.
     * iterations: the optimizer's applied steps before this one (Adam's t = iterations + 1);
     * the caller advances its own counter. NULL on the CPU backends: their optimizer is
     * optimizer_step (model/optimizer.h) on the host arrays. */
    int (*optimizer_step)(Backend *b, const OptimizerSpec *spec, long iterations, float lr, float *params,
                          const float *grads, float *m, float *v, const OptRange *ranges, int n_ranges, Err *e);
} BackendTrainOps;

/* The tables backend_reference_create and backend_cpu_create install in Backend.train. */
const BackendTrainOps *backend_reference_train_ops(void);
const BackendTrainOps *backend_cpu_train_ops(void);

#endif
