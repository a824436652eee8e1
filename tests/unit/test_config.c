/* Trial config: the Keras recipe's defaults, every error class with its exact "file:line: key"
 * message, the callback switches, trainable patterns, and emit -> load round trips. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "train/config.h"

static char dir[] = "/tmp/test_config.XXXXXX";

/* Writes text to DIR/name and loads it; returns config_load_file's status. */
static int load_text(TrialConfig *c, const char *name, const char *text, Err *e) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return err_fail(e, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return config_load_file(c, path, e);
}

/* Loads text expecting failure with message (after "DIR/") equal to `want`. */
static void expect_error(const char *text, const char *want) {
    TrialConfig c;
    Err e = {{0}};
    char full[512];
    int rc = load_text(&c, "bad.yaml", text, &e);
    snprintf(full, sizeof full, "%s/%s", dir, want);
    CHECK(rc == -1 && !strcmp(e.msg, full), "\n  want: %s\n  got:  %s", full, rc ? e.msg : "(loaded)");
    if (!rc) config_free(&c);
}

static void test_defaults(void) {
    TrialConfig c;
    config_defaults(&c);
    CHECK(c.data.image_size == 224 && !strcmp(c.data.interpolation, "nearest") && c.data.validation_split == 0 &&
          c.data.train_fraction == 1 && c.data.classes == NULL, "data defaults");
    CHECK(!strcmp(c.model.backbone, "resnet50") && c.model.weights[0] == 0 && !strcmp(c.model.trainable, "head") &&
          c.model.precision == PREC_TF32, "model defaults");
    CHECK(c.model.head.batchnorm == 1 && c.model.head.hidden == 512 && c.model.head.dropout == 0.6 && c.model.head.l2 == 5e-4, "head");
    TrainConfig *t = &c.train;
    CHECK(t->epochs == 100 && t->batch_size == 32 && t->optimizer == OPT_ADAM && t->lr == 1e-3 && t->beta_1 == 0.9 &&
          t->beta_2 == 0.999 && t->epsilon == 1e-7 && t->momentum == 0.9 && !t->nesterov && t->label_smoothing == 0.1 &&
          t->seed == 42 && t->device == DEVICE_AUTO && t->threads == 0 && t->backbone_lr == 0, "train defaults");
    AugmentConfig *a = &c.augment;
    CHECK(a->strength == 1 && a->horizontal_flip && a->rotation == 8 && a->width_shift == 0.1 && a->height_shift == 0.1 &&
          a->zoom == 0.1 && a->shear == 0.1 && a->brightness == 0.15 && a->channel_shift == 10 && !strcmp(a->fill, "reflect"), "augment");
    ScheduleConfig *s = &c.schedule;
    CHECK(!strcmp(s->name, "plateau") && s->factor == 0.2 && s->patience == 3 && s->cooldown == 1 && s->min_lr == 1e-6 &&
          s->min_delta == 1e-4 && !strcmp(s->monitor, "val_loss") && s->step_size == 10 && s->gamma == 0.1 &&
          s->decay_rate == 0.96 && s->decay_epochs == 1 && s->warmup_epochs == 0, "schedule");
    EarlyStoppingConfig *es = &c.callbacks.early_stopping;
    CHECK(es->enabled && !strcmp(es->monitor, "val_loss") && !strcmp(es->mode, "auto") && es->patience == 8 &&
          es->min_delta == 1e-3 && es->restore_best, "early stopping");
    CHECK(c.callbacks.checkpoint_enabled && !strcmp(c.callbacks.checkpoint_monitor, "val_loss") &&
          !strcmp(c.callbacks.checkpoint_mode, "auto") && c.callbacks.csv_log && c.callbacks.terminate_on_nan, "callbacks");
    CHECK(!strcmp(c.feature_cache.dir, "cache") && c.feature_cache.views == 8 && c.finetune.after_epochs == 0, "cache, finetune");
    CHECK(config_aug(&c.augment, 8) == 8, "aug strength 1");
    c.augment.strength = 0.5;
    CHECK(config_aug(&c.augment, 8) == 4, "aug strength 0.5");
}

