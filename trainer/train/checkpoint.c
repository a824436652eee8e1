/* safetensors writer and reader (see checkpoint.h). Sections: dtypes, writer, reader. The
 * header's JSON is written and parsed by jansson; the checks of what it says (dtypes,
 * shapes, offsets, names, metadata) are ours. */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/fsutil.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c writes host-order tensors as little-endian data; add byte swapping for this host"
#endif

enum { CKPT_HEADER_MAX = 100 << 20 };
#define METADATA_KEY "__metadata__"

/* ---------------------------------------------------------------- dtypes */

static const struct { const char *name; size_t size; } DTYPES[CKPT_N_DTYPES] = {
    [CKPT_BOOL] = {"BOOL", 1}, [CKPT_U8] = {"U8", 1},    [CKPT_I8] = {"I8", 1},   [CKPT_I16] = {"I16", 2},
    [CKPT_U16] = {"U16", 2},   [CKPT_F16] = {"F16", 2},  [CKPT_BF16] = {"BF16", 2}, [CKPT_I32] = {"I32", 4},
    [CKPT_U32] = {"U32", 4},   [CKPT_F32] = {"F32", 4},  [CKPT_I64] = {"I64", 8}, [CKPT_U64] = {"U64", 8},
    [CKPT_F64] = {"F64", 8},
};

const char *ckpt_dtype_name(CkptDtype d) { return d < CKPT_N_DTYPES ? DTYPES[d].name : "?"; }
size_t ckpt_dtype_size(CkptDtype d) { return d < CKPT_N_DTYPES ? DTYPES[d].size : 0; }

static int dtype_from_name(const char *s, CkptDtype *out) {
    for (int d = 0; d < CKPT_N_DTYPES; d++)
        if (!strcmp(DTYPES[d].name, s)) { *out = (CkptDtype)d; return 0; }
    return -1;
}

int64_t ckpt_numel(const CkptTensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* Elements * dtype size, or -1 when that overflows. */
static int64_t tensor_bytes(CkptDtype dtype, int ndim, const int64_t *shape) {
    int64_t n = (int64_t)ckpt_dtype_size(dtype);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && n > INT64_MAX / shape[i])) return -1;
        n *= shape[i];
    }
    return n;
}

static void format_shape(char *buf, size_t n, const CkptTensor *t) {
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && len < n; i++) len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (len < n) snprintf(buf + len, n - len, "]");
}

/* ---------------------------------------------------------------- writer */

void ckpt_init(Checkpoint *ck) { memset(ck, 0, sizeof *ck); }

void ckpt_free(Checkpoint *ck) {
    for (size_t i = 0; i < ck->n_tensors; i++) free(ck->tensors[i].name);
    for (size_t i = 0; i < ck->n_meta; i++) { free(ck->meta_keys[i]); free(ck->meta_values[i]); }
    free(ck->tensors);
    free(ck->meta_keys);
    free(ck->meta_values);
    memset(ck, 0, sizeof *ck);
}

static int add_tensor(Checkpoint *ck, const char *name, CkptDtype dtype, const void *data, int ndim, const int64_t *shape, Err *e) {
    if (!name || !*name || !strcmp(name, METADATA_KEY)) return err_fail(e, "checkpoint: invalid tensor name '%s'", name ? name : "");
    if (ndim < 0 || ndim > CKPT_MAX_DIMS) return err_fail(e, "checkpoint: tensor '%s' has %d dimensions (0..%d)", name, ndim, CKPT_MAX_DIMS);
    if (tensor_bytes(dtype, ndim, shape) < 0) return err_fail(e, "checkpoint: tensor '%s' has a negative or overflowing shape", name);
    for (size_t i = 0; i < ck->n_tensors; i++)
        if (!strcmp(ck->tensors[i].name, name)) return err_fail(e, "checkpoint: tensor '%s' added twice", name);
    if (ck->n_tensors == ck->cap_tensors) {
        size_t cap = ck->cap_tensors ? 2 * ck->cap_tensors : 64;
        CkptTensor *t = realloc(ck->tensors, cap * sizeof *t);
        if (!t) return err_fail(e, "checkpoint: out of memory adding '%s'", name);
        ck->tensors = t;
        ck->cap_tensors = cap;
    }
    CkptTensor *t = &ck->tensors[ck->n_tensors];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return err_fail(e, "checkpoint: out of memory adding '%s'", name);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = data;
    ck->n_tensors++;
    return 0;
}

