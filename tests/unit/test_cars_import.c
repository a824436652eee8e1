/* import-cars on small fixtures in the real layouts: devkit .mat files written with libmatio
 * (MAT5, cell class_names, struct annotations) plus tiny JPEGs, and the class-folder mirror.
 * Checks the tree, counts, stratification, link modes, cropping, and that bad input fails
 * with a message naming the file and leaves neither DEST nor DEST.tmp.* behind. */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <matio.h>

#include "core/dirwalk.h"
#include "core/fsutil.h"
#include "data/cars_import.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/image_jpeg_write.h"
#include "test_mat.h"
#include "test_util.h"
#include "train/config.h"

enum { N_CLASSES = 4, N_TEST_PER_CLASS = 3, IMG_W = 32, IMG_H = 16 };
static const char *const CLASS_NAMES[N_CLASSES] = {
    "Alpha Car 2012", "Ram C/V Cargo Van Minivan 2012", "Ram C-V Cargo Van Minivan 2012", "  Beta \t  Truck "};
static const char *const CLASS_DIRS[N_CLASSES] = {
    "Alpha Car 2012", "Ram C-V Cargo Van Minivan 2012", "Ram C-V Cargo Van Minivan 2012_2", "Beta Truck"};
static int train_count(int k) { return 10 + k; }   /* 10, 11, 12, 13 -> validation 2, 2, 2, 2 at 0.2 */

/* snprintf for paths: a truncated path would only make a check fail, never pass. */
static char *pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static char *pathf(char *out, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return out;
}

/* ------------------------------------------------------------------ fixture writers */