/* The full recipe written out (every key at its Keras value): reads to the defaults plus root and weights. */
static const char *DESIGN_CONFIG =
    "data:\n"
    "  root: data/cars             # holds train/, validation/ (optional), test/ class folders\n"
    "  image_size: 224\n"
    "  interpolation: nearest      # nearest (Keras default) | bilinear\n"
    "  validation_split: 0.0       # carved from train, stratified, when root has no validation/\n"
    "  train_fraction: 1.0         # seeded stratified subset of train, for data-size studies\n"
    "model:\n"
    "  backbone: resnet50          # resnet50 | resnet101 | resnet152\n"
    "  weights: weights/resnet50_notop.h5   # a Keras weight file, or random:SEED (explicit only)\n"
    "  trainable: head             # head | conv5 | conv4_block6 | ... | all\n"
    "  head: {batchnorm: true, hidden: 512, dropout: 0.6, l2: 5.0e-4}\n"
    "train:\n"
    "  epochs: 100\n"
    "  batch_size: 32\n"
    "  optimizer: adam             # adam | sgd (momentum, nesterov)\n"
    "  lr: 1.0e-3\n"
    "  label_smoothing: 0.1\n"
    "  seed: 42\n"
    "  device: auto                # auto | cpu | cuda\n"
    "augment:\n"
    "  strength: 1.0               # 0 = off, 1 = the Keras recipe; scales every range below\n"
    "  horizontal_flip: true\n"
    "  rotation: 8                 # degrees\n"
    "  width_shift: 0.1\n"
    "  height_shift: 0.1\n"
    "  zoom: 0.1                   # zoom range 1-z .. 1+z\n"
    "  shear: 0.1                  # degrees, as Keras\n"
    "  brightness: 0.15            # brightness range 1-b .. 1+b\n"
    "  channel_shift: 10.0\n"
    "  fill: reflect\n"
    "schedule:\n"
    "  name: plateau               # constant | step | exponential | cosine | plateau\n"
    "  factor: 0.2\n"
    "  patience: 3\n"
    "  cooldown: 1\n"
    "  min_lr: 1.0e-6\n"
    "callbacks:\n"
    "  early_stopping: {monitor: val_loss, patience: 8, min_delta: 1.0e-3, restore_best: true}\n"
    "  checkpoint: {monitor: val_loss}\n"
    "  csv_log: true\n"
    "  terminate_on_nan: true\n"
    "feature_cache: {dir: cache, views: 8}\n";

static void test_design_config(void) {
    TrialConfig c, d;
    Err e = {{0}};
    CHECK_OK(load_text(&c, "design.yaml", DESIGN_CONFIG, &e), &e);
    config_defaults(&d);
    snprintf(d.data.root, sizeof d.data.root, "data/cars");
    snprintf(d.model.weights, sizeof d.model.weights, "weights/resnet50_notop.h5");
    CHECK(config_equal(&c, &d), "full recipe config == defaults + root + weights");
    config_free(&c);
}

