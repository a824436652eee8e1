/* Trial configuration: one table (KEYS) lists every YAML key with its field, type and
 * valid range; reading, emitting, comparing and printing all walk that table, so a key
 * added there is read, validated, written to config.yaml and round-tripped at once. */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"

/* K_ENUM: one of `choices`, kept as text; K_NAMED: one of `names`, kept as its index (an
 * enum of the layer that owns the table, e.g. backend.h's Precision). */
typedef enum KeyType { K_INT, K_LONG, K_REAL, K_BOOL, K_ENUM, K_NAMED, K_STRING, K_CLASSES } KeyType;

typedef struct KeySpec {
    const char *path;           /* dotted YAML path */
    KeyType type;
    size_t offset, size;        /* the field inside TrialConfig */
    double lo, hi;              /* numeric range; -INFINITY / INFINITY = unbounded */
    int lo_open, hi_open;       /* 1: the bound itself is excluded */
    const char *choices;        /* K_ENUM: "adam|sgd"; K_LONG, K_REAL: a word that stands for -1 ("trial") */
    const char *const *names;   /* K_NAMED: the names, in enum order */
    int n_names;
} KeySpec;

#define OFF(f) offsetof(TrialConfig, f)
#define SZ(f) sizeof(((TrialConfig *)0)->f)
#define KINT(p, f, l, h) {p, K_INT, OFF(f), SZ(f), l, h, 0, 0, NULL, NULL, 0}
#define KLONG(p, f, l, h) {p, K_LONG, OFF(f), SZ(f), l, h, 0, 0, NULL, NULL, 0}
#define KREAL(p, f, lopen, l, h, hopen) {p, K_REAL, OFF(f), SZ(f), l, h, lopen, hopen, NULL, NULL, 0}
#define KBOOL(p, f) {p, K_BOOL, OFF(f), SZ(f), 0, 0, 0, 0, NULL, NULL, 0}
#define KENUM(p, f, c) {p, K_ENUM, OFF(f), SZ(f), 0, 0, 0, 0, c, NULL, 0}
#define KSTR(p, f) {p, K_STRING, OFF(f), SZ(f), 0, 0, 0, 0, NULL, NULL, 0}
/* A number, or `word` (kept as -1): feature_cache.seed's "trial", max_gib's "auto". */
#define KLONG_OR(p, f, l, h, word) {p, K_LONG, OFF(f), SZ(f), l, h, 0, 0, word, NULL, 0}
#define KREAL_OR(p, f, lopen, l, h, hopen, word) {p, K_REAL, OFF(f), SZ(f), l, h, lopen, hopen, word, NULL, 0}
#define KNAMED(p, f, names) {p, K_NAMED, OFF(f), SZ(f), 0, 0, 0, 0, NULL, names, (int)(sizeof names / sizeof *names)}
/* K_NAMED fields are enums, read and written as int. */
_Static_assert(sizeof(Precision) == sizeof(int) && sizeof(BackendDevice) == sizeof(int) && sizeof(OptimizerKind) == sizeof(int),
               "enum fields are ints");
#define INF INFINITY
#define MONITORS "val_loss|val_accuracy|loss|accuracy"

