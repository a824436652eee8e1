/* check-data on a small tree with known faults: a truncated JPEG, a text file named .jpg,
 * a JPEG whose scan data is damaged (only --deep sees it), grayscale and CMYK images, files
 * the loader skips (.png, .txt, a symlinked subfolder) or walks (a subfolder),
 * duplicates within and across splits, a class missing from a split, an empty class
 * folder; then a clean tree that must pass. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "data/check_data.h"
#include "data/image_jpeg_write.h"
#include "test_util.h"

static char *pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static char *pathf(char *out, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return out;
}

/* w x h noise image with `comps` channels (1 gray, 3 RGB, 4 CMYK) at quality 90. */
static void write_jpeg(const char *path, int w, int h, int comps, unsigned seed) {
    uint8_t pix[256 * 256 * 4];
    if ((size_t)w * h * comps > sizeof pix) { fprintf(stderr, "%s: %dx%dx%d is too big for the fixture\n", path, w, h, comps); return; }
    for (int i = 0; i < w * h * comps; i++) { seed = seed * 1103515245u + 12345u; pix[i] = (uint8_t)(seed >> 16); }
    JpegPixels px = {.data = pix, .h = h, .w = w, .components = comps, .stride = (size_t)w * (size_t)comps};
    Err e;
    if (image_encode_jpeg_file(path, &px, 90, &e)) fprintf(stderr, "%s\n", e.msg);
}

static void mkdirs(const char *root, const char *sub) {
    char p[PATH_MAX];
    Err e;
    if (fs_mkdir_p(pathf(p, sizeof p, "%s/%s", root, sub), &e)) fprintf(stderr, "%s\n", e.msg);
}

/* Copies the first keep_percent % of a file's bytes. */
static void copy_bytes(const char *from, const char *to, int keep_percent) {
    char *d;
    size_t n;
    Err e;
    if (fs_read_all(from, &d, &n, &e)) { fprintf(stderr, "%s\n", e.msg); return; }
    fs_write_atomic(to, d, n * (size_t)keep_percent / 100, &e);
    free(d);
}

/* Puts an EOI marker in the middle of the entropy-coded data: the header still parses and
 * the file still ends with EOI, but decoding stops early (libjpeg warns). */
static void damage_scan(const char *path) {
    char *d;
    size_t n;
    Err e;
    if (fs_read_all(path, &d, &n, &e)) return;
    size_t sos = 0;
    for (size_t i = 0; i + 1 < n && !sos; i++)
        if ((uint8_t)d[i] == 0xFF && (uint8_t)d[i + 1] == 0xDA) sos = i;
    size_t mid = sos + (n - sos) / 2;
    d[mid] = (char)0xFF;
    d[mid + 1] = (char)0xD9;
    fs_write_atomic(path, d, n, &e);
    free(d);
}

/* The faulty tree: see the header comment. Widths in train/A are 24, 32, 40, 48, 56 (+ 24s);
 * train/A also holds a .png the loader skips, a subfolder it walks and a symlink it skips. */
static void make_faulty_tree(const char *root) {
    char p[PATH_MAX], q[PATH_MAX];
    Err e;
    const char *dirs[] = {"train/A", "train/B", "train/C", "validation/A", "validation/B", "test/A", "test/B", "test/C", "extra"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) mkdirs(root, dirs[i]);
    for (int i = 0; i < 5; i++) write_jpeg(pathf(p, sizeof p, "%s/train/A/a%d.jpg", root, i), 24 + 8 * i, 16 + i, 3, 10u + i);
    write_jpeg(pathf(p, sizeof p, "%s/train/A/gray.jpg", root), 24, 24, 1, 1);
    write_jpeg(pathf(p, sizeof p, "%s/train/A/cmyk.jpg", root), 24, 24, 4, 2);
    fs_write_atomic(pathf(p, sizeof p, "%s/train/A/readme.txt", root), "notes", 5, &e);
    write_jpeg(pathf(p, sizeof p, "%s/train/A/x.png", root), 24, 24, 3, 3);          /* the loader skips it by name */
    mkdirs(root, "train/A/more");                                                     /* the loader walks subfolders */
    write_jpeg(pathf(p, sizeof p, "%s/train/A/more/deep.jpg", root), 24, 24, 3, 4);
    if (symlink("more", pathf(p, sizeof p, "%s/train/A/link", root)) != 0) perror("symlink");
    for (int i = 0; i < 3; i++) write_jpeg(pathf(p, sizeof p, "%s/train/B/b%d.jpg", root, i), 40, 30, 3, 20u + i);
    write_jpeg(pathf(q, sizeof q, "%s/train/B/cut.jpg", root), 64, 64, 3, 30);
    copy_bytes(q, q, 75);                   /* truncated in the scan data: the header still parses */
    copy_bytes(pathf(q, sizeof q, "%s/train/A/a1.jpg", root), pathf(p, sizeof p, "%s/train/B/same_as_a1.jpg", root), 100);
    for (int i = 0; i < 2; i++) write_jpeg(pathf(p, sizeof p, "%s/train/C/c%d.jpg", root, i), 32, 32, 3, 40u + i);
    fs_write_atomic(pathf(p, sizeof p, "%s/train/C/text.jpg", root), "this is not a jpeg", 18, &e);
    write_jpeg(pathf(q, sizeof q, "%s/train/C/damaged.jpg", root), 128, 128, 3, 50);
    damage_scan(q);
    write_jpeg(pathf(p, sizeof p, "%s/validation/A/v0.jpg", root), 32, 32, 3, 60);
    write_jpeg(pathf(p, sizeof p, "%s/validation/B/v1.jpg", root), 32, 32, 3, 61);
    copy_bytes(pathf(q, sizeof q, "%s/train/A/a0.jpg", root), pathf(p, sizeof p, "%s/test/A/leak.jpg", root), 100);
    write_jpeg(pathf(p, sizeof p, "%s/test/B/t1.jpg", root), 32, 32, 3, 70);
    /* test/C stays empty; validation has no C; extra/ is not a split. */
}