static void test_errors(void) {
    const char *W = "model:\n  weights: random:1\n";
    char text[1024];
    expect_error("data:\n  root: x\n", "bad.yaml: model.weights is required (a Keras .h5 file or random:SEED)");
    snprintf(text, sizeof text, "%s  head:\n    dropot: 0.5\n", W);
    expect_error(text, "bad.yaml:4: unknown key 'model.head.dropot'");
    snprintf(text, sizeof text, "%strain:\n  epochs: ten\n", W);
    expect_error(text, "bad.yaml:4: key 'train.epochs' must be an integer");
    snprintf(text, sizeof text, "%strain:\n  epochs: 10.5\n", W);
    expect_error(text, "bad.yaml:4: key 'train.epochs' must be an integer");
    snprintf(text, sizeof text, "%s  head: {dropout: 1.5}\n", W);
    expect_error(text, "bad.yaml:3: key 'model.head.dropout' must be in [0, 1), got 1.5");
    snprintf(text, sizeof text, "%s  head: {dropout: 1}\n", W);
    expect_error(text, "bad.yaml:3: key 'model.head.dropout' must be in [0, 1), got 1");
    snprintf(text, sizeof text, "%strain: {optimizer: adamw}\n", W);
    expect_error(text, "bad.yaml:3: key 'train.optimizer' must be one of adam|sgd, got 'adamw'");
    snprintf(text, sizeof text, "%strain: {lr: 0}\n", W);
    expect_error(text, "bad.yaml:3: key 'train.lr' must be > 0, got 0");
    snprintf(text, sizeof text, "%strain: {lr: '1e-3'}\n", W);
    expect_error(text, "bad.yaml:3: key 'train.lr' must be a number");
    /* feature_cache.seed and max_gib: a number or their word. */
    snprintf(text, sizeof text, "%sfeature_cache: {seed: every}\n", W);
    expect_error(text, "bad.yaml:3: key 'feature_cache.seed' must be an integer or trial, got every");
    snprintf(text, sizeof text, "%sfeature_cache: {seed: -3}\n", W);
    expect_error(text, "bad.yaml:3: key 'feature_cache.seed' must be >= 0, got -3");
    snprintf(text, sizeof text, "%sfeature_cache: {max_gib: 0}\n", W);
    expect_error(text, "bad.yaml:3: key 'feature_cache.max_gib' must be > 0, got 0");
    snprintf(text, sizeof text, "%sfeature_cache: {max_gib: lots}\n", W);
    expect_error(text, "bad.yaml:3: key 'feature_cache.max_gib' must be a number or auto, got lots");
    snprintf(text, sizeof text, "%sfeature_cache: {dtype: fp64}\n", W);
    expect_error(text, "bad.yaml:3: key 'feature_cache.dtype' must be one of fp32|fp16, got 'fp64'");
    snprintf(text, sizeof text, "%strain: {epochs: 0}\n", W);
    expect_error(text, "bad.yaml:3: key 'train.epochs' must be >= 1, got 0");
    snprintf(text, sizeof text, "%strain: {batch_size: 8192}\n", W);
    expect_error(text, "bad.yaml:3: key 'train.batch_size' must be in [1, 4096], got 8192");
    snprintf(text, sizeof text, "%strain: {nesterov: maybe}\n", W);
    expect_error(text, "bad.yaml:3: key 'train.nesterov' must be true or false");
    snprintf(text, sizeof text, "%sdata: {image_size: 16}\n", W);
    expect_error(text, "bad.yaml:3: key 'data.image_size' must be in [32, 1024], got 16");
    snprintf(text, sizeof text, "%sdata: {train_fraction: 0}\n", W);
    expect_error(text, "bad.yaml:3: key 'data.train_fraction' must be in (0, 1], got 0");
    snprintf(text, sizeof text, "%sdata: {validation_split: 0.95}\n", W);
    expect_error(text, "bad.yaml:3: key 'data.validation_split' must be in [0, 0.9], got 0.95");
    snprintf(text, sizeof text, "%sdata: {classes: [a, b, a]}\n", W);
    expect_error(text, "bad.yaml:3: key 'data.classes' lists class 'a' twice");
    snprintf(text, sizeof text, "%sdata: {classes: abc}\n", W);
    expect_error(text, "bad.yaml:3: key 'data.classes' must be a list of class names");
    snprintf(text, sizeof text, "%sschedule: {factor: 1.0}\n", W);
    expect_error(text, "bad.yaml:3: key 'schedule.factor' must be in (0, 1), got 1.0");
    snprintf(text, sizeof text, "%sschedule: {name: linear}\n", W);
    expect_error(text, "bad.yaml:3: key 'schedule.name' must be one of constant|step|exponential|cosine|plateau, got 'linear'");
    snprintf(text, sizeof text, "%sschedule: {monitor: val_acc}\n", W);
    expect_error(text, "bad.yaml:3: key 'schedule.monitor' must be one of val_loss|val_accuracy|loss|accuracy, got 'val_acc'");
    snprintf(text, sizeof text, "%sfeature_cache: {views: 65}\n", W);
    expect_error(text, "bad.yaml:3: key 'feature_cache.views' must be in [0, 64], got 65");
    snprintf(text, sizeof text, "%saugment: {strength: -1}\n", W);
    expect_error(text, "bad.yaml:3: key 'augment.strength' must be in [0, 10], got -1");
    snprintf(text, sizeof text, "%saugment: {fill: mirror}\n", W);
    expect_error(text, "bad.yaml:3: key 'augment.fill' must be one of reflect|nearest|constant|wrap, got 'mirror'");
    snprintf(text, sizeof text, "%s  precision: fp8\n", W);
    expect_error(text, "bad.yaml:3: key 'model.precision' must be one of fp32|tf32|fp16|bf16, got 'fp8'");
    snprintf(text, sizeof text, "%s  backbone: resnet18\n", W);
    expect_error(text, "bad.yaml:3: key 'model.backbone' must be one of resnet50|resnet101|resnet152, got 'resnet18'");
    snprintf(text, sizeof text, "%strain: {device: tpu}\n", W);
    expect_error(text, "bad.yaml:3: key 'train.device' must be one of auto|cpu|cuda, got 'tpu'");
    snprintf(text, sizeof text, "%s  head: {hidden: -1, l2: 0}\n", W);
    expect_error(text, "bad.yaml:3: key 'model.head.hidden' must be >= 0, got -1");
    snprintf(text, sizeof text, "%s  head: {l2: -0.1}\n", W);
    expect_error(text, "bad.yaml:3: key 'model.head.l2' must be >= 0, got -0.1");
    snprintf(text, sizeof text, "%strain: {label_smoothing: 1}\n", W);
    expect_error(text, "bad.yaml:3: key 'train.label_smoothing' must be in [0, 1), got 1");
    snprintf(text, sizeof text, "%strain: {momentum: 1}\n", W);
    expect_error(text, "bad.yaml:3: key 'train.momentum' must be in [0, 1), got 1");
    snprintf(text, sizeof text, "%strain: {epochs: 99999999999}\n", W);
    expect_error(text, "bad.yaml:3: key 'train.epochs' must be <= 2147483647, got 99999999999");
    snprintf(text, sizeof text, "%scallbacks:\n  early_stopping: {patience: -2}\n", W);
    expect_error(text, "bad.yaml:4: key 'callbacks.early_stopping.patience' must be >= 0, got -2");
    snprintf(text, sizeof text, "%scallbacks:\n  early_stopping: sometimes\n", W);
    expect_error(text, "bad.yaml:4: key 'callbacks.early_stopping' must be true, false or a mapping");
    snprintf(text, sizeof text, "%scallbacks:\n  checkpoint: {mode: up}\n", W);
    expect_error(text, "bad.yaml:4: key 'callbacks.checkpoint.mode' must be one of auto|min|max, got 'up'");
    snprintf(text, sizeof text, "%scallbacks:\n  early_stopping: {enabled: true, patience: 2, extra: 1}\n", W);
    expect_error(text, "bad.yaml:4: unknown key 'callbacks.early_stopping.extra'");
    expect_error("model: 5\n", "bad.yaml:1: key 'model' must be a mapping");
    expect_error("model:\n  weights: random:1\n  head: [1, 2]\n", "bad.yaml:3: key 'model.head' must be a mapping");
    expect_error("model:\n  weights: random:x\n", "bad.yaml:2: key 'model.weights' must be a Keras .h5 file or random:SEED (SEED an integer), got 'random:x'");
    expect_error("- a\n- b\n", "bad.yaml:1: a trial config must be a mapping");
    expect_error("modle:\n  weights: random:1\n", "bad.yaml: model.weights is required (a Keras .h5 file or random:SEED)");
    expect_error("model: {weights: random:1}\nmodle: {}\n", "bad.yaml:2: unknown key 'modle'");
    expect_error("model: {weights: random:1}\nmodel: {}\n", "bad.yaml:2: duplicate key 'model' (first at line 1)");
    /* Syntax errors name file:line:column. */
    TrialConfig c;
    Err e = {{0}};
    CHECK(load_text(&c, "syn.yaml", "model:\n  weights: [random:1\n", &e) == -1 && strstr(e.msg, "syn.yaml:3:") &&
          strstr(e.msg, "syntax error"), "syntax: %s", e.msg);
}

