#include "model/loss.h"

#include <math.h>

float loss_xent(const float *logits, const int *labels, int b, int C, double smoothing, float *dlogits) {
    /* Keras smooths in float32: y * (1 - s) + s / C, with 1 - s and s / C rounded from
     * Python floats. */
    const float off = (float)(smoothing / C);
    const float on = 1.0f * (float)(1.0 - smoothing) + off;
    double total = 0.0;
    for (int i = 0; i < b; i++) {
        const float *z = logits + (size_t)i * C;
        float zmax = z[0];
        for (int k = 1; k < C; k++) if (z[k] > zmax) zmax = z[k];
        double sum_exp = 0.0;
        for (int k = 0; k < C; k++) sum_exp += expf(z[k] - zmax);
        double lse = log(sum_exp);                          /* logsumexp(z) - zmax */
        double ce = 0.0;
        for (int k = 0; k < C; k++) ce += (k == labels[i] ? on : off) * (lse - (z[k] - zmax));
        total += ce;
        if (!dlogits) continue;
        float *dz = dlogits + (size_t)i * C;
        for (int k = 0; k < C; k++) {
            float p = (float)(exp(z[k] - zmax - lse));
            dz[k] = (p - (k == labels[i] ? on : off)) / (float)b;
        }
    }
    return (float)(total / b);
}

/* Sum of squares in blocks of L2_BLOCK: L2_LANES float partial sums in a fixed order (the
 * same at any optimisation level, vectorised or not), lanes and blocks added in double, in
 * order, so the value does not depend on the thread count. dw (may be NULL) += k * w. */
enum { L2_BLOCK = 1024, L2_LANES = 16, L2_PARALLEL = 1 << 22 };

static double l2_block(float *restrict dw, const float *restrict w, size_t n, float k) {
    float acc[L2_LANES] = {0};
    size_t i = 0;
    if (dw)
        for (; i + L2_LANES <= n; i += L2_LANES)
            for (int l = 0; l < L2_LANES; l++) { acc[l] += w[i + l] * w[i + l]; dw[i + l] += k * w[i + l]; }
    else
        for (; i + L2_LANES <= n; i += L2_LANES)
            for (int l = 0; l < L2_LANES; l++) acc[l] += w[i + l] * w[i + l];
    double s = 0.0;
    for (; i < n; i++) {
        s += (double)w[i] * w[i];
        if (dw) dw[i] += k * w[i];
    }
    for (int l = 0; l < L2_LANES; l++) s += acc[l];
    return s;
}

static double l2_sum(float *dw, const float *w, size_t n, float k) {
    long blocks = (long)((n + L2_BLOCK - 1) / L2_BLOCK);
    double sum = 0.0;
    #pragma omp parallel for ordered schedule(static) if (n >= L2_PARALLEL)
    for (long b = 0; b < blocks; b++) {
        size_t lo = (size_t)b * L2_BLOCK, len = n - lo < L2_BLOCK ? n - lo : L2_BLOCK;
        double s = l2_block(dw ? dw + lo : NULL, w + lo, len, k);
        #pragma omp ordered
        sum += s;
    }
    return sum;
}

float l2_penalty(const float *w, size_t n, float lambda) {
    return lambda * (float)l2_sum(NULL, w, n, 0.0f);
}

void l2_backward(float *dw, const float *w, size_t n, float lambda) {
    const float k = 2.0f * lambda;
    #pragma omp simd
    for (size_t i = 0; i < n; i++) dw[i] += k * w[i];
}

float loss_l2(Head *h, float lambda, int add_grad) {
    float total = 0.0f;
    if (lambda == 0.0f) return 0.0f;
    for (int i = 0; i < h->n_views; i++) {
        const ParamView *v = &h->views[i];
        if (!v->regularized) continue;
        /* One pass: penalty of these weights and, for training, their 2*lambda*w gradient. */
        double sq = l2_sum(add_grad ? h->grads + v->offset : NULL, h->params + v->offset, v->size, 2.0f * lambda);
        total += lambda * (float)sq;
    }
    return total;
}
