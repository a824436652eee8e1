/* The official release: class names and annotations from the devkit .mat files (libmatio),
 * images from cars_train/ and cars_test/. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <matio.h>

#include "core/dirwalk.h"
#include "core/fsutil.h"
#include "data/cars_import_internal.h"

/* matio signals failure with NULL / non-zero: name the .mat file, what was wanted, the call and our line. */
#define MATIO_CHECK(e, path, call, what) \
    ((call) ? 0 : err_fail((e), "%s: %s (%s failed at %s:%d)", (path), (what), #call, __FILE__, __LINE__))

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
        char **hit = files.n ? bsearch(&key, files.names, (size_t)files.n, sizeof *files.names, dir_name_cmp) : NULL;
        if (i > 0 && strcmp(f, a[i - 1].fname) == 0)
            cars_problem(c, &rep->listed_twice, 1, "%s: %s is annotated more than once", mat_path, f);
        else if (lab != floor(lab) || lab < 1 || lab > s->n_classes)
            cars_problem(c, &rep->bad_label, 1, "%s: %s has class %g, outside 1..%d", mat_path, f, lab, s->n_classes);
        else if (!hit)
            cars_problem(c, &rep->missing, 1, "%s/%s: listed in %s but absent", img_dir, f, mat_path);
        else {
            used[hit - files.names] = 1;
            rc = cars_add_item(s, img_dir, f, (int)lab - 1, split, a[i].bbox, e);
        }
    }
    for (int i = 0; i < files.n && rc == 0; i++)
        if (!used[i]) cars_problem(c, &rep->unannotated, 0, "%s/%s: not in %s; not imported", img_dir, files.names[i], mat_path);
    free(used);
    free(a);
    dir_list_free(&files);
    return rc;
}

int cars_collect_devkit(ImportCtx *c, CarsSet *s, const char *src, Err *e) {
    static const struct { const char *images, *annos; int split; } parts[2] = {
        {"cars_train", "cars_train_annos.mat", CARS_TRAIN},
        {"cars_test", "cars_test_annos_withlabels.mat", CARS_TEST},
    };
    char meta[PATH_MAX], mat_path[PATH_MAX], img_dir[PATH_MAX];
    if (find_devkit_file(src, "cars_meta.mat", meta, sizeof meta))
        return err_fail(e, "%s: not found (looked in %s/devkit, %s/car_devkit/devkit and %s)", meta, src, src, src);
    if (read_class_names(meta, s, e)) return -1;
    if (cars_class_dirs(s->raw_names, s->n_classes, &s->dirs, &c->rep->renamed_classes, e)) return -1;
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

