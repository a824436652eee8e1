/* The TPE sampler and its study (sweep/tpe.c, truncnorm.c, study.c): the normal's tails
 * against mpmath values, Optuna's kernels on hand-computed cases, the good/bad split,
 * determinism, the study journal replayed after a kill, and the search itself on
 * synthetic objectives against random search (the same sweep file with method: random).
 *
 * Documented expectation (README "tpe"): averaged over 20 seeds, TPE reaches the optimum's
 * neighbourhood in at most a third of the draws random search needs on the 1-D and the
 * 2-D (log-uniform x uniform) objective and on an integer x choice one. */
#include "../../sweep/csv.c"
#include "../../sweep/expand.c"
#include "../../sweep/results.c"
#include "../../sweep/study.c"
#include "../../sweep/sweep_spec.c"
#include "../../sweep/tpe.c"
#include "../../sweep/trial_id.c"
#include "../../sweep/truncnorm.c"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static void test_normal(void) {
    CHECK_NEAR(ndtri(0.5), 0, 1e-15, "ndtri(0.5)");
    CHECK_NEAR(ndtri(0.975), 1.959963984540054, 1e-13, "ndtri(0.975) = %.17g", ndtri(0.975));
    CHECK_NEAR(ndtri(1e-10), -6.361340902404056, 1e-12, "ndtri(1e-10) = %.17g", ndtri(1e-10));
    CHECK_NEAR(log_ndtr(-8), -35.01343715991455, 1e-11, "log_ndtr(-8) = %.17g", log_ndtr(-8));
    CHECK_NEAR(log_ndtr(-38), -726.5572160188201, 1e-9, "log_ndtr(-38) (series) = %.17g", log_ndtr(-38));
    CHECK_NEAR(log_ndtr(-40), -804.6084420137538, 1e-9, "log_ndtr(-40) = %.17g", log_ndtr(-40));
    /* 50 sigmas into either tail: a mass of e^-1254, still a finite logarithm. */
    CHECK_NEAR(log_normal_mass(-51, -50), -1254.831361139420, 1e-8, "lower tail %.17g", log_normal_mass(-51, -50));
    CHECK_NEAR(log_normal_mass(50, 51), -1254.831361139420, 1e-8, "upper tail %.17g", log_normal_mass(50, 51));
    /* N(0, 1) on [0, 2]: mean (phi(0) - phi(2)) / (Phi(2) - Phi(0)), by quadrature over u. */
    double sum = 0, lo_s = 1, hi_s = 0;
    int n = 100000;
    for (int i = 0; i < n; i++) {
        double x = truncnorm_sample(0, 1, 0, 2, (i + 0.5) / n);
        sum += x, lo_s = fmin(lo_s, x), hi_s = fmax(hi_s, x);
    }
    CHECK_NEAR(sum / n, 0.7227897522452308, 1e-5, "truncated mean %.8f", sum / n);
    CHECK(lo_s >= 0 && hi_s <= 2, "samples inside [0, 2]: %g %g", lo_s, hi_s);
    CHECK_NEAR(truncnorm_sample(3, 0.1, 0, 10, 0), 0, 1e-9, "u = 0 gives the lower end, 30 sigmas away");
    double area = 0, mass = 0;
    for (int i = 0; i < 20000; i++) area += exp(truncnorm_log_pdf(-1 + (i + 0.5) * 4.0 / 20000, 0.3, 0.7, -1, 3)) * 4.0 / 20000;
    for (int k = 1; k <= 9; k++) mass += exp(truncnorm_log_mass_int(k, 4, 2.5, 0.5, 9.5));
    CHECK_NEAR(area, 1, 1e-6, "density integrates to 1: %.9f", area);
    CHECK_NEAR(mass, 1, 1e-12, "integer masses sum to 1: %.15f", mass);
}

