/* Weight sources other than a file: random:SEED, and BN folding for the frozen backbone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/resnet.h"

int resnet_weights_random(ResnetWeights *w, const ResnetArch *a, unsigned long long seed, Err *e) {
    memset(w, 0, sizeof *w);
    w->w = tl_calloc(e, (size_t)a->n_convs, sizeof *w->w, "resnet weights");
    if (!w->w) return -1;
    w->n = a->n_convs;
    for (int i = 0; i < a->n_convs; i++) {
        const ResnetConvSpec *s = &a->convs[i];
        ResnetConvWeights *cw = &w->w[i];
        size_t nk = (size_t)s->kh * s->kw * s->cin * s->cout;
        cw->kernel = tl_malloc(e, nk * sizeof(float), s->conv);
        cw->bias = tl_calloc(e, 5 * (size_t)s->cout, sizeof(float), s->bn);
        if (!cw->kernel || !cw->bias) { resnet_weights_free(w); return -1; }
        cw->gamma = cw->bias + s->cout;
        cw->beta = cw->bias + 2 * s->cout;
        cw->mean = cw->bias + 3 * s->cout;
        cw->var = cw->bias + 4 * s->cout;
        /* He-normal: std sqrt(2 / fan_in) keeps activation scale through ReLUs. */
        double std = sqrt(2.0 / ((double)s->kh * s->kw * s->cin));
        Rng r;
        rng_init(&r, seed, RNG_BACKBONE, (uint32_t)i, 0);
        for (size_t k = 0; k < nk; k++) cw->kernel[k] = (float)(std * rng_normal(&r));
        for (int c = 0; c < s->cout; c++) { cw->gamma[c] = 1.0f; cw->var[c] = 1.0f; }
        /* preprocess_input leaves pixels at about +-128: conv1's BN scales that down by
         * 2^15 (its gamma), so random-backbone features stay in a range a head trains on
         * without tuning. The moving statistics stay Keras's initial ones (mean 0, var 1),
         * which a backbone trained from scratch with BN in training mode moves from. */
        if (i == 0)
            for (int c = 0; c < s->cout; c++) cw->gamma[c] = 1.0f / 32768.0f;
    }
    snprintf(w->source, sizeof w->source, "random:%llu", seed);
    return 0;
}

int resnet_weights_open(ResnetWeights *w, const ResnetArch *a, const char *spec, Err *e) {
    if (!spec || !*spec) return err_fail(e, "no backbone weights given (a Keras .h5 file, or random:SEED for an explicit random backbone)");
    if (!strncmp(spec, "random:", 7)) {
        char *end;
        unsigned long long seed = strtoull(spec + 7, &end, 10);
        if (end == spec + 7 || *end) return err_fail(e, "weights '%s': expected random:SEED with an integer SEED", spec);
        return resnet_weights_random(w, a, seed, e);
    }
    return resnet_weights_load_h5(w, a, spec, e);
}

int resnet_weights_open_named(ResnetWeights *w, const char *backbone, const char *spec, Err *e) {
    ResnetArch arch;
    if (resnet_arch_init(&arch, backbone, e)) return -1;
    int rc = resnet_weights_open(w, &arch, spec, e);
    resnet_arch_free(&arch);
    return rc;
}

void resnet_fold_bn(const ResnetConvSpec *s, const ResnetConvWeights *w, float *kernel_out, float *bias_out) {
    const double eps = 1.001e-5; /* Keras ResNet's BatchNormalization epsilon */
    size_t taps = (size_t)s->kh * s->kw * s->cin;
    for (int o = 0; o < s->cout; o++) {
        double scale = w->gamma[o] / sqrt((double)w->var[o] + eps);
        for (size_t t = 0; t < taps; t++) kernel_out[t * s->cout + o] = (float)(w->kernel[t * s->cout + o] * scale);
        bias_out[o] = (float)((w->bias[o] - w->mean[o]) * scale + w->beta[o]);
    }
}
