/* Fine-tuning training step: images/s of (frozen prefix forward + trainable suffix forward
 * + suffix backward + SGD update) with the backbone trainable from `--from conv5` (default),
 * batch 32, 224x224, random weights, as the trainer runs it: host images in, features out
 * to the host, gradients back to the host, SGD on the host.
 *   --device cpu (default): the CPU backend, `--threads` (2);
 *   --device cuda: the CUDA backend on GPU `--gpu` (0) in `--precision` tf32 (default, as
 *   the trainer) or fp32; the suffix is device-resident as the trainer runs it (params,
 *   grads and the SGD update stay on the GPU); the step includes the image upload and the
 *   features download, and each step ends synchronised.
 * The head is left out (its cost is < 1% of the step). Best step of `--iters` after one
 * warm-up step (default 2 on cpu, 10 on cuda). Prints "finetune_images_per_s X". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "model/resnet.h"
#include "model/resnet_train.h"
#include "model/optimizer.h"

/* o: plain SGD over the trainable views, used on a device-resident suffix. */
static int step(ResnetSuffix *s, Backbone *bb, Optimizer *o, const float *images, int n, float *features, const float *dfeat,
                Err *e) {
    if (resnet_suffix_forward_images(s, bb, images, n, features, e) || resnet_suffix_backward(s, dfeat, n, NULL, e)) return -1;
    if (s->device_resident) {
        if (resnet_suffix_optimizer_step(s, &o->spec, o->iterations, 1e-4f, o->ranges, o->n_ranges, e)) return -1;
        o->iterations++;
        return s->be->ops->sync(s->be, e);
    }
    for (int v = 0; v < s->n_views; v++) {  /* plain SGD, as the PyTorch side */
        if (!s->views[v].trainable) continue;
        float *p = s->params + s->views[v].offset, *g = s->grads + s->views[v].offset;
        for (size_t i = 0; i < s->views[v].size; i++) p[i] -= 1e-4f * g[i];
    }
    return 0;
}

/* Where a step's time goes on a device-resident suffix: each phase ends synchronised, so
 * the sum exceeds a real step (no overlap); best of iters, in ms:
 * [0] image upload + frozen prefix, [1] suffix forward + features download,
 * [2] suffix backward, [3] optimizer. */
static int phases(ResnetSuffix *s, Backbone *bb, Optimizer *o, const float *images, int n, float *features,
                  const float *dfeat, int iters, double best[4], Err *e) {
    Backend *be = s->be;
    for (int k = 0; k < 4; k++) best[k] = 1e30;
    for (int it = 0; it < iters; it++) {
        double t[5];
        const float *x;
        t[0] = now_seconds();
        if (resnet_prefix_forward(bb, s->first_conv, images, n, &x, e) || be->ops->sync(be, e)) return -1;
        t[1] = now_seconds();
        if (resnet_suffix_forward(s, x, e) ||
            be->ops->download(be, features, s->features, (size_t)n * 2048 * sizeof(float), e))
            return -1;
        t[2] = now_seconds();
        if (resnet_suffix_backward(s, dfeat, n, NULL, e) || be->ops->sync(be, e)) return -1;
        t[3] = now_seconds();
        if (resnet_suffix_optimizer_step(s, &o->spec, o->iterations, 1e-4f, o->ranges, o->n_ranges, e) ||
            be->ops->sync(be, e))
            return -1;
        o->iterations++;
        t[4] = now_seconds();
        for (int k = 0; k < 4; k++)
            if (t[k + 1] - t[k] < best[k]) best[k] = t[k + 1] - t[k];
    }
    for (int k = 0; k < 4; k++) best[k] *= 1e3;
    return 0;
}

static int open_backend(const char *device, int threads, int gpu, const char *precision, Backend **be, Err *e) {
    if (!strcmp(device, "cpu")) return backend_cpu_create(be, threads, e);
    Precision p;
    if (!strcmp(device, "cuda")) return backend_precision_parse(precision, &p, e) || backend_cuda_create(be, gpu, p, e) ? -1 : 0;
    return err_fail(e, "--device '%s': cpu or cuda", device);
}