int ckpt_add_f32(Checkpoint *ck, const char *name, const float *data, int ndim, const int64_t *shape, Err *e) {
    return add_tensor(ck, name, CKPT_F32, data, ndim, shape, e);
}
int ckpt_add_f64(Checkpoint *ck, const char *name, const double *data, int ndim, const int64_t *shape, Err *e) {
    return add_tensor(ck, name, CKPT_F64, data, ndim, shape, e);
}
int ckpt_add_i64(Checkpoint *ck, const char *name, const int64_t *data, int ndim, const int64_t *shape, Err *e) {
    return add_tensor(ck, name, CKPT_I64, data, ndim, shape, e);
}
int ckpt_add_u32(Checkpoint *ck, const char *name, const uint32_t *data, int ndim, const int64_t *shape, Err *e) {
    return add_tensor(ck, name, CKPT_U32, data, ndim, shape, e);
}

static int add_scalar(Checkpoint *ck, const char *name, CkptDtype dtype, const void *value, Err *e) {
    if (add_tensor(ck, name, dtype, NULL, 0, NULL, e)) return -1;
    memcpy(ck->tensors[ck->n_tensors - 1].own, value, 8);
    return 0;
}
int ckpt_add_scalar_i64(Checkpoint *ck, const char *name, int64_t value, Err *e) { return add_scalar(ck, name, CKPT_I64, &value, e); }
int ckpt_add_scalar_f64(Checkpoint *ck, const char *name, double value, Err *e) { return add_scalar(ck, name, CKPT_F64, &value, e); }

int ckpt_set_meta(Checkpoint *ck, const char *key, const char *value, Err *e) {
    char *v = strdup(value);
    if (!v) return err_fail(e, "checkpoint: out of memory");
    for (size_t i = 0; i < ck->n_meta; i++)
        if (!strcmp(ck->meta_keys[i], key)) { free(ck->meta_values[i]); ck->meta_values[i] = v; return 0; }
    char *k = strdup(key);
    char **keys = realloc(ck->meta_keys, (ck->n_meta + 1) * sizeof *keys);
    if (keys) ck->meta_keys = keys;
    char **values = keys ? realloc(ck->meta_values, (ck->n_meta + 1) * sizeof *values) : NULL;
    if (values) ck->meta_values = values;
    if (!k || !values) { free(k); free(v); return err_fail(e, "checkpoint: out of memory"); }
    ck->meta_keys[ck->n_meta] = k;
    ck->meta_values[ck->n_meta] = v;
    ck->n_meta++;
    return 0;
}

/* jansson's setters return -1 when the value is NULL (a constructor that failed: out of
 * memory, or a string that is not UTF-8) or the key is not UTF-8. */
