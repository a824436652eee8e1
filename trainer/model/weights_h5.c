/* Reading and writing the Keras HDF5 weight layout (the legacy one save_weights writes):
 *   root attr layer_names = [b"conv1_pad", b"conv1_conv", ...]
 *   group <layer> with attr weight_names = [b"<layer>/kernel:0", b"<layer>/bias:0"]
 *   dataset <layer>/<weight_name>, float32, Keras shapes (conv kernels (kh,kw,cin,cout)).
 * Files in the wild differ: fixed- or variable-length string attributes, names with or
 * without ":0", datasets nested under the layer name or not. The reader takes all of them:
 * it matches weights by their final name component ("kernel", "gamma", ...). */
#include <stdlib.h>
#include <string.h>

#include "core/floats.h"
#include "model/h5_check.h"
#include "model/resnet.h"

void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct StrList {
    int n;
    char **s;
} StrList;

static void strlist_free(StrList *l) {
    for (int i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    l->n = 0;
    l->s = NULL;
}

/* Bounds on a names attribute (a damaged file's sizes would otherwise size our buffers):
 * Keras files hold a few hundred names of under 100 bytes. */
enum { ATTR_MAX_STRINGS = 1 << 20, ATTR_MAX_STRING_BYTES = 1 << 16 };

/* Reads a 1-D string attribute (fixed or variable length). Missing attribute -> n = 0. */
static int read_string_attr(hid_t obj, const char *name, StrList *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    H5_CHECK(e, attr);
    hid_t ftype = H5Aget_type(attr), space = H5Aget_space(attr);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    int rc = 0;
    size_t len = ftype >= 0 ? H5Tget_size(ftype) : 0;
    int vlen = ftype >= 0 && H5Tis_variable_str(ftype) > 0;
    if (ftype < 0 || space < 0 || n < 0 || H5Tget_class(ftype) != H5T_STRING) {
        rc = err_fail(e, "attribute '%s' is not an array of strings", name);
    } else if (n > ATTR_MAX_STRINGS || (!vlen && (len == 0 || len > ATTR_MAX_STRING_BYTES))) {
        rc = err_fail(e, "attribute '%s' holds %lld strings of %zu bytes: not layer or weight names", name, (long long)n, len);
    } else if (!(out->s = calloc((size_t)n + 1, sizeof(char *)))) {
        rc = err_fail(e, "out of memory for attribute '%s'", name);
    } else {
        out->n = (int)n;
        hid_t mtype = H5Tcopy(H5T_C_S1);
        if (vlen) {
            H5Tset_size(mtype, H5T_VARIABLE);
            char **tmp = calloc((size_t)n + 1, sizeof(char *));
            if (!tmp || H5Aread(attr, mtype, tmp) < 0) rc = err_fail(e, "%s:%d: H5Aread of '%s' failed", __FILE__, __LINE__, name);
            for (hssize_t i = 0; rc == 0 && i < n; i++) out->s[i] = strdup(tmp[i] ? tmp[i] : "");
            /* Also after a failed read: the strings HDF5 converted before failing are ours. */
            if (tmp) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, tmp);
            free(tmp);
        } else {
            H5Tset_size(mtype, len);
            char *buf = calloc((size_t)n * len + 1, 1);
            if (!buf || H5Aread(attr, mtype, buf) < 0) rc = err_fail(e, "%s:%d: H5Aread of '%s' failed", __FILE__, __LINE__, name);
            for (hssize_t i = 0; rc == 0 && i < n; i++) out->s[i] = strndup(buf + i * len, len);
            free(buf);
        }
        H5Tclose(mtype);
    }
    if (ftype >= 0) H5Tclose(ftype);
    if (space >= 0) H5Sclose(space);
    H5Aclose(attr);
    if (rc) strlist_free(out);
    return rc;
}

/* "conv1_conv/kernel:0" -> "kernel". */
static void weight_kind(const char *weight_name, char *kind, size_t n) {
    const char *slash = strrchr(weight_name, '/');
    snprintf(kind, n, "%s", slash ? slash + 1 : weight_name);
    char *colon = strchr(kind, ':');
    if (colon) *colon = 0;
}

