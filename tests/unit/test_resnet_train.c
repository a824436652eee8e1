/* The trainable ResNet suffix: naming, parameter views, forward equal to the folded
 * backbone, gradients of L = sum(features * r) against central differences (sampled conv5
 * entries, a random direction, and each block of the whole network along its own gradient),
 * CPU against reference for the whole network ("all"),
 * and an SGD step with conv5 trainable that changes exactly conv5's kernels and biases.
 * Images are 32x32 (conv5 runs at 1x1), batch 2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/resnet_train.h"
#include "model/optimizer.h"
#include "test_resnet_util.h"
#include "test_util.h"

enum { SIZE = 32, BATCH = 2 };

static float *random_floats(size_t n, uint32_t key, double lo, double hi) { return test_random_floats(99, 7, n, key, lo, hi); }

static double dot(const float *a, const float *b, size_t n) { return test_dot(a, b, n); }

/* Everything one suffix test needs: backbone (prefix), suffix, one batch, r. */
typedef struct Rig {
    Backend *be;
    Backbone bb;
    ResnetSuffix s;
    float *images, *r, *features;   /* host (BATCH, SIZE, SIZE, 3), (BATCH, 2048), (BATCH, 2048) */
} Rig;

static int rig_open(Rig *g, Backend *be, const ResnetWeights *w, const char *from, int train_bn_affine, Err *e) {
    memset(g, 0, sizeof *g);
    g->be = be;
    g->images = random_floats((size_t)BATCH * SIZE * SIZE * 3, 1, -128, 128);
    g->r = random_floats((size_t)BATCH * RESNET_FEATURES, 2, -1, 1);
    g->features = malloc((size_t)BATCH * RESNET_FEATURES * sizeof(float));
    if (backbone_create(&g->bb, be, "resnet50", w, SIZE, BATCH, e)) return -1;
    return resnet_suffix_create(&g->s, be, "resnet50", w, from, SIZE, BATCH, train_bn_affine, e);
}

static void rig_close(Rig *g) {
    resnet_suffix_free(&g->s);
    backbone_free(&g->bb);
    free(g->images); free(g->r); free(g->features);
}