/* Optuna 5's kernels, computed by hand from its parzen_estimator.py's rules. */
static void test_kernels(void) {
    Err e;
    Parzen p;
    TpeDim u = {TPE_UNIFORM, 0, 10, 0};
    /* centres 2, 5, 9 in [0, 10], between the ends 0 and 10: 2 and 9 are the outermost and
     * take their inner gaps (3, 4); 5 takes max(3, 4); min sigma = 10 / min(100, 3 + 2). */
    CHECK_OK(parzen_build(&p, &u, (double[]){9, 2, 5}, 3, 1.0, &e), &e);
    CHECK(p.n == 4 && p.sigma[0] == 4 && p.sigma[1] == 3 && p.sigma[2] == 4 && p.sigma[3] == 10 && p.mu[3] == 5,
          "sigmas %g %g %g, prior %g", p.sigma[0], p.sigma[1], p.sigma[2], p.sigma[3]);
    CHECK_NEAR(p.w[0], 1.0 / 4, 1e-15, "equal weights");
    parzen_free(&p);
    /* centres 0.1 and 0.2 crowd the end: both sigmas clip at 10 / 4 = 2.5. */
    CHECK_OK(parzen_build(&p, &u, (double[]){0.1, 0.2}, 2, 1.0, &e), &e);
    CHECK(p.sigma[0] == 2.5 && p.sigma[1] == 2.5, "clipped %g %g", p.sigma[0], p.sigma[1]);
    parzen_free(&p);
    /* one centre: its larger gap to the ends, 8. */
    CHECK_OK(parzen_build(&p, &u, (double[]){2}, 1, 1.0, &e), &e);
    CHECK(p.sigma[0] == 8, "one observation %g", p.sigma[0]);
    parzen_free(&p);
    /* log_uniform works on log(x): the prior sits at log(sqrt(lo hi)). */
    TpeDim lg = {TPE_LOG_UNIFORM, 1e-4, 1e-2, 0};
    CHECK_OK(parzen_build(&p, &lg, (double[]){1e-3}, 1, 1.0, &e), &e);
    CHECK_NEAR(p.mu[0], log(1e-3), 1e-12, "log centre");
    CHECK_NEAR(p.mu[1], log(1e-3), 1e-12, "prior at the geometric middle");
    parzen_free(&p);
    /* 30 observations: the oldest 5 ramp from 1/30 to 1 (numpy.linspace), the newest 25 weigh 1. */
    double vals[30], w[31];
    for (int i = 0; i < 30; i++) vals[i] = i % 10;
    observation_weights(30, w);
    CHECK(w[0] == 1.0 / 30 && w[4] == 1 && w[5] == 1 && fabs(w[2] - (1.0 / 30 + (29.0 / 30) / 2)) < 1e-15, "ramp %g %g %g", w[0], w[2], w[4]);
    /* choice: each observation puts prior_weight / (n + 1) on every choice and 1 on its own. */
    TpeDim c = {TPE_CHOICE, 0, 0, 3};
    CHECK_OK(parzen_build(&p, &c, (double[]){2, 2, 0}, 3, 1.0, &e), &e);
    CHECK_NEAR(p.p[2], 1.25 / 1.75, 1e-15, "observed choice");
    CHECK_NEAR(p.p[0], 0.25 / 1.75, 1e-15, "other choice");
    CHECK_NEAR(p.p[3 * 3 + 1], 1.0 / 3, 1e-15, "uniform prior");
    CHECK_NEAR(exp(parzen_log_pdf(&p, &c, 2)), (2 * 1.25 / 1.75 + 0.25 / 1.75 + 1.0 / 3) / 4, 1e-15, "mixture of choice 2");
    parzen_free(&p);
    (void)vals;
}

/* Good / bad: complete trials by score, then pruned ones (more epochs first); gamma. */
static void test_split(void) {
    double x = 0;
    TpeObs obs[6] = {{&x, 3, 0, 0}, {&x, 1, 0, 0}, {&x, 2, 0, 0}, {&x, NAN, 0, 0}, {&x, 0, 1, 5}, {&x, 7, 1, 9}};
    int good[6];
    Err e;
    TpeOptions o;
    tpe_options_default(&o);
    CHECK(tpe_n_good(&o, 6) == 1 && tpe_n_good(&o, 11) == 2 && tpe_n_good(&o, 1000) == 25, "n_good: ceil(0.1 n), at most 25");
    CHECK_OK(split_good(obs, 6, 3, good, &e), &e);
    CHECK(good[0] && good[1] && good[2] && !good[3] && !good[4] && !good[5], "the three best complete trials");
    CHECK_OK(split_good(obs, 6, 5, good, &e), &e);
    CHECK(good[3] && good[5] && !good[4], "diverged before pruned; pruned at epoch 9 before pruned at 5 despite its score");
}

