/* Sweep expansion: a SweepSpec becomes N trials, each with its axis values, a stable id
 * and (after sweep_resolve) its fully resolved and validated TrialConfig.
 *
 * grid:   the Cartesian product of the independent axes and the zip groups, in file
 *         order, the last one changing fastest.
 * random: `trials` draws; axis a of trial t uses the Philox stream (seed, RNG_SWEEP, t, a),
 *         zip group g the stream (seed, RNG_SWEEP, t, 1000000 + g). uniform and
 *         log_uniform draws are rounded to 4 significant digits, so the id, summary.csv
 *         and config.yaml all show the value that was used.
 * tpe:    the first startup_trials trials are random search's draws (same streams); the
 *         others are drawn while the sweep runs (sweep/study.h) and appended with
 *         trial_set_add_draw, rounded the same way.
 *
 * A draw is one number per dimension: the independent axes in file order (a list axis:
 * the value's index), then one per zip group (the position in the group). */
#ifndef SWEEP_EXPAND_H
#define SWEEP_EXPAND_H

#include "sweep_spec.h"
#include "train/config.h"
#include "trial_id.h"

enum { CACHE_KEY_MAX = 4096 };

typedef struct SweepTrial {
    char id[TRIAL_ID_MAX];
    YamlNode **values;              /* per axis: owned copies; keep the sweep file's lines */
    char (*text)[VALUE_TEXT_MAX];   /* per axis: canonical text, as summary.csv shows it */
    TrialConfig cfg;                /* valid after sweep_resolve */
    int weights_fallback;           /* sweep_resolve used weights_fallback for this trial */
    int cache_group;                /* trials of one group share backbone features */
} SweepTrial;

typedef struct TrialSet {
    int n_axes;
    char (*labels)[AXIS_LABEL_MAX]; /* short axis names used in ids */
    SweepTrial *trials;
    int n, cap;
    int n_cache_groups;
    int resolved;
} TrialSet;

typedef struct ResolveOptions {
    const char *sweep_dir;          /* absolute runs/<name>; feature_cache.dir = <sweep_dir>/cache */
    const char *cwd;                /* relative data.root and model.weights are made absolute against it */
    int check_files;                /* data.root/train and model.weights must exist */
} ResolveOptions;

/* Axis values and ids only (tpe: the random startup trials). The TrialSet borrows file
 * names from s: free it first. */
int sweep_expand(const SweepSpec *s, TrialSet *ts, Err *e);
/* Dimensions of a draw, and the search space tpe sees (sweep_n_dims entries). */
int sweep_n_dims(const SweepSpec *s);
void sweep_tpe_dims(const SweepSpec *s, TpeDim *dims);
/* Random search's draw of trial t (x: sweep_n_dims numbers). */
void sweep_random_draw(const SweepSpec *s, long t, double *x);
/* A drawn number as random search rounds it: 4 significant digits (integers for
 * int_uniform), inside [lo, hi]. */
double axis_round(const Axis *a, double v);
/* Appends trial ts->n with the values of draw x (numbers already rounded); its id is
 * made unique among the set's ("_2", "_3" as for identical random draws). */
int trial_set_add_draw(const SweepSpec *s, TrialSet *ts, const double *x, Err *e);
/* Builds and validates every trial's config (base + axis values + sweep settings) and
 * assigns cache groups. Messages: "trial ID: file:line: key 'a.b': ...". */
int sweep_resolve(const SweepSpec *s, TrialSet *ts, const ResolveOptions *o, Err *e);
/* The same for trial t appended to a resolved set (tpe): its config and cache group. */
int sweep_resolve_added(const SweepSpec *s, TrialSet *ts, int t, const ResolveOptions *o, Err *e);
void trial_set_free(TrialSet *ts);

/* Index of the trial with this id, -1 when none. */
int trial_set_find(const TrialSet *ts, const char *id);
/* What decides a trial's backbone features (data, backbone, weights, augmentation,
 * views, the cache's seed (config_cache_seed: not train.seed unless feature_cache.seed is
 * "trial"), storage dtype): trials with equal keys share one feature cache build. */
void trial_cache_key(const TrialConfig *c, char *out, size_t n);

#endif
