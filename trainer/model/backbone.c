/* The frozen ResNet backbone on a backend: BN folded into each convolution, bias +
 * residual + ReLU in the convolution epilogue, activations in four buffers allocated once.
 *
 * Buffer use per bottleneck block (X = block input, becomes the block output):
 *   projection:  S = conv0(X);  T1 = relu(conv1(X));  T2 = relu(conv2(T1));  S = relu(conv3(T2) + S);  swap(X, S)
 *   identity:                   T1 = relu(conv1(X));  T2 = relu(conv2(T1));  X = relu(conv3(T2) + X)   (in place) */
#include <stdlib.h>
#include <string.h>

#include "model/resnet.h"

enum { BUF_X = 0, BUF_T1 = 1, BUF_T2 = 2, BUF_S = 3 };

static ConvDesc conv_desc_for(const ResnetConvSpec *s, int n, int image_size, int native) {
    int side = resnet_side(image_size, s->in_halvings);
    int is_add = strstr(s->conv, "_3_conv") != NULL, is_proj = strstr(s->conv, "_0_conv") != NULL;
    ConvDesc d = {.n = n, .h = side, .w = side, .cin = s->cin, .cout = s->cout, .kh = s->kh, .kw = s->kw,
                  .stride = s->stride, .pad_top = s->pad, .pad_left = s->pad, .pad_bottom = s->pad, .pad_right = s->pad,
                  .has_residual = is_add, .relu = !is_proj, .native_io = native};
    return d;
}

static int plan_convs(Backbone *bb, const ResnetWeights *w, Err *e) {
    const ResnetArch *a = &bb->arch;
    size_t max_k = 0;
    for (int i = 0; i < a->n_convs; i++) {
        size_t k = (size_t)a->convs[i].kh * a->convs[i].kw * a->convs[i].cin * a->convs[i].cout;
        max_k = k > max_k ? k : max_k;
    }
    float *kernel = tl_malloc(e, max_k * sizeof(float), "folded kernel"), *bias = tl_malloc(e, 2048 * sizeof(float), "folded bias");
    int rc = kernel && bias ? 0 : -1;
    for (int i = 0; rc == 0 && i < a->n_convs; i++) {
        const ResnetConvSpec *s = &a->convs[i];
        ConvDesc d = conv_desc_for(s, bb->max_batch, bb->image_size, bb->be->native_layout);
        resnet_fold_bn(s, &w->w[i], kernel, bias);
        rc = conv_desc_init(&d, e) || bb->be->ops->conv_create(bb->be, &d, kernel, bias, &bb->convs[i], e) ? -1 : 0;
        if (rc) err_context(e, "%s", s->conv);
        size_t out = (size_t)bb->max_batch * d.oh * d.ow * d.cout;
        bb->act_floats = out > bb->act_floats ? out : bb->act_floats;
    }
    free(kernel);
    free(bias);
    return rc;
}

int backbone_create(Backbone *bb, Backend *be, const char *arch_name, const ResnetWeights *w, int image_size, int max_batch,
                    Err *e) {
    memset(bb, 0, sizeof *bb);
    if (image_size < 32) return err_fail(e, "image_size %d is below ResNet's minimum of 32", image_size);
    if (resnet_arch_init(&bb->arch, arch_name, e)) return -1;
    if (w->n != bb->arch.n_convs) { resnet_arch_free(&bb->arch); return err_fail(e, "weights do not match %s", arch_name); }
    bb->be = be;
    bb->image_size = image_size;
    bb->max_batch = max_batch;
    bb->convs = tl_calloc(e, (size_t)bb->arch.n_convs, sizeof(void *), "conv handles");
    if (!bb->convs || plan_convs(bb, w, e)) { backbone_free(bb); return -1; }
    size_t in_floats = (size_t)max_batch * image_size * image_size * 3;
    int rc = be->ops->alloc(be, in_floats * sizeof(float), (void **)&bb->input, e);
    for (int i = 0; rc == 0 && i < 4; i++) rc = be->ops->alloc(be, bb->act_floats * sizeof(float), (void **)&bb->act[i], e);
    if (rc == 0) rc = be->ops->alloc(be, (size_t)max_batch * RESNET_FEATURES * sizeof(float), (void **)&bb->features, e);
    if (rc) { backbone_free(bb); return err_context(e, "backbone buffers"); }
    return 0;
}

static int run_conv(Backbone *bb, int i, const float *x, const float *res, float *y, Err *e) {
    if (bb->be->ops->conv_forward(bb->be, bb->convs[i], x, res, y, e)) return err_context(e, "%s", bb->arch.convs[i].conv);
    return 0;
}

