/* The Tree-structured Parzen Estimator, in the form of Optuna's default (independent)
 * TPESampler, as a pure function: the values of the next trial from the finished trials.
 *
 *   finished trials (values, score), chronological
 *     -> sorted by score; the best n_good = min(ceil(gamma * n), 25) are "good", the rest "bad"
 *     -> per dimension, two Parzen estimators (mixtures): l(x) of the good, g(x) of the bad
 *     -> `candidates` draws from l(x); the one with the largest log l(x) - log g(x) wins
 *
 * Estimators, per dimension (Optuna 5's independent TPESampler with its defaults: prior
 * weight 1, magic clip, no endpoints): one kernel per observation plus a prior kernel.
 * Mixture weights are 1 per observation while there are fewer than 25, else a ramp from
 * 1/n up to 1 for the oldest n - 25 and 1 for the newest 25; the prior weighs
 * prior_weight; all normalised.
 *   uniform, log_uniform (in log space), int_uniform (on [lo - 0.5, hi + 0.5], rounded):
 *     truncated normals centred on the observations; a kernel's sigma is the larger gap to
 *     its neighbours in the sorted observations (the domain's ends count as neighbours,
 *     except for the outermost two, which use their inner gap), clipped to
 *     [range / min(100, n + 2), range]; the prior is N(mid, range).
 *   choice (and a zip group): per observation, weight prior_weight / (n + 1) on every
 *     choice plus 1 on the observed one, normalised; the prior is uniform.
 *
 * Randomness: dimension d of trial t draws its candidates from the Philox stream
 * (seed, RNG_SWEEP, t, TPE_STREAM + d), which random search never uses; so the result
 * is a pure function of (seed, trial, the ordered observations). */
#ifndef SWEEP_TPE_H
#define SWEEP_TPE_H

#include <stdint.h>

#include "core/error.h"

enum { TPE_STREAM = 2000000, TPE_MAX_GOOD = 25 };

typedef enum TpeKind { TPE_UNIFORM, TPE_LOG_UNIFORM, TPE_INT, TPE_CHOICE } TpeKind;

/* One dimension of the search space. Values are numbers for the first three kinds and
 * the choice's index (0 .. n_choices - 1) for TPE_CHOICE. */
typedef struct TpeDim {
    TpeKind kind;
    double lo, hi;          /* TPE_UNIFORM, TPE_LOG_UNIFORM (lo > 0), TPE_INT (integers) */
    int n_choices;          /* TPE_CHOICE */
} TpeDim;

typedef struct TpeOptions {
    int startup_trials;     /* below this many observations the caller draws at random (10) */
    int candidates;         /* draws from l(x) per dimension (24) */
    double gamma;           /* share of the observations that is "good" (0.1), at most 25 */
    double prior_weight;    /* weight of the prior kernel (1.0) */
} TpeOptions;

/* One finished trial. score is minimised (negate a metric to maximise); NaN or +inf:
 * the trial ended without a usable value (diverged), the worst score there is. A pruned
 * trial ranks after every complete one, trials that ran more epochs first, then by score
 * (Optuna's ranking of pruned trials by their last step). */
typedef struct TpeObs {
    const double *x;        /* n_dims values */
    double score;
    int pruned;
    int epochs;             /* pruned: epochs it ran */
} TpeObs;

/* Optuna's defaults (inline: the sweep file's parser needs this header only). */
static inline void tpe_options_default(TpeOptions *o) {
    *o = (TpeOptions){.startup_trials = 10, .candidates = 24, .gamma = 0.1, .prior_weight = 1.0};
}

/* Values of trial `trial` from obs[0..n_obs) (chronological: the order results came in).
 * x_out gets n_dims values (numbers, integers for TPE_INT, indices for TPE_CHOICE).
 * Returns 1 when n_obs < startup_trials (x_out untouched: the caller draws at random),
 * 0 for a TPE draw, -1 on error (out of memory). */
int tpe_suggest(const TpeDim *dims, int n_dims, const TpeOptions *o, uint64_t seed, uint32_t trial,
                const TpeObs *obs, int n_obs, double *x_out, Err *e);

/* The good set's size for n observations: min(ceil(gamma * n), 25), at least 1. */
int tpe_n_good(const TpeOptions *o, int n);

#endif
