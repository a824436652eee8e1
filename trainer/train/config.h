/* A trial's configuration: the YAML keys of design.md, resolved and validated.
 * `trainer train FILE` reads one; a sweep's `base:` holds one; config.yaml in a trial
 * folder is config_emit() of the resolved value. A trial is a value: no globals. */
#ifndef TL_CONFIG_H
#define TL_CONFIG_H

#include <stdio.h>

#include "core/error.h"
#include "core/yaml_tree.h"

enum { CONFIG_PATH_MAX = 1024, CONFIG_NAME_MAX = 64 };

typedef struct DataConfig {
    char root[CONFIG_PATH_MAX];      /* holds train/, validation/ (optional), test/ */
    int image_size;                  /* square side in pixels, 32..1024 */
    char interpolation[16];          /* "nearest" | "bilinear" */
    int fast_decode;                 /* bool: libjpeg-turbo's fast DCT, and DCT-domain downscaling by
                                        1/2..1/8 of photos at least twice image_size (not PIL's pixels) */
    double validation_split;         /* [0, 0.9]: used only when root/validation is absent */
    double train_fraction;           /* (0, 1] */
    char **classes;                  /* optional explicit class order (NULL = sorted folders) */
    int n_classes_listed;
} DataConfig;

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
    char precision[8];               /* backbone: "fp32" | "tf32" | "fp16" | "bf16"; the CPU runs bf16 or fp32 */
    HeadConfig head;
} ModelConfig;

typedef struct TrainConfig {
    int epochs;                      /* >= 1 */
    int batch_size;                  /* >= 1 */
    char optimizer[8];               /* "adam" | "sgd" */
    double lr;                       /* > 0 */
    double backbone_lr;              /* fine-tuning; 0 = same as lr */
    double momentum;                 /* sgd, [0, 1) */
    int nesterov;                    /* sgd */
    double beta_1, beta_2, epsilon;  /* adam: 0.9, 0.999, 1e-7 */
    double label_smoothing;          /* [0, 1) */
    long seed;
    char device[8];                  /* "auto" | "cpu" | "cuda" */
    int threads;                     /* 0 = all cores */
} TrainConfig;

typedef struct AugmentConfig {
    double strength;                 /* >= 0: scales every range below; 0 = off */
    int horizontal_flip;
    double rotation;                 /* degrees */
    double width_shift, height_shift;/* fractions of width/height */
    double zoom;                     /* zoom range 1-z .. 1+z */
    double shear;                    /* degrees (as Keras) */
    double brightness;               /* range 1-b .. 1+b; 0 = off */
    double channel_shift;            /* pixel units 0..255 */
    char fill[16];                   /* "reflect" | "nearest" | "constant" | "wrap" */
} AugmentConfig;

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

typedef struct FeatureCacheConfig {
    char dir[CONFIG_PATH_MAX];       /* relative paths resolve against the trial out dir's parent */
    int views;                       /* augmented draws per training image; 0 = recompute */
    int boundary_mib;                /* fine-tuning: most MiB of fp16 boundary activations cached; 0 = never */
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

/* Defaults = the Keras recipe of design.md. */
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
/* Effective augmentation range = base range * strength. */
double config_aug(const AugmentConfig *a, double range);

#endif
