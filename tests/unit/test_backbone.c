/* The whole frozen backbone: CPU backend against the float32 reference backend (random
 * weights with non-trivial BN statistics, random and real-photo inputs), BN folding
 * against the unfolded conv + BN formula, and the short-batch path. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/image_batch.h"
#include "model/resnet.h"
#include "test_resnet_util.h"
#include "test_util.h"

static void test_fold(const ResnetArch *a, const ResnetWeights *w) {
    /* Folded conv == BN(conv(x)) computed directly, on one pixel of conv2_block1_2_conv. */
    int i = resnet_arch_find(a, "conv2_block1_2_conv");
    const ResnetConvSpec *s = &a->convs[i];
    size_t taps = (size_t)s->kh * s->kw * s->cin;
    float *k = malloc(taps * s->cout * 4), *b = malloc((size_t)s->cout * 4), *x = malloc(taps * 4);
    resnet_fold_bn(s, &w->w[i], k, b);
    Rng r;
    rng_init(&r, 8, RNG_INIT, 0, 0);
    for (size_t t = 0; t < taps; t++) x[t] = (float)rng_uniform(&r, 0, 2);
    double worst = 0;
    for (int o = 0; o < s->cout; o++) {
        double conv = w->w[i].bias[o], folded = b[o];
        for (size_t t = 0; t < taps; t++) { conv += x[t] * w->w[i].kernel[t * s->cout + o]; folded += x[t] * k[t * s->cout + o]; }
        double bn = w->w[i].gamma[o] * (conv - w->w[i].mean[o]) / sqrt(w->w[i].var[o] + 1.001e-5) + w->w[i].beta[o];
        double rel = fabs(bn - folded) / (fabs(bn) + 1e-3);
        worst = rel > worst ? rel : worst;
    }
    CHECK(worst < 1e-5, "folded conv differs from conv + BN: %.3g", worst);
    free(k); free(b); free(x);
}

static int features_on(Backend *be, const ResnetWeights *w, int size, int max_batch, const float *images, int n, float *out, Err *e) {
    Backbone bb;
    if (backbone_create(&bb, be, "resnet50", w, size, max_batch, e)) return -1;
    int rc = backbone_forward(&bb, images, n, out, e);
    backbone_free(&bb);
    return rc;
}

static void test_cpu_vs_reference(Backend *cpu, Backend *ref, const ResnetWeights *w) {
    Err e = {{0}};
    int size = 64, n = 2;
    size_t per = (size_t)size * size * 3;
    float *img = malloc(n * per * 4), *f_ref = malloc((size_t)n * 2048 * 4), *f_cpu = malloc((size_t)n * 2048 * 4);
    Rng r;
    rng_init(&r, 11, RNG_INIT, 0, 0);
    for (size_t i = 0; i < n * per; i++) img[i] = (float)rng_uniform(&r, -120, 130);
    CHECK_OK(features_on(ref, w, size, n, img, n, f_ref, &e), &e);
    CHECK_OK(features_on(cpu, w, size, n, img, n, f_cpu, &e), &e);
    double err = rel_l2(f_cpu, f_ref, (size_t)n * 2048);
    printf("resnet50 64x64 random input: cpu vs reference rel L2 %.3g\n", err);
    CHECK(err < 1e-5, "cpu vs reference rel L2 %.3g", err);
    /* Short batch: 1 image through a plan for 3 gives the same row. */
    float *f_short = malloc(2048 * 4);
    CHECK_OK(features_on(cpu, w, size, 3, img, 1, f_short, &e), &e);
    CHECK(rel_l2(f_short, f_cpu, 2048) < 1e-6, "short batch differs");
    free(img); free(f_ref); free(f_cpu); free(f_short);
}

/* Real photos (Debian's darknet package), decoded and resized as Keras does. */
static void test_real_photo(Backend *cpu, Backend *ref, const ResnetWeights *w) {
    const char *dirs[] = {getenv("TL_PHOTOS"), "/usr/share/darknet/data", "/var/cache/sweep-testdata/darknet/usr/share/darknet/data"};
    char path[512] = "";
    for (int i = 0; i < 3 && !*path; i++) {
        if (!dirs[i]) continue;
        snprintf(path, sizeof path, "%s/dog.jpg", dirs[i]);
        FILE *f = fopen(path, "rb");
        if (f) fclose(f); else path[0] = 0;
    }
    if (!*path) { printf("SKIP real photo: no darknet photos (run scripts/install-deps)\n"); return; }
    Err e = {{0}};
    int size = 96;
    Image scratch = {0};
    uint8_t *resized = malloc((size_t)size * size * 3);
    float *img = malloc((size_t)size * size * 3 * 4), *f_ref = malloc(2048 * 4), *f_cpu = malloc(2048 * 4);
    CHECK_OK(image_load_preprocessed(path, size, INTERP_NEAREST, 0, &scratch, resized, img, &e), &e);
    CHECK_OK(features_on(ref, w, size, 1, img, 1, f_ref, &e), &e);
    CHECK_OK(features_on(cpu, w, size, 1, img, 1, f_cpu, &e), &e);
    double err = rel_l2(f_cpu, f_ref, 2048);
    printf("resnet50 %dx%d %s: cpu vs reference rel L2 %.3g\n", size, size, path, err);
    CHECK(err < 1e-5, "real photo rel L2 %.3g", err);
    image_free(&scratch);
    free(resized); free(img); free(f_ref); free(f_cpu);
}

int main(void) {
    Err e = {{0}};
    ResnetArch a;
    ResnetWeights w;
    Backend *ref, *cpu;
    if (resnet_arch_init(&a, "resnet50", &e) || resnet_weights_random(&w, &a, 21, &e) || backend_reference_create(&ref, &e) ||
        backend_cpu_create(&cpu, 2, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    test_randomize_bn(&w, &a, 3, 2, 0.3);
    test_fold(&a, &w);
    test_cpu_vs_reference(cpu, ref, &w);
    test_real_photo(cpu, ref, &w);
    resnet_weights_free(&w);
    resnet_arch_free(&a);
    backend_destroy(cpu);
    backend_destroy(ref);
    return TEST_END();
}
