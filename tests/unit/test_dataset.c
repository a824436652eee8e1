/* Class folders -> Dataset (as flow_from_directory lists them): class order, walk order, skipped-file report,
 * errors before any work, seeded stratified validation split and train_fraction. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "data/dataset.h"
#include "test_util.h"

static char base[512];

/* Creates base/rel (an empty file) and its folders. */
static void touch(const char *rel) {
    char path[2048], dir[2048];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    Err e;
    if (fs_mkdir_p(dir, &e) != 0) { fprintf(stderr, "%s\n", e.msg); exit(2); }
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    fclose(f);
}

static void mkdir_rel(const char *rel) {
    char path[2048];
    Err e;
    snprintf(path, sizeof path, "%s/%s", base, rel);
    if (fs_mkdir_p(path, &e) != 0) { fprintf(stderr, "%s\n", e.msg); exit(2); }
}

static void fresh_tree(const char *name) {
    const char *top = getenv("TL_TESTDATA");
    Err e;
    snprintf(base, sizeof base, "%s/dataset_%s_%ld", top ? top : "/tmp", name, (long)getpid());
    fs_remove_tree(base, &e);
    if (fs_mkdir_p(base, &e) != 0) { fprintf(stderr, "%s\n", e.msg); exit(2); }
}

static void drop_tree(void) { Err e; fs_remove_tree(base, &e); }

static DataConfig config_for(const char *root_rel) {
    DataConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.root, sizeof c.root, "%s/%s", base, root_rel);
    c.image_size = 224;
    strcpy(c.interpolation, "nearest");
    c.train_fraction = 1.0;
    return c;
}

/* The item's path relative to base/root. */
static const char *rel(const DataConfig *c, const DatasetItem *it) {
    size_t n = strlen(c->root);
    return strncmp(it->path, c->root, n) == 0 && it->path[n] == '/' ? it->path + n + 1 : it->path;
}

static void test_class_and_walk_order(void) {
    fresh_tree("order");
    const char *files[] = {
        "d/train/b/1.jpg", "d/train/B/1.jpg", "d/train/10/1.jpg", "d/train/2/1.jpg",
        "d/train/a/x.jpg", "d/train/a/Z.jpg", "d/train/a/sub/y.JPG", "d/train/a/sub-z/w.jpeg",
        "d/train/a/sub/q/r.jpg", "d/train/a/c.png", "d/train/a/notes.txt", "d/train/a/ajpg",
        "d/train/README.md",
        "d/test/b/t.jpg", "d/test/B/t.jpg", "d/test/10/t.jpg", "d/test/2/t.jpg", "d/test/a/t.jpg",
        "d/test/a/u.bmp", "d/test/a/v.PNG", "d/test/2/w.png",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) touch(files[i]);
    char link[1024];
    snprintf(link, sizeof link, "%s/d/test/a/link", base);
    CHECK(symlink("../b", link) == 0, "cannot create symlink %s", link); /* os.walk does not follow it */
    DataConfig c = config_for("d");
    Dataset ds;
    Err e;
    CHECK_OK(dataset_open(&c, 42, &ds, &e), &e);
    const char *want_classes[] = {"10", "2", "B", "a", "b"};
    CHECK(ds.n_classes == 5, "n_classes %d", ds.n_classes);
    for (int i = 0; i < 5 && i < ds.n_classes; i++)
        CHECK(strcmp(ds.class_names[i], want_classes[i]) == 0, "class %d is '%s', want '%s'", i, ds.class_names[i], want_classes[i]);
    /* Keras sorts os.walk by directory path ("a/sub-z" < "a/sub/q"), then names; "ajpg" passes
     * the pure suffix test. */
    const char *want_train[] = {"train/10/1.jpg", "train/2/1.jpg", "train/B/1.jpg", "train/a/Z.jpg",
                                "train/a/ajpg", "train/a/x.jpg", "train/a/sub/y.JPG", "train/a/sub-z/w.jpeg",
                                "train/a/sub/q/r.jpg", "train/b/1.jpg"};
    const int want_label[] = {0, 1, 2, 3, 3, 3, 3, 3, 3, 4};
    CHECK(ds.train.n == 10, "train.n %d", ds.train.n);
    for (int i = 0; i < 10 && i < ds.train.n; i++) {
        CHECK(strcmp(rel(&c, &ds.train.items[i]), want_train[i]) == 0, "train[%d] = %s, want %s", i,
              rel(&c, &ds.train.items[i]), want_train[i]);
        CHECK(ds.train.items[i].label == want_label[i], "train[%d] label %d", i, ds.train.items[i].label);
    }
    CHECK(ds.test.n == 5 && ds.have_test, "test.n %d", ds.test.n);
    CHECK(ds.validation.n == 0 && !ds.validation_carved, "validation.n %d", ds.validation.n);
    CHECK(strstr(ds.report, "skipped 2 non-JPEG files in train/ (1 .png, 1 .txt)") != NULL, "report:\n%s", ds.report);
    CHECK(strstr(ds.report, "skipped 4 non-JPEG files in test/ (2 .png, 1 (symlinked folder), 1 .bmp)") != NULL, "report:\n%s", ds.report);
    CHECK(strstr(ds.report, "ignored 1 file outside class folders in train/") != NULL, "report:\n%s", ds.report);
    CHECK(strstr(ds.report, "no validation/ folder and validation_split 0") != NULL, "report:\n%s", ds.report);
    dataset_free(&ds);

    /* Explicit class order: labels follow the list; unlisted folders are ignored and reported. */
    char *listed[] = {"b", "a"};
    c.classes = listed;
    c.n_classes_listed = 2;
    CHECK_OK(dataset_open(&c, 42, &ds, &e), &e);
    CHECK(ds.n_classes == 2 && strcmp(ds.class_names[0], "b") == 0, "explicit classes not kept in order");
    CHECK(ds.train.n == 7 && ds.train.items[0].label == 0 && strcmp(rel(&c, &ds.train.items[0]), "train/b/1.jpg") == 0,
          "explicit classes: train.n %d", ds.train.n);
    CHECK(ds.train.items[1].label == 1 && strcmp(rel(&c, &ds.train.items[1]), "train/a/Z.jpg") == 0, "second item wrong");
    CHECK(strstr(ds.report, "ignored 3 folder(s) of train/ not in data.classes: 10, 2, B") != NULL, "report:\n%s", ds.report);
    dataset_free(&ds);
    drop_tree();
}