static void test_trainable(void) {
    struct { const char *yaml; int ok; const char *msg; } cases[] = {
        {"head", 1, NULL}, {"all", 1, NULL}, {"conv5", 1, NULL}, {"conv2", 1, NULL},
        {"conv4_block6", 1, NULL}, {"conv5_block1", 1, NULL},
        {"conv4_block7", 0, "bad.yaml:2: key 'model.trainable' must be head|all|convN|convN_blockM, got 'conv4_block7' (resnet50 conv4 has 6 blocks)"},
        {"conv6", 0, "bad.yaml:2: key 'model.trainable' must be head|all|convN|convN_blockM (N 2..5, M >= 1), got 'conv6'"},
        {"conv1", 0, NULL}, {"conv4_block0", 0, NULL}, {"conv4_block", 0, NULL}, {"conv4_block 3", 0, NULL},
        {"conv4_block3x", 0, NULL}, {"backbone", 0, NULL}, {"conv4_block06", 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "model:\n  trainable: '%s'\n  weights: random:1\n", cases[i].yaml);
        if (cases[i].msg) { expect_error(text, cases[i].msg); continue; }
        TrialConfig c;
        Err e = {{0}};
        int rc = load_text(&c, "bad.yaml", text, &e);
        CHECK((rc == 0) == cases[i].ok, "trainable '%s': rc %d %s", cases[i].yaml, rc, rc ? e.msg : "");
        if (!rc) { CHECK(!strcmp(c.model.trainable, cases[i].yaml), "stored"); config_free(&c); }
    }
    TrialConfig c;
    Err e = {{0}};
    CHECK_OK(load_text(&c, "t.yaml", "model: {backbone: resnet101, trainable: conv4_block23, weights: w.h5}\n", &e), &e);
    CHECK_OK(load_text(&c, "t.yaml", "model: {backbone: resnet152, trainable: conv3_block8, weights: w.h5}\n", &e), &e);
    CHECK(load_text(&c, "t.yaml", "model: {backbone: resnet152, trainable: conv3_block9, weights: w.h5}\n", &e) == -1, "152 conv3 has 8");
}

