/* trainer features --weights FILE.h5|random:SEED [--backbone resnet50] [--image-size N]
 *                 [--interpolation nearest|bilinear] [--batch N] [--threads N] [--device cpu|cuda|auto]
 *                 [--precision fp32|tf32|fp16|bf16] (GPU only; default tf32)
 *                 [--fast-decode] [--timing] [--decode-only] --out OUT.bin IMAGE...
 * --timing prints setup seconds and the decode+forward pipeline's images/s to stderr;
 * --decode-only times the loader alone (no network, no output). Decoding runs on one
 * thread per core (--threads N sets both the decoders and the CPU backend's threads).
 * Writes one row of 2048 little-endian float32 per image, in argument order. Decoding runs
 * on a loader thread one batch ahead of the backbone. OUT.bin appears only when complete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/args.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "data/image_batch.h"
#include "model/resnet.h"

typedef struct FeaturesArgs {
    const char *weights, *backbone, *out, *interp;
    BackendDevice device;
    Precision precision;
    int image_size, batch, threads, fast, timing, decode_only;
    char **images;
    int n_images;
} FeaturesArgs;

static int parse(int argc, char **argv, FeaturesArgs *a) {
    *a = (FeaturesArgs){.backbone = "resnet50", .device = DEVICE_CPU, .precision = PREC_TF32, .interp = "nearest",
                        .image_size = 224, .batch = 32};
    const char *device = DEVICE_NAMES[a->device], *precision = PRECISION_NAMES[a->precision];
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_value(argc, argv, &i, "--weights", &v)) a->weights = v;
        else if (arg_value(argc, argv, &i, "--backbone", &v)) a->backbone = v;
        else if (arg_value(argc, argv, &i, "--out", &v)) a->out = v;
        else if (arg_value(argc, argv, &i, "--device", &v)) device = v;
        else if (arg_value(argc, argv, &i, "--precision", &v)) precision = v;
        else if (arg_value(argc, argv, &i, "--interpolation", &v)) a->interp = v;
        else if (arg_value(argc, argv, &i, "--image-size", &v)) a->image_size = atoi(v);
        else if (arg_value(argc, argv, &i, "--batch", &v)) a->batch = atoi(v);
        else if (arg_value(argc, argv, &i, "--threads", &v)) a->threads = atoi(v);
        else if (!strcmp(argv[i], "--fast-decode")) a->fast = 1;
        else if (!strcmp(argv[i], "--timing")) a->timing = 1;
        else if (!strcmp(argv[i], "--decode-only")) a->decode_only = a->timing = 1;
        else if (argv[i][0] == '-' && argv[i][1] == '-') { fprintf(stderr, "trainer features: unknown option %s\n", argv[i]); return -1; }
        else { a->images = argv + i; a->n_images = argc - i; break; }
    }
    Err e = {{0}};
    if (backend_device_parse(device, &a->device, &e) || backend_precision_parse(precision, &a->precision, &e))
        fprintf(stderr, "trainer features: %s\n", e.msg);
    else if (!a->weights && !a->decode_only) fprintf(stderr, "trainer features: --weights is required (a Keras .h5 file, or random:SEED)\n");
    else if (!a->out && !a->decode_only) fprintf(stderr, "trainer features: --out is required\n");
    else if (a->n_images == 0) fprintf(stderr, "trainer features: no images given\n");
    else if (a->image_size < 32 || a->batch < 1) fprintf(stderr, "trainer features: --image-size must be >= 32 and --batch >= 1\n");
    else if (strcmp(a->interp, "nearest") && strcmp(a->interp, "bilinear")) fprintf(stderr, "trainer features: --interpolation must be nearest or bilinear\n");
    else return 0;
    return -1;
}

/* Decode threads: --threads, else one per core, so decoding keeps a GPU busy. */
static int decode_threads(const FeaturesArgs *a) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return a->threads > 0 ? a->threads : cores > 0 ? (int)cores : 2;
}