/* Runs the blocks from conv index `first`; returns the index after the block, or -1. */
static int run_block(Backbone *bb, int first, float **buf, Err *e) {
    const ResnetArch *a = &bb->arch;
    int projection = first + 2 < a->n_convs && strstr(a->convs[first + 2].conv, "_0_conv");
    if (projection) {
        if (run_conv(bb, first + 2, buf[BUF_X], NULL, buf[BUF_S], e)) return -1;
    }
    if (run_conv(bb, first, buf[BUF_X], NULL, buf[BUF_T1], e) || run_conv(bb, first + 1, buf[BUF_T1], NULL, buf[BUF_T2], e))
        return -1;
    int last = first + (projection ? 3 : 2);
    float *res = projection ? buf[BUF_S] : buf[BUF_X];
    if (run_conv(bb, last, buf[BUF_T2], res, res, e)) return -1;
    if (projection) { float *t = buf[BUF_X]; buf[BUF_X] = buf[BUF_S]; buf[BUF_S] = t; }
    return last + 1;
}

static int upload_images(Backbone *bb, const float *images, int n, Err *e) {
    Backend *be = bb->be;
    int s = bb->image_size;
    if (n <= 0 || n > bb->max_batch) return err_fail(e, "backbone batch %d outside 1..%d", n, bb->max_batch);
    size_t per_image = (size_t)s * s * 3;
    if (be->ops->upload(be, bb->input, images, (size_t)n * per_image * sizeof(float), e)) return -1;
    if (n == bb->max_batch) return 0;
    /* A short batch runs on the planned shape; the padding images are zeros. */
    float *pad = calloc((size_t)(bb->max_batch - n) * per_image, sizeof(float));
    int rc = pad ? be->ops->upload(be, bb->input + n * per_image, pad, (size_t)(bb->max_batch - n) * per_image * sizeof(float), e)
                 : err_fail(e, "out of memory");
    free(pad);
    return rc;
}

int backbone_forward_until(Backbone *bb, const float *images, int n, int stop_conv, float **out, Err *e) {
    Backend *be = bb->be;
    if (upload_images(bb, images, n, e)) return -1;
    if (stop_conv == 0) { *out = bb->input; return 0; }
    float *buf[4] = {bb->act[0], bb->act[1], bb->act[2], bb->act[3]};
    int c1 = resnet_side(bb->image_size, 1), native = be->native_layout;
    if (run_conv(bb, 0, bb->input, NULL, buf[BUF_T1], e)) return -1;
    if ((native ? be->ops->maxpool3x3s2_native : be->ops->maxpool3x3s2)(be, buf[BUF_T1], bb->max_batch, c1, c1, 64,
                                                                        buf[BUF_X], e))
        return err_context(e, "pool1_pool");
    int i = 1;
    while (i > 0 && i < stop_conv) i = run_block(bb, i, buf, e);
    if (i < 0) return -1;
    if (i != stop_conv) return err_fail(e, "conv %d does not start a block", stop_conv);
    *out = buf[BUF_X];
    return 0;
}

int backbone_forward(Backbone *bb, const float *images, int n, float *features, Err *e) {
    Backend *be = bb->be;
    float *x;
    if (backbone_forward_until(bb, images, n, bb->arch.n_convs, &x, e)) return -1;
    int last = resnet_side(bb->image_size, 5);
    if ((be->native_layout ? be->ops->global_avgpool_native : be->ops->global_avgpool)(be, x, bb->max_batch, last, last,
                                                                                        RESNET_FEATURES, bb->features, e))
        return err_context(e, "avg_pool");
    if (be->ops->download(be, features, bb->features, (size_t)n * RESNET_FEATURES * sizeof(float), e)) return -1;
    return be->ops->sync(be, e);
}

void backbone_free(Backbone *bb) {
    if (bb->convs)
        for (int i = 0; i < bb->arch.n_convs; i++)
            if (bb->convs[i]) bb->be->ops->conv_destroy(bb->be, bb->convs[i]);
    free(bb->convs);
    if (bb->be) {
        if (bb->input) bb->be->ops->release(bb->be, bb->input);
        for (int i = 0; i < 4; i++)
            if (bb->act[i]) bb->be->ops->release(bb->be, bb->act[i]);
        if (bb->features) bb->be->ops->release(bb->be, bb->features);
    }
    resnet_arch_free(&bb->arch);
    memset(bb, 0, sizeof *bb);
}
