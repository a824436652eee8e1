/* The CUDA backend's optimizer_step (backend_train.h) and the device-resident fine-tuning
 * suffix (resnet_train.h) against the host path:
 *   - Adam and SGD (momentum 0, 0.9, 0.9 nesterov) on random params and a new random
 *     gradient each of 4 steps, two trainable ranges in an arena of 10007 floats (not a
 *     multiple of the block): params, m, v against optimizer_step's (rel L2 < 1e-6; the
 *     kernels mirror optimizer.c op for op, so the same bits are expected and reported),
 *     and nothing outside the ranges written;
 *   - a ResNet50 suffix from conv5_block3 (64x64 images, batch 3) trained 3 Adam steps on
 *     the cuda backend (fp32) twice on one backbone: the host path (params up at each
 *     forward, grads down, optimizer_step on the host) and device-resident (params, grads,
 *     m, v on the GPU, moved to the host and back between steps 2 and 3 as at an epoch
 *     boundary): features, gradients, params, m and v agree (rel L2 < 1e-5) and the
 *     params moved.
 * Exits 77 (skipped) when no GPU is visible. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_train.h"
#include "model/resnet.h"
#include "model/resnet_train.h"
#include "model/optimizer.h"
#include "gpu/gpu_test.h"
#include "test_util.h"

static float *random_floats(size_t n, uint32_t key, double lo, double hi) { return test_random_floats(1357, 0, n, key, lo, hi); }

static int to_host(Backend *b, float *host, const float *dev, size_t n, Err *e) {
    return b->ops->download(b, host, dev, n * sizeof(float), e) || b->ops->sync(b, e) ? -1 : 0;
}

/* ------------------------------------------------------------ optimizer_step alone */

enum { OPT_N = 10007, OPT_STEPS = 4 };

/* 1 when a[i] == b[i] bit for bit for every i outside o's ranges. */
static int same_outside(const Optimizer *o, const float *a, const float *b) {
    size_t i = 0;
    for (int r = 0; r <= o->n_ranges; r++) {
        size_t end = r < o->n_ranges ? o->ranges[r].offset : (size_t)OPT_N;
        if (end > i && memcmp(a + i, b + i, (end - i) * sizeof(float))) return 0;
        if (r < o->n_ranges) i = o->ranges[r].offset + o->ranges[r].count;
    }
    return 1;
}

static void test_optimizer(Backend *g, const char *what, const OptimizerSpec *spec, float lr) {
    Err e = {{0}};
    Optimizer o;
    CHECK_OK(optimizer_create(&o, spec, OPT_N, &e), &e);
    CHECK_OK(optimizer_add_range(&o, 100, 2900, &e), &e);
    CHECK_OK(optimizer_add_range(&o, 5000, 4500, &e), &e);
    CHECK(o.n_ranges == 2, "%s: %d ranges", what, o.n_ranges);
    int adam = spec->kind == OPT_ADAM;
    size_t bytes = OPT_N * sizeof(float);
    float *start = random_floats(OPT_N, 1, -1, 1), *hp = malloc(bytes), *got = malloc(bytes), *zeros = calloc(OPT_N, sizeof(float));
    float *dp = NULL, *dg = NULL, *dm = NULL, *dv = NULL;
    memcpy(hp, start, bytes);
    int ok = g->ops->alloc(g, bytes, (void **)&dp, &e) == 0 && g->ops->alloc(g, bytes, (void **)&dg, &e) == 0 &&
             g->ops->alloc(g, bytes, (void **)&dm, &e) == 0 && g->ops->alloc(g, bytes, (void **)&dv, &e) == 0 &&
             g->ops->upload(g, dp, start, bytes, &e) == 0 && g->ops->upload(g, dm, zeros, bytes, &e) == 0 &&
             g->ops->upload(g, dv, zeros, bytes, &e) == 0;
    for (int s = 0; ok && s < OPT_STEPS; s++) {
        float *grad = random_floats(OPT_N, 10 + (uint32_t)s, -0.5, 0.5);
        long it = o.iterations;
        optimizer_step(&o, hp, grad, lr);
        ok = g->ops->upload(g, dg, grad, bytes, &e) == 0 &&
             g->train->optimizer_step(g, &o.spec, it, lr, dp, dg, dm, adam ? dv : NULL, o.ranges, o.n_ranges, &e) == 0;
        free(grad);
    }
    CHECK(ok, "%s on cuda: %s", what, e.msg);
    CHECK(o.iterations == OPT_STEPS, "%s: host iterations %ld", what, o.iterations);
    if (ok) {
        int same = 1;
        CHECK_OK(to_host(g, got, dp, OPT_N, &e), &e);
        double ep = rel_l2(got, hp, OPT_N);
        same &= !memcmp(got, hp, bytes);
        CHECK(ep < 1e-6, "%s params: rel L2 %.2e", what, ep);
        CHECK(same_outside(&o, got, start), "%s: params outside the ranges changed", what);
        CHECK(rel_l2(hp, start, OPT_N) > 1e-4, "%s: the host step did not move the params", what);
        CHECK_OK(to_host(g, got, dm, OPT_N, &e), &e);
        double em = rel_l2(got, o.m, OPT_N);
        same &= !memcmp(got, o.m, bytes);
        CHECK(em < 1e-6, "%s m: rel L2 %.2e", what, em);
        CHECK(same_outside(&o, got, zeros), "%s: m outside the ranges changed", what);
        double ev = 0;
        if (adam) {
            CHECK_OK(to_host(g, got, dv, OPT_N, &e), &e);
            ev = rel_l2(got, o.v, OPT_N);
            same &= !memcmp(got, o.v, bytes);
            CHECK(ev < 1e-6, "%s v: rel L2 %.2e", what, ev);
            CHECK(same_outside(&o, got, zeros), "%s: v outside the ranges changed", what);
        }
        printf("%s: %d steps, params %.2e, m %.2e, v %.2e rel L2 from optimizer_step (%s)\n", what, OPT_STEPS, ep, em, ev,
               same ? "bit-identical" : "not bit-identical");
    }
    float *bufs[4] = {dp, dg, dm, dv};
    for (int i = 0; i < 4; i++)
        if (bufs[i]) g->ops->release(g, bufs[i]);
    free(start); free(hp); free(got); free(zeros);
    optimizer_free(&o);
}

