/* Stanford Cars importer (see cars_import.h). Three stages:
 *   collect   read the devkit .mat files (or the class folders) into a list of items
 *             (source path, class, split, box), counting everything that cannot be placed;
 *   split     move a seeded, stratified share of each class's train items to validation;
 *   build     link / copy / crop every item into DEST.tmp.<pid>, then rename it to DEST. */
#include "cars_import.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <jpeglib.h>
#include <matio.h>

#include "core/fsutil.h"
#include "core/rng.h"
#include "data/image.h"

const char *const cars_split_names[CARS_NSPLITS] = {"train", "validation", "test"};

enum { PROBLEM_LINES_SHOWN = 5, CLASS_NAME_MAX = 200, COPY_BUF_BYTES = 1 << 20, CROP_QUALITY = 95 };

/* matio signals failure with NULL / non-zero: name the .mat file, what was wanted, the call and our line. */
#define MATIO_CHECK(e, path, call, what) \
    ((call) ? 0 : err_fail((e), "%s: %s (%s failed at %s:%d)", (path), (what), #call, __FILE__, __LINE__))

/* libc calls: name the call, the path and our line. */
#define SYS_CHECK(e, call, path) \
    ((call) == 0 ? 0 : err_fail((e), "%s: %s: %s (%s:%d)", (path), #call, strerror(errno), __FILE__, __LINE__))

void cars_import_defaults(CarsImportOptions *opt) {
    memset(opt, 0, sizeof *opt);
    opt->val_split = 0.1;
    opt->seed = 42;
    opt->link = CARS_LINK_HARD;
}

/* ---------------------------------------------------------------- small helpers */

static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int dir_list_sorted(const char *path, char kind, DirList *out, Err *e) {
    out->names = NULL;
    out->n = 0;
    DIR *d = opendir(path);
    if (!d) return err_fail(e, "%s: cannot open directory: %s", path, strerror(errno));
    int cap = 0;
    struct dirent *de;
    char full[PATH_MAX];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        struct stat st;
        if (stat(fs_join(full, sizeof full, path, de->d_name), &st) != 0) continue;   /* dangling link */
        if (kind == 'f' && !S_ISREG(st.st_mode)) continue;
        if (kind == 'd' && !S_ISDIR(st.st_mode)) continue;
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(out->names, (size_t)cap * sizeof *nn);
            if (!nn) { closedir(d); dir_list_free(out); return err_fail(e, "%s: out of memory listing", path); }
            out->names = nn;
        }
        if (!(out->names[out->n] = strdup(de->d_name))) { closedir(d); dir_list_free(out); return err_fail(e, "out of memory"); }
        out->n++;
    }
    closedir(d);
    if (out->n) qsort(out->names, (size_t)out->n, sizeof *out->names, cmp_str_ptr);
    return 0;
}

void dir_list_free(DirList *d) {
    for (int i = 0; i < d->n; i++) free(d->names[i]);
    free(d->names);
    d->names = NULL;
    d->n = 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int fs_remove_tree(const char *path, Err *e) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return err_fail(e, "%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

static int has_jpeg_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0);
}

/* ---------------------------------------------------------------- class names */

/* Drops a UTF-8 sequence cut short at the end of s[0..*k). */
static void utf8_drop_partial(char *s, size_t *k) {
    size_t start = *k;
    while (start > 0 && ((unsigned char)s[start - 1] & 0xC0) == 0x80) start--;
    if (start == 0) return;
    unsigned char lead = (unsigned char)s[start - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (*k - (start - 1) < want) *k = start - 1;
    s[*k] = 0;
}

int cars_safe_class_name(const char *in, int index, char *out, size_t n) {
    size_t k = 0;
    for (const char *p = in; *p && k + 1 < n; p++) {
        unsigned char ch = (unsigned char)*p;
        char c = (ch == '/' || ch == '\\') ? '-' : (ch < 0x20 || ch == 0x7F) ? ' ' : (char)ch;
        if (c == ' ' && (k == 0 || out[k - 1] == ' ')) continue;    /* trim left, collapse runs */
        out[k++] = c;
    }
    out[k] = 0;
    utf8_drop_partial(out, &k);
    while (k > 0 && out[k - 1] == ' ') k--;
    out[k] = 0;
    if (out[0] == '.') out[0] = '_';                                /* no hidden directories */
    if (out[0] == 0 || strcmp(out, "_") == 0 || strcmp(out, "_.") == 0) snprintf(out, n, "class_%d", index + 1);
    return strcmp(in, out) != 0;
}

/* Directory names for the raw class names: safe, and unique ignoring case (a suffix _2, _3 ...). */
static int make_class_dirs(char **raw, int n, char ***out, int *renamed, Err *e) {
    char **dirs = tl_calloc(e, (size_t)n, sizeof *dirs, "class directory names");
    TL_CHECK_ALLOC(e, dirs);
    *renamed = 0;
    for (int i = 0; i < n; i++) {
        char base[CLASS_NAME_MAX + 1], cand[CLASS_NAME_MAX + 16];
        int changed = cars_safe_class_name(raw[i], i, base, sizeof base);
        snprintf(cand, sizeof cand, "%s", base);
        for (int suffix = 2, clash = 1; clash; ) {
            clash = 0;
            for (int j = 0; j < i && !clash; j++) clash = strcasecmp(dirs[j], cand) == 0;
            if (clash) { snprintf(cand, sizeof cand, "%s_%d", base, suffix++); changed = 1; }
        }
        *renamed += changed;
        if (!(dirs[i] = strdup(cand))) {
            for (int j = 0; j < i; j++) free(dirs[j]);
            free(dirs);
            return err_fail(e, "out of memory");
        }
    }
    *out = dirs;
    return 0;
}

/* ---------------------------------------------------------------- validation split */

int cars_validation_count(int n, double frac) {
    if (n <= 1 || frac <= 0) return 0;
    int k = (int)(frac * n);            /* Keras and dataset.c: int(split * n) */
    if (k == 0) k = 1;                  /* else the class would be missing from validation/ */
    return k > n - 1 ? n - 1 : k;
}

void cars_pick_validation(int n, double frac, uint64_t seed, uint32_t cls, uint8_t *is_val) {
    memset(is_val, 0, (size_t)(n > 0 ? n : 0));
    int k = cars_validation_count(n, frac);
    if (k == 0) return;
    int *perm = malloc((size_t)n * sizeof *perm);
    Rng r;
    rng_init(&r, seed, RNG_SPLIT, cls, 0);
    if (perm) {
        for (int i = 0; i < n; i++) perm[i] = i;
        rng_shuffle(&r, perm, n);
        for (int i = 0; i < k; i++) is_val[perm[i]] = 1;
        free(perm);
        return;
    }
    /* No memory for the permutation: sequential selection sampling (Knuth's S) from the same stream. */
    for (int i = 0, left = k; i < n && left > 0; i++)
        if (rng_below(&r, (uint32_t)(n - i)) < (uint32_t)left) { is_val[i] = 1; left--; }
}

/* ---------------------------------------------------------------- items */

typedef struct CarsItem {
    char *src;          /* source file path, owned */
    const char *name;   /* file name: points into src */
    int cls;            /* 0-based class index */
    int split;          /* CarsSplit */
    int bbox[4];        /* x1, y1, x2, y2: 1-based inclusive pixels; all 0 = none */
} CarsItem;

typedef struct CarsSet {
    char **raw_names;   /* class names as the source gives them */
    char **dirs;        /* directory names (safe, unique) */
    int n_classes;
    CarsItem *items;
    int n_items, cap;
} CarsSet;

static void cars_set_free(CarsSet *s) {
    for (int i = 0; i < s->n_classes; i++) {
        if (s->raw_names) free(s->raw_names[i]);
        if (s->dirs) free(s->dirs[i]);
    }
    free(s->raw_names);
    free(s->dirs);
    for (int i = 0; i < s->n_items; i++) free(s->items[i].src);
    free(s->items);
    memset(s, 0, sizeof *s);
}

static int add_item(CarsSet *s, const char *dir, const char *name, int cls, int split, const int bbox[4], Err *e) {
    if (s->n_items == s->cap) {
        int cap = s->cap ? 2 * s->cap : 1024;
        CarsItem *ni = realloc(s->items, (size_t)cap * sizeof *ni);
        TL_CHECK_ALLOC(e, ni);
        s->items = ni;
        s->cap = cap;
    }
    CarsItem *it = &s->items[s->n_items];
    memset(it, 0, sizeof *it);
    size_t len = strlen(dir) + strlen(name) + 2;
    it->src = tl_malloc(e, len, "image path");
    TL_CHECK_ALLOC(e, it->src);
    snprintf(it->src, len, "%s/%s", dir, name);
    it->name = it->src + strlen(dir) + 1;
    it->cls = cls;
    it->split = split;
    if (bbox) memcpy(it->bbox, bbox, sizeof it->bbox);
    s->n_items++;
    return 0;
}

static int cmp_item(const void *pa, const void *pb) {
    const CarsItem *a = pa, *b = pb;
    if (a->split != b->split) return a->split - b->split;
    if (a->cls != b->cls) return a->cls - b->cls;
    return strcmp(a->name, b->name);
}

/* ---------------------------------------------------------------- import context and problems */

typedef struct ImportCtx {
    const CarsImportOptions *opt;
    CarsImportReport *rep;
    FILE *log;
    char first_error[1024];     /* the first problem that blocks the import, for the error message */
    uint8_t *copy_buf;          /* COPY_BUF_BYTES, reused for every copy */
    Image img;                  /* decode buffer, reused for every crop */
} ImportCtx;

/* Counts a problem; shows the first few of each kind. Blocking problems (blocks != 0, and no
 * --skip-bad) also keep the first message for the final error. */
static void problem(ImportCtx *c, int *count, int blocks, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void problem(ImportCtx *c, int *count, int blocks, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ++*count;
    int is_error = blocks && !c->opt->skip_bad;
    if (is_error && !c->first_error[0]) snprintf(c->first_error, sizeof c->first_error, "%s", msg);
    if (!c->log) return;
    if (*count <= PROBLEM_LINES_SHOWN) fprintf(c->log, "import-cars: %s: %s\n", is_error ? "error" : "warning", msg);
    else if (*count == PROBLEM_LINES_SHOWN + 1) fprintf(c->log, "import-cars: (more like this not shown; see the counts)\n");
}

/* ---------------------------------------------------------------- devkit (.mat) reading */

static matvar_t *mat_read_var(const char *path, const char *name, Err *e) {
    mat_t *mat;
    matvar_t *v = NULL;
    if (MATIO_CHECK(e, path, mat = Mat_Open(path, MAT_ACC_RDONLY), "cannot open as a MAT file")) return NULL;
    char what[128];
    snprintf(what, sizeof what, "has no variable '%s'", name);
    MATIO_CHECK(e, path, v = Mat_VarRead(mat, name), what);
    if (MATIO_CHECK(e, path, Mat_Close(mat) == 0, "close failed") && v) { Mat_VarFree(v); v = NULL; }
    return v;
}

/* Elements of v (the product of its dims); SIZE_MAX when that overflows. */
static size_t mat_numel(const matvar_t *v) {
    size_t n = 1;
    for (int i = 0; i < v->rank; i++)
        if (__builtin_mul_overflow(n, v->dims[i], &n)) return SIZE_MAX;
    return n;
}

/* Does v hold `each` bytes for every element its dims claim? matio's accessors
 * (Mat_VarGetCell, Mat_VarGetStructFieldByName) index by the dims without checking them
 * against what it read, so a damaged file's cell or struct array would send them past
 * the data (or through NULL). */
static int mat_data_covers(const matvar_t *v, size_t each) {
    size_t n = mat_numel(v), need;
    if (n == 0) return 1;
    return v->data && !__builtin_mul_overflow(n, each, &need) && v->nbytes >= need;
}

/* A struct array whose field names and per-element field pointers are all there. */
static int mat_struct_ok(matvar_t *v) {
    unsigned nfields = Mat_VarGetNumberOfFields(v);
    char *const *names = Mat_VarGetStructFieldnames(v);
    if (nfields > 0 && !names) return 0;
    for (unsigned i = 0; i < nfields; i++)
        if (!names[i]) return 0;
    return mat_data_covers(v, (size_t)nfields * sizeof(matvar_t *));
}

/* Appends code point cp as UTF-8; returns bytes written (0 if it does not fit). */
static size_t utf8_put(char *out, size_t room, uint32_t cp) {
    if (cp < 0x80 && room >= 1) { out[0] = (char)cp; return 1; }
    if (cp < 0x800 && room >= 2) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp >= 0x800 && cp < 0x10000 && room >= 3) {
        out[0] = (char)(0xE0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    return 0;
}

/* A MAT char row (8-bit, 16-bit or 32-bit code units) as a NUL-terminated UTF-8 string. */
static int mat_string(const matvar_t *v, char *out, size_t n) {
    if (!v || v->class_type != MAT_C_CHAR || v->isComplex) return -1;
    size_t len = mat_numel(v), k = 0;
    if (len > 0 && (v->rank != 2 || v->dims[0] != 1 || v->data_size < 1 || !mat_data_covers(v, (size_t)v->data_size))) return -1;
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = v->data_size == 1 ? ((const uint8_t *)v->data)[i]
                    : v->data_size == 2 ? ((const uint16_t *)v->data)[i]
                    : v->data_size == 4 ? ((const uint32_t *)v->data)[i] : 0xFFFFFFFFu;
        if (cp == 0xFFFFFFFFu) return -1;
        size_t w = v->data_size == 1 ? (k + 1 < n ? (out[k] = (char)cp, 1u) : 0u) : utf8_put(out + k, n - 1 - k, cp);
        if (w == 0) return -1;
        k += w;
    }
    out[k] = 0;
    return 0;
}

/* First element of a real numeric array as a double. */
static int mat_number(const matvar_t *v, double *out) {
    if (!v || v->isComplex || mat_numel(v) < 1 || !mat_data_covers(v, Mat_SizeOfClass(v->class_type))) return -1;
    switch (v->class_type) {
    case MAT_C_DOUBLE: *out = *(const double *)v->data; return 0;
    case MAT_C_SINGLE: *out = *(const float *)v->data; return 0;
    case MAT_C_INT8: *out = *(const int8_t *)v->data; return 0;
    case MAT_C_UINT8: *out = *(const uint8_t *)v->data; return 0;
    case MAT_C_INT16: *out = *(const int16_t *)v->data; return 0;
    case MAT_C_UINT16: *out = *(const uint16_t *)v->data; return 0;
    case MAT_C_INT32: *out = *(const int32_t *)v->data; return 0;
    case MAT_C_UINT32: *out = *(const uint32_t *)v->data; return 0;
    case MAT_C_INT64: *out = (double)*(const int64_t *)v->data; return 0;
    case MAT_C_UINT64: *out = (double)*(const uint64_t *)v->data; return 0;
    default: return -1;
    }
}

/* class_names: a cell array of strings, one per class (label k is element k-1). */
static int read_class_names(const char *path, CarsSet *s, Err *e) {
    matvar_t *v = mat_read_var(path, "class_names", e);
    if (!v) return -1;
    int rc = 0;
    size_t n = mat_numel(v);
    if (v->class_type != MAT_C_CELL || n == 0 || n > 100000 || !mat_data_covers(v, sizeof(matvar_t *))) {
        rc = err_fail(e, "%s: class_names is not a non-empty cell array of strings", path);
        goto done;
    }
    s->raw_names = tl_calloc(e, n, sizeof *s->raw_names, "class names");
    if (!s->raw_names) { rc = err_context(e, "%s", path); goto done; }
    s->n_classes = (int)n;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char name[1024], what[96];
        matvar_t *cell;
        snprintf(what, sizeof what, "class_names has no element %zu", i + 1);
        if (MATIO_CHECK(e, path, cell = Mat_VarGetCell(v, (int)i), what)) { rc = -1; break; }
        if (mat_string(cell, name, sizeof name)) { rc = err_fail(e, "%s: class_names{%zu} is not a string", path, i + 1); break; }
        if (!(s->raw_names[i] = strdup(name))) rc = err_fail(e, "out of memory");
    }
done:
    Mat_VarFree(v);
    return rc;
}

typedef struct CarsAnno {
    char fname[256];
    double label;       /* as stored: 1-based class, checked later */
    int bbox[4];
} CarsAnno;

static int anno_field(matvar_t *annos, const char *path, const char *field, size_t i, matvar_t **out, Err *e) {
    char what[128];
    snprintf(what, sizeof what, "annotations(%zu) has no field '%s'", i + 1, field);
    return MATIO_CHECK(e, path, *out = Mat_VarGetStructFieldByName(annos, field, i), what);
}

static int read_one_anno(matvar_t *annos, const char *path, size_t i, int need_bbox, CarsAnno *a, Err *e) {
    static const char *const box_fields[4] = {"bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"};
    matvar_t *f;
    if (anno_field(annos, path, "fname", i, &f, e)) return -1;
    if (mat_string(f, a->fname, sizeof a->fname) || !a->fname[0])
        return err_fail(e, "%s: annotations(%zu).fname is not a file name", path, i + 1);
    const char *slash = strrchr(a->fname, '/');
    if (slash) memmove(a->fname, slash + 1, strlen(slash));
    if (anno_field(annos, path, "class", i, &f, e)) return -1;
    if (mat_number(f, &a->label)) return err_fail(e, "%s: annotations(%zu).class (%s) is not a number", path, i + 1, a->fname);
    for (int k = 0; k < 4 && need_bbox; k++) {
        double x;
        if (anno_field(annos, path, box_fields[k], i, &f, e)) return -1;
        if (mat_number(f, &x) || x != floor(x) || fabs(x) > 1e7)
            return err_fail(e, "%s: annotations(%zu).%s (%s) is not an integer", path, i + 1, box_fields[k], a->fname);
        a->bbox[k] = (int)x;
    }
    return 0;
}

static int cmp_anno(const void *a, const void *b) { return strcmp(((const CarsAnno *)a)->fname, ((const CarsAnno *)b)->fname); }

/* annotations: a struct array with fields fname, class and (for --crop-bbox) bbox_*; sorted by fname. */
static int read_annotations(const char *path, int need_bbox, CarsAnno **out, int *n_out, Err *e) {
    matvar_t *v = mat_read_var(path, "annotations", e);
    if (!v) return -1;
    int rc = 0;
    size_t n = mat_numel(v);
    CarsAnno *a = NULL;
    if (v->class_type != MAT_C_STRUCT || n > INT_MAX || !mat_struct_ok(v)) {
        rc = err_fail(e, "%s: annotations is not a struct array (or a damaged one)", path);
        goto done;
    }
    if (!(a = tl_calloc(e, n, sizeof *a, "annotations"))) { rc = err_context(e, "%s", path); goto done; }
    for (size_t i = 0; i < n && rc == 0; i++) rc = read_one_anno(v, path, i, need_bbox, &a[i], e);
    if (rc == 0) qsort(a, n, sizeof *a, cmp_anno);
done:
    Mat_VarFree(v);
    if (rc) { free(a); return -1; }
    *out = a;
    *n_out = (int)n;
    return 0;
}

/* First existing SRC/<dir>/<name> among the places releases put the devkit. */
static int find_devkit_file(const char *src, const char *name, char *out, size_t n) {
    static const char *const dirs[] = {"devkit/", "car_devkit/devkit/", ""};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(out, n, "%s/%s%s", src, dirs[i], name);
        if (fs_exists(out)) return 0;
    }
    snprintf(out, n, "%s/devkit/%s", src, name);
    return -1;
}

/* Images of one split: SRC/cars_train, or SRC/cars_train/cars_train as some archives nest it. */
static void find_image_dir(const char *src, const char *name, char *out, size_t n) {
    snprintf(out, n, "%s/%s/%s", src, name, name);
    if (!fs_is_dir(out)) snprintf(out, n, "%s/%s", src, name);
}

static int collect_devkit_split(ImportCtx *c, CarsSet *s, const char *img_dir, const char *mat_path, int split, Err *e) {
    CarsAnno *a = NULL;
    int n = 0;
    DirList files;
    if (read_annotations(mat_path, c->opt->crop_bbox, &a, &n, e)) return -1;
    if (dir_list_sorted(img_dir, 'f', &files, e)) { free(a); return -1; }
    uint8_t *used = calloc((size_t)files.n + 1, 1);
    int rc = used ? 0 : err_fail(e, "out of memory");
    CarsImportReport *rep = c->rep;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *f = a[i].fname;
        double lab = a[i].label;
        char *key = (char *)f;
        char **hit = files.n ? bsearch(&key, files.names, (size_t)files.n, sizeof *files.names, cmp_str_ptr) : NULL;
        if (i > 0 && strcmp(f, a[i - 1].fname) == 0)
            problem(c, &rep->listed_twice, 1, "%s: %s is annotated more than once", mat_path, f);
        else if (lab != floor(lab) || lab < 1 || lab > s->n_classes)
            problem(c, &rep->bad_label, 1, "%s: %s has class %g, outside 1..%d", mat_path, f, lab, s->n_classes);
        else if (!hit)
            problem(c, &rep->missing, 1, "%s/%s: listed in %s but absent", img_dir, f, mat_path);
        else {
            used[hit - files.names] = 1;
            rc = add_item(s, img_dir, f, (int)lab - 1, split, a[i].bbox, e);
        }
    }
    for (int i = 0; i < files.n && rc == 0; i++)
        if (!used[i]) problem(c, &rep->unannotated, 0, "%s/%s: not in %s; not imported", img_dir, files.names[i], mat_path);
    free(used);
    free(a);
    dir_list_free(&files);
    return rc;
}

static int collect_devkit(ImportCtx *c, CarsSet *s, const char *src, Err *e) {
    static const struct { const char *images, *annos; int split; } parts[2] = {
        {"cars_train", "cars_train_annos.mat", CARS_TRAIN},
        {"cars_test", "cars_test_annos_withlabels.mat", CARS_TEST},
    };
    char meta[PATH_MAX], mat_path[PATH_MAX], img_dir[PATH_MAX];
    if (find_devkit_file(src, "cars_meta.mat", meta, sizeof meta))
        return err_fail(e, "%s: not found (looked in %s/devkit, %s/car_devkit/devkit and %s)", meta, src, src, src);
    if (read_class_names(meta, s, e)) return -1;
    if (make_class_dirs(s->raw_names, s->n_classes, &s->dirs, &c->rep->renamed_classes, e)) return -1;
    for (int p = 0; p < 2; p++) {
        find_image_dir(src, parts[p].images, img_dir, sizeof img_dir);
        if (!fs_is_dir(img_dir)) return err_fail(e, "%s: image directory not found", img_dir);
        if (find_devkit_file(src, parts[p].annos, mat_path, sizeof mat_path))
            return err_fail(e, "%s: not found (looked in %s/devkit, %s/car_devkit/devkit and %s)%s", mat_path, src, src,
                            src, p == 1 ? "; the test labels come as a separate file from the devkit's cars_test_annos.mat" : "");
        if (collect_devkit_split(c, s, img_dir, mat_path, parts[p].split, e)) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- class-folder mirror */

static const char *const folder_split_names[][2] = {{"train", NULL}, {"validation", "val"}, {"test", NULL}};

static void folder_split_dir(const char *src, int split, char *out, size_t n) {
    snprintf(out, n, "%s/%s", src, folder_split_names[split][0]);
    if (!fs_is_dir(out) && folder_split_names[split][1]) snprintf(out, n, "%s/%s", src, folder_split_names[split][1]);
}

/* Sorted union of the class folder names of every split. */
static int folder_class_union(const char *src, CarsSet *s, Err *e) {
    int cap = 0;
    for (int sp = 0; sp < CARS_NSPLITS; sp++) {
        char dir[PATH_MAX];
        DirList cls;
        folder_split_dir(src, sp, dir, sizeof dir);
        if (!fs_is_dir(dir)) continue;
        if (dir_list_sorted(dir, 'd', &cls, e)) return -1;
        for (int i = 0; i < cls.n; i++) {
            int seen = 0;
            for (int j = 0; j < s->n_classes && !seen; j++) seen = strcmp(s->raw_names[j], cls.names[i]) == 0;
            if (seen) continue;
            if (s->n_classes == cap) {
                cap = cap ? 2 * cap : 256;
                char **nn = realloc(s->raw_names, (size_t)cap * sizeof *nn);
                if (!nn) { dir_list_free(&cls); return err_fail(e, "out of memory"); }
                s->raw_names = nn;
            }
            s->raw_names[s->n_classes++] = cls.names[i];
            cls.names[i] = NULL;
        }
        dir_list_free(&cls);
    }
    if (s->n_classes) qsort(s->raw_names, (size_t)s->n_classes, sizeof *s->raw_names, cmp_str_ptr);
    return 0;
}

static int collect_folder_class(ImportCtx *c, CarsSet *s, const char *split_dir, int split, int cls, Err *e) {
    char dir[PATH_MAX];
    DirList files;
    fs_join(dir, sizeof dir, split_dir, s->raw_names[cls]);
    if (!fs_is_dir(dir)) return 0;
    if (dir_list_sorted(dir, 'f', &files, e)) return -1;
    int rc = 0;
    for (int i = 0; i < files.n && rc == 0; i++) {
        if (has_jpeg_name(files.names[i])) rc = add_item(s, dir, files.names[i], cls, split, NULL, e);
        else problem(c, &c->rep->stray, 0, "%s/%s: not a .jpg/.jpeg file; not imported", dir, files.names[i]);
    }
    dir_list_free(&files);
    return rc;
}

static int collect_folders(ImportCtx *c, CarsSet *s, const char *src, Err *e) {
    if (folder_class_union(src, s, e)) return -1;
    if (s->n_classes == 0) return err_fail(e, "%s/train: no class folders", src);
    if (make_class_dirs(s->raw_names, s->n_classes, &s->dirs, &c->rep->renamed_classes, e)) return -1;
    for (int sp = 0; sp < CARS_NSPLITS; sp++) {
        char dir[PATH_MAX];
        DirList loose;
        folder_split_dir(src, sp, dir, sizeof dir);
        if (!fs_is_dir(dir)) continue;
        for (int k = 0; k < s->n_classes; k++)
            if (collect_folder_class(c, s, dir, sp, k, e)) return -1;
        if (dir_list_sorted(dir, 'f', &loose, e)) return -1;
        for (int i = 0; i < loose.n; i++)
            problem(c, &c->rep->stray, 0, "%s/%s: not inside a class folder; not imported", dir, loose.names[i]);
        dir_list_free(&loose);
    }
    return 0;
}

/* ---------------------------------------------------------------- split */

/* The label the loader gives each class: its folder's rank among train/'s folders in byte
 * order (dataset.c, like Keras). rank[k] = -1 for a class without train images. */
static int train_folder_ranks(const CarsSet *s, int *rank, Err *e) {
    const char **names = tl_calloc(e, (size_t)s->n_classes, sizeof *names, "class ranks");
    TL_CHECK_ALLOC(e, names);
    int n = 0;
    for (int k = 0; k < s->n_classes; k++) rank[k] = -1;
    for (int i = 0; i < s->n_items && s->items[i].split == CARS_TRAIN; i++)
        if (rank[s->items[i].cls] == -1) { rank[s->items[i].cls] = 0; names[n++] = s->dirs[s->items[i].cls]; }
    qsort(names, (size_t)n, sizeof *names, cmp_str_ptr);
    for (int k = 0; k < s->n_classes; k++)
        if (rank[k] == 0)
            for (int r = 0; r < n; r++)
                if (names[r] == s->dirs[k]) rank[k] = r;
    free(names);
    return 0;
}

/* Items sorted by (split, class, name); each class's train run is split in place, keyed by
 * the label the loader will give the class, so a tree imported with --val-split f --seed s
 * holds the split the trainer carves (data.validation_split f, seed s) from a train-only
 * import. A source that brings its own validation images keeps them and is not split. */
static int assign_validation(CarsSet *s, const CarsImportOptions *opt, Err *e) {
    if (s->n_items) qsort(s->items, (size_t)s->n_items, sizeof *s->items, cmp_item);
    int has_val = 0;
    for (int i = 0; i < s->n_items && !has_val; i++) has_val = s->items[i].split == CARS_VALIDATION;
    if (opt->val_split <= 0 || has_val) return 0;
    uint8_t *is_val = tl_malloc(e, (size_t)s->n_items, "validation marks");
    int *rank = tl_calloc(e, (size_t)s->n_classes, sizeof *rank, "class ranks");
    if (!is_val || !rank || train_folder_ranks(s, rank, e)) { free(is_val); free(rank); return -1; }
    for (int i = 0; i < s->n_items && s->items[i].split == CARS_TRAIN; ) {
        int j = i;
        while (j < s->n_items && s->items[j].split == CARS_TRAIN && s->items[j].cls == s->items[i].cls) j++;
        cars_pick_validation(j - i, opt->val_split, opt->seed, (uint32_t)rank[s->items[i].cls], is_val);
        for (int k = i; k < j; k++)
            if (is_val[k - i]) s->items[k].split = CARS_VALIDATION;
        i = j;
    }
    free(is_val);
    free(rank);
    qsort(s->items, (size_t)s->n_items, sizeof *s->items, cmp_item);
    return 0;
}

/* ---------------------------------------------------------------- placing files */

static int copy_file(ImportCtx *c, const char *src, const char *dst, Err *e) {
    int in = open(src, O_RDONLY);
    if (in < 0) return err_fail(e, "%s: cannot open: %s", src, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (out < 0) { close(in); return err_fail(e, "%s: cannot create: %s", dst, strerror(errno)); }
    int rc = 0;
    for (;;) {
        ssize_t got = read(in, c->copy_buf, COPY_BUF_BYTES);
        if (got < 0) { rc = err_fail(e, "%s: read error: %s", src, strerror(errno)); break; }
        if (got == 0) break;
        for (ssize_t off = 0; off < got && rc == 0; ) {
            ssize_t put = write(out, c->copy_buf + off, (size_t)(got - off));
            if (put < 0) rc = err_fail(e, "%s: write error: %s", dst, strerror(errno));
            else off += put;
        }
        if (rc) break;
    }
    close(in);
    if (close(out) != 0 && rc == 0) rc = err_fail(e, "%s: write error: %s", dst, strerror(errno));
    return rc;
}

static int link_file(ImportCtx *c, const char *src, const char *dst, Err *e) {
    if (c->opt->link == CARS_LINK_COPY) return copy_file(c, src, dst, e);
    if (c->opt->link == CARS_LINK_SYM) {
        char abs[PATH_MAX];
        if (!realpath(src, abs)) return err_fail(e, "%s: realpath: %s", src, strerror(errno));
        return SYS_CHECK(e, symlink(abs, dst), dst);
    }
    if (link(src, dst) == 0) return 0;
    if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP)
        return err_fail(e, "%s: cannot hard-link to %s: %s", src, dst, strerror(errno));
    c->rep->copied_fallback++;
    return copy_file(c, src, dst, e);
}

typedef struct JpegErr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} JpegErr;

static void jpeg_err_exit(j_common_ptr cinfo) { longjmp(((JpegErr *)cinfo->err)->jump, 1); }

int jpeg_encode_rgb_file(const char *path, const uint8_t *rgb, int h, int w, size_t stride, int quality, Err *e) {
    if (h <= 0 || w <= 0 || h > 65500 || w > 65500) return err_fail(e, "%s: cannot encode a %dx%d image", path, w, h);
    FILE *f = fopen(path, "wb");
    if (!f) return err_fail(e, "%s: cannot create: %s", path, strerror(errno));
    struct jpeg_compress_struct cinfo;
    JpegErr jerr;
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_err_exit;
    if (setjmp(jerr.jump)) {
        char msg[JMSG_LENGTH_MAX];
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, msg);
        jpeg_destroy_compress(&cinfo);
        fclose(f);
        unlink(path);
        return err_fail(e, "%s: libjpeg compress failed: %s (%s:%d)", path, msg, __FILE__, __LINE__);
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * stride);
        if (jpeg_write_scanlines(&cinfo, &row, 1) != 1) longjmp(jerr.jump, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) { unlink(path); return err_fail(e, "%s: write error: %s", path, strerror(errno)); }
    return 0;
}

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Box (1-based inclusive x1..x2, y1..y2) clamped to the image, re-encoded at quality 95. */
static int crop_file(ImportCtx *c, const CarsItem *it, const char *dst, Err *e) {
    Image *im = &c->img;
    if (image_decode_jpeg_file(it->src, im, 0, NULL, e)) return -1;
    int x0 = clamp_int(it->bbox[0] - 1, 0, im->w), x1 = clamp_int(it->bbox[2], 0, im->w);
    int y0 = clamp_int(it->bbox[1] - 1, 0, im->h), y1 = clamp_int(it->bbox[3], 0, im->h);
    if (x1 <= x0 || y1 <= y0)
        return err_fail(e, "%s: box (%d,%d)-(%d,%d) lies outside the %dx%d image", it->src, it->bbox[0], it->bbox[1],
                        it->bbox[2], it->bbox[3], im->w, im->h);
    const uint8_t *origin = im->rgb + ((size_t)y0 * (size_t)im->w + (size_t)x0) * 3;
    c->rep->cropped++;
    return jpeg_encode_rgb_file(dst, origin, y1 - y0, x1 - x0, (size_t)im->w * 3, CROP_QUALITY, e);
}

/* Items come sorted by (split, class): the class directory is made when the first of its items arrives. */
static int place_item(ImportCtx *c, const CarsSet *s, const CarsItem *it, const CarsItem *prev, const char *root, Err *e) {
    char dir[PATH_MAX], dst[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/%s/%s", root, cars_split_names[it->split], s->dirs[it->cls]) >= (int)sizeof dir)
        return err_fail(e, "%s: path too long", root);
    if ((!prev || prev->split != it->split || prev->cls != it->cls) && fs_mkdir_p(dir, e)) return -1;
    if (snprintf(dst, sizeof dst, "%s/%s", dir, it->name) >= (int)sizeof dst) return err_fail(e, "%s/%s: path too long", dir, it->name);
    if (c->opt->crop_bbox) return crop_file(c, it, dst, e);
    return link_file(c, it->src, dst, e);
}

/* Quotes a CSV field when it needs it (comma, quote, newline). */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) { if (*s == '"') fputc('"', f); fputc(*s, f); }
    fputc('"', f);
}

