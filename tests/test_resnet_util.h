/* Test helpers for whole-network tests: ResNet weights with non-trivial BN statistics. */
#ifndef TL_TEST_RESNET_UTIL_H
#define TL_TEST_RESNET_UTIL_H

#include "core/rng.h"
#include "model/resnet.h"

/* Random conv biases and BN gamma (in [gamma_lo, 1)), beta, mean and var, from the streams
 * (seed, RNG_INIT, conv, stream), so that folding BN is exercised (He-initialised weights
 * alone have gamma 1, beta 0, mean 0, var 1). conv1's variance is scaled by 16384 as
 * ImageNet's is (inputs are caffe-preprocessed pixels). */
static inline void test_randomize_bn(ResnetWeights *w, const ResnetArch *a, uint64_t seed, uint32_t stream,
                                     double gamma_lo) {
    for (int i = 0; i < a->n_convs; i++) {
        Rng r;
        rng_init(&r, seed, RNG_INIT, (uint32_t)i, stream);
        for (int c = 0; c < a->convs[i].cout; c++) {
            w->w[i].bias[c] = (float)rng_uniform(&r, -0.1, 0.1);
            w->w[i].gamma[c] = (float)rng_uniform(&r, gamma_lo, 1.0);
            w->w[i].beta[c] = (float)rng_uniform(&r, -0.2, 0.2);
            w->w[i].mean[c] = (float)rng_uniform(&r, -0.2, 0.2);
            w->w[i].var[c] = (float)rng_uniform(&r, 0.8, 3.0) * (i == 0 ? 16384.0f : 1.0f);
        }
    }
}

/* Gives each of n images (n, size, size, 3) its own contrast and brightness: batch
 * statistics of plain noise images are nearly the same for every image, so normalising by
 * their tiny variance turns float rounding into large changes (ill-conditioned), which
 * real images, differing from each other, are not. */
static inline void test_vary_images(float *images, int n, int size) {
    size_t per = (size_t)size * size * 3;
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < per; k++)
            images[i * per + k] = images[i * per + k] * (0.2f + 0.25f * (float)(i % 8)) +
                                  30.0f * ((float)(i % 4) - 1.5f) * (k % 3 == (size_t)i % 3 ? 1.0f : -0.5f);
}

#endif
