#include "model/head.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

/* Keras BatchNormalization() defaults: epsilon 1e-3, momentum 0.99. */
#define BN_EPSILON 1e-3f
#define BN_MOMENTUM 0.99

/* ---------------------------------------------------------------- BatchNorm1d */

void batchnorm_forward_train(float *out, float *mean, float *rstd, const float *x,
                             const float *gamma, const float *beta,
                             float *moving_mean, float *moving_var, int b, int n) {
    /* rstd holds the biased variance until the last loop turns it into 1/sqrt(var+eps). */
    float *var = rstd;
    memset(mean, 0, (size_t)n * sizeof *mean);
    memset(var, 0, (size_t)n * sizeof *var);
    for (int i = 0; i < b; i++) {
        const float *xi = x + (size_t)i * n;
        #pragma omp simd
        for (int j = 0; j < n; j++) mean[j] += xi[j];
    }
    #pragma omp simd
    for (int j = 0; j < n; j++) mean[j] /= (float)b;
    for (int i = 0; i < b; i++) {
        const float *xi = x + (size_t)i * n;
        #pragma omp simd
        for (int j = 0; j < n; j++) { float d = xi[j] - mean[j]; var[j] += d * d; }
    }
    /* Keras: moving -= (moving - batch) * (1 - momentum), decay in float32. */
    const float decay = (float)(1.0 - BN_MOMENTUM);
    #pragma omp simd
    for (int j = 0; j < n; j++) {
        var[j] /= (float)b;
        moving_mean[j] -= (moving_mean[j] - mean[j]) * decay;
        moving_var[j] -= (moving_var[j] - var[j]) * decay;
        rstd[j] = 1.0f / sqrtf(var[j] + BN_EPSILON);
    }
    /* TF batch_normalization: y = x * inv + (beta - mean * inv), inv = gamma * rstd. */
    for (int i = 0; i < b; i++) {
        const float *xi = x + (size_t)i * n;
        float *oi = out + (size_t)i * n;
        #pragma omp simd
        for (int j = 0; j < n; j++) {
            float inv = gamma[j] * rstd[j];
            oi[j] = xi[j] * inv + (beta[j] - mean[j] * inv);
        }
    }
}

void batchnorm_forward_infer(float *out, const float *x, const float *gamma, const float *beta,
                             const float *moving_mean, const float *moving_var, int b, int n) {
    for (int i = 0; i < b; i++) {
        const float *xi = x + (size_t)i * n;
        float *oi = out + (size_t)i * n;
        #pragma omp simd
        for (int j = 0; j < n; j++) {
            float inv = gamma[j] * (1.0f / sqrtf(moving_var[j] + BN_EPSILON));
            oi[j] = xi[j] * inv + (beta[j] - moving_mean[j] * inv);
        }
    }
}

void batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dout,
                        const float *x, const float *mean, const float *rstd,
                        const float *gamma, int b, int n) {
    memset(dgamma, 0, (size_t)n * sizeof *dgamma);
    memset(dbeta, 0, (size_t)n * sizeof *dbeta);
    for (int i = 0; i < b; i++) {
        const float *xi = x + (size_t)i * n, *gi = dout + (size_t)i * n;
        #pragma omp simd
        for (int j = 0; j < n; j++) {
            float xhat = (xi[j] - mean[j]) * rstd[j];
            dbeta[j] += gi[j];
            dgamma[j] += gi[j] * xhat;
        }
    }
    if (!dx) return;
    /* Gradient through the batch mean and variance:
     * dx = gamma * rstd / b * (b * dout - sum(dout) - xhat * sum(dout * xhat)). */
    for (int i = 0; i < b; i++) {
        const float *xi = x + (size_t)i * n, *gi = dout + (size_t)i * n;
        float *di = dx + (size_t)i * n;
        #pragma omp simd
        for (int j = 0; j < n; j++) {
            float xhat = (xi[j] - mean[j]) * rstd[j];
            di[j] = gamma[j] * rstd[j] / (float)b * ((float)b * gi[j] - dbeta[j] - xhat * dgamma[j]);
        }
    }
}

/* ---------------------------------------------------------------- Dense */

