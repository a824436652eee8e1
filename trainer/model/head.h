/* The classification head on pooled backbone features (Keras's layers), float32, CPU.
 *
 *   features x (b, in)
 *     -> [BatchNorm1d]            (batchnorm = 1)   eps 1e-3, momentum 0.99
 *     -> [Dense(hidden) -> ReLU]  (hidden > 0)      W1 (in, hidden), glorot_uniform, b1 = 0
 *     -> Dropout(rate)            (training only)   inverted, keep if U >= rate
 *     -> Dense(classes)           logits (b, C)     W2 (d, C), glorot_uniform, b2 = 0
 *
 * With hidden = 0 the dropout sits directly on the (normalised) features, so Dropout is
 * always the layer right before the classifier. Softmax is not applied here: the loss
 * takes logits (Keras recovers the logits of a softmax output and computes the loss from them too).
 *
 * Parameters live in ONE float arena with a table of named views, in Keras weight order
 * (bn gamma, beta, moving_mean, moving_variance, dense1 kernel, bias, dense2 kernel, bias),
 * so a checkpoint is the views table plus one write and the optimizer sees one flat
 * vector. BN moving statistics are in the arena (they are "weights": EarlyStopping restore
 * copies them) but are not trainable. Gradients live in a same-shaped arena (zero at the
 * moving statistics). Activations are sized once for max_batch; no allocation per step.
 *
 * One training step (the trial loop is the caller's):
 *   head_forward(h, x, b, 1, epoch, step);                 // h->logits (b, C)
 *   float ce = loss_xent(h->logits, y, b, C, ls, h->dlogits);
 *   head_backward(h, h->dlogits, NULL);                     // h->grads
 *   float l2 = loss_l2(h, lambda, 1);                       // adds 2*lambda*W to h->grads
 *   optimizer_step(&opt, h->params, h->grads, lr);
 */
#ifndef TL_HEAD_H
#define TL_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct HeadSpec {
    int in_dim;                 /* feature size (2048 for ResNet50) */
    int hidden;                 /* units of Dense 1; 0 = no hidden layer */
    int classes;                /* C >= 2 */
    int batchnorm;              /* bool: BatchNorm1d on the features */
    double dropout;             /* rate in [0, 1); double so 1/(1-rate) rounds as Keras's */
    int max_batch;              /* largest b passed to head_forward */
    uint64_t seed;              /* trial seed: init (RNG_INIT) and dropout (RNG_DROPOUT) */
} HeadSpec;

enum { HEAD_MAX_VIEWS = 8, HEAD_NAME_MAX = 32 };

/* A named tensor inside the parameter arena. */
typedef struct ParamView {
    char name[HEAD_NAME_MAX];   /* "bn.gamma", "dense1.kernel", ... */
    size_t offset;              /* in floats from the arena start */
    size_t size;                /* floats */
    int ndim;                   /* 1 or 2 */
    int shape[2];               /* (in, out) for kernels, (n) for vectors */
    int trainable;              /* 0 for BN moving statistics */
    int regularized;            /* 1 for Dense kernels (L2 applies) */
} ParamView;

