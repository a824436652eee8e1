/* trainer demo-data DIR: turns Fashion-MNIST (IDX files, gzip) into JPEG class folders
 * DIR/{train,validation,test}/<class>/NAME.jpg for the demo sweep.
 *   train:      the first --train images of each class in the training set
 *   validation: the next --val images of each class in the training set
 *   test:       the first --test images of each class in the t10k set
 * Images stay 28x28 grayscale (the trainer converts to RGB and resizes). The folder is
 * built under DIR.tmp.<pid> and renamed into place, so DIR is complete or absent. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "data/image_jpeg_write.h"

enum { FMNIST_CLASSES = 10, FMNIST_SIDE = 28 };

/* Fashion-MNIST label names, made filesystem-safe ("T-shirt/top" -> "t-shirt_top"). */
static const char *const FMNIST_NAMES[FMNIST_CLASSES] = {
    "t-shirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot",
};

typedef struct Idx {
    uint8_t *data;              /* items x (rows x cols) bytes; labels: items bytes */
    int items, rows, cols;
} Idx;

typedef struct DemoOptions {
    const char *out, *source;
    int train, val, test, quality;
} DemoOptions;

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int gz_read_all(const char *path, uint8_t **out, size_t *size, Err *e) {
    gzFile f = gzopen(path, "rb");
    if (!f) return err_fail(e, "%s: cannot open: %s", path, errno ? strerror(errno) : "zlib error");
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) { gzclose(f); return err_fail(e, "%s: out of memory", path); }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); gzclose(f); return err_fail(e, "%s: out of memory", path); }
            buf = nb;
        }
        int got = gzread(f, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            err_fail(e, "%s: gzread failed: %s", path, msg);
            free(buf), gzclose(f);
            return -1;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    int zrc = gzclose(f);
    if (zrc != Z_OK) { free(buf); return err_fail(e, "%s: gzclose failed (zlib %d): corrupt or truncated file", path, zrc); }
    *out = buf, *size = n;
    return 0;
}

/* IDX: magic 0x0000080D (D = 3 for images, 1 for labels), big-endian sizes, then bytes. */
static int idx_load(const char *dir, const char *name, int dims, Idx *idx, Err *e) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *raw = NULL;
    size_t size = 0;
    if (gz_read_all(path, &raw, &size, e)) return -1;
    size_t header = 4 + 4 * (size_t)dims;
    if (size < header || be32(raw) != (uint32_t)(0x800 | dims)) {
        free(raw);
        return err_fail(e, "%s: not an IDX file with %d dimension%s", path, dims, dims == 1 ? "" : "s");
    }
    idx->items = (int)be32(raw + 4);
    idx->rows = dims == 3 ? (int)be32(raw + 8) : 1;
    idx->cols = dims == 3 ? (int)be32(raw + 12) : 1;
    size_t need = (size_t)idx->items * (size_t)idx->rows * (size_t)idx->cols;
    if (size - header < need) {
        free(raw);
        return err_fail(e, "%s: truncated (%zu bytes of data, %zu expected)", path, size - header, need);
    }
    memmove(raw, raw + header, need);
    idx->data = raw;
    return 0;
}

/* Writes images [from-th .. from+count-th) of each class (in file order) to root/split/<class>/. */
static int write_split(const char *root, const char *split, const char *tag, const Idx *img, const Idx *lab, int from,
                       int count, int quality, int *written, Err *e) {
    for (int k = 0; k < FMNIST_CLASSES; k++) {
        char dir[2048], path[2200];
        snprintf(dir, sizeof dir, "%s/%s/%s", root, split, FMNIST_NAMES[k]);
        if (fs_mkdir_p(dir, e)) return -1;
        int seen = 0, done = 0;
        for (int i = 0; i < lab->items && done < count; i++) {
            if (lab->data[i] != k || seen++ < from) continue;
            snprintf(path, sizeof path, "%s/%s-%05d.jpg", dir, tag, i);
            const uint8_t *pix = img->data + (size_t)i * (size_t)(img->rows * img->cols);
            JpegPixels px = {.data = pix, .h = img->rows, .w = img->cols, .components = 1, .stride = (size_t)img->cols};
            if (image_encode_jpeg_file(path, &px, quality, e)) return -1;
            done++;
        }
        if (done < count)
            return err_fail(e, "class %s has only %d %s images after skipping %d (%d wanted)", FMNIST_NAMES[k], done,
                            tag, from, count);
        *written += done;
    }
    return 0;
}

/* Images and labels agree, labels are 0..9, and every class has `need` images
 * (checked before anything is written). */
static int check_pair(const Idx *img, const Idx *lab, const char *what, int need, Err *e) {
    if (img->items != lab->items) return err_fail(e, "%s: %d images but %d labels", what, img->items, lab->items);
    int count[FMNIST_CLASSES] = {0};
    for (int i = 0; i < lab->items; i++) {
        if (lab->data[i] >= FMNIST_CLASSES) return err_fail(e, "%s: label %d of image %d is not 0..9", what, lab->data[i], i);
        count[lab->data[i]]++;
    }
    for (int k = 0; k < FMNIST_CLASSES; k++)
        if (count[k] < need)
            return err_fail(e, "%s: class %s has only %d images (%d wanted)", what, FMNIST_NAMES[k], count[k], need);
    return 0;
}