void dense_forward(float *out, const float *x, const float *w, const float *bias,
                   int b, int in, int out_dim) {
    for (int i = 0; i < b; i++) memcpy(out + (size_t)i * out_dim, bias, (size_t)out_dim * sizeof *out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, out_dim, in,
                1.0f, x, in, w, out_dim, 1.0f, out, out_dim);
}

void dense_backward(float *dx, float *dw, float *dbias, const float *dout,
                    const float *x, const float *w, int b, int in, int out_dim) {
    if (dx)  /* dx (b, in) = dout (b, out) . W^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, in, out_dim,
                    1.0f, dout, out_dim, w, out_dim, 0.0f, dx, in);
    /* dW (in, out) = x^T (in, b) . dout (b, out) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out_dim, b,
                1.0f, x, in, dout, out_dim, 0.0f, dw, out_dim);
    memset(dbias, 0, (size_t)out_dim * sizeof *dbias);
    for (int i = 0; i < b; i++) {
        const float *gi = dout + (size_t)i * out_dim;
        #pragma omp simd
        for (int j = 0; j < out_dim; j++) dbias[j] += gi[j];
    }
}

/* ---------------------------------------------------------------- ReLU, Dropout */

void relu_forward(float *out, const float *x, size_t n) {
    #pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(float *dx, const float *dout, const float *x, size_t n) {
    #pragma omp simd
    for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dout[i] : 0.0f;
}

void dropout_mask(float *mask, size_t n, double rate, uint64_t seed, uint32_t epoch, uint32_t step) {
    Rng r;
    rng_init(&r, seed, RNG_DROPOUT, epoch, step);
    const float keep_at = (float)rate;                 /* TF: uniform >= rate, in float32 */
    const float scale = (float)(1.0 / (1.0 - rate));   /* 1/(1-rate) in double, as Python */
    /* Element i is word i%4 of Philox block i/4: the same floats rng_float would return in
     * sequence, but each block is computed on its own, so any split of i gives one mask. */
    for (size_t blk = 0; blk * 4 < n; blk++) {
        uint32_t ctr[4] = {(uint32_t)blk, r.ctr[1], r.ctr[2], r.ctr[3]}, out[4];
        philox4x32(ctr, r.key, out);
        for (size_t k = 0; k < 4 && blk * 4 + k < n; k++) {
            float u = (float)(out[k] >> 8) * (1.0f / 16777216.0f);
            mask[blk * 4 + k] = u >= keep_at ? scale : 0.0f;
        }
    }
}

void dropout_forward(float *out, const float *x, const float *mask, size_t n) {
    #pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = x[i] * mask[i];
}

void dropout_backward(float *dx, const float *dout, const float *mask, size_t n) {
    #pragma omp simd
    for (size_t i = 0; i < n; i++) dx[i] = dout[i] * mask[i];
}

/* ---------------------------------------------------------------- the head */

static void add_view(Head *h, const char *name, int ndim, int d0, int d1, int trainable, int regularized) {
    ParamView *v = &h->views[h->n_views++];
    snprintf(v->name, sizeof v->name, "%s", name);
    v->offset = h->n_params;
    v->ndim = ndim;
    v->shape[0] = d0;
    v->shape[1] = ndim == 2 ? d1 : 0;
    v->size = (size_t)d0 * (ndim == 2 ? (size_t)d1 : 1);
    v->trainable = trainable;
    v->regularized = regularized;
    h->n_params += v->size;
}

static void layout_params(Head *h) {
    const HeadSpec *s = &h->spec;
    if (s->batchnorm) {
        add_view(h, "bn.gamma", 1, s->in_dim, 0, 1, 0);
        add_view(h, "bn.beta", 1, s->in_dim, 0, 1, 0);
        add_view(h, "bn.moving_mean", 1, s->in_dim, 0, 0, 0);
        add_view(h, "bn.moving_variance", 1, s->in_dim, 0, 0, 0);
    }
    if (s->hidden > 0) {
        add_view(h, "dense1.kernel", 2, s->in_dim, s->hidden, 1, 1);
        add_view(h, "dense1.bias", 1, s->hidden, 0, 1, 0);
    }
    add_view(h, "dense2.kernel", 2, h->drop_dim, s->classes, 1, 1);
    add_view(h, "dense2.bias", 1, s->classes, 0, 1, 0);
}

static void bind_params(Head *h, float *base, int grads) {
    float *p[HEAD_MAX_VIEWS] = {0};
    for (int i = 0; i < h->n_views; i++) p[i] = base + h->views[i].offset;
    int k = 0;
    float *gamma = NULL, *beta = NULL, *mm = NULL, *mv = NULL, *w1 = NULL, *b1 = NULL;
    if (h->spec.batchnorm) { gamma = p[k++]; beta = p[k++]; mm = p[k++]; mv = p[k++]; }
    if (h->spec.hidden > 0) { w1 = p[k++]; b1 = p[k++]; }
    float *w2 = p[k++], *b2 = p[k++];
    if (grads) {
        h->d_bn_gamma = gamma; h->d_bn_beta = beta;
        h->d_w1 = w1; h->d_b1 = b1; h->d_w2 = w2; h->d_b2 = b2;
    } else {
        h->bn_gamma = gamma; h->bn_beta = beta; h->bn_moving_mean = mm; h->bn_moving_var = mv;
        h->w1 = w1; h->b1 = b1; h->w2 = w2; h->b2 = b2;
    }
}

/* Carves the activation buffers out of one allocation (64-byte aligned slices). */
static int alloc_activations(Head *h, Err *e) {
    const HeadSpec *s = &h->spec;
    size_t B = (size_t)s->max_batch, in = (size_t)s->in_dim, H = (size_t)s->hidden;
    size_t D = (size_t)h->drop_dim, C = (size_t)s->classes;
    size_t sizes[] = {s->batchnorm ? B * in : 0, s->batchnorm ? in : 0, s->batchnorm ? in : 0,
                      B * H, B * H, B * D, B * D, B * C, B * C, B * D, B * H, s->batchnorm ? B * in : 0};
    float **slots[] = {&h->bn_out, &h->bn_mean, &h->bn_rstd, &h->h1, &h->a1, &h->mask, &h->drop_out,
                       &h->logits, &h->dlogits, &h->d_cls_in, &h->d_h1, &h->d_bn_out};
    enum { N_SLOTS = sizeof sizes / sizeof sizes[0] };
    size_t total = 0;
    for (int i = 0; i < N_SLOTS; i++) total += (sizes[i] + 15) / 16 * 16;
    h->act_arena = tl_calloc(e, total, sizeof(float), "head activations");
    if (!h->act_arena) return -1;
    size_t off = 0;
    for (int i = 0; i < N_SLOTS; i++) {
        *slots[i] = sizes[i] ? h->act_arena + off : NULL;
        off += (sizes[i] + 15) / 16 * 16;
    }
    return 0;
}

static void glorot_uniform(float *w, int fan_in, int fan_out, uint64_t seed, uint32_t layer) {
    Rng r;
    rng_init(&r, seed, RNG_INIT, layer, 0);
    double limit = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < (size_t)fan_in * fan_out; i++) w[i] = (float)rng_uniform(&r, -limit, limit);
}

