/* The trainable ResNet suffix: unfolded conv + frozen BN per layer, forward keeping what
 * the backward needs, backward to every kernel, bias (and gamma, beta). Also the frozen
 * prefix run on the folded Backbone up to the suffix's input.
 *
 * Backward of one block, with g = d(block output) (buffers: g_out, g_in, g_branch, g_short, g_z):
 *   g = relu'(out) * g                          ReLU after the Add, from its output
 *   [proj] dz0 = bn0'(g); dW0; g_short = conv0'(dz0)          the Add hands g to both operands
 *   dz3 = bn3'(g); dW3; g_branch = conv3'(dz3); relu'(t2); dz2 ...; relu'(t1); dz1 ...
 *   d(in) = conv1'(dz1) + (g_short or g)        where the block input fanned out
 *
 * Parameters: s->params and s->grads are host arrays on every backend (the optimizer,
 * checkpoints and callbacks read and write them directly); the backend ops use device
 * copies at the front of act_arena. Each forward uploads the host parameters (they may
 * have changed since: an optimizer step, a restored checkpoint) and each backward
 * downloads the gradients. On the CPU backends that is two memcpy of the arena per step.
 * In device-resident mode (cuda) neither happens: the caller moves params and moments
 * explicitly (resnet_suffix_params_to_device/_to_host, _opt_to_device/_to_host) and the
 * optimizer runs on the backend (resnet_suffix_optimizer_step). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/resnet_train.h"

/* -------------------------------------------------------------- naming the suffix */

int resnet_suffix_start(const ResnetArch *a, const char *from, int *first_conv, Err *e) {
    if (!strcmp(from, "all") || !strcmp(from, "conv1")) { *first_conv = 0; return 0; }
    char conv[RESNET_NAME_MAX];
    int stage, block, used = 0;
    int digits = !strncmp(from, "conv", 4) && isdigit((unsigned char)from[4]);
    if (digits && sscanf(from, "conv%d_block%d%n", &stage, &block, &used) == 2 && !from[used] && block > 0)
        snprintf(conv, sizeof conv, "conv%d_block%d_1_conv", stage, block);
    else if (digits && sscanf(from, "conv%d%n", &stage, &used) == 1 && !from[used])
        snprintf(conv, sizeof conv, "conv%d_block1_1_conv", stage);
    else
        return err_fail(e, "trainable '%s': expected all, conv2..conv5 or convN_blockM (e.g. conv4_block6)", from);
    int i = resnet_arch_find(a, conv);
    if (i < 0) return err_fail(e, "trainable '%s': resnet%d has no such block", from, a->depth);
    *first_conv = i;
    return 0;
}

/* '1', '2', '0', '3' for a bottleneck conv, 's' for conv1_conv (the stem). */
static char conv_role(const ResnetConvSpec *s) {
    static const char roles[] = "1203";
    char tag[8];
    for (int i = 0; i < 4; i++) {
        snprintf(tag, sizeof tag, "_%c_conv", roles[i]);
        if (strstr(s->conv, tag)) return roles[i];
    }
    return 's';
}

/* ------------------------------------------------------------------ structure */

static size_t conv_rows(const SuffixConv *c) { return (size_t)c->d.n * c->d.oh * c->d.ow; }
static size_t conv_out_floats(const SuffixConv *c) { return conv_rows(c) * c->d.cout; }
static size_t conv_in_floats(const SuffixConv *c) { return (size_t)c->d.n * c->d.h * c->d.w * c->d.cin; }

static ConvDesc train_conv_desc(const ResnetConvSpec *s, int n, int image_size) {
    int side = resnet_side(image_size, s->in_halvings);
    ConvDesc d = {.n = n, .h = side, .w = side, .cin = s->cin, .cout = s->cout, .kh = s->kh, .kw = s->kw,
                  .stride = s->stride, .pad_top = s->pad, .pad_left = s->pad, .pad_bottom = s->pad, .pad_right = s->pad};
    return d;
}