/* L = sum(features * r) for the current parameters (NAN on failure). */
static double rig_loss(Rig *g) {
    Err e = {{0}};
    if (resnet_suffix_forward_images(&g->s, &g->bb, g->images, BATCH, g->features, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return NAN;
    }
    return dot(g->features, g->r, (size_t)BATCH * RESNET_FEATURES);
}

/* Forward, then backward with d(features) = r: the gradient of rig_loss in g->s.grads. */
static int rig_gradient(Rig *g, Err *e) {
    if (isnan(rig_loss(g))) return err_fail(e, "forward failed");
    return resnet_suffix_backward(&g->s, g->r, BATCH, NULL, e);
}

static void test_names(void) {
    Err e = {{0}};
    ResnetArch a;
    CHECK_OK(resnet_arch_init(&a, "resnet50", &e), &e);
    int i = -1;
    CHECK(resnet_suffix_start(&a, "all", &i, &e) == 0 && i == 0, "all -> 0 (%d)", i);
    CHECK(resnet_suffix_start(&a, "conv5", &i, &e) == 0 && i == resnet_arch_find(&a, "conv5_block1_1_conv"), "conv5 (%d)", i);
    CHECK(resnet_suffix_start(&a, "conv4_block6", &i, &e) == 0 && i == resnet_arch_find(&a, "conv4_block6_1_conv"), "conv4_block6");
    CHECK(resnet_suffix_start(&a, "conv2", &i, &e) == 0 && i == 1, "conv2 -> 1 (%d)", i);
    const char *bad[] = {"head", "conv6", "conv4_block7", "conv5x", "conv", "conv5_block0", ""};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        CHECK(resnet_suffix_start(&a, bad[k], &i, &e) != 0 && strstr(e.msg, "trainable"), "'%s' rejected", bad[k]);
    resnet_arch_free(&a);
}

/* conv5 = 10 convs; parameter count = kernels + biases (as Keras counts them) plus 4 BN vectors. */
static void test_views(Backend *cpu, const ResnetWeights *w) {
    Err e = {{0}};
    ResnetSuffix s;
    CHECK_OK(resnet_suffix_create(&s, cpu, "resnet50", w, "conv5", SIZE, BATCH, 0, &e), &e);
    size_t conv_params = 524800 + 2359808 + 2099200 + 1050624 + 2 * (1049088 + 2359808 + 1050624);
    size_t bn = 4 * (size_t)(512 + 512 + 2048 + 2048 + 2 * (512 + 512 + 2048));
    CHECK(s.n_convs == 10 && s.n_blocks == 3 && s.n_views == 60, "conv5: %d convs %d blocks %d views", s.n_convs, s.n_blocks, s.n_views);
    CHECK(s.n_params == conv_params + bn, "conv5 params %zu, expected %zu", s.n_params, conv_params + bn);
    const SuffixView *k = resnet_suffix_view(&s, "conv5_block1_1_conv/kernel");
    CHECK(k && k->ndim == 4 && k->shape[0] == 1 && k->shape[2] == 1024 && k->shape[3] == 512 && k->trainable, "conv5_block1_1 kernel view");
    const SuffixView *g = resnet_suffix_view(&s, "conv5_block3_3_bn/gamma"), *m = resnet_suffix_view(&s, "conv5_block3_3_bn/moving_variance");
    CHECK(g && !g->trainable && m && !m->trainable && m->offset + m->size == s.n_params, "BN views, last view ends the arena");
    CHECK(!resnet_suffix_view(&s, "conv4_block6_3_conv/kernel"), "conv4 is not in the conv5 suffix");
    /* The arena holds the Keras weights as loaded. */
    int i = resnet_arch_find(&s.arch, "conv5_block2_2_conv");
    const SuffixView *v = resnet_suffix_view(&s, "conv5_block2_2_conv/kernel");
    CHECK(v && memcmp(s.params + v->offset, w->w[i].kernel, v->size * sizeof(float)) == 0, "conv5_block2_2 kernel loaded");
    resnet_suffix_free(&s);
}

/* The unfolded suffix computes the same features as the folded backbone. */
static void test_forward_matches_backbone(Backend *be, const ResnetWeights *w, const char *from) {
    Err e = {{0}};
    Rig g;
    CHECK_OK(rig_open(&g, be, w, from, 0, &e), &e);
    float *want = malloc((size_t)BATCH * RESNET_FEATURES * sizeof(float));
    CHECK_OK(backbone_forward(&g.bb, g.images, BATCH, want, &e), &e);
    CHECK(!isnan(rig_loss(&g)), "suffix forward");
    double err = rel_l2(g.features, want, (size_t)BATCH * RESNET_FEATURES);
    CHECK(err < 1e-5, "%s suffix '%s' features vs folded backbone: rel L2 %.3g", be->name, from, err);
    /* A short batch gives the first image's features unchanged. */
    float *one = malloc(RESNET_FEATURES * sizeof(float));
    CHECK_OK(resnet_suffix_forward_images(&g.s, &g.bb, g.images, 1, one, &e), &e);
    CHECK(rel_l2(one, g.features, RESNET_FEATURES) < 1e-6, "%s short batch", be->name);
    free(one); free(want);
    rig_close(&g);
}

/* Central difference of rig_loss along parameter entry k (step h). */
static double fd_entry(Rig *g, size_t k, float h) {
    float keep = g->s.params[k], up = keep + h, down = keep - h;
    g->s.params[k] = up;
    double l_up = rig_loss(g);
    g->s.params[k] = down;
    double l_down = rig_loss(g);
    g->s.params[k] = keep;
    return (l_up - l_down) / ((double)up - (double)down);
}

static double view_rms(const float *grads, const SuffixView *v) {
    double s = 0;
    for (size_t i = 0; i < v->size; i++) s += (double)grads[v->offset + i] * grads[v->offset + i];
    return sqrt(s / (double)v->size);
}

/* Sampled conv5 kernel, bias, gamma and beta entries (the largest gradient among 64 random
 * entries of each view, so the check is not on a dead unit) against central differences.
 * L is piecewise smooth (ReLU kinks), so the difference error grows with the step
 * (about 0.3% at 1e-3 here) and float32 rounding grows below it: 5e-4 sits between. */
static void test_fd_conv5(Backend *ref, const ResnetWeights *w) {
    Err e = {{0}};
    Rig g;
    CHECK_OK(rig_open(&g, ref, w, "conv5", 1, &e), &e);
    CHECK_OK(rig_gradient(&g, &e), &e);
    const char *names[] = {"conv5_block1_1_conv/kernel", "conv5_block1_2_conv/kernel", "conv5_block1_0_conv/kernel",
                           "conv5_block2_3_conv/kernel", "conv5_block3_2_conv/kernel", "conv5_block3_3_conv/kernel",
                           "conv5_block1_0_conv/bias", "conv5_block2_1_conv/bias", "conv5_block1_3_bn/gamma",
                           "conv5_block3_2_bn/beta"};
    Rng r;
    rng_init(&r, 11, RNG_INIT, 0, 0);
    for (size_t n = 0; n < sizeof names / sizeof *names; n++) {
        const SuffixView *v = resnet_suffix_view(&g.s, names[n]);
        if (!v) { CHECK(0, "view %s", names[n]); continue; }
        size_t best = v->offset;
        for (int t = 0; t < 64; t++) {
            size_t k = v->offset + rng_below(&r, (uint32_t)v->size);
            if (fabsf(g.s.grads[k]) > fabsf(g.s.grads[best])) best = k;
        }
        double analytic = g.s.grads[best], fd = fd_entry(&g, best, 5e-4f), rms = view_rms(g.s.grads, v);
        CHECK(rms > 0 && fabs(fd - analytic) <= 1e-2 * fabs(analytic) + 1e-3 * rms, "%s[%zu]: fd %.6g analytic %.6g (rms %.3g)",
              names[n], best - v->offset, fd, analytic, rms);
    }
    rig_close(&g);
}

/* Central difference of L along direction u, which moves only params [lo, hi) (u has
 * hi - lo floats), with step h, against grads . u; the relative error. */
static double directional_error(Rig *g, size_t lo, size_t hi, const float *u, float h) {
    size_t n = hi - lo;
    float *keep = malloc(n * sizeof(float)), *p = g->s.params + lo;
    memcpy(keep, p, n * sizeof(float));
    double gu = dot(g->s.grads + lo, u, n), l[2];
    for (int side = 0; side < 2; side++) {
        for (size_t k = 0; k < n; k++) p[k] = keep[k] + (side ? -h : h) * u[k];
        l[side] = rig_loss(g);
    }
    memcpy(p, keep, n * sizeof(float));
    free(keep);
    return fabs((l[0] - l[1]) / (2.0 * h) - gu) / fabs(gu);
}

/* A random direction over every trainable entry of the conv5 suffix, each view's steps
 * scaled to its weights (kernels by their rms, vectors by a tenth of it). */
static void test_random_direction(Backend *ref, const ResnetWeights *w) {
    Err e = {{0}};
    Rig g;
    CHECK_OK(rig_open(&g, ref, w, "conv5", 1, &e), &e);
    CHECK_OK(rig_gradient(&g, &e), &e);
    float *u = random_floats(g.s.n_params, 3, -1, 1);
    for (int i = 0; i < g.s.n_views; i++) {
        const SuffixView *v = &g.s.views[i];
        float scale = v->trainable ? (float)view_rms(g.s.params, v) * (v->ndim == 4 ? 1.0f : 0.1f) : 0.0f;
        for (size_t k = v->offset; k < v->offset + v->size; k++) u[k] *= scale;
    }
    double err = directional_error(&g, 0, g.s.n_params, u, 3e-4f);
    CHECK(err < 2e-2, "conv5 random direction: rel err %.3g", err);
    free(u);
    rig_close(&g);
}

/* The whole network ("all": conv1 and the max pool, then every block), one block at a
 * time: L along that block's own gradient (kernels, biases, gammas, betas; the moving
 * statistics have zero gradient), each conv's steps scaled so its kernel moves by its rms
 * per unit of h. Along the gradient the signal |g|^2 adds up instead of cancelling, so
 * the ReLU-kink error stays near 1% at h = 1e-4, while a wrong sign, scale or missing
 * path in any conv is off by O(1) of that conv's share. */
static void test_along_gradient(Backend *be, const ResnetWeights *w) {
    Err e = {{0}};
    Rig g;
    CHECK_OK(rig_open(&g, be, w, "all", 1, &e), &e);
    CHECK_OK(rig_gradient(&g, &e), &e);
    float *u = calloc(g.s.n_params, sizeof(float));
    double worst = 0;
    const char *worst_name = "";
    for (int b = -1; b < g.s.n_blocks; b++) {
        /* The stem alone (b = -1), then each block: its convs are consecutive, so are their views. */
        int c = b < 0 ? 0 : (int)(g.s.blocks[b].c1 - g.s.convs), end = b < 0 ? 1 : (int)(g.s.blocks[b].c3 - g.s.convs) + 1;
        size_t lo = g.s.views[6 * c].offset, hi = g.s.views[6 * end - 1].offset + g.s.views[6 * end - 1].size;
        for (int k = c; k < end; k++) {
            const SuffixView *v = &g.s.views[6 * k];
            float scale = (float)(view_rms(g.s.params, v) / view_rms(g.s.grads, v));
            for (size_t q = v[0].offset; q < v[5].offset + v[5].size; q++) u[q - lo] = g.s.grads[q] * scale;
        }
        double err = directional_error(&g, lo, hi, u, 1e-4f);
        if (!(err <= worst)) { worst = err; worst_name = g.s.convs[c].spec->conv; }
    }
    CHECK(worst < 3e-2, "%s 'all' along each block's gradient: worst at %s, rel err %.3g", be->name, worst_name, worst);
    free(u);
    rig_close(&g);
}

/* The whole network ("all": conv1, max pool, every block) on both backends: every
 * gradient view and d(images). */
static void test_cpu_vs_reference(Backend *cpu, Backend *ref, const ResnetWeights *w) {
    Err e = {{0}};
    Rig a, b;
    CHECK_OK(rig_open(&a, ref, w, "all", 1, &e), &e);
    CHECK_OK(rig_open(&b, cpu, w, "all", 1, &e), &e);
    size_t nin = (size_t)BATCH * SIZE * SIZE * 3;
    float *din_a = malloc(nin * sizeof(float)), *din_b = malloc(nin * sizeof(float));
    CHECK(!isnan(rig_loss(&a)) && !isnan(rig_loss(&b)), "forward");
    CHECK_OK(resnet_suffix_backward(&a.s, a.r, BATCH, din_a, &e), &e);
    CHECK_OK(resnet_suffix_backward(&b.s, b.r, BATCH, din_b, &e), &e);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < a.s.n_views; i++) {
        const SuffixView *v = &a.s.views[i];
        if (!v->trainable) continue;
        double err = rel_l2(b.s.grads + v->offset, a.s.grads + v->offset, v->size);
        if (err > worst) { worst = err; worst_name = v->name; }
    }
    CHECK(worst < 1e-3, "cpu vs reference gradients: worst view %s rel L2 %.3g", worst_name, worst);
    double err_in = rel_l2(din_b, din_a, nin);
    CHECK(err_in < 1e-3, "cpu vs reference d(images): rel L2 %.3g", err_in);
    CHECK(view_rms(a.s.grads, resnet_suffix_view(&a.s, "conv1_conv/kernel")) > 0, "conv1 gets a gradient");
    free(din_a); free(din_b);
    rig_close(&a);
    rig_close(&b);
}

