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

/* Fixed chunks summed in order, so the value does not depend on the thread count. */
enum { L2_MAX_CHUNKS = 1024, L2_MIN_CHUNK = 1 << 16 };

float l2_penalty(const float *w, size_t n, float lambda) {
    size_t chunk = (n + L2_MAX_CHUNKS - 1) / L2_MAX_CHUNKS;
    if (chunk < L2_MIN_CHUNK) chunk = L2_MIN_CHUNK;
    long n_chunks = (long)((n + chunk - 1) / chunk);
    double partial[L2_MAX_CHUNKS];
    #pragma omp parallel for schedule(static) if (n_chunks > 1)
    for (long c = 0; c < n_chunks; c++) {
        size_t lo = (size_t)c * chunk, hi = lo + chunk < n ? lo + chunk : n;
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) s += (double)w[i] * w[i];
        partial[c] = s;
    }
    double sum = 0.0;
    for (long c = 0; c < n_chunks; c++) sum += partial[c];
    return lambda * (float)sum;
}

void l2_backward(float *dw, const float *w, size_t n, float lambda) {
    const float k = 2.0f * lambda;
    #pragma omp parallel for schedule(static) if (n > L2_MIN_CHUNK)
    for (size_t i = 0; i < n; i++) dw[i] += k * w[i];
}

float loss_l2(Head *h, float lambda, int add_grad) {
    float total = 0.0f;
    if (lambda == 0.0f) return 0.0f;
    for (int i = 0; i < h->n_views; i++) {
        const ParamView *v = &h->views[i];
        if (!v->regularized) continue;
        total += l2_penalty(h->params + v->offset, v->size, lambda);
        if (add_grad) l2_backward(h->grads + v->offset, h->params + v->offset, v->size, lambda);
    }
    return total;
}