/* Emission order = this order (the design.md trial config, plus the extra keys). */
static const KeySpec KEYS[] = {
    KSTR("data.root", data.root),
    KINT("data.image_size", data.image_size, 32, 1024),
    KENUM("data.interpolation", data.interpolation, "nearest|bilinear"),
    KREAL("data.validation_split", data.validation_split, 0, 0, 0.9, 0),
    KREAL("data.train_fraction", data.train_fraction, 1, 0, 1, 0),
    {"data.classes", K_CLASSES, OFF(data.classes), SZ(data.classes), 0, 0, 0, 0, NULL, NULL, 0},
    KENUM("model.backbone", model.backbone, "resnet50|resnet101|resnet152"),
    KSTR("model.weights", model.weights),
    KSTR("model.trainable", model.trainable),
    KBOOL("model.train_bn_affine", model.train_bn_affine),
    KNAMED("model.precision", model.precision, PRECISION_NAMES),
    KBOOL("model.head.batchnorm", model.head.batchnorm),
    KINT("model.head.hidden", model.head.hidden, 0, INF),
    KREAL("model.head.dropout", model.head.dropout, 0, 0, 1, 1),
    KREAL("model.head.l2", model.head.l2, 0, 0, INF, 0),
    KINT("train.epochs", train.epochs, 1, INF),
    KINT("train.batch_size", train.batch_size, 1, 4096),
    KNAMED("train.optimizer", train.optimizer, OPTIMIZER_NAMES),
    KREAL("train.lr", train.lr, 1, 0, INF, 0),
    KREAL("train.backbone_lr", train.backbone_lr, 0, 0, INF, 0),
    KREAL("train.momentum", train.momentum, 0, 0, 1, 1),
    KBOOL("train.nesterov", train.nesterov),
    KREAL("train.beta_1", train.beta_1, 0, 0, 1, 1),
    KREAL("train.beta_2", train.beta_2, 0, 0, 1, 1),
    KREAL("train.epsilon", train.epsilon, 1, 0, INF, 0),
    KREAL("train.label_smoothing", train.label_smoothing, 0, 0, 1, 1),
    KLONG("train.seed", train.seed, 0, INF),
    KNAMED("train.device", train.device, DEVICE_NAMES),
    KINT("train.threads", train.threads, 0, 1024),
    KREAL("augment.strength", augment.strength, 0, 0, 10, 0),
    KBOOL("augment.horizontal_flip", augment.horizontal_flip),
    KREAL("augment.rotation", augment.rotation, 0, 0, 180, 0),
    KREAL("augment.width_shift", augment.width_shift, 0, 0, 1, 0),
    KREAL("augment.height_shift", augment.height_shift, 0, 0, 1, 0),
    KREAL("augment.zoom", augment.zoom, 0, 0, 1, 1),
    KREAL("augment.shear", augment.shear, 0, 0, 90, 1),
    KREAL("augment.brightness", augment.brightness, 0, 0, 1, 0),
    KREAL("augment.channel_shift", augment.channel_shift, 0, 0, 255, 0),
    KENUM("augment.fill", augment.fill, "reflect|nearest|constant|wrap"),
    KENUM("schedule.name", schedule.name, "constant|step|exponential|cosine|plateau"),
    KENUM("schedule.monitor", schedule.monitor, MONITORS),
    KREAL("schedule.factor", schedule.factor, 1, 0, 1, 1),
    KINT("schedule.patience", schedule.patience, 0, INF),
    KINT("schedule.cooldown", schedule.cooldown, 0, INF),
    KREAL("schedule.min_lr", schedule.min_lr, 0, 0, INF, 0),
    KREAL("schedule.min_delta", schedule.min_delta, 0, 0, INF, 0),
    KINT("schedule.step_size", schedule.step_size, 1, INF),
    KREAL("schedule.gamma", schedule.gamma, 1, 0, 1, 0),
    KREAL("schedule.decay_rate", schedule.decay_rate, 1, 0, 1, 0),
    KREAL("schedule.decay_epochs", schedule.decay_epochs, 1, 0, INF, 0),
    KINT("schedule.warmup_epochs", schedule.warmup_epochs, 0, INF),
    KBOOL("callbacks.early_stopping.enabled", callbacks.early_stopping.enabled),
    KENUM("callbacks.early_stopping.monitor", callbacks.early_stopping.monitor, MONITORS),
    KENUM("callbacks.early_stopping.mode", callbacks.early_stopping.mode, "auto|min|max"),
    KINT("callbacks.early_stopping.patience", callbacks.early_stopping.patience, 0, INF),
    KREAL("callbacks.early_stopping.min_delta", callbacks.early_stopping.min_delta, 0, 0, INF, 0),
    KBOOL("callbacks.early_stopping.restore_best", callbacks.early_stopping.restore_best),
    KBOOL("callbacks.checkpoint.enabled", callbacks.checkpoint_enabled),
    KENUM("callbacks.checkpoint.monitor", callbacks.checkpoint_monitor, MONITORS),
    KENUM("callbacks.checkpoint.mode", callbacks.checkpoint_mode, "auto|min|max"),
    KBOOL("callbacks.csv_log", callbacks.csv_log),
    KBOOL("callbacks.terminate_on_nan", callbacks.terminate_on_nan),
    KSTR("feature_cache.dir", feature_cache.dir),
    KINT("feature_cache.views", feature_cache.views, 0, 64),
    KINT("feature_cache.boundary_mib", feature_cache.boundary_mib, 0, INF),
    KLONG_OR("feature_cache.seed", feature_cache.seed, 0, INF, "trial"),
    KENUM("feature_cache.dtype", feature_cache.dtype, "fp32|fp16"),
    KREAL_OR("feature_cache.max_gib", feature_cache.max_gib, 1, 0, INF, 0, "auto"),
    KINT("finetune.after_epochs", finetune.after_epochs, 0, INF),
};
enum { N_KEYS = sizeof KEYS / sizeof KEYS[0] };