static void expect_error(const DataConfig *c, const char *needle, const char *what) {
    Dataset ds;
    Err e = {{0}};
    int rc = dataset_open(c, 1, &ds, &e);
    CHECK(rc == -1, "%s: dataset_open succeeded", what);
    CHECK(strstr(e.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, e.msg, needle);
    CHECK(ds.n_classes == 0 && ds.train.n == 0 && ds.train.items == NULL, "%s: dataset not left empty", what);
}

static void test_errors(void) {
    fresh_tree("errors");
    DataConfig c = config_for("nope");
    expect_error(&c, "nope", "missing root");
    mkdir_rel("r1/test");
    c = config_for("r1");
    expect_error(&c, "r1/train", "missing train/");
    mkdir_rel("r2/train");
    touch("r2/train/loose.jpg");
    c = config_for("r2");
    expect_error(&c, "no class folders", "train/ without class folders");
    touch("r3/train/a/1.jpg");
    touch("r3/train/b/1.png");
    c = config_for("r3");
    expect_error(&c, "r3/train/b", "class folder without JPEG");
    touch("r4/train/a/1.jpg");
    touch("r4/train/b/1.jpg");
    touch("r4/validation/a/1.jpg");
    touch("r4/validation/b/1.jpg");
    touch("r4/validation/c/1.jpg");
    c = config_for("r4");
    expect_error(&c, "r4/validation/c", "extra class in validation/");
    touch("r5/train/a/1.jpg");
    touch("r5/train/b/1.jpg");
    touch("r5/test/a/1.jpg");
    c = config_for("r5");
    expect_error(&c, "r5/test/b", "class missing from test/");
    char *listed[] = {"a", "zz"};
    c = config_for("r5");
    c.classes = listed;
    c.n_classes_listed = 2;
    expect_error(&c, "r5/train/zz", "listed class without a folder");
    char *twice[] = {"a", "a"};
    c.classes = twice;
    expect_error(&c, "listed twice", "duplicate listed class");
    drop_tree();
}

static int count_label(const DatasetSplit *s, int label) {
    int n = 0;
    for (int i = 0; i < s->n; i++) n += s->items[i].label == label;
    return n;
}

static int contains(const DatasetSplit *s, const char *path) {
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->items[i].path, path) == 0) return 1;
    return 0;
}

static int same_split(const DatasetSplit *a, const DatasetSplit *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->items[i].path, b->items[i].path) != 0 || a->items[i].label != b->items[i].label) return 0;
    return 1;
}