static void init_params(Head *h) {
    const HeadSpec *s = &h->spec;
    if (s->batchnorm)
        for (int j = 0; j < s->in_dim; j++) { h->bn_gamma[j] = 1.0f; h->bn_moving_var[j] = 1.0f; }
    if (s->hidden > 0) glorot_uniform(h->w1, s->in_dim, s->hidden, s->seed, 1);
    glorot_uniform(h->w2, h->drop_dim, s->classes, s->seed, 2);
    /* beta, moving mean and biases stay 0 from calloc. */
}

static int check_spec(const HeadSpec *s, Err *e) {
    if (s->in_dim < 1) return err_fail(e, "head: in_dim must be >= 1 (got %d)", s->in_dim);
    if (s->hidden < 0) return err_fail(e, "head: hidden must be >= 0 (got %d)", s->hidden);
    if (s->classes < 2) return err_fail(e, "head: classes must be >= 2 (got %d)", s->classes);
    if (s->max_batch < 1) return err_fail(e, "head: max_batch must be >= 1 (got %d)", s->max_batch);
    if (!(s->dropout >= 0.0 && s->dropout < 1.0))
        return err_fail(e, "head: dropout must be in [0, 1) (got %g)", s->dropout);
    return 0;
}

int head_create(Head *h, const HeadSpec *spec, Err *e) {
    memset(h, 0, sizeof *h);
    if (check_spec(spec, e)) return -1;
    h->spec = *spec;
    h->drop_dim = spec->hidden > 0 ? spec->hidden : spec->in_dim;
    layout_params(h);
    h->params = tl_calloc(e, h->n_params, sizeof(float), "head parameters");
    h->grads = h->params ? tl_calloc(e, h->n_params, sizeof(float), "head gradients") : NULL;
    if (!h->params || !h->grads || alloc_activations(h, e)) { head_free(h); return -1; }
    bind_params(h, h->params, 0);
    bind_params(h, h->grads, 1);
    init_params(h);
    return 0;
}