int main(int argc, char **argv) {
    int batch = 32, size = 224, threads = 2, iters = -1, gpu = 0;
    const char *from = "conv5", *device = "cpu", *precision = "tf32";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--from")) from = argv[i + 1];
        else if (!strcmp(argv[i], "--device")) device = argv[i + 1];
        else if (!strcmp(argv[i], "--gpu")) gpu = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--precision")) precision = argv[i + 1];
        else { fprintf(stderr, "bench_finetune: unknown option %s\n", argv[i]); return 2; }
    }
    if (iters < 0) iters = strcmp(device, "cuda") ? 2 : 10;
    Err e = {{0}};
    ResnetWeights w;
    Backend *be;
    Backbone bb;
    ResnetSuffix s;
    Optimizer opt;
    OptimizerSpec sgd = {.kind = OPT_SGD, .momentum = 0.0};
    if (resnet_weights_open_named(&w, "resnet50", "random:1", &e) || open_backend(device, threads, gpu, precision, &be, &e) ||
        backbone_create(&bb, be, "resnet50", &w, size, batch, &e) ||
        resnet_suffix_create(&s, be, "resnet50", &w, from, size, batch, 1, &e) || optimizer_create(&opt, &sgd, s.n_params, &e)) {
        fprintf(stderr, "bench_finetune: %s\n", e.msg);
        return 1;
    }
    for (int v = 0; v < s.n_views; v++)
        if (s.views[v].trainable && optimizer_add_range(&opt, s.views[v].offset, s.views[v].size, &e)) {
            fprintf(stderr, "bench_finetune: %s\n", e.msg);
            return 1;
        }
    if (be->train->optimizer_step && resnet_suffix_keep_on_device(&s, 0, &e)) {
        fprintf(stderr, "bench_finetune: %s\n", e.msg);
        return 1;
    }
    size_t n_in = (size_t)batch * size * size * 3;
    float *images = malloc(n_in * sizeof(float)), *feats = malloc((size_t)batch * 2048 * sizeof(float));
    float *dfeat = malloc((size_t)batch * 2048 * sizeof(float));
    Rng r;
    rng_init(&r, 7, RNG_INIT, 0, 0);
    for (size_t i = 0; i < n_in; i++) images[i] = (float)rng_uniform(&r, -120, 130);
    for (size_t i = 0; i < (size_t)batch * 2048; i++) dfeat[i] = (float)rng_uniform(&r, -1e-3, 1e-3);
    double best = 1e30;
    for (int it = 0; it <= iters; it++) {  /* the first step warms up (page faults, plans) */
        double t0 = now_seconds();
        if (step(&s, &bb, &opt, images, batch, feats, dfeat, &e)) { fprintf(stderr, "bench_finetune: %s\n", e.msg); return 1; }
        double dt = now_seconds() - t0;
        if (it > 0 && dt < best) best = dt;
    }
    fprintf(stderr, "bench_finetune: %s%s%s, from %s, batch %d, %dx%d: best step %.2f ms of %d\n", device,
            strcmp(device, "cuda") ? "" : " ", strcmp(device, "cuda") ? "" : precision, from, batch, size, size, best * 1e3,
            iters);
    printf("finetune_images_per_s %.2f\n", batch / best);
    double ph[4];
    if (s.device_resident) {
        if (phases(&s, &bb, &opt, images, batch, feats, dfeat, iters, ph, &e)) { fprintf(stderr, "bench_finetune: %s\n", e.msg); return 1; }
        printf("finetune_phases_ms prefix %.2f suffix_forward %.2f suffix_backward %.2f optimizer %.2f\n", ph[0], ph[1],
               ph[2], ph[3]);
    }
    free(images); free(feats); free(dfeat);
    optimizer_free(&opt);
    resnet_suffix_free(&s);
    backbone_free(&bb);
    backend_destroy(be);
    resnet_weights_free(&w);
    return 0;
}
