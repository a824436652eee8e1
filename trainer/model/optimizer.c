#include "model/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

int optimizer_kind_parse(const char *name, OptimizerKind *kind, Err *e) {
    if (strcmp(name, "adam") == 0) *kind = OPT_ADAM;
    else if (strcmp(name, "sgd") == 0) *kind = OPT_SGD;
    else return err_fail(e, "unknown optimizer '%s' (adam | sgd)", name);
    return 0;
}

int optimizer_create(Optimizer *o, const OptimizerSpec *spec, size_t n_params, Err *e) {
    memset(o, 0, sizeof *o);
    o->spec = *spec;
    o->n = n_params;
    if (spec->kind == OPT_ADAM &&
        !(spec->beta_1 >= 0 && spec->beta_1 < 1 && spec->beta_2 >= 0 && spec->beta_2 < 1 && spec->epsilon >= 0))
        return err_fail(e, "adam: need 0 <= beta_1, beta_2 < 1 and epsilon >= 0");
    if (spec->kind == OPT_SGD && !(spec->momentum >= 0 && spec->momentum < 1))
        return err_fail(e, "sgd: momentum must be in [0, 1) (got %g)", spec->momentum);
    o->m = tl_calloc(e, n_params, sizeof(float), "optimizer m");
    if (o->m && spec->kind == OPT_ADAM) o->v = tl_calloc(e, n_params, sizeof(float), "optimizer v");
    if (!o->m || (spec->kind == OPT_ADAM && !o->v)) { optimizer_free(o); return -1; }
    return 0;
}

int optimizer_add_range(Optimizer *o, size_t offset, size_t count, Err *e) {
    if (offset > o->n || count > o->n - offset)
        return err_fail(e, "optimizer: range [%zu, +%zu) outside %zu parameters", offset, count, o->n);
    if (count == 0) return 0;
    if (o->n_ranges && o->ranges[o->n_ranges - 1].offset + o->ranges[o->n_ranges - 1].count == offset) {
        o->ranges[o->n_ranges - 1].count += count;
        return 0;
    }
    if (o->n_ranges == o->cap_ranges) {
        int cap = o->cap_ranges ? 2 * o->cap_ranges : 8;
        OptRange *r = realloc(o->ranges, (size_t)cap * sizeof *r);
        TL_CHECK_ALLOC(e, r);
        o->ranges = r;
        o->cap_ranges = cap;
    }
    o->ranges[o->n_ranges++] = (OptRange){offset, count};
    return 0;
}

/* Elements per OpenMP work item; the head's 1.15M parameters stay on one thread (the
 * update is memory-bound and a second pool would fight OpenBLAS's threads), backbone-size
 * arenas split across threads. Each element's math is the same on any split. */
enum { OPT_BLOCK = 1 << 16, OPT_PARALLEL_BLOCKS = 64 };

static void adam_block(float *w, float *m, float *v, const float *g, size_t n,
                       float alpha, float omb1, float omb2, float eps) {
    size_t i = 0;
#ifdef __SSE2__
    /* Explicit SSE: sqrtf would not vectorize (errno); sqrtps/divps round like the scalar ops. */
    const __m128 va = _mm_set1_ps(alpha), v1 = _mm_set1_ps(omb1), v2 = _mm_set1_ps(omb2), ve = _mm_set1_ps(eps);
    for (; i + 4 <= n; i += 4) {
        __m128 gi = _mm_loadu_ps(g + i), mi = _mm_loadu_ps(m + i), vi = _mm_loadu_ps(v + i);
        mi = _mm_add_ps(mi, _mm_mul_ps(_mm_sub_ps(gi, mi), v1));
        vi = _mm_add_ps(vi, _mm_mul_ps(_mm_sub_ps(_mm_mul_ps(gi, gi), vi), v2));
        __m128 step = _mm_div_ps(_mm_mul_ps(mi, va), _mm_add_ps(_mm_sqrt_ps(vi), ve));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        _mm_storeu_ps(w + i, _mm_sub_ps(_mm_loadu_ps(w + i), step));
    }
#endif
    for (; i < n; i++) {
        m[i] += (g[i] - m[i]) * omb1;
        v[i] += (g[i] * g[i] - v[i]) * omb2;
        w[i] -= (m[i] * alpha) / (sqrtf(v[i]) + eps);
    }
}

static void adam_update(float *w, float *m, float *v, const float *g, size_t n,
                        float alpha, float omb1, float omb2, float eps) {
    long blocks = (long)((n + OPT_BLOCK - 1) / OPT_BLOCK);
    #pragma omp parallel for schedule(static) if (blocks >= OPT_PARALLEL_BLOCKS)
    for (long b = 0; b < blocks; b++) {
        size_t lo = (size_t)b * OPT_BLOCK, len = n - lo < OPT_BLOCK ? n - lo : OPT_BLOCK;
        adam_block(w + lo, m + lo, v + lo, g + lo, len, alpha, omb1, omb2, eps);
    }
}

static void sgd_update(float *w, float *m, const float *g, size_t n, float lr, float mom, int nesterov) {
    #pragma omp parallel for simd schedule(static) if (n >= (size_t)OPT_BLOCK * OPT_PARALLEL_BLOCKS)
    for (size_t i = 0; i < n; i++) {
        if (mom == 0.0f) { w[i] += -g[i] * lr; continue; }
        m[i] = -g[i] * lr + m[i] * mom;
        w[i] += nesterov ? -g[i] * lr + m[i] * mom : m[i];
    }
}

void optimizer_adam_scalars(const OptimizerSpec *s, long iterations, float lr, float *alpha, float *omb1, float *omb2) {
    float t = (float)(iterations + 1);
    float b1p = powf((float)s->beta_1, t), b2p = powf((float)s->beta_2, t);
    *alpha = lr * sqrtf(1.0f - b2p) / (1.0f - b1p);
    *omb1 = (float)(1.0 - s->beta_1);
    *omb2 = (float)(1.0 - s->beta_2);
}

void optimizer_step(Optimizer *o, float *params, const float *grads, float lr) {
    const OptimizerSpec *s = &o->spec;
    if (s->kind == OPT_ADAM) {
        float alpha, omb1, omb2;
        optimizer_adam_scalars(s, o->iterations, lr, &alpha, &omb1, &omb2);
        for (int r = 0; r < o->n_ranges; r++) {
            size_t off = o->ranges[r].offset;
            adam_update(params + off, o->m + off, o->v + off, grads + off, o->ranges[r].count,
                        alpha, omb1, omb2, (float)s->epsilon);
        }
    } else {
        for (int r = 0; r < o->n_ranges; r++) {
            size_t off = o->ranges[r].offset;
            sgd_update(params + off, o->m + off, grads + off, o->ranges[r].count,
                       lr, (float)s->momentum, s->nesterov);
        }
    }
    o->iterations++;
}

void optimizer_free(Optimizer *o) {
    free(o->m);
    free(o->v);
    free(o->ranges);
    memset(o, 0, sizeof *o);
}
