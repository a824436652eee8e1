/* GPU benchmark: ResNet50 forward (images/s) per precision and batch size on the CUDA
 * backend, and the GEMM work of one head-training epoch with cuBLAS.
 *
 * Two measurements of the same network:
 *   resnet50_fwd       built here from the Backend interface alone: the 53 convolutions of
 *                      Keras's ResNet50, resnet_arch.c (stride on the first 1x1 of a block, as Keras
 *                      has it; BN folded into conv bias), max pooling after conv1, global
 *                      average pooling; random weights; device memory in, device memory out.
 *   resnet50_backbone  the trainer's Backbone (trainer/model/resnet.h): backbone_forward from
 *                      host images to host features, so the upload of the batch and the
 *                      download of the features are included, as in feature extraction.
 *
 * Head training epoch: the trainer's GPU head (model/head_cuda.h) trains the Keras head
 * for one epoch on cached features (8144 images, batch 32, 2048 -> BN -> 512 ReLU ->
 * dropout 0.6 -> 196, label smoothing, L2, Adam), float32; torch_gpu.py times the same
 * epoch in PyTorch.
 *
 * Output: human-readable lines, plus one "RESULT <name> <precision> <batch> <value> <unit>"
 * line per measurement, which tests/gpu/run.sh turns into a table against PyTorch (rows
 * measured with TL_CUDNN_FIND=1, the backend's timed algorithm choice, are named *_find).
 * Times are medians over --iters runs after --warmup runs, each synchronised on the host. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/clock.h"
#include "core/rng.h"
#include "model/head.h"
#include "model/head_cuda.h"
#include "model/resnet.h"
#include "model/optimizer.h"

enum { IMAGE = 224, N_BLOCKS = 16 };

typedef struct Options {
    const char *device;         /* cuda | cpu */
    char precisions[128];       /* comma list */
    char batches[128];          /* comma list */
    int iters, warmup;
    int head;                   /* run the GPU head training epoch */
    int backbone;               /* also time through the Backbone API */
} Options;

typedef struct Bottleneck {
    void *c1, *c2, *c3;         /* 1x1 (stride s) relu, 3x3 relu, 1x1 + shortcut relu */
    void *proj;                 /* 1x1 stride s projection shortcut, or NULL (identity) */
} Bottleneck;

typedef struct Net {
    Backend *b;
    int n;
    void *conv1;
    Bottleneck blocks[N_BLOCKS];
    float *input;               /* (n, 224, 224, 3) */
    float *act[2];              /* block inputs/outputs, up to (n, 56, 56, 256) = (n, 112, 112, 64) */
    float *t1, *t2;             /* inside a block, up to (n, 56, 56, 64) */
    float *shortcut;            /* projection output, up to (n, 56, 56, 256) */
    float *features;            /* (n, 2048) */
    float *host_w, *host_b;     /* scratch for random weights: largest kernel 3x3x512x512, 2048 biases */
    int n_convs;
    double flops;               /* per forward, convolutions only */
} Net;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One conv with random weights: uniform(-s, s), s = sqrt(6 / fan_in) (He), times gain;
 * the last conv of each block gets gain 0.2 so that 16 residual sums stay in fp16 range. */
static int net_conv(Net *net, int h, int w, int cin, int cout, int k, int stride, int pad, int residual, int relu,
                    float gain, void **conv, Err *e) {
    ConvDesc d = {0};
    d.n = net->n; d.h = h; d.w = w; d.cin = cin; d.cout = cout; d.kh = k; d.kw = k; d.stride = stride;
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = pad;
    d.has_residual = residual;
    d.relu = relu;
    if (conv_desc_init(&d, e)) return -1;
    Rng r;
    rng_init(&r, 42, RNG_BACKBONE, (uint32_t)net->n_convs++, 0);
    float s = gain * sqrtf(6.f / (float)(k * k * cin));
    size_t wn = (size_t)k * k * cin * cout;
    for (size_t i = 0; i < wn; i++) net->host_w[i] = (float)rng_uniform(&r, -s, s);
    for (int i = 0; i < cout; i++) net->host_b[i] = (float)rng_uniform(&r, -0.1, 0.1);
    net->flops += conv_desc_flops(&d);
    return net->b->ops->conv_create(net->b, &d, net->host_w, net->host_b, conv, e);
}

