/* The GPU head (model/head_cuda.h) against the CPU head (head.c + loss.c + optimizer.c),
 * driven the way trial.c drives them: the same seed, epoch orders (RNG_SHUFFLE), a
 * training table of two "views" read through a row list, dropout masks keyed by epoch
 * and step, CE + L2 running means, validation with the L2 of the current weights.
 * Inputs are random (features uniform in [-1, 2), never zeros; random labels).
 *
 * Cases: every optimizer (adam, sgd, sgd momentum, sgd nesterov) x BN on/off x hidden
 * 0/24 x dropout 0/0.5 x (label smoothing 0, L2 0) / (0.1, 1e-3), small sizes (in 40,
 * 7 classes, 150 rows in batches of 16: a short last batch), compared after epoch 1 and
 * epoch 3; and one Keras-sized case (2048 -> 512 -> 196, batch 32, Adam, BN, dropout 0.6).
 * Tolerances, float32 ("fp32" backend): relative L2 error <= 1e-4 for the parameter arena
 * (BN moving statistics included), the optimizer moments, the epoch loss and the
 * validation loss (the only differences are the GEMMs' summation order and expf/log
 * rounding); accuracies within one sample (a near tie in an argmax may flip); the
 * optimizer's iteration count exact.
 * Precision: the same training (30 Adam steps) on backends opened as tf32, fp16 and bf16
 * must give the fp32 backend's parameters and Adam first moment to 1e-5 (expected
 * identical: the head's GEMMs are pedantic float32; TF32 GEMMs would put the moment, an
 * average of recent gradients, ~1e-3 off).
 * TerminateOnNaN: a NaN feature in one row stops the epoch at that row's step on both
 * (same steps and iterations, loss NaN); with the callback off the epoch runs to the end.
 * Exits 77 (skipped) when no GPU is visible. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/rng.h"
#include "model/head.h"
#include "model/head_cuda.h"
#include "model/loss.h"
#include "train/callbacks.h"
#include "train/metrics.h"
#include "model/optimizer.h"
#include "gpu/gpu_test.h"
#include "test_util.h"

#define TOL 1e-4
#define PRECISION_TOL 1e-5

typedef struct Case {
    const char *opt;            /* adam | sgd | momentum | nesterov */
    int in, hidden, classes, batchnorm, batch, n_train, n_val, epochs;
    double dropout, smoothing;
    float l2;
} Case;

/* The data of a case: training table of 2 views (2 n_train rows), validation rows. */
typedef struct Data {
    float *train_x, *val_x;     /* (2 n_train, in), (n_val, in) */
    int *train_y, *val_y;       /* (n_train), (n_val) */
} Data;

/* A CPU model: head + optimizer + the batch buffers of the trial loop. */
typedef struct Model {
    Head h;
    Optimizer o;
    float *batch_x;
    int *batch_y;
} Model;

typedef struct EpochResult {
    float loss, accuracy, val_loss, val_accuracy;
    int steps, stopped;
} EpochResult;

static uint64_t SEED = 20240601;

static void data_make(const Case *c, Data *d, uint32_t key) {
    d->train_x = test_random_floats(SEED, key, (size_t)2 * c->n_train * c->in, 1, -1.0, 2.0);
    d->val_x = test_random_floats(SEED, key, (size_t)c->n_val * c->in, 2, -1.0, 2.0);
    d->train_y = malloc(sizeof(int) * (size_t)c->n_train);
    d->val_y = malloc(sizeof(int) * (size_t)c->n_val);
    Rng r;
    rng_init(&r, SEED, RNG_INIT, key, 3);
    for (int i = 0; i < c->n_train; i++) d->train_y[i] = (int)rng_below(&r, (uint32_t)c->classes);
    for (int i = 0; i < c->n_val; i++) d->val_y[i] = (int)rng_below(&r, (uint32_t)c->classes);
}

static void data_free(Data *d) {
    free(d->train_x); free(d->val_x); free(d->train_y); free(d->val_y);
}