/* Left half red, right half blue; `tint` makes every file's bytes different. */
static int write_test_jpeg(const char *path, int tint) {
    uint8_t rgb[IMG_H * IMG_W * 3];
    for (int y = 0; y < IMG_H; y++)
        for (int x = 0; x < IMG_W; x++) {
            uint8_t *p = rgb + (y * IMG_W + x) * 3;
            p[0] = x < IMG_W / 2 ? 220 : 20;
            p[1] = (uint8_t)(tint * 7 % 64);
            p[2] = x < IMG_W / 2 ? 20 : 220;
        }
    Err e;
    JpegPixels px = {.data = rgb, .h = IMG_H, .w = IMG_W, .components = 3, .stride = IMG_W * 3};
    int rc = image_encode_jpeg_file(path, &px, 90, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    return rc;
}

/* SRC in the official layout: devkit/cars_meta.mat, devkit/cars_train_annos.mat,
 * cars_test_annos_withlabels.mat at the top (where people save the separate download),
 * cars_train/ with one extra unannotated image, cars_test/. */
static int make_devkit_src(const char *src) {
    char p[PATH_MAX], dir[PATH_MAX];
    Err e;
    Anno train[64], test[64];
    int nt = 0, ns = 0, rc = 0;
    for (int k = 0; k < N_CLASSES; k++) {
        for (int i = 0; i < train_count(k); i++, nt++) {
            pathf(train[nt].fname, sizeof train[nt].fname, "%05d.jpg", nt + 1);
            train[nt].label = k + 1;
            int box[4] = {IMG_W / 2 + 1, 3, IMG_W, IMG_H - 2};      /* the blue half, rows 3..14 (1-based) */
            memcpy(train[nt].box, box, sizeof box);
        }
        for (int i = 0; i < N_TEST_PER_CLASS; i++, ns++) {
            pathf(test[ns].fname, sizeof test[ns].fname, "%05d.jpg", ns + 1);
            test[ns].label = k + 1;
            int box[4] = {0, 0, 1000, 1000};                           /* clamps to the whole image */
            memcpy(test[ns].box, box, sizeof box);
        }
    }
    rc |= fs_mkdir_p(fs_join(dir, sizeof dir, src, "devkit"), &e);
    rc |= fs_mkdir_p(fs_join(dir, sizeof dir, src, "cars_train"), &e);
    rc |= fs_mkdir_p(fs_join(dir, sizeof dir, src, "cars_test"), &e);
    for (int i = 0; i < nt && !rc; i++) { pathf(p, sizeof p, "%s/cars_train/%s", src, train[i].fname); rc |= write_test_jpeg(p, i); }
    for (int i = 0; i < ns && !rc; i++) { pathf(p, sizeof p, "%s/cars_test/%s", src, test[i].fname); rc |= write_test_jpeg(p, 100 + i); }
    pathf(p, sizeof p, "%s/cars_train/99999.jpg", src);
    rc |= write_test_jpeg(p, 999);
    rc |= write_meta(fs_join(p, sizeof p, src, "devkit/cars_meta.mat"), CLASS_NAMES, N_CLASSES);
    rc |= write_annos(fs_join(p, sizeof p, src, "devkit/cars_train_annos.mat"), train, nt, MAT_COMPRESSION_NONE);
    rc |= write_annos(fs_join(p, sizeof p, src, "cars_test_annos_withlabels.mat"), test, ns, MAT_COMPRESSION_ZLIB);
    return rc;
}

/* ------------------------------------------------------------------ tree inspection */

static int count_files(const char *root, const char *split, const char *cls) {
    char dir[PATH_MAX];
    DirList d;
    Err e;
    pathf(dir, sizeof dir, "%s/%s/%s", root, split, cls);
    if (dir_list_sorted(dir, 'a', &d, &e)) return -1;
    int n = d.n;
    dir_list_free(&d);
    return n;
}

/* Entries of dir whose name starts with prefix (leftover temp trees). */
static int count_prefixed(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    if (d) closedir(d);
    return n;
}

/* Validation file names of one class, joined, to compare splits across runs. */
static void validation_names(const char *root, const char *cls, char *out, size_t n) {
    char dir[PATH_MAX];
    DirList d;
    Err e;
    out[0] = 0;
    pathf(dir, sizeof dir, "%s/validation/%s", root, cls);
    if (dir_list_sorted(dir, 'a', &d, &e)) return;
    for (int i = 0; i < d.n; i++) { strncat(out, d.names[i], n - strlen(out) - 1); strncat(out, ",", n - strlen(out) - 1); }
    dir_list_free(&d);
}

static ino_t inode_of(const char *path, int follow) {
    struct stat st;
    return (follow ? stat(path, &st) : lstat(path, &st)) == 0 ? st.st_ino : 0;
}

/* ------------------------------------------------------------------ tests */

static void test_safe_names(void) {
    char out[64];
    CHECK(cars_safe_class_name("Ram C/V Cargo Van", 0, out, sizeof out) == 1 && strcmp(out, "Ram C-V Cargo Van") == 0, "%s", out);
    cars_safe_class_name("  A \t\n B  ", 0, out, sizeof out);
    CHECK(strcmp(out, "A B") == 0, "[%s]", out);
    CHECK(cars_safe_class_name("Audi S4 Sedan 2012", 0, out, sizeof out) == 0 && strcmp(out, "Audi S4 Sedan 2012") == 0, "%s", out);
    cars_safe_class_name("", 3, out, sizeof out);
    CHECK(strcmp(out, "class_4") == 0, "%s", out);
    cars_safe_class_name("..", 7, out, sizeof out);
    CHECK(strcmp(out, "class_8") == 0, "%s", out);
    cars_safe_class_name(".hidden", 0, out, sizeof out);
    CHECK(strcmp(out, "_hidden") == 0, "%s", out);
    cars_safe_class_name("a\\b", 0, out, sizeof out);
    CHECK(strcmp(out, "a-b") == 0, "%s", out);
    char small[8];
    cars_safe_class_name("Škoda Octavia", 0, small, sizeof small);   /* cut must not split the 2-byte Š */
    CHECK(strcmp(small, "Škoda") == 0, "[%s]", small);
    cars_safe_class_name("ab\xC5\xA0" "cdef", 0, small, 4);              /* "ab" + half of Š would be invalid */
    CHECK(strcmp(small, "ab") == 0, "[%s]", small);
}

static void test_validation_pick(void) {
    CHECK(cars_validation_count(10, 0.1) == 1, "10 @ 0.1");
    CHECK(cars_validation_count(80, 0.1) == 8, "80 @ 0.1");
    CHECK(cars_validation_count(13, 0.2) == 2, "13 @ 0.2 -> int(2.6), as Keras");
    CHECK(cars_validation_count(4, 0.1) == 1, "4 @ 0.1: at least one, or the class is missing from validation");
    CHECK(cars_validation_count(1, 0.5) == 0, "a single image stays in train");
    CHECK(cars_validation_count(2, 0.9) == 1, "at least one stays in train");
    CHECK(cars_validation_count(50, 0.0) == 0, "no split");
    uint8_t a[80], b[80], c[80];
    cars_pick_validation(80, 0.1, 42, 3, a);
    cars_pick_validation(80, 0.1, 42, 3, b);
    cars_pick_validation(80, 0.1, 42, 4, c);
    int na = 0, same_ab = 1, same_ac = 1;
    for (int i = 0; i < 80; i++) { na += a[i]; same_ab &= a[i] == b[i]; same_ac &= a[i] == c[i]; }
    CHECK(na == 8, "picked %d", na);
    CHECK(same_ab, "same key, same pick");
    CHECK(!same_ac, "another class, another pick");
}

static void check_no_dest(const char *tmp, const char *dest_name, const char *what) {
    char dest[PATH_MAX], prefix[256];
    pathf(dest, sizeof dest, "%s/%s", tmp, dest_name);
    pathf(prefix, sizeof prefix, "%s.", dest_name);
    CHECK(!fs_exists(dest), "%s: %s exists after a failed import", what, dest);
    CHECK(count_prefixed(tmp, prefix) == 0, "%s: %s.* left behind", what, dest);
}

static void test_devkit_import(const char *tmp) {
    char src[PATH_MAX], dest[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    Err e = {{0}};
    CarsImportOptions opt;
    CarsImportReport rep;
    fs_join(src, sizeof src, tmp, "src");
    fs_join(dest, sizeof dest, tmp, "out/cars");
    CHECK(make_devkit_src(src) == 0, "fixture");
    cars_import_defaults(&opt);
    opt.val_split = 0.2;
    CHECK_OK(cars_import(src, dest, &opt, &rep, NULL, &e), &e);
    CHECK(strcmp(rep.layout, "devkit") == 0, "layout %s", rep.layout);
    CHECK(rep.n_classes == N_CLASSES, "classes %d", rep.n_classes);
    CHECK(rep.placed[CARS_TRAIN] == 46 - 8 && rep.placed[CARS_VALIDATION] == 8 && rep.placed[CARS_TEST] == 12,
          "placed %d/%d/%d", rep.placed[0], rep.placed[1], rep.placed[2]);
    CHECK(rep.unannotated == 1 && rep.missing == 0 && rep.bad_label == 0, "unannotated %d missing %d", rep.unannotated, rep.missing);
    CHECK(rep.renamed_classes == 3, "renamed %d", rep.renamed_classes);
    for (int k = 0; k < N_CLASSES; k++) {
        int n = train_count(k), nv = cars_validation_count(n, 0.2);
        CHECK(count_files(dest, "train", CLASS_DIRS[k]) == n - nv, "class %d train %d", k, count_files(dest, "train", CLASS_DIRS[k]));
        CHECK(count_files(dest, "validation", CLASS_DIRS[k]) == nv, "class %d validation", k);
        CHECK(count_files(dest, "test", CLASS_DIRS[k]) == N_TEST_PER_CLASS, "class %d test", k);
    }
    /* Hard links: same inode as the source. Train and validation together hold each train image once. */
    pathf(p, sizeof p, "%s/test/Beta Truck/00012.jpg", dest);
    pathf(q, sizeof q, "%s/cars_test/00012.jpg", src);
    CHECK(inode_of(p, 0) != 0 && inode_of(p, 0) == inode_of(q, 0), "hard link %s", p);
    int found = 0;
    for (int i = 1; i <= 10; i++) {
        pathf(p, sizeof p, "%s/train/Alpha Car 2012/%05d.jpg", dest, i);
        pathf(q, sizeof q, "%s/validation/Alpha Car 2012/%05d.jpg", dest, i);
        found += fs_exists(p) + fs_exists(q);
    }
    CHECK(found == 10, "class 0 images found %d times", found);
    CHECK(fs_exists(fs_join(p, sizeof p, dest, "classes.csv")), "classes.csv");
    CHECK(count_prefixed(tmp, "out") == 1, "only out/ in the temp dir");
    pathf(p, sizeof p, "%s/out", tmp);
    CHECK(count_prefixed(p, "cars.") == 0, "no cars.tmp.* left");

    /* Same seed, same split; another seed, another split. */
    char v1[4096], v2[4096], v3[4096], dest2[PATH_MAX];
    fs_join(dest2, sizeof dest2, tmp, "out/cars_again");
    CHECK_OK(cars_import(src, dest2, &opt, &rep, NULL, &e), &e);
    int same = 1;
    for (int k = 0; k < N_CLASSES; k++) {
        validation_names(dest, CLASS_DIRS[k], v1, sizeof v1);
        validation_names(dest2, CLASS_DIRS[k], v2, sizeof v2);
        same &= strcmp(v1, v2) == 0 && v1[0];
    }
    CHECK(same, "same seed gives the same validation files");
    opt.seed = 7;
    opt.force = 1;
    CHECK_OK(cars_import(src, dest2, &opt, &rep, NULL, &e), &e);
    int differs = 0;
    for (int k = 0; k < N_CLASSES; k++) {
        validation_names(dest, CLASS_DIRS[k], v1, sizeof v1);
        validation_names(dest2, CLASS_DIRS[k], v3, sizeof v3);
        differs |= strcmp(v1, v3) != 0;
    }
    CHECK(differs, "seed 7 gives another split");

    /* An existing DEST is refused without --force and left alone. */
    opt.force = 0;
    CHECK(cars_import(src, dest, &opt, &rep, NULL, &e) != 0 && strstr(e.msg, "already exists"), "%s", e.msg);
    CHECK(count_files(dest, "test", "Beta Truck") == N_TEST_PER_CLASS, "DEST untouched");
    /* --force does not replace a directory that is not an import. */
    pathf(p, sizeof p, "%s/notes", tmp);
    fs_mkdir_p(p, &e);
    pathf(q, sizeof q, "%s/notes/keep.txt", tmp);
    fs_write_atomic(q, "x", 1, &e);
    opt.force = 1;
    CHECK(cars_import(src, p, &opt, &rep, NULL, &e) != 0 && strstr(e.msg, "does not look like an import"), "%s", e.msg);
    CHECK(fs_exists(q), "foreign directory kept");
}

/* --val-split f --seed s gives the validation set the loader carves (data.validation_split f,
 * same seed) from a train-only import of the same source. */
static void test_split_matches_loader(const char *tmp) {
    char src[PATH_MAX], all[PATH_MAX], split[PATH_MAX], p[PATH_MAX];
    Err e = {{0}};
    CarsImportOptions opt;
    CarsImportReport rep;
    fs_join(src, sizeof src, tmp, "src");
    fs_join(all, sizeof all, tmp, "train_only");
    fs_join(split, sizeof split, tmp, "split_by_import");
    cars_import_defaults(&opt);
    opt.val_split = 0;
    CHECK_OK(cars_import(src, all, &opt, &rep, NULL, &e), &e);
    opt.val_split = 0.2;
    opt.seed = 1234;
    CHECK_OK(cars_import(src, split, &opt, &rep, NULL, &e), &e);
    TrialConfig cfg;
    config_defaults(&cfg);
    pathf(cfg.data.root, sizeof cfg.data.root, "%s", all);
    cfg.data.validation_split = 0.2;
    cfg.data.train_fraction = 1.0;
    Dataset ds;
    memset(&ds, 0, sizeof ds);
    CHECK_OK(dataset_open(&cfg.data, 1234, &ds, &e), &e);
    CHECK(ds.validation_carved && ds.validation.n == rep.placed[CARS_VALIDATION], "carved %d, imported %d",
          ds.validation.n, rep.placed[CARS_VALIDATION]);
    int same = 0;
    for (int i = 0; i < ds.validation.n; i++) {
        const char *path = ds.validation.items[i].path;         /* all/train/<class>/<file> */
        same += fs_exists(pathf(p, sizeof p, "%s/validation/%s", split, path + strlen(all) + strlen("/train/")));
    }
    CHECK(ds.validation.n > 0 && same == ds.validation.n, "%d of %d carved files are in the imported validation/", same,
          ds.validation.n);
    dataset_free(&ds);
}

static void test_link_modes(const char *tmp) {
    char src[PATH_MAX], dest[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    Err e = {{0}};
    CarsImportOptions opt;
    CarsImportReport rep;
    fs_join(src, sizeof src, tmp, "src");
    cars_import_defaults(&opt);
    opt.link = CARS_LINK_SYM;
    fs_join(dest, sizeof dest, tmp, "sym");
    CHECK_OK(cars_import(src, dest, &opt, &rep, NULL, &e), &e);
    pathf(p, sizeof p, "%s/test/Beta Truck/00012.jpg", dest);
    pathf(q, sizeof q, "%s/cars_test/00012.jpg", src);
    struct stat st;
    CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode), "symlink");
    CHECK(inode_of(p, 1) == inode_of(q, 1), "symlink points at the source");
    opt.link = CARS_LINK_COPY;
    fs_join(dest, sizeof dest, tmp, "copy");
    CHECK_OK(cars_import(src, dest, &opt, &rep, NULL, &e), &e);
    pathf(p, sizeof p, "%s/test/Beta Truck/00012.jpg", dest);
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino != inode_of(q, 0), "a separate copy");
    CHECK(fs_read_all(p, &a, &na, &e) == 0 && fs_read_all(q, &b, &nb, &e) == 0 && na == nb && memcmp(a, b, na) == 0, "same bytes");
    free(a);
    free(b);
}