#define JANSSON_CHECK(e, call, what, name) \
    ((call) == 0 ? 0 : err_fail((e), "checkpoint: %s '%s' is not UTF-8 text, or memory ran out (%s failed at %s:%d)", \
                                (what), (name), #call, __FILE__, __LINE__))

static int header_metadata(json_t *root, const Checkpoint *ck, Err *e) {
    json_t *meta = json_object();
    if (JANSSON_CHECK(e, json_object_set_new(root, METADATA_KEY, meta), "metadata", METADATA_KEY)) return -1;
    for (size_t i = 0; i < ck->n_meta; i++)
        if (JANSSON_CHECK(e, json_object_set_new(meta, ck->meta_keys[i], json_string(ck->meta_values[i])), "metadata",
                          ck->meta_keys[i]))
            return -1;
    return 0;
}

/* "name": {"dtype": "F32", "shape": [d0, ..], "data_offsets": [begin, end]} */
static int header_tensor(json_t *root, const CkptTensor *t, uint64_t begin, uint64_t end, Err *e) {
    json_t *shape = json_array(), *entry = json_object();
    for (int d = 0; shape && d < t->ndim; d++)
        if (json_array_append_new(shape, json_integer(t->shape[d]))) { json_decref(shape); shape = NULL; }
    int rc = JANSSON_CHECK(e, json_object_set_new(root, t->name, entry), "tensor", t->name);
    if (rc == 0) rc = JANSSON_CHECK(e, json_object_set_new(entry, "dtype", json_string(ckpt_dtype_name(t->dtype))), "tensor", t->name);
    if (rc == 0) rc = JANSSON_CHECK(e, json_object_set_new(entry, "shape", shape), "tensor", t->name);
    else json_decref(shape);
    if (rc == 0) rc = JANSSON_CHECK(e, json_object_set_new(entry, "data_offsets", json_pack("[I,I]", (json_int_t)begin, (json_int_t)end)),
                                    "tensor", t->name);
    return rc;
}

/* {"__metadata__":{...},"name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},...} in jansson's
 * compact form (keys in insertion order), space-padded so 8 + length is a multiple of 8. */
static char *header_text(const Checkpoint *ck, size_t *len, Err *e) {
    json_t *root = json_object();
    int rc = root ? 0 : err_fail(e, "checkpoint: out of memory building the header");
    if (rc == 0 && ck->n_meta) rc = header_metadata(root, ck, e);
    uint64_t offset = 0;
    for (size_t i = 0; i < ck->n_tensors && rc == 0; i++) {
        const CkptTensor *t = &ck->tensors[i];
        uint64_t bytes = (uint64_t)tensor_bytes(t->dtype, t->ndim, t->shape);
        rc = header_tensor(root, t, offset, offset + bytes, e);
        offset += bytes;
    }
    char *json = rc == 0 ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!json) { if (rc == 0) err_fail(e, "checkpoint: json_dumps failed (out of memory)"); return NULL; }
    size_t n = strlen(json), padded = n + (8 - (8 + n) % 8) % 8;
    char *text = realloc(json, padded + 1);
    if (!text) { free(json); err_fail(e, "checkpoint: out of memory padding the header"); return NULL; }
    memset(text + n, ' ', padded - n);
    text[padded] = 0;
    *len = padded;
    return text;
}

int ckpt_write_atomic(const Checkpoint *ck, const char *path, Err *e) {
    size_t n = 0;
    char *hdr = header_text(ck, &n, e);
    if (!hdr) return err_context(e, "%s", path);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)n >> (8 * i));
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) { free(hdr); return -1; }
    int bad = fwrite(len8, 1, 8, af.f) != 8 || fwrite(hdr, 1, n, af.f) != n;
    free(hdr);
    for (size_t i = 0; i < ck->n_tensors && !bad; i++) {
        const CkptTensor *t = &ck->tensors[i];
        size_t bytes = (size_t)tensor_bytes(t->dtype, t->ndim, t->shape);
        const void *src = t->data ? t->data : t->own;
        if (bytes && !t->data && t->ndim) { fs_atomic_abort(&af); return err_fail(e, "%s: tensor '%s' has no data", path, t->name); }
        bad = bytes && fwrite(src, 1, bytes, af.f) != bytes;
    }
    if (bad) { fs_atomic_abort(&af); return err_fail(e, "%s: write failed: %s", path, strerror(errno)); }
    return fs_atomic_commit(&af, e);
}

/* ---------------------------------------------------------------- reader */

static int header_fail(const CkptReader *r, const char *tensor, const char *what, Err *e) {
    if (tensor) return err_fail(e, "%s: safetensors header: tensor '%s': %s", r->path, tensor, what);
    return err_fail(e, "%s: safetensors header: %s", r->path, what);
}