/* classes.csv: label (1-based, the source's numbering), folder, original name. */
static int write_class_table(const CarsSet *s, const char *root, Err *e) {
    char path[PATH_MAX];
    AtomicFile af;
    if (fs_atomic_open(&af, fs_join(path, sizeof path, root, "classes.csv"), e)) return -1;
    fprintf(af.f, "label,folder,name\n");
    for (int i = 0; i < s->n_classes; i++) {
        fprintf(af.f, "%d,", i + 1);
        csv_field(af.f, s->dirs[i]);
        fputc(',', af.f);
        csv_field(af.f, s->raw_names[i]);
        fputc('\n', af.f);
    }
    return fs_atomic_commit(&af, e);
}

static int build_tree(ImportCtx *c, const CarsSet *s, const char *tmp, Err *e) {
    int tty = c->log && isatty(fileno(c->log));
    if (fs_mkdir_p(tmp, e)) return -1;
    for (int i = 0; i < s->n_items; i++) {
        if (place_item(c, s, &s->items[i], i ? &s->items[i - 1] : NULL, tmp, e)) return -1;
        if (tty && (i % 256 == 255 || i + 1 == s->n_items))
            fprintf(c->log, "\rimport-cars: %s %d/%d", c->opt->crop_bbox ? "cropped" : "placed", i + 1, s->n_items);
    }
    if (tty && s->n_items) fputc('\n', c->log);
    return write_class_table(s, tmp, e);
}

