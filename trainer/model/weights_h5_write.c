/* Writes the Keras HDF5 weight layout (as save_weights does), with all the layer groups of
 * model.layers order (resnet_arch.c), weightless ones included. Style switches reproduce the
 * variants found in the wild, so tests can check that the reader takes all of them. */
#include <stdlib.h>
#include <string.h>

#include "model/h5_check.h"
#include "model/resnet.h"
#include "model/weights_h5_write.h"

/* Writes a 1-D string attribute, fixed-length (Keras/h5py "S" arrays) or variable-length. */
static int write_string_attr(hid_t obj, const char *name, const char **s, int n, int vlen, Err *e) {
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = n ? H5Screate_simple(1, dims, NULL) : H5Screate(H5S_NULL);
    H5_CHECK(e, space);
    hid_t type = H5Tcopy(H5T_C_S1);
    size_t len = 1;
    for (int i = 0; i < n; i++) len = strlen(s[i]) > len ? strlen(s[i]) : len;
    H5_CHECK(e, H5Tset_size(type, vlen ? H5T_VARIABLE : len));
    H5_CHECK(e, H5Tset_strpad(type, H5T_STR_NULLPAD));
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(e, attr);
    if (n && vlen) H5_CHECK(e, H5Awrite(attr, type, s));
    if (n && !vlen) {
        char *buf = calloc((size_t)n, len);
        for (int i = 0; i < n; i++) memcpy(buf + (size_t)i * len, s[i], strlen(s[i]));
        herr_t st = H5Awrite(attr, type, buf);
        free(buf);
        H5_CHECK(e, st);
    }
    H5Aclose(attr);
    H5Tclose(type);
    H5Sclose(space);
    return 0;
}

static int write_dataset(hid_t group, const char *name, int ndims, const hsize_t *dims, const float *data, Err *e) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5_CHECK(e, lcpl);
    H5_CHECK(e, H5Pset_create_intermediate_group(lcpl, 1));
    hid_t space = H5Screate_simple(ndims, dims, NULL);
    H5_CHECK(e, space);
    hid_t ds = H5Dcreate2(group, name, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(e, ds);
    H5_CHECK(e, H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5Dclose(ds);
    H5Sclose(space);
    H5Pclose(lcpl);
    return 0;
}

/* One layer group with its weights: kinds[i] is the data of weight kind names[i]. */
static int write_layer(hid_t f, const char *layer, int n, const char *const *kinds, const float *const *data,
                       const int *ndims, const hsize_t (*dims)[4], const H5WriteStyle *st, Err *e) {
    hid_t g = H5Gcreate2(f, layer, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(e, g);
    char names[8][160];
    const char *ptrs[8];
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "%s%s%s%s", st->flat ? "" : layer, st->flat ? "" : "/", kinds[i],
                 st->no_suffix ? "" : ":0");
        ptrs[i] = names[i];
        if (write_dataset(g, names[i], ndims[i], dims[i], data[i], e)) return err_context(e, "layer %s", layer);
    }
    int rc = st->omit_weight_names ? 0 : write_string_attr(g, "weight_names", ptrs, n, st->vlen_strings, e);
    H5Gclose(g);
    return rc;
}

static int write_conv_and_bn(hid_t f, const ResnetConvSpec *s, const ResnetConvWeights *w, const H5WriteStyle *st, Err *e) {
    const char *ck[2] = {"kernel", "bias"}, *bk[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    const float *cd[2] = {w->kernel, w->bias}, *bd[4] = {w->gamma, w->beta, w->mean, w->var};
    int cn[2] = {4, 1}, bn[4] = {1, 1, 1, 1};
    hsize_t c = (hsize_t)s->cout;
    hsize_t cdims[2][4] = {{(hsize_t)s->kh, (hsize_t)s->kw, (hsize_t)s->cin, c}, {c}};
    hsize_t bdims[4][4] = {{c}, {c}, {c}, {c}};
    if (!st->skip_layer || strcmp(st->skip_layer, s->conv))
        if (write_layer(f, s->conv, 2, ck, cd, cn, cdims, st, e)) return -1;
    if (!st->skip_layer || strcmp(st->skip_layer, s->bn))
        if (write_layer(f, s->bn, 4, bk, bd, bn, bdims, st, e)) return -1;
    return 0;
}

/* Every layer name of model.layers (resnet_arch.c's order), weightless ones included. */
static int layer_names(const ResnetArch *a, char (*out)[RESNET_NAME_MAX], int cap) {
    int n = 0;
    const char *stem[] = {"input_1", "conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad", "pool1_pool"};
    for (int i = 0; i < 7; i++) snprintf(out[n++], RESNET_NAME_MAX, "%s", stem[i]);
    for (int s = 0; s < 4; s++)
        for (int b = 1; b <= a->blocks[s]; b++) {
            const char *proj[] = {"1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "2_relu", "0_conv", "3_conv", "0_bn", "3_bn", "add", "out"};
            const char *iden[] = {"1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "2_relu", "3_conv", "3_bn", "add", "out"};
            int k = b == 1 ? 12 : 10;
            for (int j = 0; j < k && n < cap; j++)
                snprintf(out[n++], RESNET_NAME_MAX, "conv%d_block%d_%s", s + 2, b, b == 1 ? proj[j] : iden[j]);
        }
    snprintf(out[n++], RESNET_NAME_MAX, "avg_pool");
    return n;
}

int resnet_weights_save_h5_style(const ResnetWeights *w, const ResnetArch *a, const char *path, const H5WriteStyle *st, Err *e) {
    h5_quiet();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return err_fail(e, "%s: cannot create HDF5 file", path);
    int cap = 8 + 12 * 60;
    char (*names)[RESNET_NAME_MAX] = calloc((size_t)cap, RESNET_NAME_MAX);
    const char **ptrs = calloc((size_t)cap, sizeof(char *));
    int n = layer_names(a, names, cap), rc = 0;
    for (int i = 0; i < n; i++) ptrs[i] = names[i];
    const char *backend[1] = {"tensorflow"}, *version[1] = {"2.15.0"};
    rc = write_string_attr(f, "layer_names", ptrs, n, st->vlen_strings, e) ||
         write_string_attr(f, "backend", backend, 1, st->vlen_strings, e) ||
         write_string_attr(f, "keras_version", version, 1, st->vlen_strings, e);
    /* Weightless layers: a group with an empty weight_names. */
    for (int i = 0; rc == 0 && i < n; i++) {
        if (resnet_arch_find(a, names[i]) >= 0 || strstr(names[i], "_bn")) continue;
        hid_t g = H5Gcreate2(f, names[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        rc = g < 0 ? err_fail(e, "%s: cannot create group %s", path, names[i]) : write_string_attr(g, "weight_names", NULL, 0, 0, e);
        if (g >= 0) H5Gclose(g);
    }
    for (int i = 0; rc == 0 && i < a->n_convs; i++) rc = write_conv_and_bn(f, &a->convs[i], &w->w[i], st, e);
    free(names);
    free(ptrs);
    if (H5Fclose(f) < 0 && rc == 0) rc = err_fail(e, "%s: HDF5 close failed", path);
    return rc;
}

int resnet_weights_save_h5(const ResnetWeights *w, const ResnetArch *a, const char *path, Err *e) {
    H5WriteStyle st = {0};
    return resnet_weights_save_h5_style(w, a, path, &st, e);
}