static void test_suggest(void) {
    TpeDim dims[3] = {{TPE_CHOICE, 0, 0, 3}, {TPE_INT, 1, 6, 0}, {TPE_LOG_UNIFORM, 1e-4, 1e-1, 0}};
    double xs[12][3], out[3], again[3];
    TpeObs obs[12];
    for (int i = 0; i < 12; i++) {
        int good = i % 3 == 0;   /* the good trials chose 2, 6 and 1e-2; the bad 0, 1 and 1e-4 */
        xs[i][0] = good ? 2 : 0, xs[i][1] = good ? 6 : 1, xs[i][2] = good ? 1e-2 : 1e-4;
        obs[i] = (TpeObs){.x = xs[i], .score = good ? i : 100 + i};
    }
    TpeOptions o;
    tpe_options_default(&o);
    o.gamma = 0.34;   /* 5 good of 12: the 4 good trials and the best bad one */
    Err e;
    CHECK(tpe_suggest(dims, 3, &o, 7, 20, obs, 9, out, &e) == 1, "below 10 observations: random");
    CHECK_OK(tpe_suggest(dims, 3, &o, 7, 20, obs, 12, out, &e), &e);
    CHECK_OK(tpe_suggest(dims, 3, &o, 7, 20, obs, 12, again, &e), &e);
    CHECK(memcmp(out, again, sizeof out) == 0, "the same inputs give the same draw");
    CHECK(out[0] == 2 && out[1] == 6, "goes where the good trials were: choice %g, int %g", out[0], out[1]);
    CHECK(out[2] > 1e-3 && out[2] <= 1e-1, "log axis near 1e-2: %g", out[2]);
    int differs = 0;
    for (uint32_t t = 21; t < 25; t++) {
        CHECK_OK(tpe_suggest(dims, 3, &o, 7, t, obs, 12, again, &e), &e);
        differs |= again[2] != out[2];
        CHECK(again[1] == floor(again[1]) && again[1] >= 1 && again[1] <= 6, "integer in range %g", again[1]);
    }
    CHECK(differs, "other trials draw other candidates");
}

/* ---- the study ---- */

static const char *BASE = "name: t\nbase: {}\nsweep:\n";

static int parse(SweepSpec *s, const char *sweep, Err *e) {
    char text[2048];
    snprintf(text, sizeof text, "%s%s", BASE, sweep);
    return sweep_spec_parse(s, text, "test.yaml", e);
}

/* A made-up objective of the study's draw: the sum of squared distances to 0.3 (numbers,
 * log10 for log axes) and to index 1 (choices). */
static double objective(const Study *st, const double *x) {
    double f = 0;
    for (int d = 0; d < st->n_dims; d++) {
        double v = st->dims[d].kind == TPE_LOG_UNIFORM ? log10(x[d]) + 3 : st->dims[d].kind == TPE_CHOICE ? x[d] - 1 : x[d] - 0.3;
        f += v * v;
    }
    return f;
}

/* One step of a run with 3 trials in flight: tells trial `running[k]` (k by the step). */
static long next_event(long step, long *running, int *n_running) {
    int k = (int)((step * 7) % *n_running);
    long t = running[k];
    running[k] = running[--*n_running];
    return t;
}

/* Drives a study through events from..to-1 (asks until 3 run, then a tell). */
static int drive(Study *st, TrialSet *ts, long *running, int *n_running, long from, long to, Err *e) {
    for (long step = from; step < to; step++) {
        long t;
        if (*n_running < 3 && st->n_asked < st->spec->n_trials) {
            if (study_ask(st, ts, &t, e)) return -1;
            running[(*n_running)++] = t;
        } else if (*n_running > 0) {
            t = next_event(step, running, n_running);
            if (study_tell(st, t, STATUS_DONE, objective(st, st->x + t * st->n_dims), 10, e)) return -1;
        }
    }
    return 0;
}

static const char *STUDY_SWEEP =
    "  method: tpe\n  trials: 30\n  seed: 5\n  tpe: {startup_trials: 5, metric: val_loss}\n  axes:\n"
    "    a.u: {uniform: [0, 1]}\n    a.l: {log_uniform: [1.0e-5, 1.0e-1]}\n    a.i: {int_uniform: [1, 9]}\n"
    "    a.c: [x, y, z]\n  zip:\n    - {b.p: [1, 2], b.q: [3, 4]}\n";