static void test_crop(const char *tmp) {
    char src[PATH_MAX], dest[PATH_MAX], p[PATH_MAX];
    Err e = {{0}};
    CarsImportOptions opt;
    CarsImportReport rep;
    fs_join(src, sizeof src, tmp, "src");
    fs_join(dest, sizeof dest, tmp, "crop");
    cars_import_defaults(&opt);
    opt.crop_bbox = 1;
    CHECK_OK(cars_import(src, dest, &opt, &rep, NULL, &e), &e);
    CHECK(rep.cropped == 46 + 12, "cropped %d", rep.cropped);
    int h = 0, w = 0, comps = 0;
    pathf(p, sizeof p, "%s/test/Beta Truck/00012.jpg", dest);
    CHECK_OK(image_jpeg_info(p, &h, &w, &comps, &e), &e);
    CHECK(w == IMG_W && h == IMG_H, "a box past the edges clamps to the image: %dx%d", w, h);
    /* Train box: 1-based x 17..32, y 3..14 -> 16 x 12, all of it blue (an off-by-one shows red). */
    Image img = {0};
    pathf(p, sizeof p, "%s/train/Alpha Car 2012/00001.jpg", dest);
    if (!fs_exists(p)) pathf(p, sizeof p, "%s/validation/Alpha Car 2012/00001.jpg", dest);
    CHECK_OK(image_decode_jpeg_file(p, &img, 0, NULL, &e), &e);
    CHECK(img.w == 16 && img.h == 12, "cropped size %dx%d", img.w, img.h);
    int not_blue = 0;
    for (int i = 0; i < img.w * img.h; i++) not_blue += img.rgb[3 * i] > 90 || img.rgb[3 * i + 2] < 150;
    CHECK(not_blue == 0, "%d pixels inside the blue box are not blue", not_blue);
    image_free(&img);
}

