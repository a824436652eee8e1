/* Gradients of a trainable ResNet suffix for an independent check (tests/e2e/independent_grads.sh
 * runs this, then tests/tools/keras_resnet_grads.py recomputes them in PyTorch float64).
 *
 *   suffix_grads WEIGHTS.h5 DIR [--from conv5] [--size 64] [--batch 2] [--device cpu|reference]
 *
 * Reads a Keras-layout weight file, draws random preprocessed images (n, S, S, 3) and a random
 * d(features) r (n, 2048), runs prefix + suffix forward and the suffix backward of
 * loss = sum(features * r) with gamma/beta trainable, and writes into DIR:
 *   images.bin (n, S, S, 3), dfeat.bin (n, 2048), features.bin (n, 2048), grads.bin (n_params),
 *   views.txt: one line per view "name offset size trainable" (floats; Keras layouts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/rng.h"
#include "model/resnet.h"
#include "model/resnet_train.h"

typedef struct Args {
    const char *weights, *dir, *from, *device;
    int size, batch;
} Args;

static int parse(int argc, char **argv, Args *a) {
    *a = (Args){.from = "conv5", .device = "cpu", .size = 64, .batch = 2};
    if (argc < 3) return -1;
    a->weights = argv[1];
    a->dir = argv[2];
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--from")) a->from = argv[i + 1];
        else if (!strcmp(argv[i], "--size")) a->size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) a->batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--device")) a->device = argv[i + 1];
        else return -1;
    }
    return a->size >= 32 && a->batch >= 1 ? 0 : -1;
}

static int write_floats(const char *dir, const char *name, const float *v, size_t n, Err *e) {
    char path[1024];
    return fs_write_atomic(fs_join(path, sizeof path, dir, name), v, n * sizeof(float), e);
}

static int write_views(const ResnetSuffix *s, const char *dir, Err *e) {
    char path[1024], *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return err_fail(e, "out of memory");
    for (int i = 0; i < s->n_views; i++)
        fprintf(f, "%s %zu %zu %d\n", s->views[i].name, s->views[i].offset, s->views[i].size, s->views[i].trainable);
    fclose(f);
    int rc = fs_write_atomic(fs_join(path, sizeof path, dir, "views.txt"), text, len, e);
    free(text);
    return rc;
}

static float *random_floats(size_t n, uint32_t key, double lo, double hi) {
    float *p = malloc(n * sizeof(float));
    Rng r;
    rng_init(&r, 17, RNG_INIT, key, 0);
    for (size_t i = 0; p && i < n; i++) p[i] = (float)rng_uniform(&r, lo, hi);
    return p;
}

static int run(const Args *a, Err *e) {
    ResnetWeights w;
    Backend *be = NULL;
    Backbone bb = {0};
    ResnetSuffix s = {0};
    int n = a->batch;
    size_t n_img = (size_t)n * a->size * a->size * 3, n_feat = (size_t)n * 2048;
    float *images = random_floats(n_img, 1, -120, 130), *dfeat = random_floats(n_feat, 2, -1, 1);
    float *features = malloc(n_feat * sizeof(float));
    int rc = !images || !dfeat || !features ? err_fail(e, "out of memory")
             : resnet_weights_open_named(&w, "resnet50", a->weights, e);
    if (rc) {
        free(images);
        free(dfeat);
        free(features);
        return -1;
    }
    rc = (!strcmp(a->device, "reference") ? backend_reference_create(&be, e) : backend_cpu_create(&be, 0, e)) ||
             backbone_create(&bb, be, "resnet50", &w, a->size, n, e) ||
             resnet_suffix_create(&s, be, "resnet50", &w, a->from, a->size, n, 1, e) ||
             resnet_suffix_forward_images(&s, &bb, images, n, features, e) ||
             resnet_suffix_backward(&s, dfeat, n, NULL, e) || be->ops->sync(be, e) ? -1 : 0;
    if (rc == 0)
        rc = fs_mkdir_p(a->dir, e) || write_floats(a->dir, "images.bin", images, n_img, e) ||
             write_floats(a->dir, "dfeat.bin", dfeat, n_feat, e) ||
             write_floats(a->dir, "features.bin", features, n_feat, e) ||
             write_floats(a->dir, "grads.bin", s.grads, s.n_params, e) || write_views(&s, a->dir, e) ? -1 : 0;
    if (s.params) resnet_suffix_free(&s);
    if (bb.convs) backbone_free(&bb);
    backend_destroy(be);
    resnet_weights_free(&w);
    free(images);
    free(dfeat);
    free(features);
    return rc;
}

int main(int argc, char **argv) {
    Args a;
    if (parse(argc, argv, &a)) {
        fprintf(stderr, "usage: suffix_grads WEIGHTS.h5 DIR [--from conv5] [--size 64] [--batch 2] [--device cpu|reference]\n");
        return 2;
    }
    Err e = {{0}};
    if (run(&a, &e)) {
        fprintf(stderr, "suffix_grads: %s\n", e.msg);
        return 1;
    }
    return 0;
}