static void test_switches(void) {
    TrialConfig c;
    Err e = {{0}};
    CHECK_OK(load_text(&c, "s.yaml", "model: {weights: random:3}\ncallbacks: {early_stopping: false, checkpoint: false}\n", &e), &e);
    CHECK(!c.callbacks.early_stopping.enabled && !c.callbacks.checkpoint_enabled && c.callbacks.early_stopping.patience == 8, "false");
    CHECK_OK(load_text(&c, "s.yaml", "model: {weights: random:3}\ncallbacks:\n  early_stopping: {enabled: false}\n", &e), &e);
    CHECK(!c.callbacks.early_stopping.enabled && c.callbacks.checkpoint_enabled, "enabled: false");
    CHECK_OK(load_text(&c, "s.yaml", "model: {weights: random:3}\ncallbacks:\n  early_stopping: {patience: 3, mode: max}\n", &e), &e);
    CHECK(c.callbacks.early_stopping.enabled && c.callbacks.early_stopping.patience == 3 &&
          !strcmp(c.callbacks.early_stopping.mode, "max"), "a mapping keeps it enabled");
    CHECK_OK(load_text(&c, "s.yaml", "model:\n  weights: random:3\ntrain:\naugment:\n", &e), &e);
    CHECK(c.train.epochs == 100, "empty sections are accepted");
    CHECK_OK(load_text(&c, "s.yaml", "model: {weights: random:3}\ndata: {classes: [cat, dog, '7']}\n", &e), &e);
    CHECK(c.data.n_classes_listed == 3 && !strcmp(c.data.classes[2], "7"), "classes");
    config_free(&c);
}

