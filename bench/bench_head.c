/* Seconds per head-training epoch on synthetic cached features: 8,144 x 2048 random
 * features, 196 classes, batch 32, BN -> Dense(512, ReLU) -> Dropout(0.6) -> Dense(196),
 * CE with label smoothing 0.1 + L2 5e-4, Adam 1e-3, 2 threads (OpenBLAS and OpenMP).
 * Usage: bench_head [epochs]   (default 1 timed epoch after a short warm-up)
 * Prints one line: head_epoch_seconds <mean seconds per epoch>. bench/torch_head.py is the
 * PyTorch twin. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/rng.h"
#include "model/head.h"
#include "model/loss.h"
#include "train/metrics.h"
#include "model/optimizer.h"

enum { N_SAMPLES = 8144, IN_DIM = 2048, CLASSES = 196, BATCH = 32, HIDDEN = 512, THREADS = 2, WARMUP_STEPS = 10 };

/* Post-ReLU pooled features are >= 0: uniform [0, 2) is a fair stand-in. */
static void synth_data(float *x, int *y) {
    Rng r;
    rng_init(&r, 1, RNG_AUGMENT, 0, 0);
    for (size_t i = 0; i < (size_t)N_SAMPLES * IN_DIM; i++) x[i] = 2.0f * rng_float(&r);
    for (int i = 0; i < N_SAMPLES; i++) y[i] = (int)rng_below(&r, CLASSES);
}

typedef struct Bench {
    Head head;
    Optimizer opt;
    const float *x;       /* (N_SAMPLES, IN_DIM) */
    const int *y;         /* (N_SAMPLES) */
    int *order;           /* (N_SAMPLES) shuffled each epoch */
    float *xb;            /* (BATCH, IN_DIM) gathered batch */
    int yb[BATCH];
} Bench;

static float train_step(Bench *bm, int b, uint32_t epoch, uint32_t step) {
    Head *h = &bm->head;
    head_forward(h, bm->xb, b, 1, epoch, step);
    float ce = loss_xent(h->logits, bm->yb, b, CLASSES, 0.1, h->dlogits);
    head_backward(h, h->dlogits, NULL);
    float l2 = loss_l2(h, 5e-4f, 1);
    optimizer_step(&bm->opt, h->params, h->grads, 1e-3f);
    return ce + l2;
}

/* One epoch (or its first max_steps steps); returns the epoch loss. */
static float run_epoch(Bench *bm, uint32_t epoch, int max_steps) {
    Rng r;
    rng_init(&r, 42, RNG_SHUFFLE, epoch, 0);
    for (int i = 0; i < N_SAMPLES; i++) bm->order[i] = i;
    rng_shuffle(&r, bm->order, N_SAMPLES);
    MeanMetric loss = {0, 0};
    for (int s = 0, start = 0; start < N_SAMPLES && s < max_steps; s++, start += BATCH) {
        int b = N_SAMPLES - start < BATCH ? N_SAMPLES - start : BATCH;
        for (int i = 0; i < b; i++) {
            const float *src = bm->x + (size_t)bm->order[start + i] * IN_DIM;
            float *dst = bm->xb + (size_t)i * IN_DIM;
            for (int j = 0; j < IN_DIM; j++) dst[j] = src[j];
            bm->yb[i] = bm->y[bm->order[start + i]];
        }
        mean_update(&loss, train_step(bm, b, epoch, (uint32_t)s) * (float)b, (float)b);
    }
    return mean_result(&loss);
}

static int setup(Bench *bm, Err *e) {
    HeadSpec spec = {.in_dim = IN_DIM, .hidden = HIDDEN, .classes = CLASSES, .batchnorm = 1,
                     .dropout = 0.6, .max_batch = BATCH, .seed = 42};
    OptimizerSpec os = {.kind = OPT_ADAM, .beta_1 = 0.9, .beta_2 = 0.999, .epsilon = 1e-7};
    if (head_create(&bm->head, &spec, e) || optimizer_create(&bm->opt, &os, bm->head.n_params, e)) return -1;
    for (int i = 0; i < bm->head.n_views; i++)
        if (bm->head.views[i].trainable &&
            optimizer_add_range(&bm->opt, bm->head.views[i].offset, bm->head.views[i].size, e)) return -1;
    return 0;
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 1;
    if (epochs < 1) { fprintf(stderr, "usage: bench_head [epochs >= 1]\n"); return 2; }
    openblas_set_num_threads(THREADS);
    omp_set_num_threads(THREADS);
    float *x = malloc((size_t)N_SAMPLES * IN_DIM * sizeof *x);
    int *y = malloc(N_SAMPLES * sizeof *y);
    Bench bm = {.x = x, .y = y, .order = malloc(N_SAMPLES * sizeof(int)),
                .xb = malloc((size_t)BATCH * IN_DIM * sizeof(float))};
    Err e;
    if (!x || !y || !bm.order || !bm.xb) { fprintf(stderr, "bench_head: out of memory\n"); return 1; }
    if (setup(&bm, &e)) { fprintf(stderr, "bench_head: %s\n", e.msg); return 1; }
    synth_data(x, y);
    run_epoch(&bm, 1000, WARMUP_STEPS);
    double t0 = now_seconds();
    float loss = 0;
    for (int ep = 0; ep < epochs; ep++) loss = run_epoch(&bm, (uint32_t)ep, N_SAMPLES);
    double per_epoch = (now_seconds() - t0) / epochs;
    fprintf(stderr, "bench_head: %d epoch(s), last epoch loss %.4f\n", epochs, loss);
    printf("head_epoch_seconds %.4f\n", per_epoch);
    optimizer_free(&bm.opt);
    head_free(&bm.head);
    free(x); free(y); free(bm.order); free(bm.xb);
    return 0;
}
