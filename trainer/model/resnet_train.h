/* A trainable suffix of ResNet v1: every layer from a named block on, with each Conv2D
 * (with bias) and its BatchNormalization kept apart (the conv weights change every step,
 * so BN cannot be folded in). BN runs with frozen statistics, as Keras does for a
 * BatchNormalization that sits in a fine-tuned backbone in inference mode (TF2 Keras runs a BN layer
 * with trainable=False in inference mode even inside fit);
 * gamma and beta are trainable only when asked (model.train_bn_affine).
 * The frozen prefix keeps running on the folded Backbone (resnet.h); one training step:
 *
 *   const float *x;
 *   resnet_prefix_forward(bb, s.first_conv, images, n, &x, e);   // frozen, folded BN
 *   resnet_suffix_forward(&s, x, e);                             // s.features (max_batch, 2048)
 *   ... head forward/backward on the features gives d_features (n, 2048) ...
 *   resnet_suffix_backward(&s, d_features, n, NULL, e);          // s.grads
 *   optimizer_step(&opt, s.params, s.grads, lr);                 // over the trainable views
 *
 * Parameters live in ONE backend arena with named views in Keras names
 * ("conv5_block1_1_conv/kernel", ".../bias", "conv5_block1_1_bn/gamma", "/beta",
 * "/moving_mean", "/moving_variance"), per conv in model order (resnet_arch.c); gradients live
 * in a same-shaped arena, zero at the moving statistics (and at gamma/beta when those are
 * frozen). params and grads are host arrays of n_params floats on every backend (the
 * optimizer and checkpoints use them directly); their backend copies are the first two
 * slices of act_arena, which the SuffixConv pointers address: each forward uploads params,
 * each backward downloads grads. Activations are allocated once for max_batch; a
 * forward/backward allocates nothing.
 *
 * Device-resident mode (backends with BackendTrainOps.optimizer_step, i.e. cuda): after
 * resnet_suffix_keep_on_device the backend copies are the live ones. Forward no longer
 * uploads params, backward no longer downloads grads (s->grads goes stale), and the
 * optimizer runs on the backend with the suffix's backend moments opt_m/opt_v:
 *
 *   resnet_suffix_params_to_device(&s, e);  resnet_suffix_opt_to_device(&s, opt.m, opt.v, e);
 *   per step: forward, backward, then
 *     resnet_suffix_optimizer_step(&s, &opt.spec, opt.iterations, lr_bb, opt.ranges, opt.n_ranges, e);
 *     opt.iterations++;
 *   resnet_suffix_params_to_host(&s, e);    resnet_suffix_opt_to_host(&s, opt.m, opt.v, e);
 *
 * The host arrays stay the copy that checkpoints, callbacks and weight get/set use: the
 * caller moves them across whenever either side may have changed. */
#ifndef TL_RESNET_TRAIN_H
#define TL_RESNET_TRAIN_H

#include <stddef.h>

#include "backend/backend_train.h"
#include "model/resnet.h"

enum { SUFFIX_NAME_MAX = 64 };

/* A named tensor inside the parameter arena. */
typedef struct SuffixView {
    char name[SUFFIX_NAME_MAX];   /* "conv5_block1_1_conv/kernel", "conv5_block1_1_bn/moving_mean", ... */
    size_t offset, size;          /* in floats */
    int ndim;                     /* 4 for kernels (kh, kw, cin, cout), 1 otherwise */
    int shape[4];
    int trainable;                /* kernel, bias: 1; gamma, beta: train_bn_affine; moving stats: 0 */
} SuffixView;

/* One Conv2D + BatchNormalization of the suffix. */
typedef struct SuffixConv {
    const ResnetConvSpec *spec;   /* into ResnetSuffix.arch */
    ConvDesc d;                   /* planned at max_batch, no epilogue */
    void *plan;                   /* backend training-conv plan */
    float *kernel, *bias;         /* params: (kh, kw, cin, cout), (cout) */
    BnParams bn;                  /* params: gamma, beta, moving mean, moving variance */
    float *d_kernel, *d_bias;     /* grads */
    float *d_gamma, *d_beta;      /* grads; NULL when gamma/beta are frozen */
    float *z;                     /* (max_batch, oh, ow, cout) conv output = BN input */
    float *a;                     /* (max_batch, oh, ow, cout) relu(BN(z)) for conv1/_1/_2; NULL for _0/_3 */
} SuffixConv;

/* One bottleneck block: out = relu(bn3(conv3(t2)) + shortcut), shortcut = bn0(conv0(in)) or in. */
typedef struct SuffixBlock {
    SuffixConv *c1, *c2, *c0, *c3;   /* c0 NULL for an identity block */
    const float *in;                 /* (max_batch, in side, in side, cin): the previous output */
    float *out;                      /* (max_batch, side, side, 4F) */
} SuffixBlock;