static int model_create(const Case *c, Model *m, Err *e) {
    memset(m, 0, sizeof *m);
    HeadSpec hs = {.in_dim = c->in, .hidden = c->hidden, .classes = c->classes, .batchnorm = c->batchnorm,
                   .dropout = c->dropout, .max_batch = c->batch, .seed = SEED};
    OptimizerSpec os = {.kind = strcmp(c->opt, "adam") ? OPT_SGD : OPT_ADAM, .beta_1 = 0.9, .beta_2 = 0.999,
                        .epsilon = 1e-7, .momentum = strcmp(c->opt, "momentum") && strcmp(c->opt, "nesterov") ? 0.0 : 0.9,
                        .nesterov = !strcmp(c->opt, "nesterov")};
    if (head_create(&m->h, &hs, e) || optimizer_create(&m->o, &os, m->h.n_params, e)) return -1;
    for (int i = 0; i < m->h.n_views; i++)
        if (m->h.views[i].trainable && optimizer_add_range(&m->o, m->h.views[i].offset, m->h.views[i].size, e)) return -1;
    m->batch_x = malloc(sizeof(float) * (size_t)c->batch * c->in);
    m->batch_y = malloc(sizeof(int) * (size_t)c->batch);
    return m->batch_x && m->batch_y ? 0 : -1;
}

static void model_free(Model *m) {
    head_free(&m->h);
    optimizer_free(&m->o);
    free(m->batch_x);
    free(m->batch_y);
}

static float lr_of(const Case *c) { return strcmp(c->opt, "adam") ? 0.02f : 1e-3f; }

/* The epoch's positions, as trial.c: order = shuffle (RNG_SHUFFLE, epoch), row = view *
 * n + i with the view drawn per (epoch, i), label of image i. */
static void epoch_rows(const Case *c, const Data *d, int epoch, int *rows, int *labels) {
    int n = c->n_train;
    int *order = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) order[i] = i;
    Rng r;
    rng_init(&r, SEED, RNG_SHUFFLE, (uint32_t)epoch, 0);
    rng_shuffle(&r, order, n);
    for (int k = 0; k < n; k++) {
        Rng v;
        rng_init(&v, SEED, RNG_VIEW, (uint32_t)epoch, (uint32_t)order[k]);
        rows[k] = (int)rng_below(&v, 2) * n + order[k];
        labels[k] = d->train_y[order[k]];
    }
    free(order);
}

/* trial.c's train_epoch on the CPU head (TerminateOnNaN as callbacks_batch_end). */
static void cpu_train_epoch(const Case *c, Model *m, const Data *d, const int *rows, const int *labels, int epoch,
                            int stop_on_nan, EpochResult *res) {
    int n = c->n_train, B = c->batch, C = c->classes;
    MeanMetric lm = {0, 0}, am = {0, 0};
    res->steps = res->stopped = 0;
    for (int s = 0, step = 0; s < n; s += B, step++) {
        int b = n - s < B ? n - s : B;
        for (int k = 0; k < b; k++) {
            memcpy(m->batch_x + (size_t)k * c->in, d->train_x + (size_t)rows[s + k] * c->in, sizeof(float) * (size_t)c->in);
            m->batch_y[k] = labels[s + k];
        }
        head_forward(&m->h, m->batch_x, b, 1, (uint32_t)epoch, (uint32_t)step);
        float ce = loss_xent(m->h.logits, m->batch_y, b, C, c->smoothing, m->h.dlogits);
        head_backward(&m->h, m->h.dlogits, NULL);
        float l2 = loss_l2(&m->h, c->l2, 1);
        mean_update(&lm, (ce + l2) * b, (float)b);
        mean_update(&am, (float)count_correct(m->h.logits, m->batch_y, b, C), (float)b);
        optimizer_step(&m->o, m->h.params, m->h.grads, lr_of(c));
        res->steps++;
        if (stop_on_nan && terminate_on_nan(mean_result(&lm))) { res->stopped = 1; break; }
    }
    res->loss = mean_result(&lm);
    res->accuracy = mean_result(&am);
}

/* trial.c's evaluate: CE + the L2 of the current weights, batches of max_batch. */
static void cpu_evaluate(const Case *c, Model *m, const Data *d, EpochResult *res) {
    MeanMetric lm = {0, 0}, am = {0, 0};
    float l2 = loss_l2(&m->h, c->l2, 0);
    for (int s = 0; s < c->n_val; s += c->batch) {
        int b = c->n_val - s < c->batch ? c->n_val - s : c->batch;
        head_forward(&m->h, d->val_x + (size_t)s * c->in, b, 0, 0, 0);
        float ce = loss_xent(m->h.logits, d->val_y + s, b, c->classes, c->smoothing, NULL);
        mean_update(&lm, (ce + l2) * b, (float)b);
        mean_update(&am, (float)count_correct(m->h.logits, d->val_y + s, b, c->classes), (float)b);
    }
    res->val_loss = mean_result(&lm);
    res->val_accuracy = mean_result(&am);
}