static int parse_count(const char *flag, const char *v, int *out, Err *e) {
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 0 || n > 7000) return err_fail(e, "%s takes a count 0..7000, not '%s'", flag, v);
    *out = (int)n;
    return 0;
}

static int parse_options(DemoOptions *o, int argc, char **argv, Err *e) {
    *o = (DemoOptions){.source = "/usr/share/datasets/fashion-mnist", .train = 250, .val = 50, .test = 50, .quality = 95};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--source") && has) o->source = argv[++i];
        else if (!strcmp(a, "--train") && has) { if (parse_count(a, argv[++i], &o->train, e)) return -1; }
        else if (!strcmp(a, "--val") && has) { if (parse_count(a, argv[++i], &o->val, e)) return -1; }
        else if (!strcmp(a, "--test") && has) { if (parse_count(a, argv[++i], &o->test, e)) return -1; }
        else if (!strcmp(a, "--quality") && has) {
            if (parse_count(a, argv[++i], &o->quality, e) || o->quality < 1 || o->quality > 100)
                return err_fail(e, "--quality takes 1..100");
        }
        else if (a[0] == '-') return err_fail(e, "unknown or incomplete option '%s'", a);
        else if (o->out) return err_fail(e, "one output folder only ('%s' and '%s')", o->out, a);
        else o->out = a;
    }
    if (!o->out) return err_fail(e, "no output folder given");
    if (o->train < 1) return err_fail(e, "--train must be at least 1");
    return 0;
}

static int build(const DemoOptions *o, const char *tmp, const char *stamp_text, int *written, Err *e) {
    Idx ti = {0}, tl = {0}, si = {0}, sl = {0};
    int rc = idx_load(o->source, "train-images-idx3-ubyte.gz", 3, &ti, e);
    if (!rc) rc = idx_load(o->source, "train-labels-idx1-ubyte.gz", 1, &tl, e);
    if (!rc) rc = idx_load(o->source, "t10k-images-idx3-ubyte.gz", 3, &si, e);
    if (!rc) rc = idx_load(o->source, "t10k-labels-idx1-ubyte.gz", 1, &sl, e);
    if (!rc) rc = check_pair(&ti, &tl, "train set", o->train + o->val, e);
    if (!rc) rc = check_pair(&si, &sl, "t10k set", o->test, e);
    if (!rc) rc = write_split(tmp, "train", "train", &ti, &tl, 0, o->train, o->quality, written, e);
    if (!rc && o->val) rc = write_split(tmp, "validation", "train", &ti, &tl, o->train, o->val, o->quality, written, e);
    if (!rc && o->test) rc = write_split(tmp, "test", "t10k", &si, &sl, 0, o->test, o->quality, written, e);
    if (!rc) {
        char path[2100];
        if (snprintf(path, sizeof path, "%s/demo-data.txt", tmp) >= (int)sizeof path) rc = err_fail(e, "path too long: %s", tmp);
        else rc = fs_write_atomic(path, stamp_text, strlen(stamp_text), e);
    }
    free(ti.data), free(tl.data), free(si.data), free(sl.data);
    return rc;
}

int cmd_demo_data(int argc, char **argv) {
    DemoOptions o;
    Err e;
    if (parse_options(&o, argc, argv, &e)) {
        fprintf(stderr, "trainer demo-data: %s\nusage: trainer demo-data DIR [--source DIR] [--train N] [--val N] "
                        "[--test N] [--quality Q]\n", e.msg);
        return 2;
    }
    char stamp_text[512], stamp[2048], tmp[2048];
    snprintf(stamp_text, sizeof stamp_text,
             "Fashion-MNIST demo data made by `trainer demo-data` from %s\ntrain=%d validation=%d test=%d per class, "
             "28x28 grayscale JPEG quality %d\n", o.source, o.train, o.val, o.test, o.quality);
    snprintf(stamp, sizeof stamp, "%s/demo-data.txt", o.out);
    if (fs_exists(o.out)) {
        char *have = NULL;
        int same = fs_read_all(stamp, &have, NULL, NULL) == 0 && strcmp(have, stamp_text) == 0;
        free(have);
        if (same) { printf("demo-data: %s is already there\n", o.out); return 0; }
        fprintf(stderr, "trainer demo-data: %s exists but is not this demo data set; remove it first\n", o.out);
        return 1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o.out, (long)getpid());
    int written = 0;
    if (build(&o, tmp, stamp_text, &written, &e) || (rename(tmp, o.out) != 0 && err_fail(&e, "rename %s -> %s: %s", tmp, o.out, strerror(errno)))) {
        fprintf(stderr, "trainer demo-data: %s\n", e.msg);
        Err ignored;
        fs_remove_tree(tmp, &ignored);
        return 1;
    }
    printf("demo-data: wrote %d JPEGs to %s (%d classes x %d train, %d validation, %d test)\n", written, o.out,
           FMNIST_CLASSES, o.train, o.val, o.test);
    return 0;
}
