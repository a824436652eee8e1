/* ResNet forward throughput on the CPU backend: images/s, GFLOP/s against the AVX-512 FMA
 * ceiling measured in the same run, and peak RSS. Usage:
 *   bench_backbone [--batch 32] [--size 224] [--threads 2] [--iters 3] [--layers]
 * Prints key value lines that scripts/run-bench turns into the table. */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/clock.h"
#include "core/rng.h"
#include "model/resnet.h"

/* The machine's FMA peak: per thread 12 independent chains of 16-float FMAs held in
 * registers (an array of __m512 gets spilled to memory and measures the store path). */
#define FMA12(m, b) a0 = _mm512_fmadd_ps(a0, m, b), a1 = _mm512_fmadd_ps(a1, m, b), a2 = _mm512_fmadd_ps(a2, m, b), \
    a3 = _mm512_fmadd_ps(a3, m, b), a4 = _mm512_fmadd_ps(a4, m, b), a5 = _mm512_fmadd_ps(a5, m, b), \
    a6 = _mm512_fmadd_ps(a6, m, b), a7 = _mm512_fmadd_ps(a7, m, b), a8 = _mm512_fmadd_ps(a8, m, b), \
    a9 = _mm512_fmadd_ps(a9, m, b), a10 = _mm512_fmadd_ps(a10, m, b), a11 = _mm512_fmadd_ps(a11, m, b)
__attribute__((target("avx512f"))) static double fma_ceiling_gflops(int threads) {
    const long iters = 50000000;
    double t0 = now_seconds();
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
        /* Distinct starting values: equal chains would be merged into one by the compiler. */
        __m512 a0 = _mm512_set1_ps(1.00f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f), a3 = _mm512_set1_ps(1.03f),
               a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f), a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f),
               a8 = _mm512_set1_ps(1.08f), a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
        __m512 m = _mm512_set1_ps(1.0000001f), b = _mm512_set1_ps(-1e-7f);
        for (long it = 0; it < iters; it++) FMA12(m, b);
        __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                 _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
        s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
        sink += _mm512_reduce_add_ps(s);
    }
    double dt = now_seconds() - t0;
    if (sink == 42.0f) printf("#\n");
    return 2.0 * 16 * 12 * iters * threads / dt / 1e9;
}

int main(int argc, char **argv) {
    int batch = 32, size = 224, threads = 2, iters = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
    }
    Err e = {{0}};
    ResnetArch arch;
    ResnetWeights w;
    Backend *be;
    Backbone bb;
    if (resnet_arch_init(&arch, "resnet50", &e) || resnet_weights_random(&w, &arch, 1, &e) || backend_cpu_create(&be, threads, &e) ||
        backbone_create(&bb, be, "resnet50", &w, size, batch, &e)) {
        fprintf(stderr, "bench_backbone: %s\n", e.msg);
        return 1;
    }
    size_t n_in = (size_t)batch * size * size * 3;
    float *images = malloc(n_in * sizeof(float)), *feats = malloc((size_t)batch * 2048 * sizeof(float));
    Rng r;
    rng_init(&r, 7, RNG_INIT, 0, 0);
    for (size_t i = 0; i < n_in; i++) images[i] = (float)rng_uniform(&r, -120, 130);
    if (backbone_forward(&bb, images, batch, feats, &e)) { fprintf(stderr, "bench_backbone: %s\n", e.msg); return 1; }
    double best = 1e30;
    for (int it = 0; it < iters; it++) {
        double t0 = now_seconds();
        if (backbone_forward(&bb, images, batch, feats, &e)) { fprintf(stderr, "bench_backbone: %s\n", e.msg); return 1; }
        double dt = now_seconds() - t0;
        best = dt < best ? dt : best;
    }
    double gflop = resnet_arch_flops(&arch, size) / 1e9;
    double ips = batch / best, ceiling = fma_ceiling_gflops(threads);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("backbone_images_per_s %.2f\n", ips);
    printf("backbone_gflop_per_image %.3f\n", gflop);
    printf("backbone_gflops %.1f\n", ips * gflop);
    printf("fma_ceiling_gflops %.1f\n", ceiling);
    printf("fraction_of_ceiling %.3f\n", ips * gflop / ceiling);
    printf("peak_rss_mib %.0f\n", ru.ru_maxrss / 1024.0);
    free(images);
    free(feats);
    backbone_free(&bb);
    backend_destroy(be);
    resnet_weights_free(&w);
    resnet_arch_free(&arch);
    return 0;
}