/* The GPU side of one epoch, as trial.c's gpu_epoch: upload, train, validate, download
 * into the model's own head and optimizer (so the arenas can be compared with the CPU's). */
static int gpu_train_epoch(const Case *c, GpuHead *g, Model *m, const int *rows, const int *labels, int epoch,
                           EpochResult *res, Err *e) {
    GpuHeadStats st;
    if (gpu_head_upload_params(g, &m->h, &m->o, e) ||
        gpu_head_train_epoch(g, rows, labels, c->n_train, lr_of(c), (uint32_t)epoch, &st, e) ||
        gpu_head_evaluate(g, c->n_val, &res->val_loss, &res->val_accuracy, e) ||
        gpu_head_download_params(g, &m->h, &m->o, e))
        return -1;
    res->loss = st.loss;
    res->accuracy = st.accuracy;
    res->steps = st.steps;
    res->stopped = st.stopped;
    return 0;
}

static int gpu_open(Backend *be, const Case *c, const Model *m, const Data *d, int stop_on_nan, GpuHead **g, Err *e) {
    GpuHeadLoss loss = {.label_smoothing = c->smoothing, .l2 = c->l2, .terminate_on_nan = stop_on_nan};
    return gpu_head_create(g, be, &m->h, &m->o, 2 * c->n_train, c->n_val, &loss, e) ||
           gpu_head_upload_train(*g, d->train_x, 2 * c->n_train, e) ||
           gpu_head_upload_eval(*g, d->val_x, d->val_y, c->n_val, e) ? -1 : 0;
}

static double rel_scalar(double a, double b) { return fabs(a - b) / (fabs(b) > 1e-30 ? fabs(b) : 1.0); }

static void compare(const char *name, int epoch, const Case *c, const Model *cpu, const Model *gpu,
                    const EpochResult *rc, const EpochResult *rg) {
    size_t n = cpu->h.n_params;
    double ep = rel_l2(gpu->h.params, cpu->h.params, n), em = rel_l2(gpu->o.m, cpu->o.m, n);
    double ev = cpu->o.v ? rel_l2(gpu->o.v, cpu->o.v, n) : 0.0;
    CHECK(ep <= TOL, "%s epoch %d: parameters rel L2 %.3g", name, epoch, ep);
    CHECK(em <= TOL && ev <= TOL, "%s epoch %d: moments rel L2 m %.3g v %.3g", name, epoch, em, ev);
    CHECK(gpu->o.iterations == cpu->o.iterations, "%s epoch %d: iterations %ld vs %ld", name, epoch, gpu->o.iterations,
          cpu->o.iterations);
    CHECK(rel_scalar(rg->loss, rc->loss) <= TOL, "%s epoch %d: loss %.9g vs %.9g", name, epoch, rg->loss, rc->loss);
    CHECK(rel_scalar(rg->val_loss, rc->val_loss) <= TOL, "%s epoch %d: val_loss %.9g vs %.9g", name, epoch, rg->val_loss,
          rc->val_loss);
    CHECK(fabs(rg->accuracy - rc->accuracy) <= 1.001 / c->n_train, "%s epoch %d: accuracy %.6f vs %.6f", name, epoch,
          rg->accuracy, rc->accuracy);
    CHECK(fabs(rg->val_accuracy - rc->val_accuracy) <= 1.001 / c->n_val, "%s epoch %d: val_accuracy %.6f vs %.6f", name,
          epoch, rg->val_accuracy, rc->val_accuracy);
    CHECK(rg->steps == rc->steps && !rg->stopped && !rc->stopped, "%s epoch %d: steps %d vs %d", name, epoch, rg->steps,
          rc->steps);
    if (epoch == 1 || epoch == c->epochs)
        printf("  %-52s epoch %d: params %.2e  m %.2e  v %.2e  loss %.2e  val_loss %.2e\n", name, epoch, ep, em, ev,
               rel_scalar(rg->loss, rc->loss), rel_scalar(rg->val_loss, rc->val_loss));
}

