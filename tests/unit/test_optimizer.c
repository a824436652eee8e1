/* Adam against a 3-step sequence computed from Keras's Adam formula in numpy float32
 * (m += (g-m)(1-b1); v += (g^2-v)(1-b2); alpha = lr sqrt(1-b2^t)/(1-b1^t);
 * w -= m alpha / (sqrt(v) + eps)), and Keras SGD with momentum / Nesterov by hand. */
#include <string.h>

#include "test_util.h"
#include "model/optimizer.h"

/* Relative closeness to a float32 reference (a couple of ulps). */
static int close_f32(float got, double want) { return fabs(got - want) <= 2.5e-7 * fabs(want) + 1e-12; }

static void test_adam_sequence(void) {
    /* Arena: 4 trainable parameters, then 2 frozen ones (like BN moving statistics). */
    float w[6] = {0.5f, -1.0f, 2.0f, 0.1f, 7.0f, -7.0f};
    const float g[3][6] = {{0.1f, -0.2f, 0.3f, 1e-6f, 1, 1},
                           {-0.05f, 0.4f, 0.3f, 2e-6f, 1, 1},
                           {0.2f, 0.0f, -0.1f, -1e-6f, 1, 1}};
    /* numpy float32 replay of the formula, printed with repr(float(x)). */
    const double want[3][4] = {
        {0.49900004267692566, -0.9990000128746033, 1.999000072479248, 0.09975975006818771},
        {0.4987337291240692, -0.9993661046028137, 1.998000144958496, 0.09935998916625977},
        {0.4980756342411041, -0.9996491074562073, 1.9973944425582886, 0.09917667508125305}};
    const double want_m3[4] = {0.023600002750754356, 0.01980000175535679, 0.04130000248551369, 1.610000026630587e-07};
    const double want_v3[4] = {5.247751687420532e-05, 0.00019976006296928972, 0.00018973011174239218, 5.9940011226742706e-15};
    Optimizer o;
    Err e;
    OptimizerSpec spec = {.kind = OPT_ADAM, .beta_1 = 0.9, .beta_2 = 0.999, .epsilon = 1e-7};
    CHECK_OK(optimizer_create(&o, &spec, 6, &e), &e);
    CHECK_OK(optimizer_add_range(&o, 0, 2, &e), &e);
    CHECK_OK(optimizer_add_range(&o, 2, 2, &e), &e);
    CHECK(o.n_ranges == 1 && o.ranges[0].count == 4, "adjacent ranges merge");
    for (int t = 0; t < 3; t++) {
        optimizer_step(&o, w, g[t], 0.001f);
        for (int i = 0; i < 4; i++) CHECK(close_f32(w[i], want[t][i]), "step %d w[%d] = %.9g, want %.9g", t + 1, i, w[i], want[t][i]);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(close_f32(o.m[i], want_m3[i]), "m[%d] = %.9g", i, o.m[i]);
        CHECK(close_f32(o.v[i], want_v3[i]), "v[%d] = %.9g", i, o.v[i]);
    }
    CHECK(o.iterations == 3, "iterations %ld", o.iterations);
    CHECK(w[4] == 7.0f && w[5] == -7.0f && o.m[4] == 0 && o.v[5] == 0, "non-trainable entries untouched");
    /* Epsilon-hat: with gradients ~1e-6, eps on sqrt(v) (not on sqrt(v-hat)) changes the
     * step a lot; the textbook m-hat/(sqrt(v-hat)+eps) form would move w[3] by ~2.2e-3 in total. */
    CHECK(fabs(w[3] - 0.1) > 5e-4 && fabs(w[3] - 0.1) < 1.5e-3, "epsilon-hat step size %g", fabs(w[3] - 0.1));
    optimizer_free(&o);
}

static void test_sgd(void) {
    Err e;
    const float g1[1] = {0.5f}, g2[1] = {0.5f};
    for (int variant = 0; variant < 3; variant++) {
        OptimizerSpec spec = {.kind = OPT_SGD, .momentum = variant ? 0.9 : 0.0, .nesterov = variant == 2};
        Optimizer o;
        float w[1] = {1.0f};
        CHECK_OK(optimizer_create(&o, &spec, 1, &e), &e);
        CHECK_OK(optimizer_add_range(&o, 0, 1, &e), &e);
        optimizer_step(&o, w, g1, 0.1f);
        optimizer_step(&o, w, g2, 0.1f);
        /* plain: 1 - 0.05 - 0.05; momentum: m1 = -0.05, m2 = -0.05 - 0.045 = -0.095,
         * w = 1 + m1 + m2; nesterov: w += -g lr + momentum m_new each step. */
        const double want[3] = {0.9, 0.855, 1 + (-0.05 - 0.045) + (-0.05 - 0.0855)};
        CHECK_NEAR(w[0], want[variant], 1e-6, "sgd variant %d: %.9g vs %.9g", variant, w[0], want[variant]);
        optimizer_free(&o);
    }
    OptimizerSpec bad = {.kind = OPT_SGD, .momentum = 1.0};
    Optimizer o;
    CHECK(optimizer_create(&o, &bad, 1, &e) != 0, "momentum 1 rejected");
    OptimizerKind k;
    CHECK(optimizer_kind_parse("adam", &k, &e) == 0 && k == OPT_ADAM, "parse adam");
    CHECK(optimizer_kind_parse("rmsprop", &k, &e) != 0 && strstr(e.msg, "rmsprop"), "unknown optimizer named");
    CHECK_OK(optimizer_create(&o, &(OptimizerSpec){.kind = OPT_ADAM, .beta_1 = 0.9, .beta_2 = 0.999, .epsilon = 1e-7}, 4, &e), &e);
    CHECK(optimizer_add_range(&o, 3, 2, &e) != 0, "range past the arena rejected");
    optimizer_free(&o);
}

/* Large arenas take the OpenMP path; results must equal the element-wise formula. */
static void test_adam_threads_agree(void) {
    enum { NB = 200003 };
    float *w = malloc(NB * sizeof *w), *g = malloc(NB * sizeof *g), *w1 = malloc(NB * sizeof *w1);
    for (int i = 0; i < NB; i++) { w[i] = w1[i] = (float)((i % 101) - 50) * 0.01f; g[i] = (float)((i % 37) - 18) * 0.001f; }
    Optimizer big, one;
    Err e;
    OptimizerSpec spec = {.kind = OPT_ADAM, .beta_1 = 0.9, .beta_2 = 0.999, .epsilon = 1e-7};
    CHECK_OK(optimizer_create(&big, &spec, NB, &e), &e);
    CHECK_OK(optimizer_add_range(&big, 0, NB, &e), &e);
    CHECK_OK(optimizer_create(&one, &spec, 1, &e), &e);
    CHECK_OK(optimizer_add_range(&one, 0, 1, &e), &e);
    for (int s = 0; s < 2; s++) optimizer_step(&big, w, g, 1e-3f);
    int same = 1;
    for (int i = 0; i < NB; i += 9973) {
        float wi = w1[i];
        memset(one.m, 0, sizeof(float)); memset(one.v, 0, sizeof(float)); one.iterations = 0;
        for (int s = 0; s < 2; s++) optimizer_step(&one, &wi, &g[i], 1e-3f);
        same &= wi == w[i];
    }
    CHECK(same, "threaded update equals the single-element update bit for bit");
    optimizer_free(&big);
    optimizer_free(&one);
    free(w); free(g); free(w1);
}

int main(void) {
    test_adam_sequence();
    test_sgd();
    test_adam_threads_agree();
    return TEST_END();
}