/* Finds the dataset path (relative to the layer group) holding weight `kind`. */
static int find_weight_path(hid_t group, const StrList *names, const char *kind, char *path, size_t n) {
    char k[128];
    for (int i = 0; i < names->n; i++) {
        weight_kind(names->s[i], k, sizeof k);
        if (!strcmp(k, kind) && H5Lexists(group, names->s[i], H5P_DEFAULT) > 0) {
            snprintf(path, n, "%s", names->s[i]);
            return 0;
        }
    }
    return -1; /* the caller searches the group tree instead */
}

typedef struct FindCtx {
    const char *kind;
    char found[512];
} FindCtx;

static herr_t visit_find(hid_t obj, const char *name, const H5O_info_t *info, void *op_data) {
    (void)obj;
    FindCtx *c = op_data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    char k[128];
    weight_kind(name, k, sizeof k);
    if (strcmp(k, c->kind)) return 0;
    snprintf(c->found, sizeof c->found, "%s", name);
    return 1;
}

/* NaN or Inf in a weight would turn every feature into NaN: a damaged file, refused. */
static int check_finite(const char *path, const char *layer, const char *kind, const float *w, const hsize_t *dims, int nd, Err *e) {
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)dims[i];
    long first = floats_first_nonfinite(w, n);
    if (first < 0) return 0;
    return err_fail(e, "%s: layer '%s' weight '%s' holds a non-finite value (NaN or Inf; the first at index %ld, %g): "
                    "the weight file is damaged", path, layer, kind, first, (double)w[first]);
}