static void test_study_journal(const char *dir) {
    SweepSpec s;
    Err e;
    CHECK_OK(parse(&s, STUDY_SWEEP, &e), &e);
    char d1[512], d2[512], path[600];
    snprintf(d1, sizeof d1, "%s/one", dir), snprintf(d2, sizeof d2, "%s/two", dir);
    CHECK_OK(fs_mkdir_p(d1, &e), &e);
    CHECK_OK(fs_mkdir_p(d2, &e), &e);
    /* The whole run, 70 events (30 asks, 30 tells, in a parallel-like order). */
    Study a;
    TrialSet ta;
    long running[3];
    int n_running = 0;
    CHECK_OK(sweep_expand(&s, &ta, &e), &e);
    CHECK(ta.n == 5, "5 startup trials expanded");
    CHECK_OK(study_open(&a, &s, d1, &e), &e);
    CHECK_OK(drive(&a, &ta, running, &n_running, 0, 70, &e), &e);
    CHECK(a.n_asked == 30 && a.n_obs == 30 && ta.n == 30, "30 asked %ld, told %d, in the set %d", a.n_asked, a.n_obs, ta.n);
    long t;
    CHECK(study_ask(&a, &ta, &t, &e) == 1, "no 31st trial");
    int tpe_draws = 0;
    for (long k = 5; k < 30; k++) {
        double r[8];
        sweep_random_draw(&s, k, r);
        tpe_draws += memcmp(r, a.x + k * a.n_dims, (size_t)a.n_dims * sizeof *r) != 0;
    }
    CHECK(tpe_draws >= 20, "after the startup trials TPE draws (%d of 25 differ from random search's)", tpe_draws);

    /* A kill after 41 events: the journal up to there plus a torn line. */
    char *text;
    snprintf(path, sizeof path, "%s/study.csv", d1);
    CHECK_OK(fs_read_all(path, &text, NULL, &e), &e);
    char *cut = text;
    for (int line = 0; line < 1 + 41; line++) cut = strchr(cut, '\n') + 1;
    snprintf(cut, 16, "tell,1");   /* no newline: torn */
    snprintf(path, sizeof path, "%s/study.csv", d2);
    CHECK_OK(fs_write_atomic(path, text, strlen(text), &e), &e);
    free(text);

    /* The run again, uninterrupted up to 41 events, as the reference. */
    Study ref, b;
    TrialSet tr, tb;
    long run_ref[3], run_b[3];
    int n_ref = 0, n_b;
    CHECK_OK(sweep_expand(&s, &tr, &e), &e);
    CHECK_OK(study_open(&ref, &s, NULL, &e), &e);
    CHECK_OK(drive(&ref, &tr, run_ref, &n_ref, 0, 41, &e), &e);
    CHECK_OK(sweep_expand(&s, &tb, &e), &e);
    CHECK_OK(study_open(&b, &s, d2, &e), &e);
    CHECK(b.n_asked == ref.n_asked && b.n_obs == ref.n_obs, "replayed %ld asks, %d tells (expected %ld, %d)", b.n_asked,
          b.n_obs, ref.n_asked, ref.n_obs);
    CHECK(b.replay_mismatches == 0, "every stored draw is what the sampler gives again: %d differ", b.replay_mismatches);
    CHECK_OK(study_fill_trials(&b, &tb, &e), &e);
    CHECK(tb.n == b.n_asked, "the set holds the drawn trials: %d", tb.n);
    for (int k = 0; k < tb.n && k < ta.n; k++) CHECK(strcmp(tb.trials[k].id, ta.trials[k].id) == 0, "same id %s", ta.trials[k].id);
    /* In flight at the kill: asked, not told. A rerun continues them; then the run goes on. */
    n_b = 0;
    for (long k = 0; k < b.n_asked; k++)
        if (!b.obs[k].told) run_b[n_b++] = k;
    CHECK(n_b == n_ref, "in flight %d vs %d", n_b, n_ref);
    memcpy(run_b, run_ref, sizeof run_b);   /* the same order of the in-flight list */
    CHECK_OK(drive(&b, &tb, run_b, &n_b, 41, 70, &e), &e);
    CHECK(b.n_asked == 30 && memcmp(b.x, a.x, (size_t)(30 * a.n_dims) * sizeof *a.x) == 0, "the resumed study draws what the whole run drew");
    study_free(&b), study_free(&ref), trial_set_free(&tb), trial_set_free(&tr);

    /* A told trial told again (a retried trial) moves to the end of the order. */
    long first = a.order[0];
    CHECK_OK(study_tell(&a, first, STATUS_PRUNED, 0.5, 3, &e), &e);
    CHECK(a.n_obs == 30 && a.order[29] == first && a.obs[first].pruned && a.obs[a.order[0]].told == 1, "retold at the end");
    CHECK(study_tell(&a, 40, STATUS_DONE, 1, 1, &e) != 0 && strstr(e.msg, "never drawn"), "%s", e.msg);
    study_free(&a), trial_set_free(&ta);

    /* A journal of another search space is refused. */
    SweepSpec s2;
    Study c;
    CHECK_OK(parse(&s2, "  method: tpe\n  trials: 3\n  axes: {a.u: {uniform: [0, 1]}}\n", &e), &e);
    CHECK(study_open(&c, &s2, d1, &e) != 0 && strstr(e.msg, "not this sweep's dimensions"), "%s", e.msg);
    study_free(&c), sweep_spec_free(&s2), sweep_spec_free(&s);
    snprintf(path, sizeof path, "%s/study.csv", d1), unlink(path), rmdir(d1);
    snprintf(path, sizeof path, "%s/study.csv", d2), unlink(path), rmdir(d2);
}