/* ---------------------------------------------------------------- destination */

/* --force replaces only an empty directory or an earlier import (it has train/ or test/). */
static int check_dest(const char *dest, int force, Err *e) {
    struct stat st;
    if (lstat(dest, &st) != 0) return 0;
    if (!force) return err_fail(e, "%s: already exists; pass --force to replace it", dest);
    char sub[PATH_MAX];
    DirList any;
    if (!S_ISDIR(st.st_mode)) return err_fail(e, "%s: exists and is not a directory; not replacing it", dest);
    int looks_imported = fs_is_dir(fs_join(sub, sizeof sub, dest, "train")) || fs_is_dir(fs_join(sub, sizeof sub, dest, "test"));
    if (looks_imported) return 0;
    if (dir_list_sorted(dest, 'a', &any, e)) return -1;
    int empty = any.n == 0;
    dir_list_free(&any);
    return empty ? 0 : err_fail(e, "%s: exists and does not look like an import (no train/ or test/); not replacing it", dest);
}

static int commit_tree(const char *tmp, const char *dest, Err *e) {
    char old[PATH_MAX];
    snprintf(old, sizeof old, "%s.old.%ld", dest, (long)getpid());
    int had_old = rename(dest, old) == 0;
    if (!had_old && errno != ENOENT) return err_fail(e, "%s: cannot move aside: %s", dest, strerror(errno));
    if (rename(tmp, dest) != 0) {
        int er = errno;
        if (had_old) rename(old, dest);
        return err_fail(e, "%s: cannot rename %s into place: %s", dest, tmp, strerror(er));
    }
    return had_old ? fs_remove_tree(old, e) : 0;
}