static int net_alloc(Net *net, float **p, size_t floats, Err *e) {
    return net->b->ops->alloc(net->b, floats * sizeof(float), (void **)p, e);
}

static int net_buffers(Net *net, Err *e) {
    size_t n = (size_t)net->n;
    net->host_w = malloc((size_t)3 * 3 * 512 * 512 * sizeof(float));
    net->host_b = malloc(2048 * sizeof(float));
    if (!net->host_w || !net->host_b) return err_fail(e, "out of host memory for weights");
    if (net_alloc(net, &net->input, n * IMAGE * IMAGE * 3, e) || net_alloc(net, &net->act[0], n * 112 * 112 * 64, e) ||
        net_alloc(net, &net->act[1], n * 112 * 112 * 64, e) || net_alloc(net, &net->t1, n * 56 * 56 * 64, e) ||
        net_alloc(net, &net->t2, n * 56 * 56 * 64, e) || net_alloc(net, &net->shortcut, n * 56 * 56 * 256, e) ||
        net_alloc(net, &net->features, n * 2048, e)) return -1;
    return 0;
}

/* Builds conv1 and the 16 bottleneck blocks (3, 4, 6, 3 per stage; widths 64..512). */
static int net_build(Net *net, Err *e) {
    static const int blocks_per_stage[4] = {3, 4, 6, 3}, width[4] = {64, 128, 256, 512};
    if (net_buffers(net, e)) return -1;
    if (net_conv(net, IMAGE, IMAGE, 3, 64, 7, 2, 3, 0, 1, 1.f, &net->conv1, e)) return -1;
    int hw = 56, cin = 64, j = 0;
    for (int s = 0; s < 4; s++) {
        for (int i = 0; i < blocks_per_stage[s]; i++, j++) {
            int f = width[s], stride = (s > 0 && i == 0) ? 2 : 1, out = (hw - 1) / stride + 1;
            Bottleneck *k = &net->blocks[j];
            if (net_conv(net, hw, hw, cin, f, 1, stride, 0, 0, 1, 1.f, &k->c1, e) ||
                net_conv(net, out, out, f, f, 3, 1, 1, 0, 1, 1.f, &k->c2, e) ||
                net_conv(net, out, out, f, 4 * f, 1, 1, 0, 1, 1, 0.2f, &k->c3, e)) return -1;
            if (i == 0 && net_conv(net, hw, hw, cin, 4 * f, 1, stride, 0, 0, 0, 1.f, &k->proj, e)) return -1;
            hw = out;
            cin = 4 * f;
        }
    }
    return 0;
}

static void net_free(Net *net) {
    Backend *b = net->b;
    if (net->conv1) b->ops->conv_destroy(b, net->conv1);
    for (int j = 0; j < N_BLOCKS; j++) {
        Bottleneck *k = &net->blocks[j];
        if (k->c1) b->ops->conv_destroy(b, k->c1);
        if (k->c2) b->ops->conv_destroy(b, k->c2);
        if (k->c3) b->ops->conv_destroy(b, k->c3);
        if (k->proj) b->ops->conv_destroy(b, k->proj);
    }
    b->ops->release(b, net->input);
    b->ops->release(b, net->act[0]);
    b->ops->release(b, net->act[1]);
    b->ops->release(b, net->t1);
    b->ops->release(b, net->t2);
    b->ops->release(b, net->shortcut);
    b->ops->release(b, net->features);
    free(net->host_w);
    free(net->host_b);
}