/* Convs from first_conv on, grouped into the stem (first_conv 0) and bottleneck blocks. */
static int build_structure(ResnetSuffix *s, Err *e) {
    s->n_convs = s->arch.n_convs - s->first_conv;
    s->convs = tl_calloc(e, (size_t)s->n_convs, sizeof *s->convs, "suffix convs");
    s->blocks = tl_calloc(e, (size_t)s->n_convs, sizeof *s->blocks, "suffix blocks");
    if (!s->convs || !s->blocks) return -1;
    s->has_stem = s->first_conv == 0;
    for (int k = 0; k < s->n_convs; k++) {
        SuffixConv *c = &s->convs[k];
        c->spec = &s->arch.convs[s->first_conv + k];
        c->d = train_conv_desc(c->spec, s->max_batch, s->image_size);
        if (conv_desc_init(&c->d, e)) return err_context(e, "%s", c->spec->conv);
        char role = conv_role(c->spec);
        if (role == '1') s->n_blocks++;
        if (role == 's') continue;
        SuffixBlock *b = &s->blocks[s->n_blocks - 1];
        *(role == '1' ? &b->c1 : role == '2' ? &b->c2 : role == '0' ? &b->c0 : &b->c3) = c;
    }
    for (int i = 0; i < s->n_blocks; i++)
        if (!s->blocks[i].c1 || !s->blocks[i].c2 || !s->blocks[i].c3) return err_fail(e, "suffix block %d is incomplete", i);
    s->in_side = s->convs[0].d.h;
    s->in_c = s->convs[0].d.cin;
    return 0;
}

/* ---------------------------------------------------------------- parameters */

static void add_view(ResnetSuffix *s, const char *layer, const char *what, int ndim, const int *shape, int trainable) {
    SuffixView *v = &s->views[s->n_views++];
    snprintf(v->name, sizeof v->name, "%s/%s", layer, what);
    v->offset = s->n_params;
    v->ndim = ndim;
    v->size = 1;
    for (int i = 0; i < ndim; i++) v->size *= (size_t)(v->shape[i] = shape[i]);
    v->trainable = trainable;
    s->n_params += v->size;
}

/* Per conv, six views in Keras weight order: kernel, bias, gamma, beta, moving_mean, moving_variance. */
static int layout_params(ResnetSuffix *s, Err *e) {
    s->views = tl_calloc(e, 6 * (size_t)s->n_convs, sizeof *s->views, "suffix views");
    if (!s->views) return -1;
    for (int k = 0; k < s->n_convs; k++) {
        const ResnetConvSpec *p = s->convs[k].spec;
        int kshape[4] = {p->kh, p->kw, p->cin, p->cout}, vshape[1] = {p->cout};
        add_view(s, p->conv, "kernel", 4, kshape, 1);
        add_view(s, p->conv, "bias", 1, vshape, 1);
        add_view(s, p->bn, "gamma", 1, vshape, s->train_bn_affine);
        add_view(s, p->bn, "beta", 1, vshape, s->train_bn_affine);
        add_view(s, p->bn, "moving_mean", 1, vshape, 0);
        add_view(s, p->bn, "moving_variance", 1, vshape, 0);
    }
    return 0;
}

/* The backend copies of params and grads: the first two slices of act_arena
 * (layout_activations carves them first). */
static size_t param_slice(const ResnetSuffix *s) { return (s->n_params + 15) / 16 * 16; }
static float *dev_params(const ResnetSuffix *s) { return s->act_arena; }
static float *dev_grads(const ResnetSuffix *s) { return s->act_arena + param_slice(s); }