/* Every key away from its default survives config_write_file -> config_load_file. */
static const char *ALL_CHANGED =
    "data: {root: 'my data/cars: v2', image_size: 160, interpolation: bilinear, validation_split: 0.2,\n"
    "       train_fraction: 0.25, classes: [b, a, 'true', '1.5']}\n"
    "model: {backbone: resnet101, weights: 'random:123', trainable: conv4_block23, train_bn_affine: false, precision: bf16,\n"
    "        head: {batchnorm: false, hidden: 0, dropout: 0.3333333333333333, l2: 1.0e-5}}\n"
    "train: {epochs: 7, batch_size: 48, optimizer: sgd, lr: 0.030000000000000002, backbone_lr: 1e-5, momentum: 0.5,\n"
    "        nesterov: true, beta_1: 0.8, beta_2: 0.99, epsilon: 1e-8, label_smoothing: 0, seed: 4294967296,\n"
    "        device: cpu, threads: 3}\n"
    "augment: {strength: 2.5, horizontal_flip: false, rotation: 12.5, width_shift: 0.2, height_shift: 0.05, zoom: 0.3,\n"
    "          shear: 5, brightness: 0.5, channel_shift: 0, fill: wrap}\n"
    "schedule: {name: cosine, monitor: val_accuracy, factor: 0.5, patience: 0, cooldown: 4, min_lr: 0, min_delta: 0.01,\n"
    "           step_size: 3, gamma: 0.5, decay_rate: 0.5, decay_epochs: 2.5, warmup_epochs: 5}\n"
    "callbacks:\n"
    "  early_stopping: {enabled: false, monitor: accuracy, mode: max, patience: 0, min_delta: 0, restore_best: false}\n"
    "  checkpoint: {enabled: false, monitor: loss, mode: min}\n"
    "  csv_log: false\n"
    "  terminate_on_nan: false\n"
    "feature_cache: {dir: '', views: 0, seed: trial, dtype: fp16, max_gib: 2.5}\n"
    "finetune: {after_epochs: 9}\n";

static void round_trip(const TrialConfig *c, const char *name) {
    TrialConfig back;
    Err e = {{0}};
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK_OK(config_write_file(c, path, &e), &e);
    CHECK_OK(config_load_file(&back, path, &e), &e);
    CHECK(config_equal(c, &back), "%s: emit -> load gives the same config", name);
    config_free(&back);
}