/* input (n, 224, 224, 3) -> features (n, 2048). */
static int net_forward(Net *net, Err *e) {
    Backend *b = net->b;
    int n = net->n, cur = 1;
    if (b->ops->conv_forward(b, net->conv1, net->input, NULL, net->act[0], e) ||
        b->ops->maxpool3x3s2(b, net->act[0], n, 112, 112, 64, net->act[1], e)) return -1;
    for (int j = 0; j < N_BLOCKS; j++) {
        Bottleneck *k = &net->blocks[j];
        const float *shortcut = net->act[cur];
        if (b->ops->conv_forward(b, k->c1, net->act[cur], NULL, net->t1, e) ||
            b->ops->conv_forward(b, k->c2, net->t1, NULL, net->t2, e)) return -1;
        if (k->proj) {
            if (b->ops->conv_forward(b, k->proj, net->act[cur], NULL, net->shortcut, e)) return -1;
            shortcut = net->shortcut;
        }
        if (b->ops->conv_forward(b, k->c3, net->t2, shortcut, net->act[1 - cur], e)) return -1;
        cur = 1 - cur;
    }
    return b->ops->global_avgpool(b, net->act[cur], n, 7, 7, 2048, net->features, e);
}

/* Uploads a random input image batch (uniform, like preprocess_input's range). */
static int net_input(Net *net, Err *e) {
    size_t count = (size_t)net->n * IMAGE * IMAGE * 3;
    float *x = malloc(count * sizeof *x);
    if (!x) return err_fail(e, "out of host memory for the input batch");
    Rng r;
    rng_init(&r, 42, RNG_AUGMENT, 0, 0);
    for (size_t i = 0; i < count; i++) x[i] = (float)rng_uniform(&r, -120.0, 150.0);
    int rc = net->b->ops->upload(net->b, net->input, x, count * sizeof *x, e);
    free(x);
    return rc;
}

/* Fails when a feature is NaN or infinite (a broken run must not produce a number). */
static int net_check_features(Net *net, Err *e) {
    size_t count = (size_t)net->n * 2048;
    float *f = malloc(count * sizeof *f);
    if (!f) return err_fail(e, "out of host memory");
    int rc = net->b->ops->download(net->b, f, net->features, count * sizeof *f, e);
    for (size_t i = 0; rc == 0 && i < count; i++)
        if (!isfinite(f[i])) rc = err_fail(e, "feature %zu is %g", i, f[i]);
    free(f);
    return rc;
}

static int bench_resnet(Backend *b, const char *precision, int batch, const Options *o, Err *e) {
    Net net;
    memset(&net, 0, sizeof net);
    net.b = b;
    net.n = batch;
    double t0 = now_seconds();
    int rc = (net_build(&net, e) || net_input(&net, e)) ? -1 : 0;
    double build_s = now_seconds() - t0;
    double *times = calloc((size_t)o->iters, sizeof *times);
    for (int i = 0; rc == 0 && i < o->warmup; i++) rc = (net_forward(&net, e) || b->ops->sync(b, e)) ? -1 : 0;
    for (int i = 0; rc == 0 && i < o->iters; i++) {
        t0 = now_seconds();
        rc = (net_forward(&net, e) || b->ops->sync(b, e)) ? -1 : 0;
        times[i] = now_seconds() - t0;
    }
    if (rc == 0) rc = net_check_features(&net, e);
    if (rc == 0) {
        double t = median(times, o->iters);
        printf("resnet50 forward  %-4s batch %3d: %8.1f images/s  %8.2f ms/batch  %6.1f TFLOP/s  "
               "(%d convs, %.2f GFLOP/image, build %.1f s)\n", precision, batch, batch / t, 1e3 * t,
               net.flops / t * 1e-12, net.n_convs, net.flops / batch * 1e-9, build_s);
        /* TL_CUDNN_FIND=1 makes the backend time cuDNN's algorithms: label those rows apart. */
        const char *find = getenv("TL_CUDNN_FIND");
        printf("RESULT resnet50_fwd%s %s %d %.2f images/s\n", find && !strcmp(find, "1") ? "_find" : "", precision,
               batch, batch / t);
        printf("RESULT resnet50_tflops%s %s %d %.2f TFLOP/s\n", find && !strcmp(find, "1") ? "_find" : "", precision,
               batch, net.flops / t * 1e-12);
    }
    free(times);
    net_free(&net);
    if (rc) return err_context(e, "resnet50 %s batch %d", precision, batch);
    return 0;
}