static void test_folder_layout(const char *tmp) {
    char src[PATH_MAX], dest[PATH_MAX], p[PATH_MAX];
    Err e = {{0}};
    CarsImportOptions opt;
    CarsImportReport rep;
    fs_join(src, sizeof src, tmp, "mirror");
    const char *classes[2] = {"Acura TL Sedan 2012", "BMW X3 SUV 2012"};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 10; i++) {
            pathf(p, sizeof p, "%s/train/%s", src, classes[k]);
            fs_mkdir_p(p, &e);
            pathf(p, sizeof p, "%s/train/%s/%05d.jpg", src, classes[k], k * 100 + i);
            write_test_jpeg(p, k * 100 + i);
            if (i >= 4) continue;
            pathf(p, sizeof p, "%s/test/%s", src, classes[k]);
            fs_mkdir_p(p, &e);
            pathf(p, sizeof p, "%s/test/%s/%05d.JPG", src, classes[k], 500 + k * 100 + i);
            write_test_jpeg(p, 500 + k * 100 + i);
        }
    pathf(p, sizeof p, "%s/train/%s/notes.txt", src, classes[0]);
    fs_write_atomic(p, "x", 1, &e);
    fs_join(dest, sizeof dest, tmp, "from_mirror");
    cars_import_defaults(&opt);
    opt.val_split = 0.3;
    CHECK_OK(cars_import(src, dest, &opt, &rep, NULL, &e), &e);
    CHECK(strcmp(rep.layout, "folders") == 0, "layout %s", rep.layout);
    CHECK(rep.placed[CARS_TRAIN] == 14 && rep.placed[CARS_VALIDATION] == 6 && rep.placed[CARS_TEST] == 8,
          "placed %d/%d/%d", rep.placed[0], rep.placed[1], rep.placed[2]);
    CHECK(rep.stray == 1, "stray %d", rep.stray);
    CHECK(count_files(dest, "validation", classes[1]) == 3, "stratified");
    opt.crop_bbox = 1;
    fs_join(dest, sizeof dest, tmp, "mirror_crop");
    CHECK(cars_import(src, dest, &opt, &rep, NULL, &e) != 0 && strstr(e.msg, "no boxes"), "%s", e.msg);
    check_no_dest(tmp, "mirror_crop", "crop of folders");
}