/* Trains a case on both, epoch by epoch, comparing after each. */
static void run_case(Backend *be, const Case *c, uint32_t key) {
    char name[128];
    snprintf(name, sizeof name, "%s bn %d hidden %d drop %.1f ls %.1f l2 %g in %d C %d", c->opt, c->batchnorm, c->hidden,
             c->dropout, c->smoothing, c->l2, c->in, c->classes);
    Err e = {{0}};
    Data d;
    data_make(c, &d, key);
    Model cpu = {0}, gpu = {0};   /* model_free is safe on a zeroed model */
    GpuHead *g = NULL;
    int *rows = malloc(sizeof(int) * (size_t)c->n_train), *labels = malloc(sizeof(int) * (size_t)c->n_train);
    int ok = model_create(c, &cpu, &e) == 0 && model_create(c, &gpu, &e) == 0 && gpu_open(be, c, &gpu, &d, 1, &g, &e) == 0;
    CHECK(ok, "%s: setup: %s", name, e.msg);
    /* Both start from the same initial weights (head_create with the same seed). */
    if (ok) CHECK(memcmp(cpu.h.params, gpu.h.params, sizeof(float) * cpu.h.n_params) == 0, "%s: initial weights differ", name);
    for (int epoch = 0; ok && epoch < c->epochs; epoch++) {
        EpochResult rc, rg;
        epoch_rows(c, &d, epoch, rows, labels);
        cpu_train_epoch(c, &cpu, &d, rows, labels, epoch, 1, &rc);
        cpu_evaluate(c, &cpu, &d, &rc);
        ok = gpu_train_epoch(c, g, &gpu, rows, labels, epoch, &rg, &e) == 0;
        CHECK(ok, "%s epoch %d: %s", name, epoch + 1, e.msg);
        if (ok) compare(name, epoch + 1, c, &cpu, &gpu, &rc, &rg);
    }
    gpu_head_free(g);
    model_free(&cpu);
    model_free(&gpu);
    free(rows);
    free(labels);
    data_free(&d);
}

static void test_cases(Backend *be) {
    static const char *opts[4] = {"adam", "sgd", "momentum", "nesterov"};
    uint32_t key = 100;
    for (int o = 0; o < 4; o++)
        for (int bn = 0; bn < 2; bn++)
            for (int hid = 0; hid < 2; hid++)
                for (int drop = 0; drop < 2; drop++)
                    for (int reg = 0; reg < 2; reg++) {
                        Case c = {.opt = opts[o], .in = 40, .hidden = hid ? 24 : 0, .classes = 7, .batchnorm = bn,
                                  .batch = 16, .n_train = 150, .n_val = 37, .epochs = 3, .dropout = drop ? 0.5 : 0.0,
                                  .smoothing = reg ? 0.1 : 0.0, .l2 = reg ? 1e-3f : 0.0f};
                        run_case(be, &c, key++);
                    }
    Case big = {.opt = "adam", .in = 2048, .hidden = 512, .classes = 196, .batchnorm = 1, .batch = 32, .n_train = 320,
                .n_val = 70, .epochs = 2, .dropout = 0.6, .smoothing = 0.1, .l2 = 5e-4f};
    run_case(be, &big, key++);
}

/* Parameters and Adam's first moment (the recent gradients: the sharpest sign of TF32
 * GEMMs) after c->epochs epochs on a backend opened with this precision. */
static int train_on(Precision precision, const Case *c, const Data *d, float *params, float *moment, Err *e) {
    Backend *be = NULL;
    Model m = {0};
    GpuHead *g = NULL;
    int *rows = malloc(sizeof(int) * (size_t)c->n_train), *labels = malloc(sizeof(int) * (size_t)c->n_train);
    int rc = backend_cuda_create(&be, 0, precision, e) || model_create(c, &m, e) || gpu_open(be, c, &m, d, 1, &g, e) ? -1 : 0;
    for (int epoch = 0; rc == 0 && epoch < c->epochs; epoch++) {
        EpochResult r;
        epoch_rows(c, d, epoch, rows, labels);
        rc = gpu_train_epoch(c, g, &m, rows, labels, epoch, &r, e);
    }
    if (rc == 0) {
        memcpy(params, m.h.params, sizeof(float) * m.h.n_params);
        memcpy(moment, m.o.m, sizeof(float) * m.h.n_params);
    }
    gpu_head_free(g);
    model_free(&m);
    backend_destroy(be);
    free(rows);
    free(labels);
    return rc;
}

