/* Head layers and the whole head: finite-difference gradient checks (central differences
 * in double on small sizes, random inputs away from zero), parameter layout, init,
 * BN moving statistics, dropout masks. */
#include <string.h>

#include "core/rng.h"
#include "model/head.h"
#include "model/loss.h"
#include "test_util.h"

/* A scalar function of some floats: what the finite differences differentiate. */
typedef double (*ScalarFn)(void *ctx);

/* Central difference of f with respect to *p, using the step actually representable. */
static double numeric_grad(float *p, float h, ScalarFn f, void *ctx) {
    float old = *p;
    *p = old + h;
    double up = *p, lp = f(ctx);
    *p = old - h;
    double dn = *p, lm = f(ctx);
    *p = old;
    return (lp - lm) / (up - dn);
}

/* ||numeric - analytic|| / ||analytic|| over the n entries of p (relative L2 error). */
static double grad_error(float *p, const float *analytic, size_t n, float h, ScalarFn f, void *ctx) {
    float *num = malloc(n * sizeof *num);
    for (size_t i = 0; i < n; i++) num[i] = (float)numeric_grad(&p[i], h, f, ctx);
    double err = rel_l2(num, analytic, n);
    free(num);
    return err;
}

/* Uniform in +-[0.2, 1.2]: never zero, and ReLU inputs stay clear of the kink. */
static void fill_random(float *x, size_t n, Rng *r) {
    for (size_t i = 0; i < n; i++) {
        double u = rng_uniform(r, 0.2, 1.2);
        x[i] = (float)(rng_u32(r) & 1 ? u : -u);
    }
}

/* L = sum c .* y for a fixed random c: dL/dy = c. */
static double weighted_sum(const float *y, const float *c, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)c[i] * y[i];
    return s;
}

enum { B = 4, N = 5, M = 3 };

/* ---------------------------------------------------------------- BatchNorm */

typedef struct BnCtx {
    float x[B * N], gamma[N], beta[N], mm[N], mv[N], out[B * N], mean[N], rstd[N], c[B * N];
} BnCtx;

static double bn_loss(void *p) {
    BnCtx *k = p;
    batchnorm_forward_train(k->out, k->mean, k->rstd, k->x, k->gamma, k->beta, k->mm, k->mv, B, N);
    return weighted_sum(k->out, k->c, B * N);
}

static void test_batchnorm(void) {
    BnCtx k;
    Rng r;
    rng_init(&r, 1, RNG_INIT, 100, 0);
    fill_random(k.x, B * N, &r);
    fill_random(k.gamma, N, &r);
    fill_random(k.beta, N, &r);
    fill_random(k.c, B * N, &r);
    for (int j = 0; j < N; j++) { k.mm[j] = 0; k.mv[j] = 1; }
    bn_loss(&k);
    /* Output has batch mean beta and biased variance gamma^2 var/(var+eps). */
    for (int j = 0; j < N; j++) {
        double mu = 0, var = 0, m = 0;
        for (int i = 0; i < B; i++) mu += k.x[i * N + j];
        mu /= B;
        for (int i = 0; i < B; i++) var += (k.x[i * N + j] - mu) * (k.x[i * N + j] - mu);
        var /= B;
        for (int i = 0; i < B; i++) m += k.out[i * N + j];
        CHECK_NEAR(m / B, k.beta[j], 1e-5, "bn output mean %d", j);
        CHECK_NEAR(k.mean[j], mu, 1e-6, "batch mean %d", j);
        CHECK_NEAR(k.rstd[j], 1.0 / sqrt(var + 1e-3), 1e-4, "rstd %d", j);
        /* Keras moving update after one step from (0, 1): 0.01*mu, 0.99 + 0.01*var (biased). */
        CHECK_NEAR(k.mm[j], 0.01 * mu, 1e-7, "moving mean %d", j);
        CHECK_NEAR(k.mv[j], 0.99 + 0.01 * var, 1e-6, "moving var %d", j);
    }
    float dx[B * N], dgamma[N], dbeta[N];
    batchnorm_backward(dx, dgamma, dbeta, k.c, k.x, k.mean, k.rstd, k.gamma, B, N);
    double ex = grad_error(k.x, dx, B * N, 1e-2f, bn_loss, &k);
    double eg = grad_error(k.gamma, dgamma, N, 1e-2f, bn_loss, &k);
    double eb = grad_error(k.beta, dbeta, N, 1e-2f, bn_loss, &k);
    CHECK(ex < 2e-3, "bn dx rel err %g", ex);
    CHECK(eg < 2e-3, "bn dgamma rel err %g", eg);
    CHECK(eb < 2e-3, "bn dbeta rel err %g", eb);
    /* Inference uses the moving statistics. */
    float y[B * N];
    batchnorm_forward_infer(y, k.x, k.gamma, k.beta, k.mm, k.mv, B, N);
    double want = (k.x[7] - k.mm[2]) / sqrt(k.mv[2] + 1e-3) * k.gamma[2] + k.beta[2];
    CHECK_NEAR(y[7], want, 1e-5, "bn inference");
}

