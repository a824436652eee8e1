/* trainer predict --run RUNDIR [--top K] [--csv] [--threads N] [--gpu I] IMAGE...
 * Classifies images with a finished trial: RUNDIR/config.yaml gives the backbone (weights,
 * image size, interpolation), RUNDIR/best.safetensors the head and the class names. The
 * Keras inference path: decode -> resize -> preprocess_input -> frozen backbone -> head
 * (inference mode) -> softmax. Prints the top K classes of each image, in argument order,
 * as a text table or as CSV (image,rank,class,probability). Images are decoded by worker
 * threads one batch (32) ahead of the backbone.
 * Exit status: 0 all images classified; 1 an image (named on stderr) could not be read, the
 * others are still printed; 2 usage or a run folder that cannot be loaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/csv_field.h"
#include "cli/run_options.h"
#include "data/image_batch.h"
#include "model/resnet.h"
#include "train/trained_model.h"

enum { PREDICT_BATCH = 32 };

typedef struct PredictArgs {
    RunOptions trial;
    int top, csv;
    char **images;
    int n_images;
} PredictArgs;

static const char *USAGE = "usage: trainer predict --run RUNDIR [--top K] [--csv] [--threads N] [--gpu I] IMAGE...\n";

static int parse(int argc, char **argv, PredictArgs *a) {
    *a = (PredictArgs){.top = 5};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (run_option(argc, argv, &i, &a->trial)) continue;
        if (arg_value(argc, argv, &i, "--top", &v)) a->top = atoi(v);
        else if (!strcmp(argv[i], "--csv")) a->csv = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(USAGE, stdout); return 1; }
        else if (!strcmp(argv[i], "--")) { a->images = argv + i + 1; a->n_images = argc - i - 1; break; }
        else if (argv[i][0] == '-' && argv[i][1] == '-') { fprintf(stderr, "trainer predict: unknown option %s\n%s", argv[i], USAGE); return -1; }
        else { a->images = argv + i; a->n_images = argc - i; break; }
    }
    if (run_options_check(&a->trial, "predict", USAGE)) return -1;
    if (a->n_images == 0) fprintf(stderr, "trainer predict: no images given\n%s", USAGE);
    else if (a->top < 1) fprintf(stderr, "trainer predict: --top must be >= 1\n");
    else return 0;
    return -1;
}

/* Everything one run needs, allocated once. */
typedef struct Predictor {
    const PredictArgs *args;
    TrainedModel model;
    Backend *be;
    Backbone bb;
    ResnetSuffix suffix;          /* fine-tuned trials: the trained backbone suffix */
    int finetuned;
    int batch, image_size;
    Interp interp;
    float *feats;                 /* (batch, 2048) */
    double *probs;                /* (C) */
    int *top;                     /* (C) class indices, best first */
    int name_width;               /* text table: the class column */
    float *retry;                 /* (batch, S, S, 3): a failed batch decoded one image at a time */
    uint8_t *resized;             /* (S, S, 3) scratch of that slow path */
    Image decoded;                /* its decode buffer */
    int *good;                    /* (batch) argument index of each image in retry */
    int failed;                   /* images that could not be read */
} Predictor;

static int open_backbone(Predictor *p, Err *e) {
    const TrialConfig *c = &p->model.cfg;
    ResnetWeights w;
    int rc = resnet_weights_open_named(&w, c->model.backbone, c->model.weights, e);
    if (rc) return err_context(e, "model.weights of %s", p->model.config_path);
    rc = backend_open(&p->be, c->train.device, p->args->trial.gpu, c->model.precision, p->args->trial.threads, e) ||
         backbone_create(&p->bb, p->be, c->model.backbone, &w, c->data.image_size, p->batch, e) ? -1 : 0;
    p->finetuned = strcmp(c->model.trainable, "head") != 0;
    if (rc == 0 && p->finetuned)
        rc = resnet_suffix_create(&p->suffix, p->be, c->model.backbone, &w, c->model.trainable, c->data.image_size, p->batch,
                                  c->model.train_bn_affine, e) || trained_model_load_suffix(&p->model, &p->suffix, e) ? -1 : 0;
    resnet_weights_free(&w);
    return rc;
}

static int predictor_open(Predictor *p, const PredictArgs *a, Err *e) {
    memset(p, 0, sizeof *p);
    p->args = a;
    p->batch = a->n_images < PREDICT_BATCH ? a->n_images : PREDICT_BATCH;
    if (trained_model_load(&p->model, a->trial.run, p->batch, e)) return -1;
    const TrialConfig *c = &p->model.cfg;
    p->image_size = c->data.image_size;
    p->interp = strcmp(c->data.interpolation, "bilinear") ? INTERP_NEAREST : INTERP_BILINEAR;
    if (open_backbone(p, e)) return -1;
    p->feats = tl_malloc(e, (size_t)p->batch * RESNET_FEATURES * sizeof(float), "features");
    p->probs = tl_malloc(e, (size_t)p->model.n_classes * sizeof(double), "probabilities");
    p->top = tl_malloc(e, (size_t)p->model.n_classes * sizeof(int), "top-k");
    p->good = tl_malloc(e, (size_t)p->batch * sizeof(int), "batch index");
    p->name_width = 5;
    for (int i = 0; i < p->model.n_classes; i++) {
        int len = (int)strlen(p->model.class_names[i]);
        p->name_width = len > p->name_width ? (len < 48 ? len : 48) : p->name_width;
    }
    return p->feats && p->probs && p->top && p->good ? 0 : -1;
}