static void test_precision_independent(void) {
    Case c = {.opt = "adam", .in = 256, .hidden = 128, .classes = 20, .batchnorm = 1, .batch = 32, .n_train = 320,
              .n_val = 40, .epochs = 3, .dropout = 0.3, .smoothing = 0.1, .l2 = 1e-3f};
    Err e = {{0}};
    Data d;
    data_make(&c, &d, 900);
    Model probe = {0};
    CHECK_OK(model_create(&c, &probe, &e), &e);
    size_t n = probe.h.n_params;
    model_free(&probe);
    float *want = malloc(sizeof(float) * n), *got = malloc(sizeof(float) * n);
    float *want_m = malloc(sizeof(float) * n), *got_m = malloc(sizeof(float) * n);
    int ok = train_on(PREC_FP32, &c, &d, want, want_m, &e) == 0;
    CHECK(ok, "fp32 backend: %s", e.msg);
    static const Precision precs[3] = {PREC_TF32, PREC_FP16, PREC_BF16};
    for (int p = 0; ok && p < 3; p++) {
        const char *name = PRECISION_NAMES[precs[p]];
        int trained = train_on(precs[p], &c, &d, got, got_m, &e) == 0;
        CHECK(trained, "%s backend: %s", name, e.msg);
        if (!trained) continue;
        double err = rel_l2(got, want, n), err_m = rel_l2(got_m, want_m, n);
        CHECK(err <= PRECISION_TOL && err_m <= PRECISION_TOL,
              "%s backend: head parameters rel L2 %.3g, Adam m %.3g from the fp32 backend's", name, err, err_m);
        printf("  precision %s: head parameters rel L2 %.2e, Adam m %.2e from fp32 (%s)\n", name, err, err_m,
               memcmp(got, want, sizeof(float) * n) || memcmp(got_m, want_m, sizeof(float) * n) ? "not bit-identical"
                                                                                                : "bit-identical");
    }
    free(want);
    free(got);
    free(want_m);
    free(got_m);
    data_free(&d);
}

/* A NaN feature in the row at position 37 (step 2 of batches of 16). No hidden layer: a
 * ReLU would turn the NaN into 0 and the loss would stay finite. After the stop, only BN
 * moving statistics of the other columns are still finite: they show whether later steps
 * changed state. */
static void test_terminate_on_nan(Backend *be) {
    Case c = {.opt = "adam", .in = 40, .hidden = 0, .classes = 7, .batchnorm = 1, .batch = 16, .n_train = 150,
              .n_val = 37, .epochs = 1, .dropout = 0.5, .smoothing = 0.1, .l2 = 1e-3f};
    Err e = {{0}};
    Data d;
    data_make(&c, &d, 950);
    int *rows = malloc(sizeof(int) * (size_t)c.n_train), *labels = malloc(sizeof(int) * (size_t)c.n_train);
    epoch_rows(&c, &d, 0, rows, labels);
    d.train_x[(size_t)rows[37] * c.in + 5] = NAN;
    for (int stop_on_nan = 1; stop_on_nan >= 0; stop_on_nan--) {
        Model cpu = {0}, gpu = {0};
        GpuHead *g = NULL;
        int ok = model_create(&c, &cpu, &e) == 0 && model_create(&c, &gpu, &e) == 0 &&
                 gpu_open(be, &c, &gpu, &d, stop_on_nan, &g, &e) == 0;
        CHECK(ok, "terminate_on_nan %d: setup: %s", stop_on_nan, e.msg);
        EpochResult rc, rg;
        cpu_train_epoch(&c, &cpu, &d, rows, labels, 0, stop_on_nan, &rc);
        ok = ok && gpu_train_epoch(&c, g, &gpu, rows, labels, 0, &rg, &e) == 0;
        CHECK(ok, "terminate_on_nan %d: %s", stop_on_nan, e.msg);
        if (ok) {
            int want_steps = stop_on_nan ? 3 : (c.n_train + c.batch - 1) / c.batch;
            CHECK(rc.steps == want_steps && rc.stopped == stop_on_nan, "CPU reference: %d steps, stopped %d", rc.steps,
                  rc.stopped);
            CHECK(rg.steps == rc.steps && rg.stopped == rc.stopped, "terminate_on_nan %d: GPU %d steps stopped %d, CPU %d %d",
                  stop_on_nan, rg.steps, rg.stopped, rc.steps, rc.stopped);
            CHECK(gpu.o.iterations == cpu.o.iterations, "terminate_on_nan %d: iterations %ld vs %ld", stop_on_nan,
                  gpu.o.iterations, cpu.o.iterations);
            CHECK(isnan(rg.loss) && isnan(rc.loss), "terminate_on_nan %d: loss GPU %g CPU %g", stop_on_nan, rg.loss, rc.loss);
        }
        if (ok && stop_on_nan) {
            /* NaN in the same places; the finite values (moving statistics) those of step 2. */
            size_t mismatched = 0, finite = 0;
            double num = 0, den = 0;
            for (size_t i = 0; i < cpu.h.n_params; i++) {
                float a = gpu.h.params[i], b = cpu.h.params[i];
                mismatched += !isnan(a) != !isnan(b);
                if (isnan(a) || isnan(b)) continue;
                finite++;
                num += ((double)a - b) * ((double)a - b);
                den += (double)b * b;
            }
            CHECK(mismatched == 0, "terminate_on_nan: %zu parameters NaN on one side only", mismatched);
            CHECK(finite > 0 && sqrt(num / den) <= TOL, "terminate_on_nan: %zu finite parameters, rel L2 %.3g", finite,
                  den > 0 ? sqrt(num / den) : -1.0);
        }
        gpu_head_free(g);
        model_free(&cpu);
        model_free(&gpu);
    }
    free(rows);
    free(labels);
    data_free(&d);
}

