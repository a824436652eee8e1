/* The Keras HDF5 weight reader: every layout variant found in the wild, and every kind of
 * bad file, each failing with a message naming the file and the layer. */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "model/resnet.h"
#include "model/weights_h5_write.h"
#include "test_util.h"

static char dir[] = "/tmp/tl_test_h5_XXXXXX";

/* Random weights with non-trivial BN statistics (var > 0). */
static void randomize(ResnetWeights *w, const ResnetArch *a) {
    for (int i = 0; i < a->n_convs; i++) {
        const ResnetConvSpec *s = &a->convs[i];
        Rng r;
        rng_init(&r, 99, RNG_INIT, (uint32_t)i, 1);
        size_t nk = (size_t)s->kh * s->kw * s->cin * s->cout;
        for (size_t k = 0; k < nk; k++) w->w[i].kernel[k] = (float)rng_uniform(&r, -0.1, 0.1);
        for (int c = 0; c < s->cout; c++) {
            w->w[i].bias[c] = (float)rng_uniform(&r, -0.1, 0.1);
            w->w[i].gamma[c] = (float)rng_uniform(&r, 0.5, 1.5);
            w->w[i].beta[c] = (float)rng_uniform(&r, -0.2, 0.2);
            w->w[i].mean[c] = (float)rng_uniform(&r, -0.3, 0.3);
            w->w[i].var[c] = (float)rng_uniform(&r, 0.5, 2.0);
        }
    }
}

static int same_weights(const ResnetWeights *a, const ResnetWeights *b, const ResnetArch *arch) {
    for (int i = 0; i < arch->n_convs; i++) {
        const ResnetConvSpec *s = &arch->convs[i];
        size_t nk = (size_t)s->kh * s->kw * s->cin * s->cout;
        if (memcmp(a->w[i].kernel, b->w[i].kernel, nk * 4) || memcmp(a->w[i].bias, b->w[i].bias, (size_t)s->cout * 4) ||
            memcmp(a->w[i].gamma, b->w[i].gamma, (size_t)s->cout * 4) || memcmp(a->w[i].var, b->w[i].var, (size_t)s->cout * 4))
            return 0;
    }
    return 1;
}

static void test_arch(void) {
    Err e = {{0}};
    ResnetArch a;
    CHECK_OK(resnet_arch_init(&a, "resnet50", &e), &e);
    CHECK(a.n_convs == 53, "resnet50 has 53 convs, got %d", a.n_convs);
    double params = 0;
    for (int i = 0; i < a.n_convs; i++) params += (double)a.convs[i].kh * a.convs[i].kw * a.convs[i].cin * a.convs[i].cout + a.convs[i].cout;
    CHECK(params == 23481472.0, "conv params %.0f (Keras: 23,481,472)", params);
    CHECK(!strcmp(a.convs[3].conv, "conv2_block1_0_conv") && !strcmp(a.convs[4].conv, "conv2_block1_3_conv"), "Keras order");
    CHECK(a.convs[11].stride == 2 && !strcmp(a.convs[11].conv, "conv3_block1_1_conv") && a.convs[12].stride == 1, "stride on _1");
    CHECK_NEAR(resnet_arch_flops(&a, 224) / 1e9, 7.71, 0.01, "GFLOP %.3f", resnet_arch_flops(&a, 224) / 1e9);
    resnet_arch_free(&a);
    CHECK_OK(resnet_arch_init(&a, "resnet101", &e), &e);
    CHECK(a.n_convs == 104, "resnet101 convs %d", a.n_convs);
    resnet_arch_free(&a);
    CHECK_OK(resnet_arch_init(&a, "resnet152", &e), &e);
    CHECK(a.n_convs == 155, "resnet152 convs %d", a.n_convs);
    resnet_arch_free(&a);
    CHECK(resnet_arch_init(&a, "resnet18", &e) != 0 && strstr(e.msg, "resnet18"), "unknown arch: %s", e.msg);
}

