/* Loading a finished trial: a hand-made run folder (config.yaml from config_write_file,
 * best.safetensors written with the checkpoint writer the way trial_best_save lays it
 * out) loads bit for bit and gives the writer's head's logits; softmax and top-k; and
 * every broken folder fails with a message naming the file and what is wrong. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "model/resnet.h"
#include "train/checkpoint.h"
#include "train/trained_model.h"

static char tmp[] = "/tmp/test_trained_model.XXXXXX";

enum { HIDDEN = 8, CLASSES = 3, BATCH = 4 };
static const char *CLASS_TEXT = "Audi A5 Coupe 2012\nFord F-150 Regular Cab 2007\nVolvo XC90 SUV 2007";

/* A run folder tmp/<name> with config.yaml (head: batchnorm, hidden). */
static void make_run(char *dir, size_t n, const char *name, int batchnorm, int hidden) {
    snprintf(dir, n, "%s/%s", tmp, name);
    mkdir(dir, 0755);
    TrialConfig c;
    config_defaults(&c);
    snprintf(c.model.weights, sizeof c.model.weights, "random:1");
    c.model.head.batchnorm = batchnorm;
    c.model.head.hidden = hidden;
    char path[1200];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    Err e = {{0}};
    if (config_write_file(&c, path, &e)) fprintf(stderr, "config_write_file: %s\n", e.msg);
    config_free(&c);
}

/* A head whose parameters are a fixed pattern (BN variance kept positive). */
static int make_head(Head *h, int batchnorm, int hidden, int classes) {
    HeadSpec hs = {.in_dim = RESNET_FEATURES, .hidden = hidden, .classes = classes, .batchnorm = batchnorm,
                   .dropout = 0.5, .max_batch = BATCH, .seed = 7};
    Err e = {{0}};
    if (head_create(h, &hs, &e)) { fprintf(stderr, "head_create: %s\n", e.msg); return -1; }
    for (size_t i = 0; i < h->n_params; i++) h->params[i] = (float)((int)(i * 37 % 101) - 50) / 400.0f;
    if (h->bn_moving_var)
        for (int i = 0; i < RESNET_FEATURES; i++) h->bn_moving_var[i] = 0.5f + (float)(i % 7) / 8.0f;
    return 0;
}

typedef struct BestOptions {
    const char *format, *classes, *skip, *extra;
} BestOptions;

/* best.safetensors from h's views, as trial_best_save writes it; skip drops a view,
 * extra adds a stray tensor. */
static void write_best(const char *dir, Head *h, const BestOptions *o) {
    Checkpoint ck;
    ckpt_init(&ck);
    Err e = {{0}};
    int rc = 0;
    for (int i = 0; rc == 0 && i < h->n_views; i++) {
        const ParamView *v = &h->views[i];
        int64_t shape[2] = {v->shape[0], v->shape[1]};
        if (o->skip && !strcmp(o->skip, v->name)) continue;
        rc = ckpt_add_f32(&ck, v->name, h->params + v->offset, v->ndim, shape, &e);
    }
    int64_t one = 1;
    if (rc == 0 && o->extra) rc = ckpt_add_f32(&ck, o->extra, h->params, 1, &one, &e);
    if (rc == 0 && o->format) rc = ckpt_set_meta(&ck, "format", o->format, &e);
    if (rc == 0 && o->classes) rc = ckpt_set_meta(&ck, "classes", o->classes, &e);
    if (rc == 0) rc = ckpt_set_meta(&ck, "epoch", "4", &e);
    char path[1200];
    snprintf(path, sizeof path, "%s/best.safetensors", dir);
    if (rc == 0) rc = ckpt_write_atomic(&ck, path, &e);
    if (rc) fprintf(stderr, "write_best: %s\n", e.msg);
    ckpt_free(&ck);
}

static void test_load_and_logits(void) {
    char dir[1100];
    make_run(dir, sizeof dir, "good", 1, HIDDEN);
    Head ref;
    if (make_head(&ref, 1, HIDDEN, CLASSES)) { CHECK(0, "head"); return; }
    write_best(dir, &ref, &(BestOptions){.format = "resnet-sweep head v1", .classes = CLASS_TEXT});
    TrainedModel m;
    Err e = {{0}};
    CHECK_OK(trained_model_load(&m, dir, BATCH, &e), &e);
    if (e.msg[0]) { head_free(&ref); return; }
    CHECK(m.n_classes == CLASSES, "n_classes %d", m.n_classes);
    CHECK(!strcmp(m.class_names[0], "Audi A5 Coupe 2012") && !strcmp(m.class_names[2], "Volvo XC90 SUV 2007"), "names");
    CHECK(m.epoch == 4, "epoch %d", m.epoch);
    CHECK(!strcmp(m.cfg.model.weights, "random:1"), "config read: weights '%s'", m.cfg.model.weights);
    CHECK(m.head.n_params == ref.n_params && !memcmp(m.head.params, ref.params, ref.n_params * sizeof(float)), "weights bit for bit");
    float *x = malloc(sizeof(float) * BATCH * RESNET_FEATURES);
    for (int i = 0; i < BATCH * RESNET_FEATURES; i++) x[i] = (float)((i * 13 % 29) - 14) / 7.0f;
    head_forward(&ref, x, BATCH, 0, 0, 0);
    const float *z = trained_model_logits(&m, x, BATCH);
    CHECK(!memcmp(z, ref.logits, sizeof(float) * BATCH * CLASSES), "inference logits equal the writer's head");
    float spread = 0;
    for (int i = 1; i < BATCH * CLASSES; i++) spread += fabsf(z[i] - z[0]);
    CHECK(isfinite(spread) && spread > 1e-3f, "logits are not all equal (the test can tell heads apart)");
    free(x);
    trained_model_free(&m);
    head_free(&ref);
}