/* [u, u, ...]: at most max non-negative integers (an int64 each: jansson refuses larger) into out. */
static int read_uints(const CkptReader *r, const char *tensor, const char *field, const json_t *a, uint64_t *out, size_t max,
                      size_t *n, Err *e) {
    char what[128];
    *n = json_is_array(a) ? json_array_size(a) : 0;
    const char *bad = !json_is_array(a) ? "expected an array" : *n > max ? "too many array elements" : NULL;
    for (size_t i = 0; !bad && i < *n; i++) {
        const json_t *x = json_array_get(a, i);
        if (json_is_real(x)) bad = "expected an integer";
        else if (!json_is_integer(x) || json_integer_value(x) < 0) bad = "expected a non-negative integer";
        else out[i] = (uint64_t)json_integer_value(x);
    }
    if (!bad) return 0;
    snprintf(what, sizeof what, "%s: %s", field, bad);
    return header_fail(r, tensor, what, e);
}

/* {"dtype": "F32", "shape": [..], "data_offsets": [b, e]} (other keys are ignored) into t. */
static int read_tensor(const CkptReader *r, CkptTensor *t, const json_t *v, Err *e) {
    if (!json_is_object(v)) return header_fail(r, t->name, "expected '{'", e);
    const json_t *dtype = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"), *offsets = json_object_get(v, "data_offsets");
    if (!dtype || !shape || !offsets)
        return err_fail(e, "%s: tensor '%s': header entry lacks dtype, shape or data_offsets", r->path, t->name);
    if (!json_is_string(dtype)) return header_fail(r, t->name, "dtype: expected a string", e);
    if (dtype_from_name(json_string_value(dtype), &t->dtype))
        return err_fail(e, "%s: tensor '%s': unknown dtype '%s'", r->path, t->name, json_string_value(dtype));
    uint64_t dims[CKPT_MAX_DIMS], off[2];
    size_t ndim, n_off;
    if (read_uints(r, t->name, "shape", shape, dims, CKPT_MAX_DIMS, &ndim, e)) return -1;
    t->ndim = (int)ndim;
    for (size_t d = 0; d < ndim; d++) t->shape[d] = (int64_t)dims[d];
    if (read_uints(r, t->name, "data_offsets", offsets, off, 2, &n_off, e)) return -1;
    if (n_off != 2) return err_fail(e, "%s: tensor '%s': data_offsets needs 2 numbers", r->path, t->name);
    t->begin = off[0], t->end = off[1];
    return 0;
}

/* {"key": "value", ...}: every value a string. */
static int read_metadata(CkptReader *r, const json_t *v, Err *e) {
    if (!json_is_object(v)) return header_fail(r, NULL, METADATA_KEY ": expected '{'", e);
    size_t n = json_object_size(v);
    r->meta_keys = tl_calloc(e, n ? n : 1, sizeof *r->meta_keys, "checkpoint metadata");
    r->meta_values = tl_calloc(e, n ? n : 1, sizeof *r->meta_values, "checkpoint metadata");
    if (!r->meta_keys || !r->meta_values) return -1;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)v, key, value) {
        if (!json_is_string(value))
            return err_fail(e, "%s: safetensors header: " METADATA_KEY " '%s': expected a string", r->path, key);
        char *k = strdup(key), *val = strdup(json_string_value(value));
        r->meta_keys[r->n_meta] = k;
        r->meta_values[r->n_meta++] = val;
        if (!k || !val) return err_fail(e, "%s: out of memory", r->path);
    }
    return 0;
}