/* Points every conv's parameter and gradient pointers into the backend copies. */
static void bind_params(ResnetSuffix *s) {
    float *p = dev_params(s), *g = dev_grads(s);
    for (int k = 0; k < s->n_convs; k++) {
        SuffixConv *c = &s->convs[k];
        const SuffixView *v = &s->views[6 * k];
        c->kernel = p + v[0].offset;
        c->bias = p + v[1].offset;
        c->bn = (BnParams){p + v[2].offset, p + v[3].offset, p + v[4].offset, p + v[5].offset, c->spec->cout};
        c->d_kernel = g + v[0].offset;
        c->d_bias = g + v[1].offset;
        c->d_gamma = s->train_bn_affine ? g + v[2].offset : NULL;
        c->d_beta = s->train_bn_affine ? g + v[3].offset : NULL;
    }
}

static int upload_zeros(Backend *be, float *dst, size_t n, Err *e) {
    enum { CHUNK = 1 << 16 };
    float *zeros = tl_calloc(e, CHUNK, sizeof(float), "zeros");
    if (!zeros) return -1;
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < n; off += CHUNK)
        rc = be->ops->upload(be, dst + off, zeros, (n - off < CHUNK ? n - off : CHUNK) * sizeof(float), e);
    free(zeros);
    return rc;
}

/* Host params from w, host grads zero, the backend's gradient copy zero (the frozen views
 * are never written there); the backend's parameter copy is filled by each forward. */
static int load_params(ResnetSuffix *s, const ResnetWeights *w, Err *e) {
    s->params = tl_malloc(e, s->n_params * sizeof(float), "suffix parameters");
    s->grads = tl_calloc(e, s->n_params, sizeof(float), "suffix gradients");
    if (!s->params || !s->grads || upload_zeros(s->be, dev_grads(s), s->n_params, e)) return err_context(e, "suffix parameters");
    for (int k = 0; k < s->n_convs; k++) {
        const ResnetConvWeights *cw = &w->w[s->first_conv + k];
        const float *src[6] = {cw->kernel, cw->bias, cw->gamma, cw->beta, cw->mean, cw->var};
        for (int i = 0; i < 6; i++) {
            const SuffixView *v = &s->views[6 * k + i];
            memcpy(s->params + v->offset, src[i], v->size * sizeof(float));
        }
    }
    bind_params(s);
    return 0;
}

/* --------------------------------------------------------------- activations */

/* Hands out 64-byte aligned slices of one arena; with base NULL it only counts. */
typedef struct Carver { float *base; size_t used; } Carver;