static void test_softmax_top_k(void) {
    float z[5] = {1.0f, 3.0f, 3.0f, -2.0f, 1000.0f};
    double p[5];
    softmax_row(z, 4, p);
    double sum = p[0] + p[1] + p[2] + p[3];
    CHECK_NEAR(sum, 1.0, 1e-12, "softmax sums to 1 (%g)", sum);
    double want1 = exp(2.0) / (1 + 2 * exp(2.0) + exp(-3.0));
    CHECK_NEAR(p[1], want1, 1e-12, "softmax value %g vs %g", p[1], want1);
    softmax_row(z, 5, p);
    CHECK(p[4] > 0.999999 && p[0] >= 0 && !isnan(p[0]), "large logit: no overflow (%g)", p[4]);
    double q[6] = {0.1, 0.3, 0.05, 0.3, 0.2, 0.05};
    int idx[6];
    top_k_indices(q, 6, 3, idx);
    CHECK(idx[0] == 1 && idx[1] == 3 && idx[2] == 4, "top-3 with a tie: %d %d %d", idx[0], idx[1], idx[2]);
    top_k_indices(q, 6, 6, idx);
    CHECK(idx[3] == 0 && idx[4] == 2 && idx[5] == 5, "full order, ties by index: %d %d %d", idx[3], idx[4], idx[5]);
    top_k_indices(q, 6, 1, idx);
    CHECK(idx[0] == 1, "top-1 %d", idx[0]);
}

/* trained_model_load fails and the message holds both words. */
static void expect_error(const char *dir, const char *w1, const char *w2) {
    TrainedModel m;
    Err e = {{0}};
    int rc = trained_model_load(&m, dir, BATCH, &e);
    CHECK(rc == -1, "expected failure for %s", dir);
    if (rc == 0) { trained_model_free(&m); return; }
    CHECK(strstr(e.msg, w1) && strstr(e.msg, w2), "message '%s' lacks '%s' or '%s'", e.msg, w1, w2);
}

static void test_errors(void) {
    char dir[1100], path[1200];
    Head h;
    if (make_head(&h, 1, HIDDEN, CLASSES)) { CHECK(0, "head"); return; }
    BestOptions good = {.format = "resnet-sweep head v1", .classes = CLASS_TEXT};

    snprintf(dir, sizeof dir, "%s/nowhere", tmp);
    expect_error(dir, "nowhere", "no such run folder");
    make_run(dir, sizeof dir, "no_best", 1, HIDDEN);
    expect_error(dir, "no_best/best.safetensors", "missing");
    make_run(dir, sizeof dir, "no_config", 1, HIDDEN);
    write_best(dir, &h, &good);
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    unlink(path);
    expect_error(dir, "no_config/config.yaml", "missing");
    snprintf(path, sizeof path, "%s/best.safetensors", dir);
    expect_error(path, "best.safetensors", "not a folder");

    make_run(dir, sizeof dir, "last_not_best", 1, HIDDEN);
    write_best(dir, &h, &(BestOptions){.format = "resnet-sweep trial state v1", .classes = CLASS_TEXT});
    expect_error(dir, "best.safetensors", "not a head checkpoint");
    make_run(dir, sizeof dir, "no_classes", 1, HIDDEN);
    write_best(dir, &h, &(BestOptions){.format = good.format});
    expect_error(dir, "best.safetensors", "no class names");
    make_run(dir, sizeof dir, "empty_class", 1, HIDDEN);
    write_best(dir, &h, &(BestOptions){.format = good.format, .classes = "a\n\nc"});
    expect_error(dir, "best.safetensors", "class 1 has an empty name");
    make_run(dir, sizeof dir, "classes_vs_kernel", 1, HIDDEN);
    write_best(dir, &h, &(BestOptions){.format = good.format, .classes = "a\nb\nc\nd"});
    expect_error(dir, "dense2.kernel", "[8, 3]");
    make_run(dir, sizeof dir, "hidden_differs", 1, 2 * HIDDEN);
    write_best(dir, &h, &good);
    expect_error(dir, "dense1.kernel", "[2048, 16]");
    make_run(dir, sizeof dir, "missing_tensor", 1, HIDDEN);
    write_best(dir, &h, &(BestOptions){.format = good.format, .classes = CLASS_TEXT, .skip = "dense2.bias"});
    expect_error(dir, "best.safetensors", "no tensor 'dense2.bias'");
    make_run(dir, sizeof dir, "no_bn_in_config", 0, HIDDEN);
    write_best(dir, &h, &good);
    expect_error(dir, "best.safetensors", "unexpected tensor 'bn.gamma'");
    make_run(dir, sizeof dir, "stray_tensor", 1, HIDDEN);
    write_best(dir, &h, &(BestOptions){.format = good.format, .classes = CLASS_TEXT, .extra = "opt.m"});
    expect_error(dir, "best.safetensors", "unexpected tensor 'opt.m'");

    make_run(dir, sizeof dir, "truncated", 1, HIDDEN);
    write_best(dir, &h, &good);
    snprintf(path, sizeof path, "%s/best.safetensors", dir);
    CHECK(truncate(path, 5000) == 0, "truncate");
    expect_error(dir, "truncated/best.safetensors", "");
    make_run(dir, sizeof dir, "bad_config", 1, HIDDEN);
    write_best(dir, &h, &good);
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    FILE *f = fopen(path, "a");
    if (f) { fputs("model_typo: 1\n", f); fclose(f); }
    expect_error(dir, "bad_config/config.yaml", "model_typo");
    head_free(&h);
}

int main(void) {
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
    test_load_and_logits();
    test_softmax_top_k();
    test_errors();
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return TEST_END();
}