/* The header object's entries in file order: "__metadata__" and one per tensor. */
static int read_entries(CkptReader *r, json_t *root, Err *e) {
    size_t n = json_object_size(root);
    r->tensors = tl_calloc(e, n ? n : 1, sizeof *r->tensors, "checkpoint tensors");
    if (!r->tensors) return -1;
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        if (!strcmp(key, METADATA_KEY)) {
            if (read_metadata(r, value, e)) return -1;
            continue;
        }
        CkptTensor *t = &r->tensors[r->n_tensors++];
        if (!(t->name = strdup(key))) return err_fail(e, "%s: out of memory", r->path);
        if (read_tensor(r, t, value, e)) return -1;
    }
    return 0;
}

/* Parsed by jansson, which refuses what is not JSON, duplicate names (JSON_REJECT_DUPLICATES),
 * text after the object, "\u0000" in strings, invalid UTF-8 and integers beyond int64. */
static int parse_header(CkptReader *r, const char *text, size_t len, Err *e) {
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) return err_fail(e, "%s: safetensors header: %s at header byte %d", r->path, err.text, err.position);
    int rc = json_is_object(root) ? read_entries(r, root, e) : header_fail(r, NULL, "expected '{' (the header is not a JSON object)", e);
    json_decref(root);
    return rc;
}

typedef struct Span { uint64_t begin, end; size_t index; } Span;