/* Reads dataset `kind` of layer group `layer` into dst after checking its shape and values. */
static int read_weight(hid_t file, const char *path, const char *layer, const StrList *names, const char *kind,
                       int ndims, const hsize_t *shape, float *dst, Err *e) {
    hid_t g = H5Gopen2(file, layer, H5P_DEFAULT);
    if (g < 0) return err_fail(e, "%s: layer '%s' is missing", path, layer);
    char wpath[512];
    if (find_weight_path(g, names, kind, wpath, sizeof wpath)) {
        FindCtx c = {.kind = kind, .found = ""};
        if (H5Ovisit2(g, H5_INDEX_NAME, H5_ITER_NATIVE, visit_find, &c, H5O_INFO_BASIC) <= 0) {
            H5Gclose(g);
            return err_fail(e, "%s: layer '%s' has no weight '%s'", path, layer, kind);
        }
        snprintf(wpath, sizeof wpath, "%s", c.found);
    }
    hid_t ds = H5Dopen2(g, wpath, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    int rc = 0;
    hsize_t dims[8] = {0};
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (ds < 0 || sp < 0 || nd < 0) {
        rc = err_fail(e, "%s: layer '%s': cannot open dataset '%s'", path, layer, wpath);
    } else if (nd > 8 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        rc = err_fail(e, "%s: layer '%s' weight '%s': bad dataspace", path, layer, kind);
    } else {
        int same = nd == ndims;
        for (int i = 0; same && i < nd; i++) same = dims[i] == shape[i];
        if (!same) {
            char want[64] = "", got[64] = "";
            for (int i = 0; i < ndims; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%llu", i ? "," : "", (unsigned long long)shape[i]);
            for (int i = 0; i < nd; i++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
            rc = err_fail(e, "%s: layer '%s' weight '%s' has shape (%s), expected (%s)", path, layer, kind, got, want);
        } else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
            rc = err_fail(e, "%s: layer '%s' weight '%s': read failed", path, layer, kind);
        } else {
            rc = check_finite(path, layer, kind, dst, dims, nd, e);
        }
    }
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    H5Gclose(g);
    return rc;
}

static int alloc_conv_weights(ResnetConvWeights *w, const ResnetConvSpec *s, Err *e) {
    size_t nk = (size_t)s->kh * s->kw * s->cin * s->cout;
    w->kernel = tl_malloc(e, nk * sizeof(float), s->conv);
    float *vec = tl_malloc(e, 5 * (size_t)s->cout * sizeof(float), s->bn);
    if (!w->kernel || !vec) { free(w->kernel); free(vec); w->kernel = NULL; return -1; }
    w->bias = vec;
    w->gamma = vec + s->cout;
    w->beta = vec + 2 * s->cout;
    w->mean = vec + 3 * s->cout;
    w->var = vec + 4 * s->cout;
    return 0;
}

static int alloc_all(ResnetWeights *w, const ResnetArch *a, Err *e) {
    memset(w, 0, sizeof *w);
    w->w = tl_calloc(e, (size_t)a->n_convs, sizeof *w->w, "resnet weights");
    if (!w->w) return -1;
    w->n = a->n_convs;
    for (int i = 0; i < a->n_convs; i++)
        if (alloc_conv_weights(&w->w[i], &a->convs[i], e)) { resnet_weights_free(w); return -1; }
    return 0;
}

void resnet_weights_free(ResnetWeights *w) {
    for (int i = 0; w->w && i < w->n; i++) {
        free(w->w[i].kernel);
        free(w->w[i].bias);
    }
    free(w->w);
    memset(w, 0, sizeof *w);
}

static int load_conv(hid_t f, const char *path, const ResnetConvSpec *s, ResnetConvWeights *w, Err *e) {
    StrList cn, bn;
    hid_t g = H5Gopen2(f, s->conv, H5P_DEFAULT);
    if (g < 0) return err_fail(e, "%s: layer '%s' is missing (not a %s weight file?)", path, s->conv, "Keras ResNet");
    int rc = read_string_attr(g, "weight_names", &cn, e);
    H5Gclose(g);
    if (rc) return err_context(e, "%s: layer '%s'", path, s->conv);
    g = H5Gopen2(f, s->bn, H5P_DEFAULT);
    if (g < 0) { strlist_free(&cn); return err_fail(e, "%s: layer '%s' is missing", path, s->bn); }
    rc = read_string_attr(g, "weight_names", &bn, e);
    H5Gclose(g);
    if (rc) { strlist_free(&cn); return err_context(e, "%s: layer '%s'", path, s->bn); }
    hsize_t kshape[4] = {(hsize_t)s->kh, (hsize_t)s->kw, (hsize_t)s->cin, (hsize_t)s->cout}, vshape[1] = {(hsize_t)s->cout};
    rc = read_weight(f, path, s->conv, &cn, "kernel", 4, kshape, w->kernel, e) ||
         read_weight(f, path, s->conv, &cn, "bias", 1, vshape, w->bias, e) ||
         read_weight(f, path, s->bn, &bn, "gamma", 1, vshape, w->gamma, e) ||
         read_weight(f, path, s->bn, &bn, "beta", 1, vshape, w->beta, e) ||
         read_weight(f, path, s->bn, &bn, "moving_mean", 1, vshape, w->mean, e) ||
         read_weight(f, path, s->bn, &bn, "moving_variance", 1, vshape, w->var, e) ? -1 : 0;
    strlist_free(&cn);
    strlist_free(&bn);
    return rc;
}

int resnet_weights_load_h5(ResnetWeights *w, const ResnetArch *a, const char *path, Err *e) {
    memset(w, 0, sizeof *w);
    h5_quiet();
    FILE *probe = fopen(path, "rb");
    if (!probe) return err_fail(e, "%s: cannot open weight file", path);
    fclose(probe);
    if (H5Fis_hdf5(path) <= 0) return err_fail(e, "%s: not an HDF5 file (expected a Keras .h5 weight file)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return err_fail(e, "%s: cannot open as HDF5", path);
    StrList layers;
    int rc = read_string_attr(f, "layer_names", &layers, e) ? err_context(e, "%s", path) : 0;
    /* Keras splits attributes over 64 KiB into layer_names0, layer_names1, ... */
    int split = H5Aexists(f, "layer_names0") > 0;
    if (rc == 0 && layers.n == 0 && !split && H5Lexists(f, "model_weights", H5P_DEFAULT) > 0)
        rc = err_fail(e, "%s: is a full Keras model file; pass the weights-only (notop) file", path);
    else if (rc == 0 && layers.n == 0 && !split)
        rc = err_fail(e, "%s: not a Keras weight file (no layer_names attribute)", path);
    strlist_free(&layers);
    if (rc == 0) rc = alloc_all(w, a, e);
    for (int i = 0; rc == 0 && i < a->n_convs; i++) rc = load_conv(f, path, &a->convs[i], &w->w[i], e);
    H5Fclose(f);
    if (rc) { resnet_weights_free(w); return -1; }
    snprintf(w->source, sizeof w->source, "%s", path);
    return 0;
}