/* ---------------------------------------------------------------- Dense */

typedef struct DenseCtx { float x[B * N], w[N * M], bias[M], out[B * M], c[B * M]; } DenseCtx;

static double dense_loss(void *p) {
    DenseCtx *k = p;
    dense_forward(k->out, k->x, k->w, k->bias, B, N, M);
    return weighted_sum(k->out, k->c, B * M);
}

static void test_dense(void) {
    DenseCtx k;
    Rng r;
    rng_init(&r, 2, RNG_INIT, 100, 0);
    fill_random(k.x, B * N, &r);
    fill_random(k.w, N * M, &r);
    fill_random(k.bias, M, &r);
    fill_random(k.c, B * M, &r);
    dense_loss(&k);
    double z = k.bias[2];
    for (int i = 0; i < N; i++) z += (double)k.x[1 * N + i] * k.w[i * M + 2];
    CHECK_NEAR(k.out[1 * M + 2], z, 1e-5, "dense forward is x W + b with W (in, out)");
    float dx[B * N], dw[N * M], db[M];
    memset(dw, 0x7f, sizeof dw);   /* backward must overwrite, not accumulate */
    dense_backward(dx, dw, db, k.c, k.x, k.w, B, N, M);
    double ex = grad_error(k.x, dx, B * N, 1e-2f, dense_loss, &k);
    double ew = grad_error(k.w, dw, N * M, 1e-2f, dense_loss, &k);
    double eb = grad_error(k.bias, db, M, 1e-2f, dense_loss, &k);
    CHECK(ex < 2e-3, "dense dx rel err %g", ex);
    CHECK(ew < 2e-3, "dense dw rel err %g", ew);
    CHECK(eb < 2e-3, "dense db rel err %g", eb);
}

/* ---------------------------------------------------------------- ReLU, Dropout */

typedef struct EwCtx { float x[B * N], mask[B * N], out[B * N], c[B * N]; int relu; } EwCtx;

static double ew_loss(void *p) {
    EwCtx *k = p;
    if (k->relu) relu_forward(k->out, k->x, B * N);
    else dropout_forward(k->out, k->x, k->mask, B * N);
    return weighted_sum(k->out, k->c, B * N);
}

static void test_relu_dropout(void) {
    EwCtx k;
    Rng r;
    rng_init(&r, 3, RNG_INIT, 100, 0);
    fill_random(k.x, B * N, &r);
    fill_random(k.c, B * N, &r);
    float dx[B * N];
    k.relu = 1;
    relu_backward(dx, k.c, k.x, B * N);
    double e1 = grad_error(k.x, dx, B * N, 1e-2f, ew_loss, &k);
    CHECK(e1 < 2e-3, "relu dx rel err %g", e1);
    k.relu = 0;
    dropout_mask(k.mask, B * N, 0.5, 42, 0, 0);
    dropout_backward(dx, k.c, k.mask, B * N);
    double e2 = grad_error(k.x, dx, B * N, 1e-2f, ew_loss, &k);
    CHECK(e2 < 2e-3, "dropout dx rel err %g", e2);
}