/* ------------------------------------------------------------ device-resident suffix */

enum { SFX_SIZE = 64, SFX_BATCH = 3, SFX_STEPS = 3 };

typedef struct Run {
    ResnetSuffix s;
    Optimizer o;
    float *features;   /* host (SFX_BATCH, 2048), the last step's */
} Run;

static int run_create(Run *r, Backend *be, const ResnetWeights *w, int device, Err *e) {
    memset(r, 0, sizeof *r);
    OptimizerSpec adam = {.kind = OPT_ADAM, .beta_1 = 0.9, .beta_2 = 0.999, .epsilon = 1e-7};
    if (resnet_suffix_create(&r->s, be, "resnet50", w, "conv5_block3", SFX_SIZE, SFX_BATCH, 1, e) ||
        optimizer_create(&r->o, &adam, r->s.n_params, e))
        return -1;
    for (int i = 0; i < r->s.n_views; i++)
        if (r->s.views[i].trainable && optimizer_add_range(&r->o, r->s.views[i].offset, r->s.views[i].size, e)) return -1;
    r->features = malloc((size_t)SFX_BATCH * RESNET_FEATURES * sizeof(float));
    if (!r->features) return err_fail(e, "out of memory");
    if (!device) return 0;
    return resnet_suffix_keep_on_device(&r->s, 1, e) || resnet_suffix_opt_to_device(&r->s, r->o.m, r->o.v, e) ? -1 : 0;
}

static void run_free(Run *r) {
    if (r->s.convs) resnet_suffix_free(&r->s);
    optimizer_free(&r->o);
    free(r->features);
}

/* One training step on (images, d_features) with learning rate lr, as train/finetune.c runs it. */
static int run_step(Run *r, Backbone *bb, const float *images, const float *dfeat, float lr, Err *e) {
    if (resnet_suffix_forward_images(&r->s, bb, images, SFX_BATCH, r->features, e) ||
        resnet_suffix_backward(&r->s, dfeat, SFX_BATCH, NULL, e))
        return -1;
    if (!r->s.device_resident) { optimizer_step(&r->o, r->s.params, r->s.grads, lr); return 0; }
    if (resnet_suffix_optimizer_step(&r->s, &r->o.spec, r->o.iterations, lr, r->o.ranges, r->o.n_ranges, e)) return -1;
    r->o.iterations++;
    return 0;
}

/* Device-resident state to the host (params, m, v) and back up, as an epoch boundary does. */
static int run_to_host(Run *r, Err *e) {
    return resnet_suffix_params_to_host(&r->s, e) || resnet_suffix_opt_to_host(&r->s, r->o.m, r->o.v, e) ? -1 : 0;
}

static int run_to_device(Run *r, Err *e) {
    return resnet_suffix_params_to_device(&r->s, e) || resnet_suffix_opt_to_device(&r->s, r->o.m, r->o.v, e) ? -1 : 0;
}