static void test_round_trip(void) {
    TrialConfig c, d;
    Err e = {{0}};
    CHECK_OK(load_text(&c, "all.yaml", ALL_CHANGED, &e), &e);
    config_defaults(&d);
    snprintf(d.model.weights, sizeof d.model.weights, "random:1");
    /* Every key differs from the default, so config_equal really compares each one. */
    char a[256], b[256];
    const char *keys[] = {"data.root", "data.image_size", "data.interpolation", "data.validation_split", "data.train_fraction",
                          "data.classes", "model.backbone", "model.trainable", "model.train_bn_affine", "model.precision",
                          "model.head.batchnorm", "model.head.hidden", "model.head.dropout", "model.head.l2", "train.epochs",
                          "train.batch_size", "train.optimizer", "train.lr", "train.backbone_lr", "train.momentum",
                          "train.nesterov", "train.beta_1", "train.beta_2", "train.epsilon", "train.label_smoothing",
                          "train.seed", "train.device", "train.threads", "augment.strength", "augment.horizontal_flip",
                          "augment.rotation", "augment.width_shift", "augment.height_shift", "augment.zoom", "augment.shear",
                          "augment.brightness", "augment.channel_shift", "augment.fill", "schedule.name", "schedule.monitor",
                          "schedule.factor", "schedule.patience", "schedule.cooldown", "schedule.min_lr", "schedule.min_delta",
                          "schedule.step_size", "schedule.gamma", "schedule.decay_rate", "schedule.decay_epochs",
                          "schedule.warmup_epochs", "callbacks.early_stopping.enabled", "callbacks.early_stopping.monitor",
                          "callbacks.early_stopping.mode", "callbacks.early_stopping.patience",
                          "callbacks.early_stopping.min_delta", "callbacks.early_stopping.restore_best",
                          "callbacks.checkpoint.enabled", "callbacks.checkpoint.monitor", "callbacks.checkpoint.mode",
                          "callbacks.csv_log", "callbacks.terminate_on_nan", "feature_cache.dir", "feature_cache.views",
                          "feature_cache.seed", "feature_cache.dtype", "feature_cache.max_gib", "finetune.after_epochs", NULL};
    for (int i = 0; keys[i]; i++) {
        CHECK(config_has_key(keys[i]) && !config_value_text(&c, keys[i], a, sizeof a) && !config_value_text(&d, keys[i], b, sizeof b) &&
              strcmp(a, b), "%s changed (%s vs default %s)", keys[i], a, b);
    }
    CHECK(!config_has_key("model.head") && !config_has_key("model.head.dropot"), "has_key");
    CHECK(c.train.seed == 4294967296L && c.model.head.dropout == 1.0 / 3 && c.train.lr == 0.030000000000000002, "exact values");
    /* Parsed once into backend.h's enums, written back as the same names. */
    CHECK(c.model.precision == PREC_BF16 && c.train.device == DEVICE_CPU, "precision and device enums");
    CHECK(!config_value_text(&c, "model.precision", a, sizeof a) && !strcmp(a, "bf16") &&
          !config_value_text(&d, "train.device", b, sizeof b) && !strcmp(b, "auto"), "enum names: %s %s", a, b);
    /* The words of feature_cache.seed and max_gib; the cache seed follows train.seed under "trial". */
    CHECK(c.feature_cache.seed == CACHE_SEED_TRIAL && c.feature_cache.max_gib == 2.5 && config_cache_seed(&c) == c.train.seed,
          "feature_cache.seed: trial");
    CHECK(!config_value_text(&c, "feature_cache.seed", a, sizeof a) && !strcmp(a, "trial") &&
          !config_value_text(&d, "feature_cache.max_gib", b, sizeof b) && !strcmp(b, "auto"), "words: %s %s", a, b);
    CHECK(d.feature_cache.seed == 42 && config_cache_seed(&d) == 42 && !strcmp(d.feature_cache.dtype, "fp32"),
          "defaults: one pool seeded 42, float32 chunks");
    d.train.seed = 43;
    CHECK(config_cache_seed(&d) == 42, "the pool's seed is not train.seed");
    d.train.seed = 42;
    round_trip(&c, "all_out.yaml");
    TrialConfig copy;
    CHECK_OK(config_copy(&copy, &c, &e), &e);
    CHECK(config_equal(&copy, &c) && copy.data.classes != c.data.classes, "deep copy");
    config_free(&copy);
    round_trip(&d, "defaults_out.yaml");
    d.train.lr = 0.1 + 0.2;
    d.augment.rotation = nextafter(180.0, 0.0);
    round_trip(&d, "exact_out.yaml");
    TrialConfig d2 = d;
    d2.train.lr = nextafter(d.train.lr, 1.0);
    CHECK(!config_equal(&d, &d2), "one ulp of lr differs");
    config_free(&c);
}

int main(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_defaults();
    test_design_config();
    test_errors();
    test_trainable();
    test_switches();
    test_round_trip();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_END();
}