static void predictor_close(Predictor *p) {
    if (p->finetuned) resnet_suffix_free(&p->suffix);
    if (p->bb.convs) backbone_free(&p->bb);
    backend_destroy(p->be);
    trained_model_free(&p->model);
    free(p->feats); free(p->probs); free(p->top); free(p->retry); free(p->resized); free(p->good);
    image_free(&p->decoded);
}

/* Top-k lines of one image from its logits (C). */
static void print_image(Predictor *p, const char *path, const float *logits) {
    const TrainedModel *m = &p->model;
    int C = m->n_classes, k = p->args->top < C ? p->args->top : C;
    softmax_row(logits, C, p->probs);
    top_k_indices(p->probs, C, k, p->top);
    if (!p->args->csv) printf("%s\n", path);
    for (int r = 0; r < k; r++) {
        const char *name = m->class_names[p->top[r]];
        if (p->args->csv) {
            csv_put_field(stdout, path);
            printf(",%d,", r + 1);
            csv_put_field(stdout, name);
            printf(",%.6g\n", p->probs[p->top[r]]);
        } else {
            printf("  %2d  %-*s  %.4f\n", r + 1, p->name_width, name, p->probs[p->top[r]]);
        }
    }
}

/* Backbone + head on n preprocessed images; idx[i] is image i's argument index. */
static int classify(Predictor *p, const float *images, int n, const int *idx, Err *e) {
    if (p->finetuned ? resnet_suffix_forward_images(&p->suffix, &p->bb, images, n, p->feats, e)
                     : backbone_forward(&p->bb, images, n, p->feats, e))
        return -1;
    const float *z = trained_model_logits(&p->model, p->feats, n);
    for (int i = 0; i < n; i++) print_image(p, p->args->images[idx[i]], z + (size_t)i * p->model.n_classes);
    fflush(stdout);
    return 0;
}

/* A batch with an unreadable image: decode its images one by one, report each bad one,
 * classify the rest. */
static int classify_one_by_one(Predictor *p, int first, int n, Err *e) {
    size_t floats = (size_t)p->image_size * p->image_size * 3;
    if (!p->retry) {
        p->retry = tl_malloc(e, (size_t)p->batch * floats * sizeof(float), "image batch");
        p->resized = tl_malloc(e, floats, "resized image");
        if (!p->retry || !p->resized) return -1;
    }
    int good = 0;
    for (int i = first; i < first + n; i++) {
        Err ie = {{0}};
        float *dst = p->retry + good * floats;
        if (image_load_preprocessed(p->args->images[i], p->image_size, p->interp, 0, &p->decoded, p->resized, dst, &ie)) {
            fprintf(stderr, "trainer predict: %s\n", ie.msg);
            p->failed++;
            continue;
        }
        p->good[good++] = i;
    }
    return good ? classify(p, p->retry, good, p->good, e) : 0;
}

static int predict_all(Predictor *p, Err *e) {
    ImageBatcher ib;
    ImageBatcherConfig ic = {.image_size = p->image_size, .interp = p->interp, .batch = p->batch, .threads = p->be->threads};
    if (image_batcher_start(&ib, &ic, (const char *const *)p->args->images, p->args->n_images, e)) return -1;
    if (p->args->csv) puts("image,rank,class,probability");
    int rc = 0;
    for (int done = 0; rc == 0 && done < p->args->n_images;) {
        const float *images;
        int n, idx[PREDICT_BATCH];
        Err be = {{0}};
        int bad = image_batcher_next(&ib, &images, &n, &be);
        for (int i = 0; i < n; i++) idx[i] = done + i;
        rc = bad ? classify_one_by_one(p, done, n, e) : classify(p, images, n, idx, e);
        done += n;
    }
    image_batcher_stop(&ib);
    return rc;
}

int cmd_predict(int argc, char **argv) {
    PredictArgs a;
    int usage = parse(argc, argv, &a);
    if (usage) return usage > 0 ? 0 : 2;
    Predictor p;
    Err e = {{0}};
    if (predictor_open(&p, &a, &e)) {
        fprintf(stderr, "trainer predict: %s\n", e.msg);
        predictor_close(&p);
        return 2;
    }
    int rc = predict_all(&p, &e);
    if (rc) fprintf(stderr, "trainer predict: %s\n", e.msg);
    else if (p.failed) fprintf(stderr, "trainer predict: %d of %d images could not be read (named above)\n", p.failed, a.n_images);
    int failed = p.failed;
    predictor_close(&p);
    return rc || failed ? 1 : 0;
}
