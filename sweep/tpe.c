#include "tpe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "truncnorm.h"

/* One dimension's Parzen estimator: a mixture of n kernels (observations, then the prior). */
typedef struct Parzen {
    int n;
    double *w;              /* n mixture weights, summing to 1 */
    double *mu, *sigma;     /* numeric kinds, in the transformed space */
    double *p;              /* TPE_CHOICE: n x n_choices kernel probabilities */
    double lo, hi;          /* the transformed domain */
} Parzen;

int tpe_n_good(const TpeOptions *o, int n) {
    int k = (int)ceil(o->gamma * n);
    if (k > TPE_MAX_GOOD) k = TPE_MAX_GOOD;
    if (k > n) k = n;
    return k < 1 ? 1 : k;
}

/* ---- ranking: which observations are good ---- */

typedef struct RankKey { int pruned, epochs, index; double score; } RankKey;

static int rank_cmp(const void *pa, const void *pb) {
    const RankKey *a = pa, *b = pb;
    if (a->pruned != b->pruned) return a->pruned - b->pruned;
    if (a->pruned && a->epochs != b->epochs) return b->epochs - a->epochs;
    if (a->score != b->score) return a->score < b->score ? -1 : 1;
    return a->index - b->index;   /* ties: the older first, as a stable sort */
}

/* good[i] = 1 for the n_good best observations. */
static int split_good(const TpeObs *obs, int n, int n_good, int *good, Err *e) {
    RankKey *k = malloc((size_t)n * sizeof *k);
    TL_CHECK_ALLOC(e, k);
    for (int i = 0; i < n; i++) {
        double s = obs[i].score;
        k[i] = (RankKey){.pruned = obs[i].pruned != 0, .epochs = obs[i].epochs, .index = i,
                         .score = isnan(s) ? INFINITY : s};
    }
    qsort(k, (size_t)n, sizeof *k, rank_cmp);
    for (int i = 0; i < n; i++) good[k[i].index] = i < n_good;
    free(k);
    return 0;
}

/* ---- Parzen estimators ---- */

/* Optuna's default_weights: 1 each below 25 observations, else a ramp for the oldest. */
static void observation_weights(int n, double *w) {
    for (int i = 0; i < n; i++) w[i] = 1;
    if (n < 25) return;
    int ramp = n - 25;
    for (int i = 0; i < ramp; i++) w[i] = ramp == 1 ? 1.0 / n : 1.0 / n + (1 - 1.0 / n) * i / (ramp - 1);
}

static double to_space(const TpeDim *d, double v) { return d->kind == TPE_LOG_UNIFORM ? log(v) : v; }

static void domain(const TpeDim *d, double *lo, double *hi) {
    if (d->kind == TPE_LOG_UNIFORM) *lo = log(d->lo), *hi = log(d->hi);
    else if (d->kind == TPE_INT) *lo = d->lo - 0.5, *hi = d->hi + 0.5;
    else if (d->kind == TPE_CHOICE) *lo = 0, *hi = d->n_choices - 1;
    else *lo = d->lo, *hi = d->hi;
}

typedef struct Centre { double v; int index; } Centre;

static int centre_cmp(const void *pa, const void *pb) {
    const Centre *a = pa, *b = pb;
    if (a->v != b->v) return a->v < b->v ? -1 : 1;
    return a->index - b->index;
}

/* sigma per observation kernel: the larger gap to its neighbours among the sorted
 * observations, the domain's ends counting as neighbours except for the outermost two
 * (which take their inner gap), clipped to [range / min(100, n + 2), range]. */
static int numeric_sigmas(Parzen *p, int n_obs, Err *e) {
    double range = p->hi - p->lo;
    p->sigma[n_obs] = range;   /* the prior */
    if (n_obs == 0) return 0;
    Centre *c = malloc((size_t)n_obs * sizeof *c);
    double *ext = malloc((size_t)(n_obs + 2) * sizeof *ext);
    if (!c || !ext) { free(c), free(ext); return err_fail(e, "out of memory (TPE)"); }
    for (int i = 0; i < n_obs; i++) c[i] = (Centre){p->mu[i], i};
    qsort(c, (size_t)n_obs, sizeof *c, centre_cmp);
    ext[0] = p->lo, ext[n_obs + 1] = p->hi;
    for (int i = 0; i < n_obs; i++) ext[i + 1] = c[i].v;
    double min_sigma = range / fmin(100.0, 2.0 + n_obs);
    for (int k = 0; k < n_obs; k++) {
        double s = fmax(ext[k + 1] - ext[k], ext[k + 2] - ext[k + 1]);
        if (n_obs >= 2 && k == 0) s = ext[2] - ext[1];
        if (n_obs >= 2 && k == n_obs - 1) s = ext[n_obs] - ext[n_obs - 1];
        p->sigma[c[k].index] = fmin(fmax(s, min_sigma), range);
    }
    free(c), free(ext);
    return 0;
}

static void choice_kernels(Parzen *p, const TpeDim *d, const double *vals, int n_obs, double prior_weight) {
    int nc = d->n_choices;
    for (int k = 0; k < p->n; k++) {
        double *row = p->p + (size_t)k * nc, sum = 0;
        for (int c = 0; c < nc; c++) row[c] = n_obs ? prior_weight / p->n : 1.0;
        if (k < n_obs) row[(int)vals[k]] += 1;
        for (int c = 0; c < nc; c++) sum += row[c];
        for (int c = 0; c < nc; c++) row[c] = sum > 0 ? row[c] / sum : 1.0 / nc;
    }
}

static void parzen_free(Parzen *p) { free(p->w); memset(p, 0, sizeof *p); }