/* Mappings of the config; the two callback switches may also be a plain boolean. */
static const char *const SECTIONS[] = {"data", "model", "model.head", "train", "augment", "schedule",
                                       "callbacks", "feature_cache", "finetune", NULL};
static const char *const SWITCHES[] = {"callbacks.early_stopping", "callbacks.checkpoint", NULL};

/* ---------------------------------------------------------------- defaults */

static void set_str(char *dst, size_t size, const char *src) {
    memset(dst, 0, size);
    strncpy(dst, src, size - 1);
}
#define SET_STR(field, text) set_str((field), sizeof(field), (text))

void config_defaults(TrialConfig *c) {
    memset(c, 0, sizeof *c);
    DataConfig *d = &c->data;
    d->image_size = 224;
    SET_STR(d->interpolation, "nearest");
    d->validation_split = 0.0;
    d->train_fraction = 1.0;

    ModelConfig *m = &c->model;
    SET_STR(m->backbone, "resnet50");
    SET_STR(m->trainable, "head");
    m->train_bn_affine = 1; /* Keras: unfrozen BN layers train gamma/beta */
    m->precision = PREC_TF32;
    m->head = (HeadConfig){.batchnorm = 1, .hidden = 512, .dropout = 0.6, .l2 = 5e-4};

    TrainConfig *t = &c->train;
    t->epochs = 100;
    t->batch_size = 32;
    t->optimizer = OPT_ADAM;
    t->lr = 1e-3;
    t->momentum = 0.9;
    t->beta_1 = 0.9, t->beta_2 = 0.999, t->epsilon = 1e-7;
    t->label_smoothing = 0.1;
    t->seed = 42;
    t->device = DEVICE_AUTO;

    AugmentConfig *a = &c->augment;
    a->strength = 1.0;
    a->horizontal_flip = 1;
    a->rotation = 8;
    a->width_shift = a->height_shift = 0.1;
    a->zoom = 0.1;
    a->shear = 0.1;
    a->brightness = 0.15;
    a->channel_shift = 10.0;
    SET_STR(a->fill, "reflect");

    ScheduleConfig *s = &c->schedule;
    SET_STR(s->name, "plateau");
    SET_STR(s->monitor, "val_loss");
    s->factor = 0.2, s->patience = 3, s->cooldown = 1, s->min_lr = 1e-6, s->min_delta = 1e-4;
    s->step_size = 10, s->gamma = 0.1;
    s->decay_rate = 0.96, s->decay_epochs = 1;
    s->warmup_epochs = 0;

    CallbacksConfig *cb = &c->callbacks;
    EarlyStoppingConfig *es = &cb->early_stopping;
    es->enabled = 1;
    SET_STR(es->monitor, "val_loss");
    SET_STR(es->mode, "auto");
    es->patience = 8, es->min_delta = 1e-3, es->restore_best = 1;
    cb->checkpoint_enabled = 1;
    SET_STR(cb->checkpoint_monitor, "val_loss");
    SET_STR(cb->checkpoint_mode, "auto");
    cb->csv_log = 1;
    cb->terminate_on_nan = 1;

    SET_STR(c->feature_cache.dir, "cache");
    c->feature_cache.views = 8;
    c->feature_cache.boundary_mib = 4096;
    c->feature_cache.seed = 42;   /* one pool for every train.seed (the recipe's seed: its keys are the per-seed ones of 42) */
    SET_STR(c->feature_cache.dtype, "fp32");
    c->feature_cache.max_gib = CACHE_MAX_GIB_AUTO;
    c->finetune.after_epochs = 0;
}