/* ---- the search on synthetic objectives ---- */

typedef double (*Objective)(const double *x);
typedef int (*Hit)(const double *x);

static double f1(const double *x) { return (x[0] - 2) * (x[0] - 2); }
static int hit1(const double *x) { return fabs(x[0] - 2) <= 0.1; }
static double f2(const double *x) { double a = log10(x[0]) + 3, b = x[1] - 0.3; return a * a + 4 * b * b; }
static int hit2(const double *x) { return fabs(log10(x[0]) + 3) <= 0.1 && fabs(x[1] - 0.3) <= 0.05; }
static double f3(const double *x) { return fabs(x[0] - 37) / 10 + (x[1] != 5); }
static int hit3(const double *x) { return fabs(x[0] - 37) <= 2 && x[1] == 5; }

/* Draws until one lands in the neighbourhood (budget + 1 when none does); sequential:
 * each result is told before the next draw. */
static int draws_to_hit(const SweepSpec *s, Objective f, Hit hit, int budget, Err *e) {
    Study st;
    TrialSet ts;
    double x[8];
    int found = budget + 1;
    if (sweep_expand(s, &ts, e) || study_open(&st, s, NULL, e)) return -1;
    for (long t = 0; t < budget && found > budget; t++) {
        long k;
        if (s->method == METHOD_TPE) {
            if (study_ask(&st, &ts, &k, e)) break;
            memcpy(x, st.x + k * st.n_dims, (size_t)st.n_dims * sizeof *x);
            if (study_tell(&st, k, STATUS_DONE, f(x), 1, e)) break;
        } else {
            sweep_random_draw(s, t, x);
        }
        if (hit(x)) found = (int)t + 1;
    }
    study_free(&st), trial_set_free(&ts);
    return found;
}

static double mean_draws(const char *method, const char *axes, Objective f, Hit hit, int seeds, int budget) {
    double sum = 0;
    for (int seed = 0; seed < seeds; seed++) {
        char text[1024];
        snprintf(text, sizeof text, "  method: %s\n  trials: %d\n  seed: %d\n%s  axes:\n%s", method, budget, seed,
                 strcmp(method, "tpe") == 0 ? "  tpe: {metric: val_loss}\n" : "", axes);
        SweepSpec s;
        Err e;
        if (parse(&s, text, &e)) { fprintf(stderr, "%s\n", e.msg); return NAN; }
        sum += draws_to_hit(&s, f, hit, budget, &e);
        sweep_spec_free(&s);
    }
    return sum / seeds;
}

/* TPE_SEEDS=200 in the environment: the README's figures (the test runs 20 seeds). */
static void search(const char *what, const char *axes, Objective f, Hit hit, double factor) {
    int seeds = getenv("TPE_SEEDS") ? atoi(getenv("TPE_SEEDS")) : 20, budget = 400;
    if (seeds < 1) seeds = 20;
    double tpe = mean_draws("tpe", axes, f, hit, seeds, budget), rnd = mean_draws("random", axes, f, hit, seeds, budget);
    printf("%s: mean draws to the neighbourhood over %d seeds (budget %d): tpe %.1f, random %.1f (%.1fx)\n", what, seeds,
           budget, tpe, rnd, rnd / tpe);
    CHECK(tpe * factor <= rnd, "%s: tpe %.1f draws is not %gx fewer than random's %.1f", what, tpe, factor, rnd);
}

static void test_search(void) {
    search("1-D, (x-2)^2 on uniform [-10, 10], |x-2| <= 0.1", "    a.x: {uniform: [-10, 10]}\n", f1, hit1, 3);
    search("2-D, lr log-uniform [1e-5, 1e-1] x dropout uniform [0, 1], lr within 10^+-0.1 of 1e-3, |dropout-0.3| <= 0.05",
           "    a.lr: {log_uniform: [1.0e-5, 1.0e-1]}\n    a.dropout: {uniform: [0, 1]}\n", f2, hit2, 3);
    search("2-D mixed, int_uniform [1, 100] x choice of 8, |n-37| <= 2 and the 6th choice",
           "    a.n: {int_uniform: [1, 100]}\n    a.c: [a, b, c, d, e, f, g, h]\n", f3, hit3, 3);
}

int main(void) {
    char dir[] = "/tmp/test_sweep_tpe.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_normal();
    test_kernels();
    test_split();
    test_suggest();
    test_study_journal(dir);
    test_search();
    rmdir(dir);
    return TEST_END();
}