static float *carve(Carver *cv, size_t n) {
    float *p = cv->base ? cv->base + cv->used : NULL;
    cv->used += (n + 15) / 16 * 16;
    return p;
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static void layout_activations(ResnetSuffix *s, Carver *cv) {
    carve(cv, s->n_params);   /* dev_params */
    carve(cv, s->n_params);   /* dev_grads */
    size_t most = (size_t)s->max_batch * s->in_side * s->in_side * s->in_c;
    for (int k = 0; k < s->n_convs; k++) {
        SuffixConv *c = &s->convs[k];
        char role = conv_role(c->spec);
        c->z = carve(cv, conv_out_floats(c));
        c->a = role == 's' || role == '1' || role == '2' ? carve(cv, conv_out_floats(c)) : NULL;
        most = max_size(most, conv_out_floats(c));
    }
    for (int i = 0; i < s->n_blocks; i++) {
        s->blocks[i].out = carve(cv, conv_out_floats(s->blocks[i].c3));
        if (i > 0) s->blocks[i].in = s->blocks[i - 1].out;
    }
    if (s->has_stem) {
        int side = resnet_side(s->image_size, 2);
        size_t n = (size_t)s->max_batch * side * side * s->convs[0].d.cout;
        s->pool = carve(cv, n);
        most = max_size(most, n);
    }
    s->features = carve(cv, (size_t)s->max_batch * RESNET_FEATURES);
    s->d_features = carve(cv, (size_t)s->max_batch * RESNET_FEATURES);
    s->scratch_floats = most;
    float **scratch[5] = {&s->g_out, &s->g_in, &s->g_branch, &s->g_short, &s->g_z};
    for (int i = 0; i < 5; i++) *scratch[i] = carve(cv, most);
}

static int alloc_activations(ResnetSuffix *s, Err *e) {
    Carver count = {NULL, 0};
    layout_activations(s, &count);
    Carver real = {NULL, 0};
    if (s->be->ops->alloc(s->be, count.used * sizeof(float), (void **)&real.base, e))
        return err_context(e, "suffix activations");
    s->act_arena = real.base;
    layout_activations(s, &real);
    s->host_d_features = tl_calloc(e, (size_t)s->max_batch * RESNET_FEATURES, sizeof(float), "feature gradients");
    return s->host_d_features ? 0 : -1;
}

static int plan_convs(ResnetSuffix *s, Err *e) {
    for (int k = 0; k < s->n_convs; k++)
        if (s->be->train->conv_plan_create(s->be, &s->convs[k].d, &s->convs[k].plan, e))
            return err_context(e, "%s", s->convs[k].spec->conv);
    return 0;
}

int resnet_suffix_create(ResnetSuffix *s, Backend *be, const char *arch_name, const ResnetWeights *w, const char *from,
                         int image_size, int max_batch, int train_bn_affine, Err *e) {
    memset(s, 0, sizeof *s);
    if (!be->train)
        return err_fail(e, "backend '%s' has no training ops: unfrozen layers need the cpu or cuda backend", be->name);
    if (image_size < 32) return err_fail(e, "image_size %d is below ResNet's minimum of 32", image_size);
    if (max_batch < 1) return err_fail(e, "max_batch must be >= 1 (got %d)", max_batch);
    if (resnet_arch_init(&s->arch, arch_name, e)) return -1;
    s->be = be;
    s->image_size = image_size;
    s->max_batch = max_batch;
    s->train_bn_affine = train_bn_affine != 0;
    int rc = w->n == s->arch.n_convs ? 0 : err_fail(e, "weights do not match %s", arch_name);
    if (rc == 0) rc = resnet_suffix_start(&s->arch, from, &s->first_conv, e);
    if (rc == 0) rc = build_structure(s, e) || layout_params(s, e) || alloc_activations(s, e) || load_params(s, w, e) ||
                      plan_convs(s, e) ? -1 : 0;
    if (rc) resnet_suffix_free(s);
    return rc;
}

void resnet_suffix_free(ResnetSuffix *s) {
    Backend *be = s->be;
    if (be && s->convs)
        for (int k = 0; k < s->n_convs; k++)
            if (s->convs[k].plan) be->train->conv_plan_destroy(be, s->convs[k].plan);
    if (be && s->act_arena) be->ops->release(be, s->act_arena);
    if (be && s->opt_m) be->ops->release(be, s->opt_m);
    if (be && s->opt_v) be->ops->release(be, s->opt_v);
    free(s->params);
    free(s->grads);
    free(s->convs);
    free(s->blocks);
    free(s->views);
    free(s->host_d_features);
    resnet_arch_free(&s->arch);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------ device-resident mode */

int resnet_suffix_params_to_device(ResnetSuffix *s, Err *e) {
    if (s->be->ops->upload(s->be, dev_params(s), s->params, s->n_params * sizeof(float), e))
        return err_context(e, "suffix parameters");
    return 0;
}

int resnet_suffix_params_to_host(ResnetSuffix *s, Err *e) {
    if (s->be->ops->download(s->be, s->params, dev_params(s), s->n_params * sizeof(float), e) || s->be->ops->sync(s->be, e))
        return err_context(e, "suffix parameters");
    return 0;
}

int resnet_suffix_grads_to_host(ResnetSuffix *s, Err *e) {
    if (s->be->ops->download(s->be, s->grads, dev_grads(s), s->n_params * sizeof(float), e) || s->be->ops->sync(s->be, e))
        return err_context(e, "suffix gradients");
    return 0;
}

int resnet_suffix_keep_on_device(ResnetSuffix *s, int with_v, Err *e) {
    Backend *be = s->be;
    if (!be->train->optimizer_step) return err_fail(e, "backend '%s' has no device optimizer", be->name);
    if (s->device_resident) return err_fail(e, "suffix is already device-resident");
    size_t bytes = s->n_params * sizeof(float);
    if (be->ops->alloc(be, bytes, (void **)&s->opt_m, e) || upload_zeros(be, s->opt_m, s->n_params, e) ||
        (with_v && (be->ops->alloc(be, bytes, (void **)&s->opt_v, e) || upload_zeros(be, s->opt_v, s->n_params, e))) ||
        resnet_suffix_params_to_device(s, e))
        return err_context(e, "device-resident suffix");
    s->device_resident = 1;
    return 0;
}

int resnet_suffix_opt_to_device(ResnetSuffix *s, const float *m, const float *v, Err *e) {
    size_t bytes = s->n_params * sizeof(float);
    if (!s->device_resident) return err_fail(e, "suffix optimizer state: not device-resident");
    if (s->opt_v && !v) return err_fail(e, "suffix optimizer state: no second moment given");
    if (s->be->ops->upload(s->be, s->opt_m, m, bytes, e) || (s->opt_v && s->be->ops->upload(s->be, s->opt_v, v, bytes, e)))
        return err_context(e, "suffix optimizer state");
    return 0;
}

int resnet_suffix_opt_to_host(ResnetSuffix *s, float *m, float *v, Err *e) {
    size_t bytes = s->n_params * sizeof(float);
    if (!s->device_resident) return err_fail(e, "suffix optimizer state: not device-resident");
    if (s->opt_v && !v) return err_fail(e, "suffix optimizer state: no second moment given");
    if (s->be->ops->download(s->be, m, s->opt_m, bytes, e) || (s->opt_v && s->be->ops->download(s->be, v, s->opt_v, bytes, e)) ||
        s->be->ops->sync(s->be, e))
        return err_context(e, "suffix optimizer state");
    return 0;
}

int resnet_suffix_optimizer_step(ResnetSuffix *s, const struct OptimizerSpec *spec, long iterations, float lr,
                                 const struct OptRange *ranges, int n_ranges, Err *e) {
    if (!s->device_resident) return err_fail(e, "suffix optimizer step: not device-resident");
    if (s->be->train->optimizer_step(s->be, spec, iterations, lr, dev_params(s), dev_grads(s), s->opt_m, s->opt_v, ranges,
                                     n_ranges, e))
        return err_context(e, "suffix optimizer step");
    return 0;
}

const SuffixView *resnet_suffix_view(const ResnetSuffix *s, const char *name) {
    for (int i = 0; i < s->n_views; i++)
        if (!strcmp(s->views[i].name, name)) return &s->views[i];
    return NULL;
}

/* ------------------------------------------------------------------- forward */

/* y = act(BN(conv(x)) + res); keeps the conv output in c->z. */
static int conv_bn_forward(ResnetSuffix *s, SuffixConv *c, const float *x, const float *res, int relu, float *y, Err *e) {
    const BackendTrainOps *t = s->be->train;
    if (t->conv_plan_forward(s->be, c->plan, x, c->kernel, c->bias, c->z, e) ||
        t->bn_forward(s->be, &c->bn, c->z, res, relu, conv_rows(c), y, e))
        return err_context(e, "%s", c->spec->conv);
    return 0;
}

static int block_forward(ResnetSuffix *s, SuffixBlock *b, Err *e) {
    if (b->c0 && conv_bn_forward(s, b->c0, b->in, NULL, 0, b->out, e)) return -1;
    if (conv_bn_forward(s, b->c1, b->in, NULL, 1, b->c1->a, e) || conv_bn_forward(s, b->c2, b->c1->a, NULL, 1, b->c2->a, e))
        return -1;
    return conv_bn_forward(s, b->c3, b->c2->a, b->c0 ? b->out : b->in, 1, b->out, e);
}

int resnet_suffix_forward(ResnetSuffix *s, const float *x, Err *e) {
    Backend *be = s->be;
    if (!s->device_resident && resnet_suffix_params_to_device(s, e)) return -1;
    s->input = x;
    if (s->has_stem) {
        SuffixConv *c = &s->convs[0];
        if (conv_bn_forward(s, c, x, NULL, 1, c->a, e)) return -1;
        if (be->ops->maxpool3x3s2(be, c->a, s->max_batch, c->d.oh, c->d.ow, c->d.cout, s->pool, e))
            return err_context(e, "pool1_pool");
    }
    s->blocks[0].in = s->has_stem ? s->pool : x;
    for (int i = 0; i < s->n_blocks; i++)
        if (block_forward(s, &s->blocks[i], e)) return -1;
    const SuffixConv *last = s->blocks[s->n_blocks - 1].c3;
    if (be->ops->global_avgpool(be, s->blocks[s->n_blocks - 1].out, s->max_batch, last->d.oh, last->d.ow, last->d.cout,
                                s->features, e))
        return err_context(e, "avg_pool");
    return 0;
}

/* ------------------------------------------------------------------ backward */

/* dy: d(BN output) of conv c, already through any ReLU. Writes c's gradients and, when dx
 * is not NULL, d(conv input) into dx. dy may be dx. */
static int conv_bn_backward(ResnetSuffix *s, SuffixConv *c, const float *x, const float *dy, float *dx, Err *e) {
    const BackendTrainOps *t = s->be->train;
    if (t->bn_backward(s->be, &c->bn, c->z, dy, conv_rows(c), s->g_z, c->d_gamma, c->d_beta, e) ||
        t->conv_backward_weights(s->be, c->plan, x, s->g_z, c->d_kernel, c->d_bias, e) ||
        (dx && t->conv_backward_data(s->be, c->plan, s->g_z, c->kernel, dx, e)))
        return err_context(e, "%s backward", c->spec->conv);
    return 0;
}

/* s->g_out holds d(block output) and is consumed; dx (NULL: not needed) gets d(block input). */
static int block_backward(ResnetSuffix *s, SuffixBlock *b, float *dx, Err *e) {
    Backend *be = s->be;
    const BackendTrainOps *t = be->train;
    float *g = s->g_out, *gb = s->g_branch;
    if (t->relu_backward(be, b->out, g, conv_out_floats(b->c3), g, e)) return err_context(e, "%s out", b->c1->spec->conv);
    if (b->c0 && conv_bn_backward(s, b->c0, b->in, g, dx ? s->g_short : NULL, e)) return -1;
    if (conv_bn_backward(s, b->c3, b->c2->a, g, gb, e)) return -1;
    if (t->relu_backward(be, b->c2->a, gb, conv_out_floats(b->c2), gb, e) || conv_bn_backward(s, b->c2, b->c1->a, gb, gb, e))
        return -1;
    if (t->relu_backward(be, b->c1->a, gb, conv_out_floats(b->c1), gb, e) || conv_bn_backward(s, b->c1, b->in, gb, dx, e))
        return -1;
    if (dx && t->accumulate(be, b->c0 ? s->g_short : g, conv_in_floats(b->c1), dx, e)) return -1;
    return 0;
}

/* s->g_out holds d(pool1 output). */
static int stem_backward(ResnetSuffix *s, float *d_input, Err *e) {
    Backend *be = s->be;
    SuffixConv *c = &s->convs[0];
    if (be->train->maxpool3x3s2_backward(be, c->a, s->g_out, s->max_batch, c->d.oh, c->d.ow, c->d.cout, s->g_branch, e) ||
        be->train->relu_backward(be, c->a, s->g_branch, conv_out_floats(c), s->g_branch, e))
        return err_context(e, "pool1 backward");
    return conv_bn_backward(s, c, s->input, s->g_branch, d_input, e);
}

int resnet_suffix_backward(ResnetSuffix *s, const float *d_features, int n, float *d_input, Err *e) {
    Backend *be = s->be;
    if (n < 1 || n > s->max_batch) return err_fail(e, "suffix backward: batch %d outside 1..%d", n, s->max_batch);
    if (!s->input) return err_fail(e, "suffix backward without a forward");
    size_t row = RESNET_FEATURES, all = (size_t)s->max_batch * row;
    memcpy(s->host_d_features, d_features, (size_t)n * row * sizeof(float));
    memset(s->host_d_features + (size_t)n * row, 0, (all - (size_t)n * row) * sizeof(float));
    if (be->ops->upload(be, s->d_features, s->host_d_features, all * sizeof(float), e)) return -1;
    const SuffixConv *last = s->blocks[s->n_blocks - 1].c3;
    if (be->train->global_avgpool_backward(be, s->d_features, s->max_batch, last->d.oh, last->d.ow, last->d.cout, s->g_out, e))
        return err_context(e, "avg_pool backward");
    for (int i = s->n_blocks - 1; i >= 0; i--) {
        int inner = i > 0 || s->has_stem;
        if (block_backward(s, &s->blocks[i], inner ? s->g_in : d_input, e)) return -1;
        float *t = s->g_out;   /* d(block input) becomes d(output) of the block before */
        s->g_out = s->g_in;
        s->g_in = t;
    }
    if (s->has_stem && stem_backward(s, d_input, e)) return -1;
    /* Device-resident: the gradients stay where the optimizer reads them, on the same stream. */
    if (s->device_resident) return 0;
    return resnet_suffix_grads_to_host(s, e);     /* the download waits for the queued backward */
}

/* -------------------------------------------------------------- frozen prefix */


int resnet_prefix_forward(Backbone *bb, int first_conv, const float *images, int n, const float **out, Err *e) {
    Backend *be = bb->be;
    if (n <= 0 || n > bb->max_batch) return err_fail(e, "prefix batch %d outside 1..%d", n, bb->max_batch);
    if (first_conv < 0 || first_conv >= bb->arch.n_convs || (first_conv > 0 && conv_role(&bb->arch.convs[first_conv]) != '1'))
        return err_fail(e, "prefix: conv %d does not start a block", first_conv);
    float *x;
    if (backbone_forward_until(bb, images, n, first_conv, &x, e)) return -1;
    *out = x;
    if (first_conv == 0 || !be->native_layout) return 0;
    /* The backbone ran in the backend's native layout; the suffix reads NHWC. T1 is free now. */
    const ResnetConvSpec *next = &bb->arch.convs[first_conv];
    int side = resnet_side(bb->image_size, next->in_halvings);
    if (!be->train || !be->train->native_to_nhwc)
        return err_fail(e, "backend '%s' cannot convert its native layout to NHWC", be->name);
    /* act[1] (the T1 scratch of backbone.c; the result is in act[0] or act[3]) is free now. */
    float *t1 = bb->act[1];
    if (be->train->native_to_nhwc(be, x, bb->max_batch, side, side, next->cin, t1, e)) return -1;
    *out = t1;
    return 0;
}

int resnet_suffix_forward_images(ResnetSuffix *s, Backbone *bb, const float *images, int n, float *features, Err *e) {
    if (bb->image_size != s->image_size || bb->max_batch != s->max_batch || bb->arch.depth != s->arch.depth)
        return err_fail(e, "backbone (resnet%d, %d px, batch %d) and suffix (resnet%d, %d px, batch %d) differ", bb->arch.depth,
                        bb->image_size, bb->max_batch, s->arch.depth, s->image_size, s->max_batch);
    const float *x;
    if (resnet_prefix_forward(bb, s->first_conv, images, n, &x, e)) return -1;
    return resnet_suffix_features(s, x, n, features, e);
}

int resnet_suffix_features(ResnetSuffix *s, const float *x, int n, float *features, Err *e) {
    if (resnet_suffix_forward(s, x, e)) return -1;
    if (s->be->ops->download(s->be, features, s->features, (size_t)n * RESNET_FEATURES * sizeof(float), e)) return -1;
    return s->be->ops->sync(s->be, e);
}