/* With conv5 trainable, one SGD step changes conv5's kernels and biases and nothing else:
 * not the frozen BN parameters, not the prefix (its output is bit-identical), and the loss
 * goes down. */
static void test_sgd_step(Backend *cpu, const ResnetWeights *w) {
    Err e = {{0}};
    Rig g;
    CHECK_OK(rig_open(&g, cpu, w, "conv5", 0, &e), &e);
    const float *x;
    size_t nx = (size_t)BATCH * g.s.in_side * g.s.in_side * g.s.in_c;
    CHECK_OK(resnet_prefix_forward(&g.bb, g.s.first_conv, g.images, BATCH, &x, &e), &e);
    float *prefix_before = malloc(nx * sizeof(float));
    memcpy(prefix_before, x, nx * sizeof(float));
    double loss_before = rig_loss(&g);
    CHECK_OK(resnet_suffix_backward(&g.s, g.r, BATCH, NULL, &e), &e);
    float *before = malloc(g.s.n_params * sizeof(float));
    memcpy(before, g.s.params, g.s.n_params * sizeof(float));
    Optimizer o;
    OptimizerSpec spec = {.kind = OPT_SGD};
    CHECK_OK(optimizer_create(&o, &spec, g.s.n_params, &e), &e);
    for (int i = 0; i < g.s.n_views; i++)
        if (g.s.views[i].trainable) CHECK_OK(optimizer_add_range(&o, g.s.views[i].offset, g.s.views[i].size, &e), &e);
    optimizer_step(&o, g.s.params, g.s.grads, 1e-4f);
    /* Trainable: exactly w - lr*g everywhere (so nothing moves where the gradient is 0,
     * e.g. the 3x3 kernels' outer taps on conv5's 1x1 maps). Frozen: untouched, zero gradient. */
    for (int i = 0; i < g.s.n_views; i++) {
        const SuffixView *v = &g.s.views[i];
        size_t changed = 0, nonzero = 0, not_sgd = 0;
        for (size_t k = v->offset; k < v->offset + v->size; k++) {
            float want = before[k];
            want += -g.s.grads[k] * 1e-4f;
            changed += g.s.params[k] != before[k];
            nonzero += g.s.grads[k] != 0;
            not_sgd += g.s.params[k] != want;
        }
        if (v->trainable)
            CHECK(!strncmp(v->name, "conv5_", 6) && changed > 0 && not_sgd == 0, "%s: %zu of %zu changed, %zu not w - lr g",
                  v->name, changed, v->size, not_sgd);
        else CHECK(changed == 0 && nonzero == 0, "%s frozen: %zu changed, %zu nonzero grads", v->name, changed, nonzero);
    }
    CHECK_OK(resnet_prefix_forward(&g.bb, g.s.first_conv, g.images, BATCH, &x, &e), &e);
    CHECK(memcmp(x, prefix_before, nx * sizeof(float)) == 0, "prefix output unchanged by the step");
    double loss_after = rig_loss(&g);
    CHECK(loss_after < loss_before, "SGD step lowers L: %.9g -> %.9g", loss_before, loss_after);
    optimizer_free(&o);
    free(before); free(prefix_before);
    rig_close(&g);
}

