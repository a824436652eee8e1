/* The sweep file: name, base (a trial config) and sweep (method, axes, zip groups).
 *
 *   name: dropout
 *   base: { ...a trial config, as `trainer train` reads... }
 *   sweep:
 *     method: grid                 # grid | random
 *     axes: {model.head.dropout: [0.2, 0.4], train.seed: [42, 43]}
 *     zip:  [{train.batch_size: [16, 32], train.lr: [5.0e-4, 1.0e-3]}]
 *     trials: 20                   # random only
 *     seed: 0                      # random only
 *
 * This module checks the sweep's own keys; trial configs are checked in expand.c. */
#ifndef SWEEP_SPEC_H
#define SWEEP_SPEC_H

#include "core/error.h"
#include "core/yaml_tree.h"

enum { SWEEP_NAME_MAX = 64, AXIS_PATH_MAX = 128, SWEEP_MAX_TRIALS = 100000 };

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
    int random;                 /* method: 0 grid, 1 random */
    long n_trials;              /* random: trials */
    long seed;                  /* random: seed */
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

/* "grid over model.head.dropout (4), train.seed (3): 12 trials". */
void sweep_spec_describe(const SweepSpec *s, long n_trials, char *out, size_t n);

#endif
