/* Features of real photos on the GPU against the CPU backend, through a Keras-layout
 * weight file (the parity README.md's GPU section states): random ResNet50 weights with non-trivial BN
 * statistics are written as a Keras HDF5 file and read back, Debian's darknet photos are
 * decoded and resized to 224x224 as Keras does, and the 2048 pooled features of every
 * photo must match the CPU backend's within a relative L2 error of 1e-5 (fp32), 5e-3
 * (tf32) and 2e-2 (fp16, bf16). Photos: $TL_PHOTOS, else the darknet folders.
 * Exits 77 (skipped) when no GPU is visible or no photos are found. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "data/image_batch.h"
#include "model/resnet.h"
#include "test_resnet_util.h"
#include "gpu/gpu_test.h"
#include "test_util.h"

enum { SIZE = 224, MAX_PHOTOS = 16, FEAT = 2048 };

static const struct { Precision prec; double tol; } PRECISIONS[] = {
    {PREC_FP32, 1e-5}, {PREC_TF32, 5e-3}, {PREC_FP16, 2e-2}, {PREC_BF16, 2e-2}};

/* The first folder of photos that exists; the .jpg files in it (sorted by readdir order
 * of a fixed set: sorted here so runs compare the same rows). */
static int find_photos(char paths[][512], int max) {
    const char *dirs[] = {getenv("TL_PHOTOS"), "/usr/share/darknet/data", "/var/cache/sweep-testdata/darknet/usr/share/darknet/data"};
    for (int d = 0; d < 3; d++) {
        if (!dirs[d]) continue;
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        int n = 0;
        for (struct dirent *ent; (ent = readdir(dir)) && n < max;) {
            size_t len = strlen(ent->d_name);
            if (len > 4 && !strcmp(ent->d_name + len - 4, ".jpg")) snprintf(paths[n++], 512, "%s/%s", dirs[d], ent->d_name);
        }
        closedir(dir);
        if (n > 0) {
            qsort(paths, (size_t)n, 512, (int (*)(const void *, const void *))strcmp);
            return n;
        }
    }
    return 0;
}

/* A Keras-layout file with random weights, written and read back: the GPU sees weights
 * that went through the HDF5 reader, as a user's ImageNet file would. */
static int keras_file_weights(const ResnetArch *a, ResnetWeights *out, Err *e) {
    ResnetWeights w;
    if (resnet_weights_random(&w, a, 31, e)) return -1;
    test_randomize_bn(&w, a, 5, 2, 0.3);
    char path[] = "/tmp/test_cuda_photos_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        resnet_weights_free(&w);
        return err_fail(e, "mkstemp %s failed", path);
    }
    close(fd);
    int rc = resnet_weights_save_h5(&w, a, path, e) || resnet_weights_load_h5(out, a, path, e) ? -1 : 0;
    unlink(path);
    resnet_weights_free(&w);
    return rc;
}

static int features_on(Backend *be, const ResnetWeights *w, const float *images, int n, float *out, Err *e) {
    Backbone bb;
    if (backbone_create(&bb, be, "resnet50", w, SIZE, n, e)) return -1;
    int rc = backbone_forward(&bb, images, n, out, e);
    backbone_free(&bb);
    return rc;
}

static int load_photos(char paths[][512], int n, float *images, Err *e) {
    Image scratch = {0};
    uint8_t *resized = malloc((size_t)SIZE * SIZE * 3);
    int rc = resized ? 0 : err_fail(e, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++)
        rc = image_load_preprocessed(paths[i], SIZE, INTERP_NEAREST, 0, &scratch, resized,
                                     images + (size_t)i * SIZE * SIZE * 3, e);
    image_free(&scratch);
    free(resized);
    return rc;
}

int main(void) {
    if (gpu_test_skip()) return 77;
    static char paths[MAX_PHOTOS][512];
    int n = find_photos(paths, MAX_PHOTOS);
    if (n == 0) {
        printf("SKIP: no darknet photos (set TL_PHOTOS or run scripts/install-deps)\n");
        return 77;
    }
    Err e = {{0}};
    ResnetArch a;
    ResnetWeights w;
    Backend *cpu = NULL;
    float *images = malloc((size_t)n * SIZE * SIZE * 3 * sizeof(float));
    float *f_cpu = malloc((size_t)n * FEAT * sizeof(float)), *f_gpu = malloc((size_t)n * FEAT * sizeof(float));
    if (!images || !f_cpu || !f_gpu || resnet_arch_init(&a, "resnet50", &e) || keras_file_weights(&a, &w, &e) ||
        load_photos(paths, n, images, &e) || backend_cpu_create(&cpu, 0, &e) || features_on(cpu, &w, images, n, f_cpu, &e)) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return 1;
    }
    printf("%d photos from %s, 224x224, Keras-layout weight file\n", n, paths[0]);
    for (size_t p = 0; p < sizeof PRECISIONS / sizeof PRECISIONS[0]; p++) {
        Backend *gpu = NULL;
        for (size_t i = 0; i < (size_t)n * FEAT; i++) f_gpu[i] = NAN;        /* unwritten rows fail */
        CHECK_OK(backend_cuda_create(&gpu, 0, PRECISIONS[p].prec, &e), &e);
        if (!gpu) continue;
        CHECK_OK(features_on(gpu, &w, images, n, f_gpu, &e), &e);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double err = rel_l2(f_gpu + (size_t)i * FEAT, f_cpu + (size_t)i * FEAT, FEAT);
            worst = err > worst || err != err ? err : worst;
        }
        printf("%-4s: worst photo rel L2 vs CPU %.3g (bar %.0e)\n", PRECISION_NAMES[PRECISIONS[p].prec], worst, PRECISIONS[p].tol);
        CHECK(worst < PRECISIONS[p].tol, "%s photos rel L2 %.3g >= %.0e", PRECISION_NAMES[PRECISIONS[p].prec], worst,
              PRECISIONS[p].tol);
        backend_destroy(gpu);
    }
    backend_destroy(cpu);
    resnet_weights_free(&w);
    resnet_arch_free(&a);
    free(images);
    free(f_cpu);
    free(f_gpu);
    return TEST_END();
}