void config_free(TrialConfig *c) {
    for (int i = 0; i < c->data.n_classes_listed; i++) free(c->data.classes[i]);
    free(c->data.classes);
    c->data.classes = NULL;
    c->data.n_classes_listed = 0;
}

double config_aug(const AugmentConfig *a, double range) { return range * a->strength; }

long config_cache_seed(const TrialConfig *c) {
    return c->feature_cache.seed == CACHE_SEED_TRIAL ? c->train.seed : c->feature_cache.seed;
}

/* ---------------------------------------------------------------- reading */

static const char *node_file(const YamlNode *n, const char *file) { return n->file ? n->file : file; }

/* "must be in [0, 1), got 1.5" / "must be >= 1, got 0" / "must be > 0, got 0". */
static int range_error(const KeySpec *k, const YamlNode *n, const char *file, Err *e) {
    char range[96];
    if (isfinite(k->lo) && isfinite(k->hi))
        snprintf(range, sizeof range, "in %c%g, %g%c", k->lo_open ? '(' : '[', k->lo, k->hi, k->hi_open ? ')' : ']');
    else if (isfinite(k->lo)) snprintf(range, sizeof range, "%s %g", k->lo_open ? ">" : ">=", k->lo);
    else snprintf(range, sizeof range, "%s %g", k->hi_open ? "<" : "<=", k->hi);
    return err_fail(e, "%s:%d: key '%s' must be %s, got %s", node_file(n, file), n->line, k->path, range, n->scalar);
}

static int in_range(const KeySpec *k, double v) {
    if (k->lo_open ? !(v > k->lo) : !(v >= k->lo)) return 0;
    if (k->hi_open ? !(v < k->hi) : !(v <= k->hi)) return 0;
    return 1;
}

static int choice_ok(const char *choices, const char *s) {
    size_t len = strlen(s);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, s, n)) return 1;
        p += n + (bar != NULL);
    }
    return 0;
}

static int read_classes(TrialConfig *c, const KeySpec *k, const YamlNode *n, const char *file, Err *e) {
    if (n->kind != YAML_SEQ) return err_fail(e, "%s:%d: key '%s' must be a list of class names", node_file(n, file), n->line, k->path);
    if (n->n == 0) return 0;
    c->data.classes = tl_calloc(e, n->n, sizeof(char *), "data.classes");
    if (!c->data.classes) return -1;
    for (size_t i = 0; i < n->n; i++) {
        const YamlNode *item = n->items[i];
        if (item->kind != YAML_SCALAR || !item->scalar[0])
            return err_fail(e, "%s:%d: key '%s' item %zu must be a non-empty class name", node_file(item, file), item->line, k->path, i + 1);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(n->items[j]->scalar, item->scalar))
                return err_fail(e, "%s:%d: key '%s' lists class '%s' twice", node_file(item, file), item->line, k->path, item->scalar);
        if (!(c->data.classes[i] = strdup(item->scalar))) return err_fail(e, "out of memory reading %s", k->path);
        c->data.n_classes_listed = (int)i + 1;
    }
    return 0;
}

/* A number key that also takes a word (k->choices): the word is -1. */
static int read_word(void *field, const KeySpec *k, const YamlNode *n, const char *file, Err *e) {
    if (n->kind == YAML_SCALAR && !n->quoted && !strcmp(n->scalar, k->choices)) {
        if (k->type == K_LONG) *(long *)field = -1;
        else *(double *)field = -1;
        return 1;
    }
    double v;
    if (n->kind == YAML_SCALAR && !n->quoted && yaml_as_double(n, k->path, &v, NULL) == 0) return 0;
    return err_fail(e, "%s:%d: key '%s' must be %s or %s, got %s", node_file(n, file), n->line, k->path,
                    k->type == K_LONG ? "an integer" : "a number", k->choices, n->kind == YAML_SCALAR ? n->scalar : "a collection");
}

