/* Trial ids and value texts (sweep/trial_id.c): readable, stable, unique. */
#include "../../sweep/trial_id.c"

#include <string.h>

#include "test_util.h"

static void check_compact(double v, const char *want) {
    char buf[64];
    format_number_compact(v, buf, sizeof buf);
    CHECK(strcmp(buf, want) == 0, "compact %.17g -> '%s', want '%s'", v, buf, want);
}

static void check_shortest(double v, const char *want) {
    char buf[64];
    format_number_shortest(v, buf, sizeof buf);
    CHECK(strcmp(buf, want) == 0, "shortest %.17g -> '%s', want '%s'", v, buf, want);
    CHECK(strtod(buf, NULL) == v, "'%s' does not read back as %.17g", buf, v);
}

static void test_numbers(void) {
    check_compact(0.4, "0.4");
    check_compact(5e-4, "5e-4");
    check_compact(1e-3, "1e-3");
    check_compact(0.25, "0.25");
    check_compact(42, "42");
    check_compact(-0.5, "-0.5");
    check_compact(1e-5, "1e-5");
    check_compact(2.5e-4, "2.5e-4");
    check_compact(1e7, "1e7");
    check_compact(0.1 + 0.2, "0.30000000000000004");
    check_shortest(0.0005, "0.0005");
    check_shortest(1e-05, "1e-05");
    check_shortest(0.1, "0.1");
    check_shortest(42, "42");
    check_shortest(30, "30");          /* %g alone gives "3e+01", which an int key refuses */
    check_shortest(100, "100");
    check_shortest(-2000, "-2000");
    check_shortest(1e20, "1e+20");
    double v;
    CHECK(scalar_is_number("5.0e-4", 0, &v) && v == 5e-4, "5.0e-4 is a number");
    CHECK(!scalar_is_number("5.0e-4", 1, &v), "a quoted scalar is a string");
    CHECK(!scalar_is_number("reflect", 0, &v), "text is not a number");
    CHECK(!scalar_is_number("nan", 0, &v) && !scalar_is_number("0x10", 0, &v), "no nan or hex");
    CHECK(!scalar_is_number("", 0, &v), "empty is not a number");
}

static void test_values(void) {
    char buf[VALUE_TEXT_MAX];
    value_canonical("5.0e-4", 0, buf, sizeof buf);
    CHECK(strcmp(buf, "0.0005") == 0, "canonical 5.0e-4 -> %s", buf);
    value_canonical("1.0", 1, buf, sizeof buf);
    CHECK(strcmp(buf, "1.0") == 0, "a quoted value stays as written: %s", buf);
    value_compact("random:1", 0, buf, sizeof buf);
    CHECK(strcmp(buf, "random-1") == 0, "random:1 -> %s", buf);
    value_compact("weights/resnet50 notop.h5", 0, buf, sizeof buf);
    CHECK(strcmp(buf, "weights-resnet50-notop.h5") == 0, "path -> %s", buf);
    value_compact("../x", 0, buf, sizeof buf);
    CHECK(buf[0] != '.' && buf[0] != '-' && !strchr(buf, '/'), "no hidden or relative names: %s", buf);
    value_compact("a_very_long_value_that_goes_on_and_on_and_on_forever", 0, buf, sizeof buf);
    CHECK(strlen(buf) == 32, "values are cut at 32 characters: %zu", strlen(buf));
    value_compact("::", 0, buf, sizeof buf);
    CHECK(strcmp(buf, "x") == 0, "nothing usable -> x: %s", buf);
}

static void test_labels(void) {
    const char *paths[] = {"model.head.dropout", "train.seed", "schedule.patience", "callbacks.early_stopping.patience",
                           "schedule.name", "a.b.c"};
    char labels[6][AXIS_LABEL_MAX];
    axis_labels(paths, 6, labels);
    CHECK(strcmp(labels[0], "dropout") == 0, "%s", labels[0]);
    CHECK(strcmp(labels[1], "seed") == 0, "%s", labels[1]);
    CHECK(strcmp(labels[2], "schedule.patience") == 0, "%s", labels[2]);
    CHECK(strcmp(labels[3], "early_stopping.patience") == 0, "%s", labels[3]);
    CHECK(strcmp(labels[4], "schedule.name") == 0, "generic name keeps its parent: %s", labels[4]);
    CHECK(strcmp(labels[5], "c") == 0, "%s", labels[5]);
    const char *same[] = {"x.lr", "x.lr"};
    char l2[2][AXIS_LABEL_MAX];
    axis_labels(same, 2, l2);
    CHECK(strcmp(l2[0], "x.lr") == 0, "identical paths end at the whole path: %s", l2[0]);
}