/* The estimator of one dimension from vals[0..n_obs) (chronological). */
static int parzen_build(Parzen *p, const TpeDim *d, const double *vals, int n_obs, double prior_weight, Err *e) {
    memset(p, 0, sizeof *p);
    p->n = n_obs + 1;
    size_t per = d->kind == TPE_CHOICE ? (size_t)d->n_choices : 2;
    p->w = calloc((size_t)p->n * (1 + per), sizeof *p->w);
    TL_CHECK_ALLOC(e, p->w);
    if (d->kind == TPE_CHOICE) p->p = p->w + p->n;
    else p->mu = p->w + p->n, p->sigma = p->mu + p->n;
    observation_weights(n_obs, p->w);
    p->w[n_obs] = n_obs ? prior_weight : 1.0;
    double sum = 0;
    for (int k = 0; k < p->n; k++) sum += p->w[k];
    for (int k = 0; k < p->n; k++) p->w[k] /= sum;
    domain(d, &p->lo, &p->hi);
    if (d->kind == TPE_CHOICE) { choice_kernels(p, d, vals, n_obs, prior_weight); return 0; }
    for (int k = 0; k < n_obs; k++) p->mu[k] = to_space(d, vals[k]);
    p->mu[n_obs] = 0.5 * (p->lo + p->hi);
    if (numeric_sigmas(p, n_obs, e)) { parzen_free(p); return -1; }
    return 0;
}

/* Index drawn from probabilities w[0..n) with u in [0, 1). */
static int draw_index(const double *w, int n, double u) {
    double acc = 0;
    for (int k = 0; k < n - 1; k++)
        if (u < (acc += w[k])) return k;
    return n - 1;
}

/* A draw from the mixture, in the transformed space (integers rounded, choices indices). */
static double parzen_sample(const Parzen *p, const TpeDim *d, Rng *r) {
    int k = draw_index(p->w, p->n, rng_double(r));
    double u = rng_double(r);
    if (d->kind == TPE_CHOICE) return draw_index(p->p + (size_t)k * d->n_choices, d->n_choices, u);
    double x = truncnorm_sample(p->mu[k], p->sigma[k], p->lo, p->hi, u);
    if (d->kind == TPE_INT) x = fmin(fmax(round(x), d->lo), d->hi);
    return x;
}

static double kernel_log_pdf(const Parzen *p, const TpeDim *d, int k, double x) {
    if (d->kind == TPE_CHOICE) return log(p->p[(size_t)k * d->n_choices + (int)x]);
    if (d->kind == TPE_INT) return truncnorm_log_mass_int(x, p->mu[k], p->sigma[k], p->lo, p->hi);
    return truncnorm_log_pdf(x, p->mu[k], p->sigma[k], p->lo, p->hi);
}

/* log of the mixture density (log-sum-exp over kernels). */
static double parzen_log_pdf(const Parzen *p, const TpeDim *d, double x) {
    double best = -INFINITY, sum = 0;
    for (int k = 0; k < p->n; k++) best = fmax(best, log(p->w[k]) + kernel_log_pdf(p, d, k, x));
    if (!isfinite(best)) return best;
    for (int k = 0; k < p->n; k++) sum += exp(log(p->w[k]) + kernel_log_pdf(p, d, k, x) - best);
    return best + log(sum);
}

static double from_space(const TpeDim *d, double x) {
    if (d->kind != TPE_LOG_UNIFORM) return x;
    return fmin(fmax(exp(x), d->lo), d->hi);
}

/* ---- the suggestion ---- */

/* Dimension d's value: the candidate from l(x) with the largest log l(x) - log g(x). */
static int suggest_dim(const TpeDim *d, int dim, const TpeOptions *o, uint64_t seed, uint32_t trial,
                       const double *good_v, int n_good, const double *bad_v, int n_bad, double *out, Err *e) {
    Parzen l, g;
    if (parzen_build(&l, d, good_v, n_good, o->prior_weight, e)) return -1;
    if (parzen_build(&g, d, bad_v, n_bad, o->prior_weight, e)) { parzen_free(&l); return -1; }
    Rng r;
    rng_init(&r, seed, RNG_SWEEP, trial, (uint32_t)(TPE_STREAM + dim));
    double best = -INFINITY, best_x = l.mu ? l.mu[l.n - 1] : 0;
    for (int c = 0; c < o->candidates; c++) {
        double x = parzen_sample(&l, d, &r);
        double score = parzen_log_pdf(&l, d, x) - parzen_log_pdf(&g, d, x);
        if (c == 0 || score > best) best = score, best_x = x;
    }
    *out = from_space(d, best_x);
    parzen_free(&l), parzen_free(&g);
    return 0;
}

int tpe_suggest(const TpeDim *dims, int n_dims, const TpeOptions *o, uint64_t seed, uint32_t trial,
                const TpeObs *obs, int n_obs, double *x_out, Err *e) {
    if (n_obs < o->startup_trials || n_obs == 0) return 1;
    int *good = malloc((size_t)n_obs * sizeof *good);
    double *vals = malloc((size_t)n_obs * sizeof *vals);
    if (!good || !vals) { free(good), free(vals); return err_fail(e, "out of memory (TPE)"); }
    int n_good = tpe_n_good(o, n_obs), rc = split_good(obs, n_obs, n_good, good, e);
    for (int d = 0; d < n_dims && rc == 0; d++) {
        /* good values first, then bad, each in chronological order */
        int kg = 0, kb = n_good;
        for (int i = 0; i < n_obs; i++) vals[good[i] ? kg++ : kb++] = obs[i].x[d];
        rc = suggest_dim(&dims[d], d, o, seed, trial, vals, n_good, vals + n_good, n_obs - n_good, &x_out[d], e);
    }
    free(good), free(vals);
    return rc;
}
