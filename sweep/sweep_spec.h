/* The sweep file: name, base (a trial config) and sweep (method, axes, zip groups).
 *
 *   name: dropout
 *   base: { ...a trial config, as `trainer train` reads... }
 *   sweep:
 *     method: grid                 # grid | random | tpe
 *     axes: {model.head.dropout: [0.2, 0.4], train.seed: [42, 43]}
 *     zip:  [{train.batch_size: [16, 32], train.lr: [5.0e-4, 1.0e-3]}]
 *     trials: 20                   # random and tpe
 *     seed: 0                      # random and tpe
 *     tpe: {startup_trials: 10, candidates: 24, gamma: 0.1, metric: val_accuracy, mode: max}
 *     early_stop: {method: asha, metric: val_loss, grace_epochs: 4, reduction_factor: 3}
 *
 * This module checks the sweep's own keys; trial configs are checked in expand.c. */
#ifndef SWEEP_SPEC_H
#define SWEEP_SPEC_H

#include "core/error.h"
#include "core/yaml_tree.h"
#include "prune.h"
#include "tpe.h"

enum { SWEEP_NAME_MAX = 64, AXIS_PATH_MAX = 128, SWEEP_MAX_TRIALS = 100000 };

typedef enum SweepMethod { METHOD_GRID = 0, METHOD_RANDOM, METHOD_TPE } SweepMethod;

/* What tpe optimises: a numeric result.csv column, and which way. */
typedef struct SweepObjective {
    char metric[32];            /* val_accuracy (default), val_loss, gap, final_gap */
    int maximize;               /* mode: max (default for accuracies) or min */
} SweepObjective;

typedef enum AxisDist {
    DIST_LIST,          /* grid: every value in turn; random: one of them, uniformly */
    DIST_UNIFORM,       /* random: uniform in [lo, hi] */
    DIST_LOG_UNIFORM,   /* random: exp(uniform(log lo, log hi)) */
    DIST_INT_UNIFORM,   /* random: an integer in [lo, hi] */
} AxisDist;

typedef struct Axis {
    char path[AXIS_PATH_MAX];   /* dotted path into base, e.g. "model.head.dropout" */
    AxisDist dist;
    const YamlNode *node;       /* the axis's value in the sweep file (for file:line) */
    int line;                   /* line of the axis key */
    size_t n_values;            /* DIST_LIST: values (borrowed from the document) */
    const YamlNode **values;
    double lo, hi;              /* the other distributions */
    int group;                  /* zip group index, -1 for an independent axis */
} Axis;

typedef struct SweepSpec {
    YamlDoc doc;                /* owns every node below */
    const char *file;           /* doc.file */
    char name[SWEEP_NAME_MAX];
    YamlNode *base;             /* the trial config mapping */
    SweepMethod method;
    int random;                 /* 1 when the axes are drawn (random, tpe), 0 for a grid */
    long n_trials;              /* random, tpe: trials */
    long seed;                  /* random, tpe: seed */
    TpeOptions tpe;             /* tpe: the sampler's options */
    SweepObjective objective;   /* tpe: what it optimises */
    PruneOptions early_stop;    /* method PRUNE_NONE without sweep.early_stop */
    char description[1024];     /* optional free text, shown in report.md */
    char weights_fallback[1024];/* optional: used when base model.weights is not a file */
    int weights_fallback_line;
    Axis *axes;                 /* independent axes first (file order), then zip axes */
    int n_axes;
    int n_groups;               /* zip groups */
} SweepSpec;

/* Parses and checks the sweep keys (not yet the trial configs). Messages name file:line. */
int sweep_spec_load(SweepSpec *s, const char *path, Err *e);
int sweep_spec_parse(SweepSpec *s, const char *text, const char *name, Err *e);
void sweep_spec_free(SweepSpec *s);

/* "grid over model.head.dropout (4), train.seed (3): 12 trials"; tpe and early_stop
 * add what they do. n_trials: the trials known (tpe: its sweep.trials is used). */
void sweep_spec_describe(const SweepSpec *s, long n_trials, char *out, size_t n);

#endif