static void test_ids(void) {
    char labels[2][AXIS_LABEL_MAX] = {"dropout", "seed"};
    const char *values[] = {"0.4", "42"};
    char id[TRIAL_ID_MAX];
    trial_id_make((const char (*)[AXIS_LABEL_MAX])labels, values, 2, id);
    CHECK(strcmp(id, "dropout-0.4_seed-42") == 0, "id %s", id);
    trial_id_make(NULL, NULL, 0, id);
    CHECK(strcmp(id, "base") == 0, "no axes -> base: %s", id);

    char many[8][AXIS_LABEL_MAX];
    const char *vals[8];
    for (int i = 0; i < 8; i++) snprintf(many[i], AXIS_LABEL_MAX, "some_long_axis_name_%d", i), vals[i] = "0.123456";
    char a[TRIAL_ID_MAX], b[TRIAL_ID_MAX];
    trial_id_make((const char (*)[AXIS_LABEL_MAX])many, vals, 8, a);
    vals[7] = "0.654321";
    trial_id_make((const char (*)[AXIS_LABEL_MAX])many, vals, 8, b);
    CHECK(strlen(a) <= 100 && strlen(b) <= 100, "long ids are cut: %zu", strlen(a));
    CHECK(strcmp(a, b) != 0, "cut ids differ by their hash: %s vs %s", a, b);
    char again[TRIAL_ID_MAX];
    trial_id_make((const char (*)[AXIS_LABEL_MAX])many, vals, 8, again);
    CHECK(strcmp(again, b) == 0, "the same values give the same id");

    char ids[4][TRIAL_ID_MAX] = {"a", "b", "a", "a"};
    CHECK(trial_ids_dedupe(ids, 4) == 2, "two duplicates renamed");
    CHECK(!strcmp(ids[0], "a") && !strcmp(ids[2], "a_2") && !strcmp(ids[3], "a_3"), "%s %s %s", ids[0], ids[2], ids[3]);
    char clash[3][TRIAL_ID_MAX] = {"a_2", "a", "a"};
    trial_ids_dedupe(clash, 3);
    CHECK(strcmp(clash[2], "a_3") == 0, "skips a suffix already taken: %s", clash[2]);
}

/* The dedupe as it was specified first (quadratic): the reference for the linear one. */
static void dedupe_reference(char (*ids)[TRIAL_ID_MAX], int n) {
    for (int i = 1; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= strcmp(ids[i], ids[j]) == 0;
        if (!seen) continue;
        char cand[TRIAL_ID_MAX];
        for (int k = 2, taken = 1; taken; k++) {
            snprintf(cand, sizeof cand, "%.115s_%d", ids[i], k);
            taken = 0;
            for (int j = 0; j < n; j++) taken |= j != i && strcmp(ids[j], cand) == 0;
        }
        memcpy(ids[i], cand, TRIAL_ID_MAX);
    }
}

/* Random ids over a few values, some of them already suffixed ("a_2"), against the
 * reference; then a whole sweep of one id (a random sweep over a one-value axis), which
 * took cubic time before (fuzz_sweep: a grid of duplicated ids ran past its timeout). */
static void test_dedupe_large(void) {
    static const char *const pool[] = {"a", "a_2", "a_3", "b", "a_2_2", "b_10"};
    enum { N = 60, BIG = 100000 };
    Rng r;
    rng_init(&r, 3, RNG_INIT, 0, 0);
    int bad = 0;
    for (int round = 0; round < 200; round++) {
        char got[N][TRIAL_ID_MAX], want[N][TRIAL_ID_MAX];
        for (int i = 0; i < N; i++) snprintf(got[i], TRIAL_ID_MAX, "%s", pool[rng_u32(&r) % 6]);
        memcpy(want, got, sizeof got);
        trial_ids_dedupe(got, N);
        dedupe_reference(want, N);
        int same = 1;
        for (int i = 0; i < N; i++) same &= strcmp(got[i], want[i]) == 0;
        bad += !same;
    }
    CHECK(bad == 0, "%d of 200 random id lists deduped unlike the reference", bad);
    char (*ids)[TRIAL_ID_MAX] = malloc((size_t)BIG * TRIAL_ID_MAX);
    for (int i = 0; ids && i < BIG; i++) snprintf(ids[i], TRIAL_ID_MAX, "dropout-0.5");
    CHECK(ids && trial_ids_dedupe(ids, BIG) == BIG - 1, "every copy renamed");
    CHECK(ids && !strcmp(ids[1], "dropout-0.5_2") && !strcmp(ids[BIG - 1], "dropout-0.5_100000"), "%s", ids ? ids[BIG - 1] : "");
    free(ids);
}

int main(void) {
    test_numbers();
    test_values();
    test_labels();
    test_ids();
    test_dedupe_large();
    return TEST_END();
}