/* The trainer's Backbone (random weights) from host images to host features. */
static int bench_backbone(Backend *b, const char *precision, int batch, const Options *o, Err *e) {
    ResnetArch arch;
    ResnetWeights w;
    Backbone bb;
    memset(&arch, 0, sizeof arch);
    memset(&w, 0, sizeof w);
    memset(&bb, 0, sizeof bb);
    size_t n_in = (size_t)batch * IMAGE * IMAGE * 3;
    float *images = malloc(n_in * sizeof *images), *features = malloc((size_t)batch * 2048 * sizeof *features);
    double *times = calloc((size_t)o->iters, sizeof *times);
    int rc = images && features && times ? 0 : err_fail(e, "out of host memory");
    if (rc == 0 && (resnet_arch_init(&arch, "resnet50", e) || resnet_weights_random(&w, &arch, 1, e) ||
                    backbone_create(&bb, b, "resnet50", &w, IMAGE, batch, e)))
        rc = -1;
    Rng r;
    rng_init(&r, 42, RNG_AUGMENT, 1, 0);
    for (size_t i = 0; rc == 0 && i < n_in; i++) images[i] = (float)rng_uniform(&r, -120.0, 150.0);
    for (int i = 0; rc == 0 && i < o->warmup; i++) rc = backbone_forward(&bb, images, batch, features, e);
    for (int i = 0; rc == 0 && i < o->iters; i++) {
        double t0 = now_seconds();
        rc = backbone_forward(&bb, images, batch, features, e);
        times[i] = now_seconds() - t0;
    }
    for (size_t i = 0; rc == 0 && i < (size_t)batch * 2048; i++)
        if (!isfinite(features[i])) rc = err_fail(e, "feature %zu is %g", i, features[i]);
    if (rc == 0) {
        double t = median(times, o->iters);
        printf("resnet50 backbone %-4s batch %3d: %8.1f images/s  %8.2f ms/batch  (host images -> host features)\n",
               precision, batch, batch / t, 1e3 * t);
        printf("RESULT resnet50_backbone %s %d %.2f images/s\n", precision, batch, batch / t);
    }
    backbone_free(&bb);
    resnet_weights_free(&w);
    resnet_arch_free(&arch);
    free(images);
    free(features);
    free(times);
    if (rc) return err_context(e, "backbone %s batch %d", precision, batch);
    return 0;
}

/* The trainer's GPU head (model/head_cuda.h), one training epoch of the Keras head on
 * cached features: 8144 x 2048 features uniform in [0, 1) and random labels (as
 * torch_gpu.py), 196 classes, BN -> Dense 512 ReLU -> dropout 0.6 -> Dense 196, label
 * smoothing 0.1, L2 5e-4 on both kernels, Adam 1e-3, batch 32. An epoch is
 * gpu_head_train_epoch: the epoch's row list uploaded, dropout masks made on the host,
 * 255 steps on the device, the epoch's loss read back (the parameters' upload before and
 * download after, which the trial adds, are timed apart). The head is float32 whatever
 * the precision, so it runs once, on an fp32 backend, and reports as fp32. */
enum { HEAD_SAMPLES = 8144, HEAD_BATCH = 32, HEAD_D = 2048, HEAD_H = 512, HEAD_C = 196 };

typedef struct HeadBench {
    Backend *b;
    Head h;
    Optimizer opt;
    GpuHead *g;
    float *x;                   /* (8144, 2048) host */
    int *y, *rows, *labels;     /* (8144) */
} HeadBench;