static void fill_counts(const CarsSet *s, CarsImportReport *rep) {
    rep->n_classes = s->n_classes;
    int *count = calloc((size_t)s->n_classes * CARS_NSPLITS + 1, sizeof *count);
    if (!count) return;
    for (int i = 0; i < s->n_items; i++) {
        rep->placed[s->items[i].split]++;
        count[s->items[i].split * s->n_classes + s->items[i].cls]++;
    }
    for (int sp = 0; sp < CARS_NSPLITS; sp++) {
        rep->class_min[sp] = rep->class_max[sp] = count[sp * s->n_classes];
        for (int k = 1; k < s->n_classes; k++) {
            int v = count[sp * s->n_classes + k];
            if (v < rep->class_min[sp]) rep->class_min[sp] = v;
            if (v > rep->class_max[sp]) rep->class_max[sp] = v;
        }
    }
    free(count);
}

static int check_options(const char *src, const CarsImportOptions *opt, int folders, Err *e) {
    if (!(opt->val_split >= 0 && opt->val_split < 1)) return err_fail(e, "--val-split %g: must be in [0, 1)", opt->val_split);
    if (folders && opt->crop_bbox)
        return err_fail(e, "%s: --crop-bbox needs the devkit annotations; the class-folder layout has no boxes", src);
    return 0;
}