/* Upload then download gives the same bits; the GPU head refuses a non-cuda backend. */
static void test_round_trip(Backend *be) {
    Case c = {.opt = "adam", .in = 40, .hidden = 24, .classes = 7, .batchnorm = 1, .batch = 16, .n_train = 150,
              .n_val = 37, .epochs = 1, .dropout = 0.5, .smoothing = 0.1, .l2 = 1e-3f};
    Err e = {{0}};
    Data d;
    data_make(&c, &d, 970);
    Model m = {0};
    GpuHead *g = NULL;
    int ok = model_create(&c, &m, &e) == 0 && gpu_open(be, &c, &m, &d, 1, &g, &e) == 0;
    CHECK(ok, "round trip setup: %s", e.msg);
    if (!ok) {
        gpu_head_free(g);
        model_free(&m);
        data_free(&d);
        return;
    }
    size_t n = m.h.n_params;
    float *params = malloc(sizeof(float) * n), *mom = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) { m.o.m[i] = 0.25f + (float)i; m.o.v[i] = 1.0f / (float)(i + 1); }
    m.o.iterations = 17;
    memcpy(params, m.h.params, sizeof(float) * n);
    memcpy(mom, m.o.m, sizeof(float) * n);
    ok = gpu_head_upload_params(g, &m.h, &m.o, &e) == 0;
    memset(m.h.params, 0, sizeof(float) * n);
    memset(m.o.m, 0, sizeof(float) * n);
    m.o.iterations = 0;
    ok = ok && gpu_head_download_params(g, &m.h, &m.o, &e) == 0;
    CHECK(ok, "round trip: %s", e.msg);
    CHECK(ok && !memcmp(params, m.h.params, sizeof(float) * n) && !memcmp(mom, m.o.m, sizeof(float) * n) &&
          m.o.iterations == 17, "round trip changed the parameters, moments or step count");
    Backend *ref = NULL;
    GpuHead *bad = NULL;
    GpuHeadLoss loss = {0};
    if (backend_reference_create(&ref, &e) == 0) {
        CHECK(gpu_head_create(&bad, ref, &m.h, &m.o, 10, 10, &loss, &e) != 0 && bad == NULL && strstr(e.msg, "cuda"),
              "a GPU head on the reference backend: %s", e.msg);
        backend_destroy(ref);
    }
    free(params);
    free(mom);
    gpu_head_free(g);
    model_free(&m);
    data_free(&d);
}

int main(void) {
    if (gpu_test_skip()) return 77;
    Err e = {{0}};
    Backend *be = NULL;
    if (backend_cuda_create(&be, 0, PREC_FP32, &e)) {
        fprintf(stderr, "backend_cuda_create(fp32): %s\n", e.msg);
        return 1;
    }
    test_round_trip(be);
    test_cases(be);
    test_terminate_on_nan(be);
    backend_destroy(be);
    test_precision_independent();
    return TEST_END();
}