static int span_cmp(const void *a, const void *b) {
    const Span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Sizes agree with dtype x shape, offsets lie inside the data, no overlap, nothing after the end. */
static int validate_offsets(const CkptReader *r, Err *e) {
    char shape[256];
    Span *spans = tl_calloc(e, r->n_tensors, sizeof *spans, "checkpoint spans");
    if (!spans) return -1;
    int rc = 0;
    for (size_t i = 0; i < r->n_tensors && !rc; i++) {
        const CkptTensor *t = &r->tensors[i];
        int64_t bytes = tensor_bytes(t->dtype, t->ndim, t->shape);
        format_shape(shape, sizeof shape, t);
        if (bytes < 0 || t->begin > t->end || t->end - t->begin != (uint64_t)bytes)
            rc = err_fail(e, "%s: tensor '%s': data_offsets [%llu, %llu] do not fit %s %s (%lld bytes)", r->path, t->name,
                          (unsigned long long)t->begin, (unsigned long long)t->end, ckpt_dtype_name(t->dtype), shape, (long long)bytes);
        else if (t->end > r->data_size)
            rc = err_fail(e, "%s: tensor '%s': data_offsets end %llu is past the %llu data bytes (truncated file?)", r->path,
                          t->name, (unsigned long long)t->end, (unsigned long long)r->data_size);
        spans[i] = (Span){t->begin, t->end, i};
    }
    if (!rc) qsort(spans, r->n_tensors, sizeof *spans, span_cmp);
    uint64_t last_end = 0;
    for (size_t i = 0; i < r->n_tensors && !rc; i++) {
        if (i && spans[i].begin < spans[i - 1].end)
            rc = err_fail(e, "%s: tensors '%s' and '%s' overlap", r->path, r->tensors[spans[i - 1].index].name, r->tensors[spans[i].index].name);
        if (spans[i].end > last_end) last_end = spans[i].end;
    }
    if (!rc && last_end != r->data_size)
        rc = err_fail(e, "%s: %llu bytes after the last tensor's data (header and data disagree)", r->path,
                      (unsigned long long)(r->data_size - last_end));
    free(spans);
    return rc;
}

static int read_exact(int fd, void *dst, size_t n, uint64_t offset) {
    char *p = dst;
    while (n) {
        ssize_t got = pread(fd, p, n, (off_t)offset);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        p += got, n -= (size_t)got, offset += (uint64_t)got;
    }
    return 0;
}

/* Reads and checks the 8-byte length, returns the header text (malloc'ed, NUL-terminated). */
static int read_header_text(CkptReader *r, uint64_t file_size, char **text, uint64_t *len, Err *e) {
    unsigned char len8[8];
    if (file_size < 8 || read_exact(r->fd, len8, 8, 0))
        return err_fail(e, "%s: not a safetensors file (%llu bytes, shorter than the 8-byte header length)", r->path, (unsigned long long)file_size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | len8[i];
    if (n == 0 || n > CKPT_HEADER_MAX || n > file_size - 8)
        return err_fail(e, "%s: safetensors header length %llu does not fit the %llu-byte file (truncated or not safetensors)",
                        r->path, (unsigned long long)n, (unsigned long long)file_size);
    *text = tl_malloc(e, (size_t)n + 1, "safetensors header");
    if (!*text) return -1;
    if (read_exact(r->fd, *text, (size_t)n, 8)) { free(*text); return err_fail(e, "%s: cannot read the header: %s", r->path, strerror(errno)); }
    (*text)[n] = 0;
    *len = n;
    return 0;
}

int ckpt_open(const char *path, CkptReader *r, Err *e) {
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) return err_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    char *text = NULL;
    uint64_t len = 0;
    int rc = fstat(r->fd, &st) ? err_fail(e, "%s: fstat: %s", path, strerror(errno)) : 0;
    rc = rc || read_header_text(r, (uint64_t)st.st_size, &text, &len, e);
    if (!rc) {
        r->data_start = 8 + len;
        r->data_size = (uint64_t)st.st_size - r->data_start;
        rc = parse_header(r, text, (size_t)len, e) || validate_offsets(r, e);
    }
    free(text);
    if (rc) { ckpt_close(r); return -1; }
    return 0;
}

void ckpt_close(CkptReader *r) {
    if (r->fd >= 0) close(r->fd);
    for (size_t i = 0; i < r->n_tensors; i++) free(r->tensors[i].name);
    for (size_t i = 0; i < r->n_meta; i++) { free(r->meta_keys[i]); free(r->meta_values[i]); }
    free(r->tensors);
    free(r->meta_keys);
    free(r->meta_values);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

const CkptTensor *ckpt_find(const CkptReader *r, const char *name) {
    for (size_t i = 0; i < r->n_tensors; i++)
        if (!strcmp(r->tensors[i].name, name)) return &r->tensors[i];
    return NULL;
}

const char *ckpt_meta(const CkptReader *r, const char *key) {
    for (size_t i = 0; i < r->n_meta; i++)
        if (!strcmp(r->meta_keys[i], key)) return r->meta_values[i];
    return NULL;
}

static int get_tensor(const CkptReader *r, const char *name, CkptDtype dtype, void *dst, size_t count, Err *e) {
    const CkptTensor *t = ckpt_find(r, name);
    if (!t) return err_fail(e, "%s: tensor '%s' is missing", r->path, name);
    char shape[256];
    format_shape(shape, sizeof shape, t);
    if (t->dtype != dtype)
        return err_fail(e, "%s: tensor '%s' is %s %s, expected %s", r->path, name, ckpt_dtype_name(t->dtype), shape, ckpt_dtype_name(dtype));
    if ((uint64_t)ckpt_numel(t) != count)
        return err_fail(e, "%s: tensor '%s' has %lld elements (shape %s), expected %zu", r->path, name, (long long)ckpt_numel(t), shape, count);
    if (read_exact(r->fd, dst, (size_t)(t->end - t->begin), r->data_start + t->begin))
        return err_fail(e, "%s: tensor '%s': read failed: %s", r->path, name, errno ? strerror(errno) : "end of file");
    return 0;
}

int ckpt_get_f32(const CkptReader *r, const char *name, float *dst, size_t count, Err *e) { return get_tensor(r, name, CKPT_F32, dst, count, e); }
int ckpt_get_f64(const CkptReader *r, const char *name, double *dst, size_t count, Err *e) { return get_tensor(r, name, CKPT_F64, dst, count, e); }
int ckpt_get_i64(const CkptReader *r, const char *name, int64_t *dst, size_t count, Err *e) { return get_tensor(r, name, CKPT_I64, dst, count, e); }
int ckpt_get_u32(const CkptReader *r, const char *name, uint32_t *dst, size_t count, Err *e) { return get_tensor(r, name, CKPT_U32, dst, count, e); }