static int read_number(void *field, const KeySpec *k, const YamlNode *n, const char *file, Err *e) {
    double v;
    if (k->choices) {
        int rc = read_word(field, k, n, file, e);
        if (rc) return rc < 0 ? -1 : 0;
    }
    if (k->type == K_REAL) {
        if (yaml_as_double(n, k->path, &v, e)) return -1;
        if (!isfinite(v)) return err_fail(e, "%s:%d: key '%s' must be a finite number, got %s", node_file(n, file), n->line, k->path, n->scalar);
        if (!in_range(k, v)) return range_error(k, n, file, e);
        *(double *)field = v;
        return 0;
    }
    long iv;
    if (yaml_as_int(n, k->path, &iv, e)) return -1;
    if (!in_range(k, (double)iv)) return range_error(k, n, file, e);
    if (k->type == K_LONG) { *(long *)field = iv; return 0; }
    if (iv > INT_MAX) return err_fail(e, "%s:%d: key '%s' must be <= %d, got %s", node_file(n, file), n->line, k->path, INT_MAX, n->scalar);
    *(int *)field = (int)iv;
    return 0;
}

static int read_text(char *field, const KeySpec *k, const YamlNode *n, const char *file, Err *e) {
    const char *s;
    if (yaml_as_string(n, k->path, &s, e)) return -1;
    if (k->type == K_ENUM && !choice_ok(k->choices, s))
        return err_fail(e, "%s:%d: key '%s' must be one of %s, got '%s'", node_file(n, file), n->line, k->path, k->choices, s);
    if (strlen(s) >= k->size)
        return err_fail(e, "%s:%d: key '%s' must be shorter than %zu characters", node_file(n, file), n->line, k->path, k->size);
    set_str(field, k->size, s);
    return 0;
}

/* "fp32|tf32|fp16|bf16": the names of a K_NAMED key as K_ENUM's choices read. */
static void named_choices(const KeySpec *k, char *buf, size_t size) {
    buf[0] = 0;
    for (int i = 0; i < k->n_names; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%s", i ? "|" : "", k->names[i]);
    }
}

static int read_named(int *field, const KeySpec *k, const YamlNode *n, const char *file, Err *e) {
    const char *s;
    if (yaml_as_string(n, k->path, &s, e)) return -1;
    int i = backend_name_index(k->names, k->n_names, s);
    if (i < 0) {
        char choices[128];
        named_choices(k, choices, sizeof choices);
        return err_fail(e, "%s:%d: key '%s' must be one of %s, got '%s'", node_file(n, file), n->line, k->path, choices, s);
    }
    *field = i;
    return 0;
}

static int read_key(TrialConfig *c, const KeySpec *k, const YamlNode *n, const char *file, Err *e) {
    char *field = (char *)c + k->offset;
    switch (k->type) {
    case K_INT: case K_LONG: case K_REAL: return read_number(field, k, n, file, e);
    case K_BOOL: return yaml_as_bool(n, k->path, (int *)field, e);
    case K_ENUM: case K_STRING: return read_text(field, k, n, file, e);
    case K_NAMED: return read_named((int *)field, k, n, file, e);
    case K_CLASSES: return read_classes(c, k, n, file, e);
    }
    return -1;
}

/* Sections must be mappings (or empty); marks them used so an empty "model:" is accepted. */
static int check_shapes(YamlNode *root, const char *file, Err *e) {
    for (int i = 0; SECTIONS[i]; i++) {
        YamlNode *n = yaml_path_get(root, SECTIONS[i]);
        if (n && n->kind != YAML_MAP && !yaml_is_null(n))
            return err_fail(e, "%s:%d: key '%s' must be a mapping", node_file(n, file), n->line, SECTIONS[i]);
    }
    return 0;
}

/* "early_stopping: false" / "checkpoint: true": a boolean instead of the mapping sets .enabled. */
static int read_switches(TrialConfig *c, YamlNode *root, const char *file, Err *e) {
    int *enabled[] = {&c->callbacks.early_stopping.enabled, &c->callbacks.checkpoint_enabled};
    for (int i = 0; SWITCHES[i]; i++) {
        YamlNode *n = yaml_path_get(root, SWITCHES[i]);
        if (!n || n->kind == YAML_MAP) continue;
        if (n->kind != YAML_SCALAR || yaml_as_bool(n, SWITCHES[i], enabled[i], NULL))
            return err_fail(e, "%s:%d: key '%s' must be true, false or a mapping", node_file(n, file), n->line, SWITCHES[i]);
    }
    return 0;
}

static const int STAGE_BLOCKS[3][4] = {{3, 4, 6, 3}, {3, 4, 23, 3}, {3, 8, 36, 3}}; /* conv2..conv5 */