typedef struct Head {
    HeadSpec spec;
    int drop_dim;               /* width at the dropout: hidden, or in_dim when hidden = 0 */

    float *params;              /* (n_params) the arena */
    float *grads;               /* (n_params) same layout */
    size_t n_params;
    ParamView views[HEAD_MAX_VIEWS];
    int n_views;

    /* Views into params / grads; NULL when the layer is absent. */
    float *bn_gamma, *bn_beta, *bn_moving_mean, *bn_moving_var;   /* (in) each */
    float *w1, *b1;             /* (in, hidden), (hidden) */
    float *w2, *b2;             /* (drop_dim, C), (C) */
    float *d_bn_gamma, *d_bn_beta, *d_w1, *d_b1, *d_w2, *d_b2;

    /* Activations of the last forward, each sized for max_batch rows. */
    const float *x;             /* (b, in) the caller's features, kept for backward */
    float *bn_out;              /* (b, in) */
    float *bn_mean, *bn_rstd;   /* (in) batch mean and 1/sqrt(var + eps), training only */
    float *h1;                  /* (b, hidden) Dense 1 output before ReLU */
    float *a1;                  /* (b, hidden) after ReLU */
    float *mask;                /* (b, drop_dim) 0 or 1/(1 - rate) */
    float *drop_out;            /* (b, drop_dim) */
    const float *cls_in;        /* (b, drop_dim) what Dense 2 read in the last forward */
    float *logits;              /* (b, C) */
    float *dlogits;             /* (b, C) scratch for the caller's loss gradient */
    /* Backward scratch. */
    float *d_cls_in, *d_h1, *d_bn_out;   /* (b, drop_dim), (b, hidden), (b, in) */
    int last_b, last_train;
    float *act_arena;           /* owns every buffer above */
} Head;

/* Validates the spec, allocates everything, initialises parameters (glorot_uniform
 * kernels keyed (seed, RNG_INIT, 1 | 2), zero biases, BN gamma 1, beta 0, moving mean 0,
 * moving var 1). */
int head_create(Head *h, const HeadSpec *spec, Err *e);
void head_free(Head *h);

/* Forward pass. x: (b, in), b <= max_batch. train = 1: BN batch statistics (and moving
 * update), dropout mask keyed (seed, RNG_DROPOUT, epoch, step); train = 0: moving
 * statistics, no dropout. Result in h->logits (b, C). */
void head_forward(Head *h, const float *x, int b, int train, uint32_t epoch, uint32_t step);
/* Backward of the last forward (which must have been train = 1). dlogits: (b, C).
 * Overwrites h->grads. dx: (b, in) gradient for the features, or NULL when the
 * backbone is frozen. */
void head_backward(Head *h, const float *dlogits, float *dx);

/* The view with this name, or NULL. */
const ParamView *head_view(const Head *h, const char *name);

/* Layers, each one forward and one backward (llm.c style); exposed for tests. */

/* out = BN(x). x, out: (b, n). Training: batch mean / biased variance, writes mean and
 * rstd (n) for backward and updates the moving statistics. */
void batchnorm_forward_train(float *out, float *mean, float *rstd, const float *x,
                             const float *gamma, const float *beta,
                             float *moving_mean, float *moving_var, int b, int n);
void batchnorm_forward_infer(float *out, const float *x, const float *gamma, const float *beta,
                             const float *moving_mean, const float *moving_var, int b, int n);
/* dx (b, n) may be NULL; dgamma, dbeta (n) are overwritten. */
void batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dout,
                        const float *x, const float *mean, const float *rstd,
                        const float *gamma, int b, int n);

/* out = x W + bias. x: (b, in), w: (in, out_dim), out: (b, out_dim). */
void dense_forward(float *out, const float *x, const float *w, const float *bias,
                   int b, int in, int out_dim);
/* dx (b, in) may be NULL; dw (in, out_dim) and dbias (out_dim) are overwritten. */
void dense_backward(float *dx, float *dw, float *dbias, const float *dout,
                    const float *x, const float *w, int b, int in, int out_dim);

void relu_forward(float *out, const float *x, size_t n);
/* dx = dout where x > 0, else 0. x is the ReLU input. */
void relu_backward(float *dx, const float *dout, const float *x, size_t n);

/* Fills mask (n) with 1/(1-rate) where U >= rate, else 0. U for element i is the i-th
 * float of the stream (seed, RNG_DROPOUT, epoch, step): independent of thread count. */
void dropout_mask(float *mask, size_t n, double rate, uint64_t seed, uint32_t epoch, uint32_t step);
void dropout_forward(float *out, const float *x, const float *mask, size_t n);
void dropout_backward(float *dx, const float *dout, const float *mask, size_t n);

#endif