/* Items of each class in walk order (sorted paths within a flat class folder). */
static int in_order(const DatasetSplit *s) {
    for (int i = 1; i < s->n; i++) {
        if (s->items[i].label < s->items[i - 1].label) return 0;
        if (s->items[i].label == s->items[i - 1].label && strcmp(s->items[i].path, s->items[i - 1].path) <= 0) return 0;
    }
    return 1;
}

static void test_split_and_fraction(void) {
    fresh_tree("split");
    char name[64];
    for (int i = 0; i < 10; i++) { snprintf(name, sizeof name, "d/train/cat/%02d.jpg", i); touch(name); }
    for (int i = 0; i < 7; i++) { snprintf(name, sizeof name, "d/train/dog/%02d.jpg", i); touch(name); }
    DataConfig c = config_for("d");
    c.validation_split = 0.3;
    Dataset a, b, d, full;
    Err e;
    CHECK_OK(dataset_open(&c, 42, &a, &e), &e);
    CHECK_OK(dataset_open(&c, 42, &b, &e), &e);
    CHECK(a.validation_carved, "validation not marked carved");
    CHECK(count_label(&a.validation, 0) == 3 && count_label(&a.validation, 1) == 2,
          "stratified counts %d %d (want int(0.3*10)=3, int(0.3*7)=2)", count_label(&a.validation, 0), count_label(&a.validation, 1));
    CHECK(a.train.n == 12, "train keeps the rest: %d", a.train.n);
    int overlap = 0;
    for (int i = 0; i < a.validation.n; i++) overlap += contains(&a.train, a.validation.items[i].path);
    CHECK(overlap == 0, "%d images in both train and validation", overlap);
    CHECK(in_order(&a.train) && in_order(&a.validation), "splits not in class/file order");
    CHECK(same_split(&a.validation, &b.validation) && same_split(&a.train, &b.train), "same seed gave a different split");
    int differs = 0;
    for (long seed = 43; seed < 48 && !differs; seed++) {
        CHECK_OK(dataset_open(&c, seed, &d, &e), &e);
        differs = !same_split(&a.validation, &d.validation);
        dataset_free(&d);
    }
    CHECK(differs, "the split does not depend on the seed");
    CHECK(strstr(a.report, "validation = 5 images carved") != NULL, "report:\n%s", a.report);

    /* train_fraction on the 7 + 5 remaining: per class round(f*n) >= 1, nested, validation untouched. */
    c.train_fraction = 0.5;
    CHECK_OK(dataset_open(&c, 42, &d, &e), &e);
    CHECK(count_label(&d.train, 0) == 4 && count_label(&d.train, 1) == 3, "fraction 0.5 kept %d %d (want 4 3)",
          count_label(&d.train, 0), count_label(&d.train, 1));
    CHECK(same_split(&d.validation, &a.validation), "train_fraction changed the validation set");
    CHECK(in_order(&d.train), "subset not in order");
    c.train_fraction = 0.25;
    CHECK_OK(dataset_open(&c, 42, &full, &e), &e);
    int not_nested = 0;
    for (int i = 0; i < full.train.n; i++) not_nested += !contains(&d.train, full.train.items[i].path);
    CHECK(not_nested == 0 && full.train.n == 3, "fraction 0.25 (%d images) not a subset of 0.5: %d", full.train.n, not_nested);
    dataset_free(&full);
    c.train_fraction = 0.01;
    CHECK_OK(dataset_open(&c, 42, &full, &e), &e);
    CHECK(count_label(&full.train, 0) == 1 && count_label(&full.train, 1) == 1, "tiny fraction must keep 1 per class");
    CHECK(strstr(full.report, "kept 2 of 12") != NULL, "report:\n%s", full.report);
    dataset_free(&full);
    dataset_free(&a);
    dataset_free(&b);
    dataset_free(&d);

    /* An existing validation/ wins over validation_split. */
    touch("d/validation/cat/v.jpg");
    touch("d/validation/dog/v.jpg");
    c.train_fraction = 1.0;
    CHECK_OK(dataset_open(&c, 42, &a, &e), &e);
    CHECK(!a.validation_carved && a.validation.n == 2 && a.train.n == 17, "validation/ folder not used");
    CHECK(strstr(a.report, "validation_split 0.3 ignored") != NULL, "report:\n%s", a.report);
    dataset_free(&a);
    drop_tree();
}

int main(void) {
    test_class_and_walk_order();
    test_errors();
    test_split_and_fraction();
    return TEST_END();
}