static int has_issue(const DataReport *r, int error, const char *needle) {
    for (int i = 0; i < r->n_issues; i++)
        if (r->issues[i].error == error && strstr(r->issues[i].msg, needle)) return 1;
    return 0;
}

static const DataClass *find_class(const DataReport *r, const char *name) {
    for (int k = 0; k < r->n_classes; k++)
        if (strcmp(r->classes[k].name, name) == 0) return &r->classes[k];
    return NULL;
}

static void test_fnv(void) {
    CHECK(fnv1a64("", 0, FNV1A64_INIT) == 0xcbf29ce484222325ull, "empty");
    CHECK(fnv1a64("a", 1, FNV1A64_INIT) == 0xaf63dc4c8601ec8cull, "a");
    CHECK(fnv1a64("foobar", 6, FNV1A64_INIT) == 0x85944171f73967e8ull, "foobar");
    CHECK(fnv1a64("bar", 3, fnv1a64("foo", 3, FNV1A64_INIT)) == 0x85944171f73967e8ull, "incremental");
}

static void check_common_faults(const DataReport *r, const char *mode) {
    const DataClass *a = find_class(r, "A"), *b = find_class(r, "B"), *c = find_class(r, "C");
    CHECK(r->n_classes == 3 && a && b && c, "%s: classes %d", mode, r->n_classes);
    if (!a || !b || !c) return;
    CHECK(a->count[0] == 8 && a->count[1] == 1 && a->count[2] == 1, "%s: A counts %d %d %d", mode, a->count[0], a->count[1], a->count[2]);
    CHECK(a->gray == 1 && a->cmyk == 1 && r->split[0].gray == 1 && r->split[0].cmyk == 1, "%s: gray %d cmyk %d", mode, a->gray, a->cmyk);
    CHECK(r->ignored_files == 2 && has_issue(r, 0, "train/A: 2 files that are not .jpg/.jpeg are skipped by the loader"),
          "%s: readme.txt and x.png skipped, not errors (%d)", mode, r->ignored_files);
    CHECK(has_issue(r, 0, "train/A: 1 symlinked subfolders are skipped"), "%s: symlinked subfolder noted", mode);
    CHECK(has_issue(r, 1, "train/B/cut.jpg: corrupt or truncated"), "%s: truncated file is an error", mode);
    CHECK(has_issue(r, 1, "train/C/text.jpg"), "%s: text file named .jpg is an error", mode);
    CHECK(has_issue(r, 1, "validation: class 'C' is missing"), "%s: C missing from validation", mode);
    CHECK(has_issue(r, 1, "test/C/: empty class folder"), "%s: empty test/C", mode);
    CHECK(has_issue(r, 0, "extra/: not a split folder"), "%s: extra/ noted", mode);
    CHECK(r->dup_across == 1 && has_issue(r, 0, "leak): train/A/a0.jpg == test/A/leak.jpg"), "%s: leak across splits (%d)", mode, r->dup_across);
    CHECK(r->dup_cross_class == 1 && has_issue(r, 0, "two classes: train/A/a1.jpg == train/B/same_as_a1.jpg"), "%s: same image in A and B", mode);
    CHECK(r->n_dups == 2 && r->dup_within == 1, "%s: dups %d within %d", mode, r->n_dups, r->dup_within);
    /* train/A readable RGB+gray+CMYK+deep: widths 24,32,40,48,56,24,24,24 -> min 24, median 32, max 56. */
    CHECK(a->w.min == 24 && a->w.median == 32 && a->w.max == 56, "%s: A widths %d/%d/%d", mode, a->w.min, a->w.median, a->w.max);
    CHECK(r->split[0].class_min == 4 && r->split[0].class_max == 8, "%s: per class %d..%d", mode, r->split[0].class_min, r->split[0].class_max);
    CHECK_NEAR(r->split[0].imbalance, 8.0 / 4.0, 1e-9, "%s: imbalance %g", mode, r->split[0].imbalance);
    CHECK(check_data_status(r) == 1, "%s: errors -> status 1", mode);
}