static void test_dropout_mask(void) {
    enum { NM = 10001 };
    static float mask[NM], prefix[37];
    dropout_mask(mask, NM, 0.6, 42, 3, 17);
    /* Element i is the i-th float of the (seed, RNG_DROPOUT, epoch, step) stream. */
    Rng r;
    rng_init(&r, 42, RNG_DROPOUT, 3, 17);
    int same = 1, kept = 0;
    for (int i = 0; i < NM; i++) {
        float u = rng_float(&r);
        float want = u >= 0.6f ? 2.5f : 0.0f;
        same &= mask[i] == want;
        kept += mask[i] != 0;
    }
    CHECK(same, "mask equals the sequential stream, keep iff U >= rate, scale 1/(1-rate) = 2.5");
    CHECK(kept > 3800 && kept < 4200, "keep fraction near 0.4: %d of %d", kept, NM);
    dropout_mask(prefix, 37, 0.6, 42, 3, 17);
    CHECK(memcmp(prefix, mask, sizeof prefix) == 0, "a shorter mask is a prefix (no dependence on n)");
    dropout_mask(prefix, 37, 0.6, 42, 3, 18);
    CHECK(memcmp(prefix, mask, sizeof prefix) != 0, "another step gives another mask");
}

/* ---------------------------------------------------------------- the whole head */

typedef struct HeadCtx { Head h; float x[B * 6]; int y[B]; float lambda; } HeadCtx;

static double head_loss(void *p) {
    HeadCtx *k = p;
    head_forward(&k->h, k->x, B, 1, 2, 5);   /* fixed (epoch, step): the same dropout mask */
    double ce = loss_xent(k->h.logits, k->y, B, k->h.spec.classes, 0.1, NULL);
    return ce + loss_l2(&k->h, k->lambda, 0);
}

static void check_head_gradients(int batchnorm, int hidden, double dropout) {
    HeadCtx k;
    Err e;
    HeadSpec spec = {.in_dim = 6, .hidden = hidden, .classes = 4, .batchnorm = batchnorm,
                     .dropout = dropout, .max_batch = B, .seed = 7};
    CHECK_OK(head_create(&k.h, &spec, &e), &e);
    Rng r;
    rng_init(&r, 4, RNG_INIT, 100, 0);
    fill_random(k.x, sizeof k.x / sizeof k.x[0], &r);
    fill_random(k.h.params, k.h.n_params, &r);   /* no zeros anywhere, gamma != 1 */
    const ParamView *mv = head_view(&k.h, "bn.moving_variance");
    if (mv) for (size_t i = 0; i < mv->size; i++) k.h.params[mv->offset + i] = 1.5f;
    for (int i = 0; i < B; i++) k.y[i] = (i * 3 + 1) % 4;
    k.lambda = 0.05f;
    head_loss(&k);
    static float dlogits[B * 4], dx[B * 6];
    loss_xent(k.h.logits, k.y, B, 4, 0.1, dlogits);
    head_backward(&k.h, dlogits, dx);
    loss_l2(&k.h, k.lambda, 1);
    float *analytic = malloc(k.h.n_params * sizeof *analytic);
    memcpy(analytic, k.h.grads, k.h.n_params * sizeof *analytic);
    for (int v = 0; v < k.h.n_views; v++) {
        const ParamView *pv = &k.h.views[v];
        float *g = analytic + pv->offset;
        if (!pv->trainable) {
            int zero = 1;
            for (size_t i = 0; i < pv->size; i++) zero &= g[i] == 0.0f;
            CHECK(zero, "%s: non-trainable gradient is zero", pv->name);
            continue;
        }
        double err = grad_error(k.h.params + pv->offset, g, pv->size, 1e-2f, head_loss, &k);
        CHECK(err < 2e-3, "head(bn %d, hidden %d, dropout %g) %s rel err %g", batchnorm, hidden, dropout, pv->name, err);
    }
    double ex = grad_error(k.x, dx, B * 6, 1e-2f, head_loss, &k);
    CHECK(ex < 2e-3, "head(bn %d, hidden %d, dropout %g) dx rel err %g", batchnorm, hidden, dropout, ex);
    free(analytic);
    head_free(&k.h);
}