/* A copy of the good fixture, broken by `breakage`, must fail naming `needle`. */
static void expect_failure(const char *tmp, const char *name, void (*breakage)(const char *src), int crop, const char *needle) {
    char src[PATH_MAX], dest[PATH_MAX];
    Err e = {{0}};
    CarsImportOptions opt;
    CarsImportReport rep;
    pathf(src, sizeof src, "%s/src_%s", tmp, name);
    pathf(dest, sizeof dest, "%s/dest_%s", tmp, name);
    CHECK(make_devkit_src(src) == 0, "fixture %s", name);
    breakage(src);
    cars_import_defaults(&opt);
    opt.crop_bbox = crop;
    int rc = cars_import(src, dest, &opt, &rep, NULL, &e);
    CHECK(rc != 0, "%s: import should fail", name);
    CHECK(rc != 0 && strstr(e.msg, needle) != NULL, "%s: message should name %s: %s", name, needle, e.msg);
    char dest_name[64];
    pathf(dest_name, sizeof dest_name, "dest_%s", name);
    check_no_dest(tmp, dest_name, name);
}

static void break_no_meta(const char *src) {
    char p[PATH_MAX];
    unlink(fs_join(p, sizeof p, src, "devkit/cars_meta.mat"));
}
static void break_no_test_labels(const char *src) {
    char p[PATH_MAX];
    unlink(fs_join(p, sizeof p, src, "cars_test_annos_withlabels.mat"));
}
static void break_label(const char *src) {
    char p[PATH_MAX];
    Anno a[2] = {{"00001.jpg", 1, {1, 1, 5, 5}}, {"00002.jpg", N_CLASSES + 1, {1, 1, 5, 5}}};
    write_annos(fs_join(p, sizeof p, src, "devkit/cars_train_annos.mat"), a, 2, MAT_COMPRESSION_NONE);
}
static void break_absent_image(const char *src) {
    char p[PATH_MAX];
    unlink(fs_join(p, sizeof p, src, "cars_test/00007.jpg"));
}
static void break_jpeg(const char *src) {
    char p[PATH_MAX], *data;
    size_t n;
    Err e;
    fs_join(p, sizeof p, src, "cars_train/00003.jpg");
    if (fs_read_all(p, &data, &n, &e) == 0) { fs_write_atomic(p, data, n / 2, &e); free(data); }
}
static void break_mat(const char *src) {
    char p[PATH_MAX];
    Err e;
    fs_write_atomic(fs_join(p, sizeof p, src, "devkit/cars_train_annos.mat"), "MATLAB? no", 10, &e);
}

