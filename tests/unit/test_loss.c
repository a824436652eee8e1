/* Softmax cross-entropy with label smoothing and the L2 penalty: values against the
 * Keras's formulas computed here in double, gradients by central differences. */
#include <string.h>

#include "core/rng.h"
#include "model/loss.h"
#include "test_util.h"

enum { B = 3, C = 5 };

/* CE_i = sum_k y'_k (logsumexp(z) - z_k), y' = onehot * (1 - s) + s / C; mean over rows. */
static double reference_xent(const float *z, const int *y, int b, int c, double s) {
    double total = 0;
    for (int i = 0; i < b; i++) {
        const float *zi = z + i * c;
        double m = zi[0], sum = 0, ce = 0;
        for (int k = 1; k < c; k++) if (zi[k] > m) m = zi[k];
        for (int k = 0; k < c; k++) sum += exp(zi[k] - m);
        double lse = m + log(sum);
        for (int k = 0; k < c; k++) ce += ((k == y[i]) * (1 - s) + s / c) * (lse - zi[k]);
        total += ce;
    }
    return total / b;
}

static void test_xent_values(void) {
    float z[B * C];
    int y[B] = {0, 3, 4};
    Rng r;
    rng_init(&r, 11, RNG_INIT, 0, 0);
    for (int i = 0; i < B * C; i++) z[i] = (float)rng_uniform(&r, -3, 3);
    for (double s = 0; s <= 0.31; s += 0.1) {
        double want = reference_xent(z, y, B, C, s);
        float got = loss_xent(z, y, B, C, s, NULL);
        CHECK_NEAR(got, want, 1e-6 * want, "smoothing %g: %g vs %g", s, got, want);
    }
    /* No smoothing: -log softmax of the label. */
    double m = 0;
    for (int k = 0; k < C; k++) m += exp(z[k]);
    float one = loss_xent(z, y, 1, C, 0.0, NULL);
    CHECK_NEAR(one, log(m) - z[0], 1e-6, "plain CE of row 0");
    /* Huge logits stay finite (log-sum-exp with the max subtracted). */
    float big[C] = {1000, -1000, 999, 0, 50};
    int yb[1] = {2};
    float dbig[C];
    float lb = loss_xent(big, yb, 1, C, 0.1, dbig);
    CHECK(isfinite(lb) && fabs(lb - reference_xent(big, yb, 1, C, 0.1)) < 1e-3, "stable at 1000: %g", lb);
    int finite = 1;
    for (int k = 0; k < C; k++) finite &= isfinite(dbig[k]);
    CHECK(finite, "gradient finite at 1000");
}

typedef struct XentCtx { float z[B * C]; int y[B]; double s; } XentCtx;

static void test_xent_gradient(void) {
    XentCtx k = {.y = {2, 0, 4}, .s = 0.1};
    Rng r;
    rng_init(&r, 12, RNG_INIT, 0, 0);
    for (int i = 0; i < B * C; i++) k.z[i] = (float)rng_uniform(&r, 0.3, 2.0) * (i % 2 ? 1 : -1);
    float dz[B * C], num[B * C];
    loss_xent(k.z, k.y, B, C, k.s, dz);
    for (int i = 0; i < B * C; i++) {
        float old = k.z[i], h = 1e-2f;
        k.z[i] = old + h;
        double up = k.z[i], lp = reference_xent(k.z, k.y, B, C, k.s);
        k.z[i] = old - h;
        double dn = k.z[i], lm = reference_xent(k.z, k.y, B, C, k.s);
        k.z[i] = old;
        num[i] = (float)((lp - lm) / (up - dn));
    }
    CHECK(rel_l2(dz, num, B * C) < 1e-4, "dlogits rel err %g", rel_l2(dz, num, B * C));
    /* Closed form: (softmax - y') / b, so every row sums to 0. */
    for (int i = 0; i < B; i++) {
        double sum = 0;
        for (int c = 0; c < C; c++) sum += dz[i * C + c];
        CHECK_NEAR(sum, 0, 1e-7, "row %d sums to 0", i);
    }
    /* The label's entry: (p - (0.9 + 0.1/C)) / b. */
    double m = 0;
    for (int c = 0; c < C; c++) m += exp(k.z[c]);
    CHECK_NEAR(dz[2], (exp(k.z[2]) / m - (0.9 + 0.1 / C)) / B, 1e-7, "label entry");
}

static void test_l2(void) {
    float w[7] = {0.5f, -1.5f, 2.0f, 0.25f, -0.75f, 3.0f, -2.0f}, dw[7] = {0};
    double sq = 0;
    for (int i = 0; i < 7; i++) sq += (double)w[i] * w[i];
    CHECK_NEAR(l2_penalty(w, 7, 5e-4f), 5e-4 * sq, 1e-9, "lambda * sum w^2, no 1/2");
    l2_backward(dw, w, 7, 5e-4f);
    CHECK_NEAR(dw[2], 2 * 5e-4 * 2.0, 1e-9, "gradient 2 lambda w");
    /* Central differences of the penalty. */
    float num[7], g[7] = {0};
    l2_backward(g, w, 7, 0.3f);
    for (int i = 0; i < 7; i++) {
        float old = w[i];
        w[i] = old + 1e-2f; double up = w[i], lp = l2_penalty(w, 7, 0.3f);
        w[i] = old - 1e-2f; double dn = w[i], lm = l2_penalty(w, 7, 0.3f);
        w[i] = old;
        num[i] = (float)((lp - lm) / (up - dn));
    }
    CHECK(rel_l2(g, num, 7) < 2e-4, "l2 gradient rel err %g", rel_l2(g, num, 7));
    /* Large vectors: chunked sum gives the same value. */
    enum { NL = 300000 };
    float *big = malloc(NL * sizeof *big);
    double want = 0;
    for (int i = 0; i < NL; i++) { big[i] = (float)((i % 13) - 6) * 0.01f; want += (double)big[i] * big[i]; }
    CHECK_NEAR(l2_penalty(big, NL, 1.0f), want, 1e-6 * want, "chunked sum");
    free(big);
}

/* loss_l2 over a head touches exactly the two Dense kernels. */
static void test_head_l2(void) {
    Head h;
    Err e;
    HeadSpec spec = {.in_dim = 4, .hidden = 3, .classes = 2, .batchnorm = 1, .dropout = 0, .max_batch = 2, .seed = 1};
    CHECK_OK(head_create(&h, &spec, &e), &e);
    for (size_t i = 0; i < h.n_params; i++) h.params[i] = 0.1f * (float)(i % 7) + 0.05f;
    double sq = 0;
    for (int i = 0; i < 4 * 3; i++) sq += (double)h.w1[i] * h.w1[i];
    for (int i = 0; i < 3 * 2; i++) sq += (double)h.w2[i] * h.w2[i];
    memset(h.grads, 0, h.n_params * sizeof(float));
    float pen = loss_l2(&h, 0.01f, 1);
    CHECK_NEAR(pen, 0.01 * sq, 1e-6, "penalty over both kernels only");
    CHECK_NEAR(h.d_w1[5], 0.02 * h.w1[5], 1e-8, "kernel gradient");
    CHECK(h.d_b1[0] == 0 && h.d_bn_gamma[0] == 0 && h.d_b2[1] == 0, "no L2 on biases or BN");
    CHECK(loss_l2(&h, 0.0f, 1) == 0.0f, "lambda 0");
    head_free(&h);
}

int main(void) {
    test_xent_values();
    test_xent_gradient();
    test_l2();
    test_head_l2();
    return TEST_END();
}
