/* Softmax cross-entropy with label smoothing, from logits, and the L2 kernel penalty
 * (Keras's l2: lambda * sum w^2, no 1/2). The reported batch loss is loss_xent(...) + loss_l2(...), for training
 * and for validation alike (Keras adds model.losses to val_loss too):
 *   training step k:  L_k = loss_xent(...) + loss_l2(h, lambda, 1)   (weights before the update)
 *   validation:       val_loss = mean over batches (weighted by b) of loss_xent + loss_l2(h, lambda, 0)
 *                     (the penalty is constant during evaluation: compute it once). */
#ifndef TL_LOSS_H
#define TL_LOSS_H

#include <stddef.h>

#include "model/head.h"

/* Mean over the batch of CE_i = sum_k y'_ik * (logsumexp(z_i) - z_ik), with the smoothed
 * target y' = onehot(label) * (1 - smoothing) + smoothing / C.
 * logits: (b, C); labels: (b) class ids in [0, C).
 * dlogits: (b, C) gets (softmax(z) - y') / b, or NULL for evaluation only. */
float loss_xent(const float *logits, const int *labels, int b, int C, double smoothing, float *dlogits);

/* lambda * sum(w^2) over n floats (no 1/2, as Keras's l2()). */
float l2_penalty(const float *w, size_t n, float lambda);
/* dw += 2 * lambda * w. */
void l2_backward(float *dw, const float *w, size_t n, float lambda);

/* The L2 term of the head: sum of l2_penalty over its regularized views (both Dense
 * kernels). add_grad = 1 also adds 2*lambda*W into h->grads: call it after head_backward,
 * which overwrites the gradients. */
float loss_l2(Head *h, float lambda, int add_grad);

#endif