static int head_bench_open(HeadBench *hb, Err *e) {
    HeadSpec hs = {.in_dim = HEAD_D, .hidden = HEAD_H, .classes = HEAD_C, .batchnorm = 1, .dropout = 0.6,
                   .max_batch = HEAD_BATCH, .seed = 42};
    OptimizerSpec os = {.kind = OPT_ADAM, .beta_1 = 0.9, .beta_2 = 0.999, .epsilon = 1e-7};
    GpuHeadLoss loss = {.label_smoothing = 0.1, .l2 = 5e-4f, .terminate_on_nan = 1};
    size_t nx = (size_t)HEAD_SAMPLES * HEAD_D;
    hb->x = malloc(nx * sizeof *hb->x);
    hb->y = malloc(HEAD_SAMPLES * sizeof *hb->y);
    hb->rows = malloc(HEAD_SAMPLES * sizeof *hb->rows);
    hb->labels = malloc(HEAD_SAMPLES * sizeof *hb->labels);
    if (!hb->x || !hb->y || !hb->rows || !hb->labels) return err_fail(e, "out of host memory");
    Rng r;
    rng_init(&r, 42, RNG_INIT, 1000, 0);
    for (size_t i = 0; i < nx; i++) hb->x[i] = rng_float(&r);
    for (int i = 0; i < HEAD_SAMPLES; i++) hb->y[i] = (int)rng_below(&r, HEAD_C);
    if (backend_cuda_create(&hb->b, 0, PREC_FP32, e) || head_create(&hb->h, &hs, e) ||
        optimizer_create(&hb->opt, &os, hb->h.n_params, e))
        return -1;
    for (int i = 0; i < hb->h.n_views; i++)
        if (hb->h.views[i].trainable && optimizer_add_range(&hb->opt, hb->h.views[i].offset, hb->h.views[i].size, e))
            return -1;
    return gpu_head_create(&hb->g, hb->b, &hb->h, &hb->opt, HEAD_SAMPLES, 0, &loss, e) ||
           gpu_head_upload_train(hb->g, hb->x, HEAD_SAMPLES, e) || gpu_head_upload_params(hb->g, &hb->h, &hb->opt, e) ? -1 : 0;
}

static void head_bench_close(HeadBench *hb) {
    gpu_head_free(hb->g);
    optimizer_free(&hb->opt);
    head_free(&hb->h);
    backend_destroy(hb->b);
    free(hb->x); free(hb->y); free(hb->rows); free(hb->labels);
}

/* One epoch (order keyed by epoch, as the trial's); seconds in *t. */
static int head_bench_epoch(HeadBench *hb, int epoch, double *t, GpuHeadStats *st, Err *e) {
    int order[HEAD_SAMPLES];
    for (int i = 0; i < HEAD_SAMPLES; i++) order[i] = i;
    Rng r;
    rng_init(&r, 42, RNG_SHUFFLE, (uint32_t)epoch, 0);
    rng_shuffle(&r, order, HEAD_SAMPLES);
    for (int k = 0; k < HEAD_SAMPLES; k++) { hb->rows[k] = order[k]; hb->labels[k] = hb->y[order[k]]; }
    double t0 = now_seconds();
    if (gpu_head_train_epoch(hb->g, hb->rows, hb->labels, HEAD_SAMPLES, 1e-3f, (uint32_t)epoch, st, e)) return -1;
    *t = now_seconds() - t0;
    if (!isfinite(st->loss) || st->stopped) return err_fail(e, "head epoch %d: loss %g", epoch, st->loss);
    return 0;
}