typedef struct ResnetSuffix {
    ResnetArch arch;
    Backend *be;
    int image_size, max_batch, train_bn_affine;
    int first_conv;               /* arch index of the first trainable conv */
    int has_stem;                 /* conv1 + pool1 are in the suffix ("all") */
    int in_side, in_c;            /* suffix input per image: (in_side, in_side, in_c) */

    SuffixConv *convs;            /* in arch order */
    int n_convs;
    SuffixBlock *blocks;
    int n_blocks;
    float *pool;                  /* stem only: (max_batch, S/4, S/4, 64) max-pool output */
    const float *input;           /* the last forward's input, borrowed until backward */
    float *features;              /* (max_batch, 2048) */

    float *params, *grads;        /* host arrays of n_params floats, laid out by views */
    size_t n_params;
    SuffixView *views;
    int n_views;

    float *act_arena;             /* backend: every buffer above and below */
    size_t scratch_floats;        /* floats in each backward scratch buffer */
    float *g_out, *g_in, *g_branch, *g_short, *g_z;   /* backward scratch */
    float *d_features;            /* (max_batch, 2048) */
    float *host_d_features;       /* host staging for the caller's (n, 2048), zero-padded */

    int device_resident;          /* resnet_suffix_keep_on_device was called */
    float *opt_m, *opt_v;         /* backend (n_params) optimizer moments; opt_v NULL without Adam */
} ResnetSuffix;

/* The arch index of the first conv of a suffix named by `from`: "all" (or "conv1") = the
 * whole network, "conv5" = conv5_block1 on, "conv4_block6" = that block on. */
int resnet_suffix_start(const ResnetArch *a, const char *from, int *first_conv, Err *e);

/* Plans the suffix of `arch_name` from `from` on backend be (which must have training
 * ops), for batches of max_batch images of image_size; the parameters start from w. */
int resnet_suffix_create(ResnetSuffix *s, Backend *be, const char *arch_name, const ResnetWeights *w, const char *from,
                         int image_size, int max_batch, int train_bn_affine, Err *e);
void resnet_suffix_free(ResnetSuffix *s);

/* x: backend (max_batch, in_side, in_side, in_c), kept (not copied) for the backward.
 * Uploads s->params first unless device-resident.
 * Result in s->features (max_batch, 2048). Same function for training and evaluation. */
int resnet_suffix_forward(ResnetSuffix *s, const float *x, Err *e);
/* Backward of the last forward. d_features: host (n, 2048), n <= max_batch (the padding
 * rows of a short batch get zero gradient). Overwrites every trainable gradient in
 * s->grads (only in the backend copy, without waiting, when device-resident). d_input: backend (max_batch, in_side, in_side, in_c) for d(suffix input), or
 * NULL to skip that last backward-data convolution. */
int resnet_suffix_backward(ResnetSuffix *s, const float *d_features, int n, float *d_input, Err *e);

/* Switches to device-resident mode (see the top): allocates the backend moments opt_m and,
 * with with_v (Adam), opt_v, both zero, and uploads the host parameters. Fails on a
 * backend without optimizer_step. */
int resnet_suffix_keep_on_device(ResnetSuffix *s, int with_v, Err *e);
/* Host params -> backend copy (any mode; forward does this itself when not device-resident). */
int resnet_suffix_params_to_device(ResnetSuffix *s, Err *e);
/* Backend params -> host params, waits for the queued work. */
int resnet_suffix_params_to_host(ResnetSuffix *s, Err *e);
/* Backend grads -> host grads, waits (device-resident mode leaves s->grads stale). */
int resnet_suffix_grads_to_host(ResnetSuffix *s, Err *e);
/* Host moments (n_params each, model/optimizer.h's layout) <-> opt_m / opt_v. v is used
 * only when opt_v exists. Device-resident mode only; _to_host waits. */
int resnet_suffix_opt_to_device(ResnetSuffix *s, const float *m, const float *v, Err *e);
int resnet_suffix_opt_to_host(ResnetSuffix *s, float *m, float *v, Err *e);
/* BackendTrainOps.optimizer_step on the backend params, grads, opt_m and opt_v (device-
 * resident mode): what optimizer_step(o, s->params, s->grads, lr) does on the host, with
 * spec = &o->spec, iterations = o->iterations, ranges = o->ranges. The caller advances
 * its iterations counter by one after it, as optimizer_step does. Queued, not waited for. */
int resnet_suffix_optimizer_step(ResnetSuffix *s, const struct OptimizerSpec *spec, long iterations, float lr,
                                 const struct OptRange *ranges, int n_ranges, Err *e);

/* The view with this name, or NULL. */
const SuffixView *resnet_suffix_view(const ResnetSuffix *s, const char *name);

/* The frozen backbone from the images up to the input of arch conv `first_conv` (0, or a
 * block's _1_conv). images: host (n, S, S, 3), n <= max_batch, zero-padded to max_batch
 * as backbone_forward does. *out points into bb's buffers, NHWC (max_batch, side, side, c)
 * (converted when the backbone runs in the backend's native layout), and stays valid
 * until bb runs again. */
int resnet_prefix_forward(Backbone *bb, int first_conv, const float *images, int n, const float **out, Err *e);
/* The suffix on its input x (backend, the prefix's output or a boundary-cache batch) ->
 * features host (n, 2048); returns once they are on the host. */
int resnet_suffix_features(ResnetSuffix *s, const float *x, int n, float *features, Err *e);
/* Prefix then suffix: images host (n, S, S, 3) -> features host (n, 2048). */
int resnet_suffix_forward_images(ResnetSuffix *s, Backbone *bb, const float *images, int n, float *features, Err *e);

#endif