static int blocks_in_stage(const char *backbone, int stage) {
    int b = !strcmp(backbone, "resnet101") ? 1 : !strcmp(backbone, "resnet152") ? 2 : 0;
    return STAGE_BLOCKS[b][stage - 2];
}

/* head | all | convN | convN_blockM, N in 2..5, M in 1..blocks of stage N. */
static int check_trainable(const ModelConfig *m, const YamlNode *n, const char *file, Err *e) {
    const char *t = m->trainable;
    if (!strcmp(t, "head") || !strcmp(t, "all")) return 0;
    int stage = 0, block = 0, used = 0;
    int ok = !strncmp(t, "conv", 4) && t[4] >= '2' && t[4] <= '5' && (t[5] == 0 || t[5] == '_');
    if (ok) stage = t[4] - '0';
    if (ok && t[5] == '_') ok = sscanf(t + 5, "_block%d%n", &block, &used) == 1 && t[5 + used] == 0 && t[11] >= '1' && t[11] <= '9';
    if (ok && block && (block < 1 || block > blocks_in_stage(m->backbone, stage))) {
        return err_fail(e, "%s:%d: key 'model.trainable' must be head|all|convN|convN_blockM, got '%s' (%s conv%d has %d blocks)",
                        n ? node_file(n, file) : file, n ? n->line : 0, t, m->backbone, stage, blocks_in_stage(m->backbone, stage));
    }
    if (ok) return 0;
    return err_fail(e, "%s:%d: key 'model.trainable' must be head|all|convN|convN_blockM (N 2..5, M >= 1), got '%s'",
                    n ? node_file(n, file) : file, n ? n->line : 0, t);
}

static int check_weights(const ModelConfig *m, const YamlNode *n, const char *file, Err *e) {
    const char *w = m->weights;
    if (!w[0]) return err_fail(e, "%s: model.weights is required (a Keras .h5 file or random:SEED)", file);
    if (strncmp(w, "random:", 7)) return 0;
    const char *p = w + 7;
    while (*p >= '0' && *p <= '9') p++;
    if (p == w + 7 || *p) return err_fail(e, "%s:%d: key 'model.weights' must be a Keras .h5 file or random:SEED (SEED an integer), got '%s'",
                                          node_file(n, file), n->line, w);
    return 0;
}

int config_from_yaml(TrialConfig *c, YamlNode *root, const char *file, Err *e) {
    config_defaults(c);
    if (!root || root->kind != YAML_MAP)
        return err_fail(e, "%s:%d: a trial config must be a mapping", file, root ? root->line : 0);
    if (check_shapes(root, file, e) || read_switches(c, root, file, e)) return -1;
    for (int i = 0; i < N_KEYS; i++) {
        YamlNode *n = yaml_path_get(root, KEYS[i].path);
        if (n && read_key(c, &KEYS[i], n, file, e)) { config_free(c); return -1; }
    }
    int rc = check_trainable(&c->model, yaml_path_peek(root, "model.trainable"), file, e) ||
             check_weights(&c->model, yaml_path_peek(root, "model.weights"), file, e) ||
             yaml_check_unused(root, file, "", e);
    if (rc) { config_free(c); return -1; }
    return 0;
}

int config_load_file(TrialConfig *c, const char *path, Err *e) {
    YamlDoc doc;
    config_defaults(c);
    if (yaml_load_file(&doc, path, e)) return -1;
    int rc = config_from_yaml(c, doc.root, path, e);
    yaml_doc_free(&doc);
    return rc;
}

/* ---------------------------------------------------------------- writing, comparing */

static YamlNode *key_node(const TrialConfig *c, const KeySpec *k) {
    const char *field = (const char *)c + k->offset;
    switch (k->type) {
    case K_INT: return yaml_new_int(*(const int *)field);
    case K_LONG: return k->choices && *(const long *)field == -1 ? yaml_new_scalar(k->choices) : yaml_new_int(*(const long *)field);
    case K_REAL: return k->choices && *(const double *)field == -1 ? yaml_new_scalar(k->choices) : yaml_new_double(*(const double *)field);
    case K_BOOL: return yaml_new_bool(*(const int *)field);
    case K_ENUM: case K_STRING: return yaml_new_string(field);
    case K_NAMED: return yaml_new_string(k->names[*(const int *)field]);
    case K_CLASSES: break;
    }
    YamlNode *seq = yaml_new_seq();
    for (int i = 0; seq && i < c->data.n_classes_listed; i++)
        if (yaml_seq_push(seq, yaml_new_string(c->data.classes[i]), NULL)) { yaml_free(seq); return NULL; }
    return seq;
}