static int collect(ImportCtx *c, CarsSet *s, const char *src, Err *e) {
    char p[PATH_MAX];
    int devkit = fs_is_dir(fs_join(p, sizeof p, src, "cars_train"));
    int folders = !devkit && fs_is_dir(fs_join(p, sizeof p, src, "train"));
    if (!fs_is_dir(src)) return err_fail(e, "%s: not a directory", src);
    if (!devkit && !folders)
        return err_fail(e, "%s: neither the official layout (cars_train/, cars_test/, devkit/*.mat) nor class folders (train/<class>/)", src);
    c->rep->layout = devkit ? "devkit" : "folders";
    if (check_options(src, c->opt, folders, e)) return -1;
    if (devkit ? collect_devkit(c, s, src, e) : collect_folders(c, s, src, e)) return -1;
    if (folders && fs_is_dir(fs_join(p, sizeof p, src, "validation")) && c->opt->val_split > 0 && c->log)
        fprintf(c->log, "import-cars: %s has validation/; --val-split is not applied\n", src);
    if (c->first_error[0]) {
        CarsImportReport *r = c->rep;
        return err_fail(e, "%s (%d absent, %d with a bad label, %d annotated twice; --skip-bad imports the rest)",
                        c->first_error, r->missing, r->bad_label, r->listed_twice);
    }
    return 0;
}

int cars_import(const char *src, const char *dest, const CarsImportOptions *opt, CarsImportReport *rep, FILE *log, Err *e) {
    ImportCtx c = {.opt = opt, .rep = rep, .log = log};
    CarsSet s = {0};
    char tmp[PATH_MAX];
    memset(rep, 0, sizeof *rep);
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dest, (long)getpid()) >= (int)sizeof tmp) return err_fail(e, "%s: path too long", dest);
    int rc = check_dest(dest, opt->force, e);
    if (rc == 0) rc = collect(&c, &s, src, e);
    if (rc == 0) rc = assign_validation(&s, opt, e);
    if (rc == 0 && !(c.copy_buf = tl_malloc(e, COPY_BUF_BYTES, "copy buffer"))) rc = -1;
    if (rc == 0) rc = fs_remove_tree(tmp, e);
    if (rc == 0) rc = build_tree(&c, &s, tmp, e);
    if (rc == 0) rc = commit_tree(tmp, dest, e);
    if (rc == 0) fill_counts(&s, rep);
    else { Err ignored; fs_remove_tree(tmp, &ignored); }
    free(c.copy_buf);
    image_free(&c.img);
    cars_set_free(&s);
    return rc;
}
