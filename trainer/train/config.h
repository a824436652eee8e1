/* A trial's configuration: the YAML keys README.md lists, resolved and validated.
 * `trainer train FILE` reads one; a sweep's `base:` holds one; config.yaml in a trial
 * folder is config_emit() of the resolved value. A trial is a value: no globals. */
#ifndef TL_CONFIG_H
#define TL_CONFIG_H

#include <stdio.h>

#include "backend/backend.h"
#include "core/error.h"
#include "core/yaml_tree.h"
#include "data/data_config.h"
#include "model/optimizer.h"

enum { CONFIG_NAME_MAX = 64 };

typedef struct HeadConfig {
    int batchnorm;                   /* bool */
    int hidden;                      /* units of Dense 1; 0 = no hidden layer */
    double dropout;                  /* [0, 1) */
    double l2;                       /* >= 0, on both Dense kernels */
} HeadConfig;

typedef struct ModelConfig {
    char backbone[16];               /* "resnet50" | "resnet101" | "resnet152" */
    char weights[CONFIG_PATH_MAX];   /* Keras .h5 path, or "random:SEED" */
    char trainable[32];              /* "head" | "conv5" | "conv4_block6" | ... | "all" */
    int train_bn_affine;             /* fine-tuning: backbone BN gamma/beta trainable */
    Precision precision;             /* backbone: fp32 | tf32 | fp16 | bf16 (PRECISION_NAMES) */
    HeadConfig head;
} ModelConfig;

typedef struct TrainConfig {
    int epochs;                      /* >= 1 */
    int batch_size;                  /* >= 1 */
    OptimizerKind optimizer;         /* YAML "adam" | "sgd" */
    double lr;                       /* > 0 */
    double backbone_lr;              /* fine-tuning; 0 = same as lr */
    double momentum;                 /* sgd, [0, 1) */
    int nesterov;                    /* sgd */
    double beta_1, beta_2, epsilon;  /* adam: 0.9, 0.999, 1e-7 */
    double label_smoothing;          /* [0, 1) */
    long seed;
    BackendDevice device;            /* auto | cpu | cuda (DEVICE_NAMES) */
    int threads;                     /* 0 = all cores */
} TrainConfig;

typedef struct ScheduleConfig {
    char name[16];                   /* constant | step | exponential | cosine | plateau */
    /* plateau (ReduceLROnPlateau) */
    char monitor[32];                /* val_loss */
    double factor;                   /* (0, 1) */
    int patience;
    int cooldown;
    double min_lr;
    double min_delta;                /* 1e-4 */
    /* step: lr * gamma^(floor(epoch / step_size)) */
    int step_size;
    double gamma;
    /* exponential: lr * decay_rate^(epoch / decay_epochs) */
    double decay_rate;
    double decay_epochs;
    /* cosine: linear warm-up over warmup_epochs, then cosine to min_lr over the rest */
    int warmup_epochs;
} ScheduleConfig;

typedef struct EarlyStoppingConfig {
    int enabled;
    char monitor[32];                /* val_loss | val_accuracy | loss | accuracy */
    char mode[8];                    /* auto | min | max */
    int patience;
    double min_delta;
    int restore_best;
} EarlyStoppingConfig;

typedef struct CallbacksConfig {
    EarlyStoppingConfig early_stopping;
    int checkpoint_enabled;
    char checkpoint_monitor[32];
    char checkpoint_mode[8];
    int csv_log;
    int terminate_on_nan;
} CallbacksConfig;

enum { CACHE_SEED_TRIAL = -1, CACHE_MAX_GIB_AUTO = -1 };

typedef struct FeatureCacheConfig {
    char dir[CONFIG_PATH_MAX];       /* relative paths resolve against the trial out dir's parent */
    int views;                       /* augmented draws per training image; 0 = recompute */
    int boundary_mib;                /* fine-tuning: most MiB of fp16 boundary activations cached; 0 = never */
    long seed;                       /* what is cached is drawn from it (config_cache_seed); CACHE_SEED_TRIAL = train.seed */
    char dtype[8];                   /* fp32 | fp16: how feature chunks are stored */
    double max_gib;                  /* sweep: most GiB the cache may hold; CACHE_MAX_GIB_AUTO = the disk's free space less a margin */
} FeatureCacheConfig;

typedef struct FinetuneConfig {
    int after_epochs;                /* 0 = unfreeze from the start */
} FinetuneConfig;

typedef struct TrialConfig {
    DataConfig data;
    ModelConfig model;
    TrainConfig train;
    AugmentConfig augment;
    ScheduleConfig schedule;
    CallbacksConfig callbacks;
    FeatureCacheConfig feature_cache;
    FinetuneConfig finetune;
} TrialConfig;

/* Defaults = the Keras recipe (README.md's trial config). */
void config_defaults(TrialConfig *c);
/* Reads a mapping (a file's root, or a sweep's base) over the defaults (it calls
 * config_defaults first; c holds no allocation afterwards when it fails). Unknown keys,
 * wrong types and out-of-range values fail with "file:line: key 'a.b' must be ...";
 * a missing model.weights fails too. Marks the keys it read as used in `root`. */
int config_from_yaml(TrialConfig *c, YamlNode *root, const char *file, Err *e);
int config_load_file(TrialConfig *c, const char *path, Err *e);
/* Writes the fully resolved config (every key) as YAML. */
int config_emit(const TrialConfig *c, FILE *f, Err *e);
int config_write_file(const TrialConfig *c, const char *path, Err *e); /* atomic */
void config_free(TrialConfig *c);
/* The resolved config as a YAML tree (every key, the order of config_emit); NULL on failure. */
YamlNode *config_to_yaml(const TrialConfig *c, Err *e);
/* Deep copy (data.classes duplicated); dst needs config_free. */
int config_copy(TrialConfig *dst, const TrialConfig *src, Err *e);
/* Same value for every key (doubles bit for bit, classes in order). */
int config_equal(const TrialConfig *a, const TrialConfig *b);
/* Is `dotted` a config key ("model.head.dropout")? For validating sweep axes early. */
int config_has_key(const char *dotted);
/* The value of key `dotted` as config.yaml writes it (data.classes joined by '|');
 * -1 for an unknown key. For summary.csv columns. */
int config_value_text(const TrialConfig *c, const char *dotted, char *buf, size_t n);
/* The seed of what the feature cache holds and trials share: the validation_split and
 * train_fraction selection of the images and the augmented training views. It is
 * feature_cache.seed, or train.seed when that is "trial" (each seed its own pool). */
long config_cache_seed(const TrialConfig *c);
/* Effective augmentation range = base range * strength. */
double config_aug(const AugmentConfig *a, double range);

#endif