void head_free(Head *h) {
    free(h->params);
    free(h->grads);
    free(h->act_arena);
    memset(h, 0, sizeof *h);
}

const ParamView *head_view(const Head *h, const char *name) {
    for (int i = 0; i < h->n_views; i++)
        if (strcmp(h->views[i].name, name) == 0) return &h->views[i];
    return NULL;
}

void head_forward(Head *h, const float *x, int b, int train, uint32_t epoch, uint32_t step) {
    const HeadSpec *s = &h->spec;
    const float *cur = x;                                   /* (b, in) */
    assert(b >= 1 && b <= s->max_batch);                    /* buffers are sized for max_batch */
    h->x = x;
    h->last_b = b;
    h->last_train = train;
    if (s->batchnorm) {
        if (train)
            batchnorm_forward_train(h->bn_out, h->bn_mean, h->bn_rstd, x, h->bn_gamma, h->bn_beta,
                                    h->bn_moving_mean, h->bn_moving_var, b, s->in_dim);
        else
            batchnorm_forward_infer(h->bn_out, x, h->bn_gamma, h->bn_beta,
                                    h->bn_moving_mean, h->bn_moving_var, b, s->in_dim);
        cur = h->bn_out;                                    /* (b, in) */
    }
    if (s->hidden > 0) {
        dense_forward(h->h1, cur, h->w1, h->b1, b, s->in_dim, s->hidden);
        relu_forward(h->a1, h->h1, (size_t)b * s->hidden);
        cur = h->a1;                                        /* (b, hidden) */
    }
    if (train && s->dropout > 0.0) {
        size_t n = (size_t)b * h->drop_dim;
        dropout_mask(h->mask, n, s->dropout, s->seed, epoch, step);
        dropout_forward(h->drop_out, cur, h->mask, n);
        cur = h->drop_out;                                  /* (b, drop_dim) */
    }
    h->cls_in = cur;
    dense_forward(h->logits, cur, h->w2, h->b2, b, h->drop_dim, s->classes);   /* (b, C) */
}

void head_backward(Head *h, const float *dlogits, float *dx) {
    const HeadSpec *s = &h->spec;
    int b = h->last_b;
    assert(h->last_train);                                  /* BN batch stats and mask are needed */
    size_t nd = (size_t)b * h->drop_dim;
    int need_below = s->hidden > 0 || s->batchnorm || dx;
    dense_backward(need_below ? h->d_cls_in : NULL, h->d_w2, h->d_b2, dlogits, h->cls_in, h->w2,
                   b, h->drop_dim, s->classes);
    if (!need_below) return;
    float *g = h->d_cls_in;                                 /* (b, drop_dim) */
    if (h->last_train && s->dropout > 0.0) dropout_backward(g, g, h->mask, nd);
    if (s->hidden > 0) {
        relu_backward(h->d_h1, g, h->h1, (size_t)b * s->hidden);
        const float *d1_in = s->batchnorm ? h->bn_out : h->x;
        g = s->batchnorm ? h->d_bn_out : dx;                /* (b, in) or NULL */
        dense_backward(g, h->d_w1, h->d_b1, h->d_h1, d1_in, h->w1, b, s->in_dim, s->hidden);
    }
    if (s->batchnorm)
        batchnorm_backward(dx, h->d_bn_gamma, h->d_bn_beta, g, h->x, h->bn_mean, h->bn_rstd,
                           h->bn_gamma, b, s->in_dim);
    else if (s->hidden == 0 && dx)
        memcpy(dx, g, nd * sizeof *dx);
}