static void test_bad_input(const char *tmp) {
    expect_failure(tmp, "nometa", break_no_meta, 0, "cars_meta.mat");
    expect_failure(tmp, "notestlabels", break_no_test_labels, 0, "cars_test_annos_withlabels.mat");
    expect_failure(tmp, "label", break_label, 0, "00002.jpg has class 5, outside 1..4");
    expect_failure(tmp, "absent", break_absent_image, 0, "cars_test/00007.jpg: listed in");
    expect_failure(tmp, "corrupt", break_jpeg, 1, "cars_train/00003.jpg");
    expect_failure(tmp, "badmat", break_mat, 0, "cars_train_annos.mat");
    /* --skip-bad places the rest and counts what it skipped. */
    char src[PATH_MAX], dest[PATH_MAX];
    Err e = {{0}};
    CarsImportOptions opt;
    CarsImportReport rep;
    pathf(src, sizeof src, "%s/src_absent", tmp);
    pathf(dest, sizeof dest, "%s/dest_skip", tmp);
    cars_import_defaults(&opt);
    opt.skip_bad = 1;
    CHECK_OK(cars_import(src, dest, &opt, &rep, NULL, &e), &e);
    CHECK(rep.missing == 1 && rep.placed[CARS_TEST] == 11, "missing %d test %d", rep.missing, rep.placed[CARS_TEST]);
}

int main(void) {
    char tmp[PATH_MAX];
    const char *base = getenv("TL_TESTDATA");
    Err e;
    if (!base || fs_mkdir_p(base, &e)) base = "/tmp";
    pathf(tmp, sizeof tmp, "%s/cars_import_XXXXXX", base);
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
    test_safe_names();
    test_validation_pick();
    test_devkit_import(tmp);
    test_split_matches_loader(tmp);
    test_link_modes(tmp);
    test_crop(tmp);
    test_folder_layout(tmp);
    test_bad_input(tmp);
    if (test_counts.failed == 0) fs_remove_tree(tmp, &e);
    else fprintf(stderr, "fixtures kept in %s\n", tmp);
    return TEST_END();
}