YamlNode *config_to_yaml(const TrialConfig *c, Err *e) {
    YamlNode *root = yaml_new_map();
    if (!root) { err_fail(e, "out of memory"); return NULL; }
    for (int i = 0; i < N_KEYS; i++) {
        if (yaml_path_set(root, KEYS[i].path, key_node(c, &KEYS[i]), e)) { yaml_free(root); return NULL; }
    }
    return root;
}

int config_emit(const TrialConfig *c, FILE *f, Err *e) {
    YamlNode *root = config_to_yaml(c, e);
    if (!root) return -1;
    int rc = yaml_emit_file(root, f, e);
    yaml_free(root);
    return rc;
}

int config_write_file(const TrialConfig *c, const char *path, Err *e) {
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    if (config_emit(c, af.f, e)) { fs_atomic_abort(&af); return err_context(e, "%s", path); }
    return fs_atomic_commit(&af, e);
}

static const KeySpec *find_key(const char *path) {
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(KEYS[i].path, path)) return &KEYS[i];
    return NULL;
}

int config_value_text(const TrialConfig *c, const char *path, char *buf, size_t n) {
    const KeySpec *k = find_key(path);
    if (!k) return -1;
    const char *field = (const char *)c + k->offset;
    switch (k->type) {
    case K_INT: snprintf(buf, n, "%d", *(const int *)field); break;
    case K_LONG:
        if (k->choices && *(const long *)field == -1) snprintf(buf, n, "%s", k->choices);
        else snprintf(buf, n, "%ld", *(const long *)field);
        break;
    case K_REAL:
        if (k->choices && *(const double *)field == -1) snprintf(buf, n, "%s", k->choices);
        else yaml_format_double(buf, n, *(const double *)field);
        break;
    case K_BOOL: snprintf(buf, n, "%s", *(const int *)field ? "true" : "false"); break;
    case K_ENUM: case K_STRING: snprintf(buf, n, "%s", field); break;
    case K_NAMED: snprintf(buf, n, "%s", k->names[*(const int *)field]); break;
    case K_CLASSES:
        buf[0] = 0;
        for (int i = 0; i < c->data.n_classes_listed; i++) {
            size_t len = strlen(buf);
            snprintf(buf + len, n - len, "%s%s", i ? "|" : "", c->data.classes[i]);
        }
        break;
    }
    return 0;
}

int config_equal(const TrialConfig *a, const TrialConfig *b) {
    char ta[CONFIG_PATH_MAX * 2], tb[CONFIG_PATH_MAX * 2];
    for (int i = 0; i < N_KEYS; i++) {
        const KeySpec *k = &KEYS[i];
        if (k->type == K_REAL) {
            if (memcmp((const char *)a + k->offset, (const char *)b + k->offset, sizeof(double))) return 0;
            continue;
        }
        config_value_text(a, k->path, ta, sizeof ta);
        config_value_text(b, k->path, tb, sizeof tb);
        if (strcmp(ta, tb)) return 0;
    }
    if (a->data.n_classes_listed != b->data.n_classes_listed) return 0;
    for (int i = 0; i < a->data.n_classes_listed; i++)
        if (strcmp(a->data.classes[i], b->data.classes[i])) return 0;
    return 1;
}

int config_copy(TrialConfig *dst, const TrialConfig *src, Err *e) {
    *dst = *src;
    dst->data.classes = NULL;
    dst->data.n_classes_listed = 0;
    if (!src->data.n_classes_listed) return 0;
    dst->data.classes = tl_calloc(e, (size_t)src->data.n_classes_listed, sizeof(char *), "data.classes");
    if (!dst->data.classes) return -1;
    for (int i = 0; i < src->data.n_classes_listed; i++) {
        if (!(dst->data.classes[i] = strdup(src->data.classes[i]))) { config_free(dst); return err_fail(e, "out of memory"); }
        dst->data.n_classes_listed = i + 1;
    }
    return 0;
}

int config_has_key(const char *dotted) { return find_key(dotted) != NULL; }