/* The decoder for batches of `batch` images, as both modes run it. */
static ImageBatcherConfig batcher_config(const FeaturesArgs *a, int batch) {
    return (ImageBatcherConfig){.image_size = a->image_size,
                                .interp = strcmp(a->interp, "bilinear") ? INTERP_NEAREST : INTERP_BILINEAR,
                                .fast_decode = a->fast, .batch = batch, .threads = decode_threads(a)};
}

/* --decode-only: the loader alone (decode + resize + preprocess, no network, no output),
 * to compare with the whole pipeline's images/s. */
static int run_decode_only(const FeaturesArgs *a, Err *e) {
    int batch = a->batch < a->n_images ? a->batch : a->n_images;
    ImageBatcher ib;
    ImageBatcherConfig ic = batcher_config(a, batch);
    double t0 = now_seconds();
    if (image_batcher_start(&ib, &ic, (const char *const *)a->images, a->n_images, e)) return -1;
    int rc = 0;
    for (int done = 0; rc == 0 && done < a->n_images;) {
        const float *images;
        int n;
        rc = image_batcher_next(&ib, &images, &n, e);
        done += n;
    }
    image_batcher_stop(&ib);
    double t1 = now_seconds();
    if (rc == 0)
        fprintf(stderr, "loader_threads %d\nloader_seconds %.3f\nloader_images_per_s %.2f\n", ic.threads, t1 - t0,
                a->n_images / (t1 - t0));
    return rc;
}

static int run(const FeaturesArgs *a, Err *e) {
    if (a->decode_only) return run_decode_only(a, e);
    double t0 = now_seconds();
    ResnetWeights w;
    Backend *be = NULL;
    Backbone bb;
    if (resnet_weights_open_named(&w, a->backbone, a->weights, e)) return -1;
    int rc;
    int batch = a->batch < a->n_images ? a->batch : a->n_images;
    rc = backend_open(&be, a->device, 0, a->precision, a->threads, e) || backbone_create(&bb, be, a->backbone, &w, a->image_size, batch, e);
    resnet_weights_free(&w);
    if (rc) { backend_destroy(be); return -1; }
    AtomicFile af;
    float *feats = tl_malloc(e, (size_t)batch * RESNET_FEATURES * sizeof(float), "features");
    ImageBatcher ib;
    ImageBatcherConfig ic = batcher_config(a, batch);
    rc = !feats || fs_atomic_open(&af, a->out, e) ? -1 : 0;
    double t1 = now_seconds(); /* setup done: weights, plans, buffers */
    if (rc == 0 && image_batcher_start(&ib, &ic, (const char *const *)a->images, a->n_images, e)) { fs_atomic_abort(&af); rc = -1; }
    for (int done = 0; rc == 0 && done < a->n_images;) {
        const float *images;
        int n;
        rc = image_batcher_next(&ib, &images, &n, e) || backbone_forward(&bb, images, n, feats, e) ? -1 : 0;
        if (rc == 0 && fwrite(feats, sizeof(float) * RESNET_FEATURES, (size_t)n, af.f) != (size_t)n) rc = err_fail(e, "%s: write failed", a->out);
        done += n;
    }
    if (feats && rc == 0) image_batcher_stop(&ib);
    else if (feats && af.f) { image_batcher_stop(&ib); fs_atomic_abort(&af); }
    if (rc == 0) rc = fs_atomic_commit(&af, e);
    double t2 = now_seconds();
    if (rc == 0 && a->timing)
        fprintf(stderr, "setup_seconds %.3f\npipeline_seconds %.3f\npipeline_images_per_s %.2f\n", t1 - t0, t2 - t1,
                a->n_images / (t2 - t1));
    free(feats);
    backbone_free(&bb);
    backend_destroy(be);
    return rc;
}

int cmd_features(int argc, char **argv) {
    FeaturesArgs a;
    if (parse(argc, argv, &a)) return 2;
    Err e = {{0}};
    if (run(&a, &e)) {
        fprintf(stderr, "trainer features: %s\n", e.msg);
        return 1;
    }
    return 0;
}