static int bench_head(const Options *o, Err *e) {
    if (!strstr(o->precisions, "fp32")) return 0;                            /* its only precision */
    HeadBench hb;
    memset(&hb, 0, sizeof hb);
    int runs = o->iters < 3 ? o->iters : 3, rc = head_bench_open(&hb, e);
    double times[3], t, t0, params_s = 0;
    GpuHeadStats st = {0};
    if (rc == 0) rc = head_bench_epoch(&hb, 0, &t, &st, e);                  /* warm-up */
    for (int i = 0; rc == 0 && i < runs; i++) rc = head_bench_epoch(&hb, 1 + i, &times[i], &st, e);
    if (rc == 0) {
        t0 = now_seconds();
        rc = gpu_head_download_params(hb.g, &hb.h, &hb.opt, e) || gpu_head_upload_params(hb.g, &hb.h, &hb.opt, e) ? -1 : 0;
        params_s = now_seconds() - t0;
    }
    if (rc == 0) {
        t = median(times, runs);
        printf("head train epoch  fp32 batch %3d: %8.4f s/epoch (%d steps, GPU head: BN, Dense %d ReLU, dropout 0.6, "
               "Adam; loss %.4f, accuracy %.4f; parameters down + up %.1f ms)\n", HEAD_BATCH, t,
               (HEAD_SAMPLES + HEAD_BATCH - 1) / HEAD_BATCH, HEAD_H, st.loss, st.accuracy, 1e3 * params_s);
        printf("RESULT head_train_epoch fp32 %d %.5f s\n", HEAD_BATCH, t);
    }
    head_bench_close(&hb);
    return rc ? err_context(e, "GPU head epoch") : 0;
}

static int open_backend(const Options *o, const char *precision, Backend **b, Err *e) {
    if (!strcmp(o->device, "cpu")) return backend_cpu_create(b, 0, e);
    Precision p;
    return backend_precision_parse(precision, &p, e) || backend_cuda_create(b, 0, p, e) ? -1 : 0;
}

static int parse_args(int argc, char **argv, Options *o) {
    o->device = "cuda";
    snprintf(o->precisions, sizeof o->precisions, "fp32,tf32,fp16,bf16");
    snprintf(o->batches, sizeof o->batches, "32,256");
    o->iters = 20;
    o->warmup = 3;
    o->head = 1;
    o->backbone = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-head")) { o->head = 0; continue; }
        if (!strcmp(a, "--no-backbone")) { o->backbone = 0; continue; }
        if (!v) return -1;
        if (!strcmp(a, "--device")) o->device = v;
        else if (!strcmp(a, "--precision")) snprintf(o->precisions, sizeof o->precisions, "%s", v);
        else if (!strcmp(a, "--batch")) snprintf(o->batches, sizeof o->batches, "%s", v);
        else if (!strcmp(a, "--iters")) o->iters = atoi(v);
        else if (!strcmp(a, "--warmup")) o->warmup = atoi(v);
        else return -1;
        i++;
    }
    if (!strcmp(o->device, "cpu")) snprintf(o->precisions, sizeof o->precisions, "fp32");   /* CPU: float32 only */
    return o->iters > 0 && o->warmup >= 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    Options o;
    if (parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: bench_gpu [--device cuda|cpu] [--precision fp32,tf32,fp16,bf16] [--batch 32,256]\n"
                        "                 [--iters 20] [--warmup 3] [--no-head] [--no-backbone]\n");
        return 2;
    }
    if (!strcmp(o.device, "cuda") && backend_cuda_device_count() == 0) {
        fprintf(stderr, "bench_gpu: no CUDA device visible (or built without CUDA)\n");
        return 77;
    }
    Err e = {{0}};
    int failed = 0;
    char precs[128];
    snprintf(precs, sizeof precs, "%s", o.precisions);
    for (char *save = NULL, *p = strtok_r(precs, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        Backend *b = NULL;
        if (open_backend(&o, p, &b, &e)) {
            fprintf(stderr, "bench_gpu: %s: %s\n", p, e.msg);
            failed = 1;
            continue;
        }
        char batches[128];
        snprintf(batches, sizeof batches, "%s", o.batches);
        for (char *s2 = NULL, *q = strtok_r(batches, ",", &s2); q; q = strtok_r(NULL, ",", &s2)) {
            if (bench_resnet(b, p, atoi(q), &o, &e) || (o.backbone && bench_backbone(b, p, atoi(q), &o, &e))) {
                fprintf(stderr, "bench_gpu: %s\n", e.msg);
                failed = 1;
            }
        }
        backend_destroy(b);
    }
    if (o.head && !strcmp(o.device, "cuda") && bench_head(&o, &e)) {
        fprintf(stderr, "bench_gpu: %s\n", e.msg);
        failed = 1;
    }
    return failed;
}
