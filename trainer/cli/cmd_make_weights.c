/* trainer make-weights --random SEED --out FILE.h5 [--backbone resnet50] [--bn-stats | --scratch]
 * Writes a Keras-layout weight file with He-normal random kernels: a stand-in for the
 * ImageNet file when testing a pipeline, or for cross-checking another implementation.
 * --bn-stats draws non-trivial BN statistics too, so BN folding is exercised.
 * --scratch: the start of a training from scratch (backbone_bn: train): every BN as Keras
 * initialises it (gamma 1, beta 0, moving mean 0, moving variance 1), conv1's included.
 * random:SEED scales conv1's gamma by 2^-15 for the frozen random backbone's sake, which
 * leaves every later conv's output variance near 1e-9 against moving variances of 1: at
 * momentum 0.99 they need about 2000 steps to come down, and until then evaluation on the
 * moving statistics sits at chance (measured: val accuracy 0.2 of 5 classes for 6 epochs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/rng.h"
#include "model/resnet.h"

static void scratch_bn(ResnetWeights *w, const ResnetArch *a) {
    for (int c = 0; c < a->convs[0].cout; c++) w->w[0].gamma[c] = 1.0f;
}

static void random_bn(ResnetWeights *w, const ResnetArch *a, unsigned long long seed) {
    for (int i = 0; i < a->n_convs; i++) {
        Rng r;
        rng_init(&r, seed, RNG_INIT, (uint32_t)i, 3);
        for (int c = 0; c < a->convs[i].cout; c++) {
            w->w[i].bias[c] = (float)rng_uniform(&r, -0.05, 0.05);
            w->w[i].gamma[c] = (float)rng_uniform(&r, 0.4, 0.9);
            w->w[i].beta[c] = (float)rng_uniform(&r, -0.1, 0.1);
            w->w[i].mean[c] = (float)rng_uniform(&r, -0.1, 0.1);
            w->w[i].var[c] = (float)rng_uniform(&r, 0.8, 1.5) * (i == 0 ? 16384.0f : 1.0f);
        }
    }
}

int cmd_make_weights(int argc, char **argv) {
    const char *out = NULL, *backbone = "resnet50", *seed_s = NULL;
    int bn = 0, scratch = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_value(argc, argv, &i, "--random", &v)) seed_s = v;
        else if (arg_value(argc, argv, &i, "--out", &v)) out = v;
        else if (arg_value(argc, argv, &i, "--backbone", &v)) backbone = v;
        else if (!strcmp(argv[i], "--bn-stats")) bn = 1;
        else if (!strcmp(argv[i], "--scratch")) scratch = 1;
        else { fprintf(stderr, "trainer make-weights: unknown argument %s\n", argv[i]); return 2; }
    }
    if (!out || !seed_s || (bn && scratch)) {
        fprintf(stderr, "usage: trainer make-weights --random SEED --out FILE.h5 [--backbone resnet50] [--bn-stats | --scratch]\n");
        return 2;
    }
    Err e = {{0}};
    ResnetArch a;
    ResnetWeights w;
    unsigned long long seed = strtoull(seed_s, NULL, 10);
    if (resnet_arch_init(&a, backbone, &e) || resnet_weights_random(&w, &a, seed, &e)) { fprintf(stderr, "trainer make-weights: %s\n", e.msg); return 1; }
    if (bn) random_bn(&w, &a, seed);
    if (scratch) scratch_bn(&w, &a);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    int rc = resnet_weights_save_h5(&w, &a, tmp, &e);
    if (rc == 0 && rename(tmp, out) != 0) rc = err_fail(&e, "%s: cannot rename into place", out);
    if (rc) { remove(tmp); fprintf(stderr, "trainer make-weights: %s\n", e.msg); }
    resnet_weights_free(&w);
    resnet_arch_free(&a);
    return rc ? 1 : 0;
}