static void test_errors(Backend *cpu, const ResnetWeights *w) {
    Err e = {{0}};
    ResnetSuffix s;
    CHECK(resnet_suffix_create(&s, cpu, "resnet50", w, "conv9", SIZE, BATCH, 0, &e) != 0, "bad suffix name");
    CHECK(resnet_suffix_create(&s, cpu, "resnet101", w, "conv5", SIZE, BATCH, 0, &e) != 0, "weights of another arch");
    Backend no_train = *cpu;
    no_train.train = NULL;
    CHECK(resnet_suffix_create(&s, &no_train, "resnet50", w, "conv5", SIZE, BATCH, 0, &e) != 0 && strstr(e.msg, "training"),
          "backend without training ops");
    CHECK_OK(resnet_suffix_create(&s, cpu, "resnet50", w, "conv5", SIZE, BATCH, 0, &e), &e);
    float d[RESNET_FEATURES] = {0};
    CHECK(resnet_suffix_backward(&s, d, 1, NULL, &e) != 0, "backward before forward");
    CHECK(resnet_suffix_backward(&s, d, BATCH + 1, NULL, &e) != 0, "batch above max");
    resnet_suffix_free(&s);
}

int main(void) {
    Err e = {{0}};
    Backend *ref, *cpu;
    ResnetArch a;
    ResnetWeights w;
    if (backend_reference_create(&ref, &e) || backend_cpu_create(&cpu, 2, &e) || resnet_arch_init(&a, "resnet50", &e) ||
        resnet_weights_random(&w, &a, 7, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    test_randomize_bn(&w, &a, 5, 3, 0.5);
    test_names();
    test_views(cpu, &w);
    test_errors(cpu, &w);
    test_forward_matches_backbone(cpu, &w, "conv4_block6");
    /* The CPU backbone runs in oneDNN's blocked layout unless TL_CPU_LAYOUT=nhwc: both prefixes. */
    Backend *cpu_nhwc;
    setenv("TL_CPU_LAYOUT", "nhwc", 1);
    CHECK_OK(backend_cpu_create(&cpu_nhwc, 2, &e), &e);
    unsetenv("TL_CPU_LAYOUT");
    CHECK(cpu->native_layout && !cpu_nhwc->native_layout, "one CPU backend of each layout");
    test_forward_matches_backbone(cpu_nhwc, &w, "conv3");
    backend_destroy(cpu_nhwc);
    test_forward_matches_backbone(ref, &w, "all");
    test_fd_conv5(ref, &w);
    test_random_direction(ref, &w);
    test_along_gradient(ref, &w);
    test_cpu_vs_reference(cpu, ref, &w);
    test_sgd_step(cpu, &w);
    resnet_weights_free(&w);
    resnet_arch_free(&a);
    backend_destroy(cpu);
    backend_destroy(ref);
    return TEST_END();
}
