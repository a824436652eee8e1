/* ResNet v1 (50/101/152) exactly as keras.applications builds it (include_top=False,
 * pooling='avg'), frozen: each BatchNormalization is folded into its convolution at
 * load time and bias + residual add + ReLU run inside the convolution's epilogue.
 * Layout NHWC; input is preprocess_input (caffe) output, (n, S, S, 3) BGR. */
#ifndef TL_RESNET_H
#define TL_RESNET_H

#include "backend/backend.h"
#include "core/error.h"

enum { RESNET_FEATURES = 2048, RESNET_NAME_MAX = 48 };

/* One Conv2D of the model with the BatchNormalization that follows it. */
typedef struct ResnetConvSpec {
    char conv[RESNET_NAME_MAX];    /* Keras layer name, e.g. "conv3_block1_0_conv" */
    char bn[RESNET_NAME_MAX];      /* e.g. "conv3_block1_0_bn" */
    int kh, kw, cin, cout, stride;
    int pad;                       /* symmetric zero padding: 3 (conv1_pad), 1 (3x3 'same'), 0 */
    int in_halvings;               /* input side = image side ceil-halved this many times */
} ResnetConvSpec;

/* Side of an input after `halvings` stride-2 steps (each gives ceil(side / 2)). */
int resnet_side(int image_size, int halvings);

/* Raw Keras weights of one conv + BN (host memory, owned). */
typedef struct ResnetConvWeights {
    float *kernel;                 /* (kh, kw, cin, cout) */
    float *bias;                   /* (cout) */
    float *gamma, *beta, *mean, *var; /* (cout) each */
} ResnetConvWeights;

typedef struct ResnetArch {
    int depth;                     /* 50, 101, 152 */
    int blocks[4];                 /* identity+projection blocks per stage conv2..conv5 */
    int n_convs;
    ResnetConvSpec *convs;         /* in Keras model.layers order (resnet_arch.c) */
} ResnetArch;

/* name: "resnet50" | "resnet101" | "resnet152". */
int resnet_arch_init(ResnetArch *a, const char *name, Err *e);
void resnet_arch_free(ResnetArch *a);
/* Index of the conv named `conv` (Keras layer name), or -1. */
int resnet_arch_find(const ResnetArch *a, const char *conv);
/* 2 * multiply-adds of one image at size S (the "7.71 GFLOP" of ResNet50 at 224). */
double resnet_arch_flops(const ResnetArch *a, int image_size);

/* Weights for every conv of an arch (w[i] matches a->convs[i]). */
typedef struct ResnetWeights {
    int n;
    ResnetConvWeights *w;
    char source[1024];             /* file path or "random:SEED", for logs */
} ResnetWeights;

/* Keras HDF5 weight file (save_weights's legacy layout). Every layer and shape is checked; errors name
 * the file and layer. */
int resnet_weights_load_h5(ResnetWeights *w, const ResnetArch *a, const char *path, Err *e);
/* Writes the Keras layout (root layer_names, per-layer weight_names, datasets under
 * group/<layer>/<kind>:0). For tests and for exporting. */
int resnet_weights_save_h5(const ResnetWeights *w, const ResnetArch *a, const char *path, Err *e);
/* He-normal kernels, zero bias, BN gamma 1 beta 0 mean 0 var 1, from (seed, RNG_BACKBONE). */
int resnet_weights_random(ResnetWeights *w, const ResnetArch *a, unsigned long long seed, Err *e);
/* "random:SEED" or a path. */
int resnet_weights_open(ResnetWeights *w, const ResnetArch *a, const char *spec, Err *e);
void resnet_weights_free(ResnetWeights *w);
/* resnet_weights_open for a backbone named "resnet50" | "resnet101" | "resnet152". */
int resnet_weights_open_named(ResnetWeights *w, const char *backbone, const char *spec, Err *e);

/* Folds BN (eps 1.001e-5) into kernel and bias: w' = w*g/sqrt(v+eps), b' = (b-m)*g/sqrt(v+eps)+beta.
 * kernel_out (kh,kw,cin,cout), bias_out (cout). */
void resnet_fold_bn(const ResnetConvSpec *s, const ResnetConvWeights *w, float *kernel_out, float *bias_out);

/* The frozen backbone on a backend, planned for batches of up to max_batch images of
 * size image_size. Activation buffers are allocated once here and reused. */
typedef struct Backbone {
    ResnetArch arch;
    Backend *be;
    int image_size, max_batch;
    void **convs;                  /* backend conv handles, one per arch conv */
    float *input;                  /* backend (max_batch, S, S, 3) */
    float *act[4];                 /* backend activation buffers */
    size_t act_floats;             /* floats per activation buffer */
    float *features;               /* backend (max_batch, 2048) */
} Backbone;

int backbone_create(Backbone *bb, Backend *be, const char *arch_name, const ResnetWeights *w, int image_size,
                    int max_batch, Err *e);
/* images: host (n, S, S, 3) preprocessed; features: host (n, 2048). n <= max_batch;
 * a short batch is zero-padded to max_batch (one plan per shape). */
int backbone_forward(Backbone *bb, const float *images, int n, float *features, Err *e);
/* Runs the stem and the blocks before conv index stop_conv (which must start a block, or
 * be n_convs for the whole network); *out is the backend buffer holding that activation,
 * in the backend's native layout. stop_conv 0 gives the uploaded images. */
int backbone_forward_until(Backbone *bb, const float *images, int n, int stop_conv, float **out, Err *e);
void backbone_free(Backbone *bb);

#endif