static void test_device_resident_suffix(Backend *g, const ResnetWeights *w) {
    Err e = {{0}};
    Backbone bb;
    Run host, dev;
    const float lr = 1e-3f;
    memset(&bb, 0, sizeof bb);
    memset(&host, 0, sizeof host);
    memset(&dev, 0, sizeof dev);
    int ok = backbone_create(&bb, g, "resnet50", w, SFX_SIZE, SFX_BATCH, &e) == 0 && run_create(&host, g, w, 0, &e) == 0 &&
             run_create(&dev, g, w, 1, &e) == 0;
    CHECK(ok, "backbone, host-path and device-resident suffixes: %s", e.msg);
    CHECK(ok && dev.s.device_resident && dev.s.opt_m && dev.s.opt_v, "device-resident suffix has its moments");
    float *start = ok ? malloc(host.s.n_params * sizeof(float)) : NULL;
    if (start) memcpy(start, host.s.params, host.s.n_params * sizeof(float));
    for (int s = 0; ok && s < SFX_STEPS; s++) {
        float *images = random_floats((size_t)SFX_BATCH * SFX_SIZE * SFX_SIZE * 3, 100 + (uint32_t)s, -128, 128);
        float *dfeat = random_floats((size_t)SFX_BATCH * RESNET_FEATURES, 200 + (uint32_t)s, -1, 1);
        ok = images && dfeat && run_step(&host, &bb, images, dfeat, lr, &e) == 0 && run_step(&dev, &bb, images, dfeat, lr, &e) == 0;
        if (ok && s == 1) ok = run_to_host(&dev, &e) == 0 && run_to_device(&dev, &e) == 0;
        free(images);
        free(dfeat);
    }
    CHECK(ok, "3 Adam steps: %s", e.msg);
    if (ok) ok = resnet_suffix_grads_to_host(&dev.s, &e) == 0 && run_to_host(&dev, &e) == 0;
    CHECK(ok, "device-resident state to the host: %s", e.msg);
    if (ok && start) {
        size_t n = host.s.n_params;
        double ef = rel_l2(dev.features, host.features, (size_t)SFX_BATCH * RESNET_FEATURES);
        double eg = rel_l2(dev.s.grads, host.s.grads, n), ep = rel_l2(dev.s.params, host.s.params, n);
        double em = rel_l2(dev.o.m, host.o.m, n), ev = rel_l2(dev.o.v, host.o.v, n);
        double moved = rel_l2(dev.s.params, start, n);
        CHECK(ef < 1e-5, "last step's features: rel L2 %.2e", ef);
        CHECK(eg < 1e-5, "last step's gradients: rel L2 %.2e", eg);
        CHECK(ep < 1e-5, "params after %d steps: rel L2 %.2e", SFX_STEPS, ep);
        CHECK(em < 1e-5 && ev < 1e-5, "Adam moments: m rel L2 %.2e, v %.2e", em, ev);
        CHECK(moved > 1e-4, "the params moved by rel L2 %.2e only", moved);
        CHECK(dev.o.iterations == SFX_STEPS && host.o.iterations == SFX_STEPS, "iterations %ld and %ld", dev.o.iterations,
              host.o.iterations);
        printf("device-resident conv5_block3 suffix, %d Adam steps vs host path: features %.2e, grads %.2e, params %.2e "
               "(%s), m %.2e, v %.2e; params moved %.2e\n", SFX_STEPS, ef, eg, ep,
               memcmp(dev.s.params, host.s.params, n * sizeof(float)) ? "not bit-identical" : "bit-identical", em, ev, moved);
    }
    free(start);
    run_free(&dev);
    run_free(&host);
    if (bb.convs) backbone_free(&bb);
}

int main(void) {
    if (gpu_test_skip()) return 77;
    Err e = {{0}};
    Backend *cpu = NULL, *ref = NULL, *g = NULL;
    ResnetArch a;
    ResnetWeights w;
    if (backend_reference_create(&ref, &e) || backend_cpu_create(&cpu, 2, &e) || backend_cuda_create(&g, 0, PREC_FP32, &e) ||
        resnet_arch_init(&a, "resnet50", &e) || resnet_weights_random(&w, &a, 7, &e)) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return 1;
    }
    CHECK(g->train && g->train->optimizer_step, "the cuda backend has a device optimizer");
    CHECK(ref->train && !ref->train->optimizer_step && cpu->train && !cpu->train->optimizer_step,
          "the reference and cpu backends keep the host optimizer");
    if (g->train && g->train->optimizer_step) {
        OptimizerSpec adam = {.kind = OPT_ADAM, .beta_1 = 0.9, .beta_2 = 0.999, .epsilon = 1e-7};
        OptimizerSpec sgd = {.kind = OPT_SGD, .momentum = 0.0};
        OptimizerSpec mom = {.kind = OPT_SGD, .momentum = 0.9};
        OptimizerSpec nag = {.kind = OPT_SGD, .momentum = 0.9, .nesterov = 1};
        test_optimizer(g, "adam", &adam, 1e-3f);
        test_optimizer(g, "sgd", &sgd, 1e-2f);
        test_optimizer(g, "sgd momentum 0.9", &mom, 1e-2f);
        test_optimizer(g, "sgd nesterov 0.9", &nag, 1e-2f);
        test_device_resident_suffix(g, &w);
    }
    resnet_weights_free(&w);
    resnet_arch_free(&a);
    backend_destroy(g);
    backend_destroy(cpu);
    backend_destroy(ref);
    return TEST_END();
}
