#include "backend/optimizer_math.h"

#include <math.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

const char *const OPTIMIZER_NAMES[N_OPTIMIZERS] = {"adam", "sgd"};

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

void optimizer_update_ranges(const OptimizerSpec *s, long iterations, float lr, float *params, const float *grads,
                             float *m, float *v, const OptRange *ranges, int n_ranges) {
    if (s->kind == OPT_ADAM) {
        float alpha, omb1, omb2;
        optimizer_adam_scalars(s, iterations, lr, &alpha, &omb1, &omb2);
        for (int r = 0; r < n_ranges; r++) {
            size_t off = ranges[r].offset;
            adam_update(params + off, m + off, v + off, grads + off, ranges[r].count, alpha, omb1, omb2, (float)s->epsilon);
        }
    } else {
        for (int r = 0; r < n_ranges; r++) {
            size_t off = ranges[r].offset;
            sgd_update(params + off, m + off, grads + off, ranges[r].count, lr, (float)s->momentum, s->nesterov);
        }
    }
}