static void test_head_layout(void) {
    Head h;
    Err e;
    HeadSpec spec = {.in_dim = 2048, .hidden = 512, .classes = 196, .batchnorm = 1,
                     .dropout = 0.6, .max_batch = 32, .seed = 42};
    CHECK_OK(head_create(&h, &spec, &e), &e);
    /* Keras's model.summary() for 196 classes: head 1,157,828 parameters, 1,153,732 trainable. */
    size_t trainable = 0, next = 0;
    for (int i = 0; i < h.n_views; i++) {
        CHECK(h.views[i].offset == next, "%s is contiguous", h.views[i].name);
        next += h.views[i].size;
        if (h.views[i].trainable) trainable += h.views[i].size;
    }
    CHECK(h.n_params == 1157828, "n_params %zu", h.n_params);
    CHECK(trainable == 1153732, "trainable %zu", trainable);
    const char *order[] = {"bn.gamma", "bn.beta", "bn.moving_mean", "bn.moving_variance",
                           "dense1.kernel", "dense1.bias", "dense2.kernel", "dense2.bias"};
    for (int i = 0; i < 8; i++) CHECK(strcmp(h.views[i].name, order[i]) == 0, "view %d is %s", i, order[i]);
    const ParamView *k1 = head_view(&h, "dense1.kernel");
    CHECK(k1 && k1->shape[0] == 2048 && k1->shape[1] == 512 && k1->regularized, "dense1 kernel (in, out)");
    CHECK(head_view(&h, "dense2.bias")->regularized == 0, "biases are not regularized");
    /* glorot_uniform: |w| <= sqrt(6 / (fan_in + fan_out)), spread over the range. */
    double l1 = sqrt(6.0 / 2560), l2 = sqrt(6.0 / 708), max1 = 0, max2 = 0;
    for (size_t i = 0; i < 2048 * 512; i++) if (fabs(h.w1[i]) > max1) max1 = fabs(h.w1[i]);
    for (size_t i = 0; i < 512 * 196; i++) if (fabs(h.w2[i]) > max2) max2 = fabs(h.w2[i]);
    CHECK(max1 <= l1 && max1 > 0.99 * l1, "dense1 limit %g vs %g", max1, l1);
    CHECK(max2 <= l2 && max2 > 0.99 * l2, "dense2 limit %g vs %g", max2, l2);
    CHECK(h.bn_gamma[5] == 1 && h.bn_beta[5] == 0 && h.bn_moving_mean[5] == 0 && h.bn_moving_var[5] == 1 &&
          h.b1[3] == 0 && h.b2[3] == 0, "BN and bias init");
    Head h2;
    CHECK_OK(head_create(&h2, &spec, &e), &e);
    CHECK(memcmp(h.params, h2.params, h.n_params * sizeof(float)) == 0, "same seed, same init");
    head_free(&h2);
    spec.seed = 43;
    CHECK_OK(head_create(&h2, &spec, &e), &e);
    CHECK(memcmp(h.w1, h2.w1, 1000 * sizeof(float)) != 0, "another seed, another init");
    head_free(&h2);
    head_free(&h);
    spec.dropout = 1.0;
    CHECK(head_create(&h, &spec, &e) != 0 && strstr(e.msg, "dropout"), "dropout 1 is rejected: %s", e.msg);
}

/* Inference: moving stats, no dropout, independent of batch composition. */
static void test_head_inference(void) {
    Head h;
    Err e;
    HeadSpec spec = {.in_dim = 6, .hidden = 5, .classes = 4, .batchnorm = 1, .dropout = 0.5, .max_batch = B, .seed = 9};
    CHECK_OK(head_create(&h, &spec, &e), &e);
    float x[B * 6], row[4];
    Rng r;
    rng_init(&r, 5, RNG_INIT, 100, 0);
    fill_random(x, B * 6, &r);
    head_forward(&h, x, B, 1, 0, 0);
    head_forward(&h, x, B, 0, 0, 0);
    memcpy(row, h.logits + 4 * 2, sizeof row);
    head_forward(&h, x + 6 * 2, 1, 0, 9, 9);
    CHECK(memcmp(row, h.logits, sizeof row) == 0, "inference row does not depend on the batch");
    float a[B * 4];
    head_forward(&h, x, B, 1, 0, 1);
    memcpy(a, h.logits, sizeof a);
    head_forward(&h, x, B, 1, 0, 2);
    CHECK(memcmp(a, h.logits, sizeof a) != 0, "training forward uses a new dropout mask per step");
    head_free(&h);
}

int main(void) {
    test_batchnorm();
    test_dense();
    test_relu_dropout();
    test_dropout_mask();
    check_head_gradients(1, 5, 0.5);
    check_head_gradients(0, 5, 0.5);
    check_head_gradients(1, 0, 0.3);
    check_head_gradients(0, 0, 0.0);
    test_head_layout();
    test_head_inference();
    return TEST_END();
}