static void test_faulty_tree(const char *tmp) {
    char root[PATH_MAX];
    Err e = {{0}};
    DataReport r;
    pathf(root, sizeof root, "%s/faulty", tmp);
    make_faulty_tree(root);

    CheckDataOptions opt = {.deep = 0, .progress = NULL};
    CHECK_OK(check_data_scan(root, &opt, &r, &e), &e);
    check_common_faults(&r, "header");
    const DataClass *c = find_class(&r, "C");
    CHECK(c && c->bad == 1, "header mode: only text.jpg is bad in C (damaged scan passes): %d", c ? c->bad : -1);
    CHECK(r.split[0].bad == 2, "header mode: 2 bad in train, got %d", r.split[0].bad);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    check_data_print_table(&r, f);
    fclose(f);
    CHECK(text && strstr(text, "MISSING") && strstr(text, "result: ERRORS"), "table marks the missing class and the verdict");
    free(text);
    f = open_memstream(&text, &len);
    check_data_print_json(&r, f);
    fclose(f);
    CHECK(text && strstr(text, "\"ok\": false") && strstr(text, "\"validation\": null"), "JSON verdict and missing class");
    free(text);
    data_report_free(&r);

    opt.deep = 1;
    CHECK_OK(check_data_scan(root, &opt, &r, &e), &e);
    check_common_faults(&r, "deep");
    c = find_class(&r, "C");
    CHECK(c && c->bad == 2 && has_issue(&r, 1, "train/C/damaged.jpg"), "deep mode finds the damaged scan");
    data_report_free(&r);
}

static void test_clean_tree(const char *tmp) {
    char root[PATH_MAX], p[PATH_MAX];
    Err e = {{0}};
    DataReport r;
    pathf(root, sizeof root, "%s/clean", tmp);
    const char *splits[] = {"train", "validation", "test"};
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 2; k++) {
            mkdirs(root, pathf(p, sizeof p, "%s/class %d", splits[s], k));
            for (int i = 0; i < 3; i++) write_jpeg(pathf(p, sizeof p, "%s/%s/class %d/%d.jpg", root, splits[s], k, i), 24, 16, 3, 1000u + 100u * s + 10u * k + i);
        }
    CheckDataOptions opt = {.deep = 1, .progress = NULL};
    CHECK_OK(check_data_scan(root, &opt, &r, &e), &e);
    CHECK(r.n_files == 18 && r.n_errors == 0 && r.n_warnings == 0 && r.n_dups == 0, "clean: %d files %d errors %d warnings",
          r.n_files, r.n_errors, r.n_warnings);
    CHECK(check_data_status(&r) == 0, "clean -> status 0");
    CHECK(r.split[1].w.min == 24 && r.split[1].h.max == 16, "sizes");
    data_report_free(&r);
    CHECK(check_data_scan(pathf(p, sizeof p, "%s/nope", tmp), &opt, &r, &e) == -1 && strstr(e.msg, "nope"), "missing root: %s", e.msg);
    data_report_free(&r);
}

int main(void) {
    char tmp[PATH_MAX];
    const char *base = getenv("TL_TESTDATA");
    Err e;
    if (!base || fs_mkdir_p(base, &e)) base = "/tmp";
    pathf(tmp, sizeof tmp, "%s/check_data_XXXXXX", base);
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
    test_fnv();
    test_faulty_tree(tmp);
    test_clean_tree(tmp);
    if (test_counts.failed == 0) fs_remove_tree(tmp, &e);
    else fprintf(stderr, "fixtures kept in %s\n", tmp);
    return TEST_END();
}