static void test_variants(const ResnetArch *a, const ResnetWeights *w) {
    H5WriteStyle styles[] = {{0}, {.vlen_strings = 1}, {.no_suffix = 1}, {.flat = 1}, {.flat = 1, .no_suffix = 1, .vlen_strings = 1},
                             {.omit_weight_names = 1}};
    for (size_t i = 0; i < sizeof styles / sizeof *styles; i++) {
        Err e = {{0}};
        char path[256];
        snprintf(path, sizeof path, "%s/v%zu.h5", dir, i);
        CHECK_OK(resnet_weights_save_h5_style(w, a, path, &styles[i], &e), &e);
        ResnetWeights back;
        CHECK_OK(resnet_weights_load_h5(&back, a, path, &e), &e);
        if (back.w) {
            CHECK(same_weights(w, &back, a), "variant %zu reads back different weights", i);
            resnet_weights_free(&back);
        }
    }
}

static int expect_error(const ResnetArch *a, const char *path, const char *want1, const char *want2) {
    Err e = {{0}};
    ResnetWeights back;
    int rc = resnet_weights_load_h5(&back, a, path, &e);
    if (rc == 0) { resnet_weights_free(&back); fprintf(stderr, "  %s loaded but should fail\n", path); return 0; }
    int ok = strstr(e.msg, path) && strstr(e.msg, want1) && (!want2 || strstr(e.msg, want2));
    if (!ok) fprintf(stderr, "  message was: %s\n", e.msg);
    return ok && !strchr(e.msg, '\n');
}

/* Replaces one dataset with a wrongly shaped one. */
static int corrupt_shape(const char *path, const char *dataset) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0 || H5Ldelete(f, dataset, H5P_DEFAULT) < 0) return -1;
    hsize_t dims[1] = {7};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    float data[7] = {1, 2, 3, 4, 5, 6, 7};
    hid_t ds = H5Dcreate2(f, dataset, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(ds);
    H5Sclose(sp);
    return H5Fclose(f);
}

static void test_bad_files(const ResnetArch *a, const ResnetWeights *w) {
    Err e = {{0}};
    char path[256];
    snprintf(path, sizeof path, "%s/missing.h5", dir);
    CHECK(expect_error(a, path, "cannot open", NULL), "missing file");
    snprintf(path, sizeof path, "%s/text.h5", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not hdf5\n", f);
    fclose(f);
    CHECK(expect_error(a, path, "not an HDF5 file", NULL), "text file");
    H5WriteStyle skip = {.skip_layer = "conv4_block3_2_conv"};
    snprintf(path, sizeof path, "%s/skip.h5", dir);
    CHECK_OK(resnet_weights_save_h5_style(w, a, path, &skip, &e), &e);
    CHECK(expect_error(a, path, "conv4_block3_2_conv", "missing"), "missing layer");
    snprintf(path, sizeof path, "%s/shape.h5", dir);
    CHECK_OK(resnet_weights_save_h5(w, a, path, &e), &e);
    CHECK(corrupt_shape(path, "/conv3_block2_1_bn/conv3_block2_1_bn/gamma:0") == 0, "corrupt");
    CHECK(expect_error(a, path, "conv3_block2_1_bn", "shape (7), expected (128)"), "shape mismatch");
    snprintf(path, sizeof path, "%s/empty.h5", dir);
    hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(h);
    CHECK(expect_error(a, path, "not a Keras weight file", NULL), "HDF5 without layer_names");
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    Err e = {{0}};
    test_arch();
    ResnetArch a;
    ResnetWeights w;
    if (resnet_arch_init(&a, "resnet50", &e) || resnet_weights_random(&w, &a, 5, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    randomize(&w, &a);
    test_variants(&a, &w);
    test_bad_files(&a, &w);
    resnet_weights_free(&w);
    resnet_arch_free(&a);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return TEST_END();
}
