/* safetensors writer and reader (see checkpoint.h). Sections: dtypes, writer, a small
 * JSON parser for the header (objects, arrays, strings with escapes, unsigned integers),
 * reader. */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c writes host-order tensors as little-endian data; add byte swapping for this host"
#endif

enum { CKPT_HEADER_MAX = 100 << 20, JSON_MAX_DEPTH = 32 };
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

/* A growing text buffer for the header. `bad` records an allocation failure. */
typedef struct StrBuf { char *p; size_t n, cap; int bad; } StrBuf;

static void sb_put(StrBuf *b, const char *s, size_t len) {
    if (b->bad) return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + len + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->bad = 1; return; }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void sb_str(StrBuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_string(StrBuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') { esc[0] = '\\', esc[1] = (char)*p; sb_put(b, esc, 2); }
        else if (*p < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", *p); sb_put(b, esc, 6); }
        else sb_put(b, (const char *)p, 1);
    }
    sb_put(b, "\"", 1);
}

/* {"__metadata__":{...},"name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},...}, padded. */
static void build_header(const Checkpoint *ck, StrBuf *b) {
    char num[64];
    sb_str(b, "{");
    if (ck->n_meta) {
        sb_str(b, "\"" METADATA_KEY "\":{");
        for (size_t i = 0; i < ck->n_meta; i++) {
            if (i) sb_str(b, ",");
            sb_json_string(b, ck->meta_keys[i]);
            sb_str(b, ":");
            sb_json_string(b, ck->meta_values[i]);
        }
        sb_str(b, "}");
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < ck->n_tensors; i++) {
        const CkptTensor *t = &ck->tensors[i];
        uint64_t bytes = (uint64_t)tensor_bytes(t->dtype, t->ndim, t->shape);
        if (i || ck->n_meta) sb_str(b, ",");
        sb_json_string(b, t->name);
        snprintf(num, sizeof num, ":{\"dtype\":\"%s\",\"shape\":[", ckpt_dtype_name(t->dtype));
        sb_str(b, num);
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)t->shape[d]);
            sb_str(b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset, (unsigned long long)(offset + bytes));
        sb_str(b, num);
        offset += bytes;
    }
    sb_str(b, "}");
    while (!b->bad && (8 + b->n) % 8) sb_put(b, " ", 1);
}

int ckpt_write_atomic(const Checkpoint *ck, const char *path, Err *e) {
    StrBuf hdr = {0};
    build_header(ck, &hdr);
    if (hdr.bad) { free(hdr.p); return err_fail(e, "%s: out of memory building the safetensors header", path); }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hdr.n >> (8 * i));
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) { free(hdr.p); return -1; }
    int bad = fwrite(len8, 1, 8, af.f) != 8 || fwrite(hdr.p, 1, hdr.n, af.f) != hdr.n;
    free(hdr.p);
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

/* ---------------------------------------------------------------- JSON header parser */

typedef struct Json {
    const char *start, *p, *end;
    const char *path;
    Err *e;
} Json;

static int json_fail(Json *j, const char *what) {
    return err_fail(j->e, "%s: safetensors header: %s at header byte %ld", j->path, what, (long)(j->p - j->start));
}

static void json_ws(Json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

/* Skips whitespace, then consumes c if it is next. */
static int json_eat(Json *j, char c) {
    json_ws(j);
    if (j->p < j->end && *j->p == c) { j->p++; return 1; }
    return 0;
}

static int json_expect(Json *j, char c) {
    if (json_eat(j, c)) return 0;
    char what[32];
    snprintf(what, sizeof what, "expected '%c'", c);
    return json_fail(j, what);
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 0;
}

static size_t utf8_encode(unsigned cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* \uXXXX at j->p (after the backslash-u), with a following low surrogate when needed. */
static int json_unicode(Json *j, unsigned *cp) {
    if (j->end - j->p < 4 || hex4(j->p, cp)) return json_fail(j, "bad \\u escape");
    j->p += 4;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF) return json_fail(j, "unpaired low surrogate");
    if (*cp < 0xD800 || *cp > 0xDBFF) return 0;
    unsigned lo;
    if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || hex4(j->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
        return json_fail(j, "unpaired high surrogate");
    j->p += 6;
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    return 0;
}

/* A string into a malloc'ed, NUL-terminated buffer (decoded text is never longer than the source). */
static int json_string(Json *j, char **out) {
    *out = NULL;
    if (!json_eat(j, '"')) return json_fail(j, "expected a string");
    const char *close = j->p;
    while (close < j->end && *close != '"') close += *close == '\\' ? 2 : 1;
    if (close >= j->end) return json_fail(j, "unterminated string");
    char *s = malloc((size_t)(close - j->p) + 1), *w = s;
    if (!s) return json_fail(j, "out of memory");
    while (j->p < close) {
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20) { free(s); return json_fail(j, "control character in string"); }
        if (c != '\\') { *w++ = (char)c; continue; }
        char esc = *j->p++;
        const char *simple = strchr("\"\\/bfnrt", esc);
        if (esc && simple) { *w++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"]; continue; }
        unsigned cp;
        if (esc != 'u' || json_unicode(j, &cp)) { free(s); return esc == 'u' ? -1 : json_fail(j, "bad escape"); }
        if (cp == 0) { free(s); return json_fail(j, "\\u0000 in string"); }
        w += utf8_encode(cp, w);
    }
    *w = 0;
    j->p = close + 1;
    *out = s;
    return 0;
}

/* A non-negative integer (no sign, fraction or exponent) that fits in int64. */
static int json_uint(Json *j, uint64_t *out) {
    json_ws(j);
    const char *p = j->p;
    uint64_t v = 0;
    while (p < j->end && *p >= '0' && *p <= '9') {
        if (v > ((uint64_t)INT64_MAX - (uint64_t)(*p - '0')) / 10) return json_fail(j, "integer too large");
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    if (p == j->p || (*j->p == '0' && p - j->p > 1)) return json_fail(j, "expected a non-negative integer");
    if (p < j->end && (*p == '.' || *p == 'e' || *p == 'E')) return json_fail(j, "expected an integer");
    j->p = p;
    *out = v;
    return 0;
}

/* [u, u, ...] into out[0..max); *n gets the count. */
static int json_uint_array(Json *j, uint64_t *out, int max, int *n) {
    *n = 0;
    if (json_expect(j, '[')) return -1;
    if (json_eat(j, ']')) return 0;
    do {
        if (*n == max) return json_fail(j, "too many array elements");
        if (json_uint(j, &out[(*n)++])) return -1;
    } while (json_eat(j, ','));
    return json_expect(j, ']');
}

/* Skips any JSON value (for keys this reader does not use). */
static int json_skip(Json *j, int depth) {
    json_ws(j);
    if (depth > JSON_MAX_DEPTH) return json_fail(j, "nesting too deep");
    if (j->p >= j->end) return json_fail(j, "unexpected end");
    char c = *j->p;
    if (c == '"') { char *s; int rc = json_string(j, &s); free(s); return rc; }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (json_eat(j, close)) return 0;
        do {
            if (c == '{') { char *k; if (json_string(j, &k)) return -1; free(k); if (json_expect(j, ':')) return -1; }
            if (json_skip(j, depth + 1)) return -1;
        } while (json_eat(j, ','));
        return json_expect(j, close);
    }
    const char *p = j->p;
    while (p < j->end && (strchr("+-.eE", *p) || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z'))) p++;
    size_t len = (size_t)(p - j->p);
    int word = (len == 4 && (!strncmp(j->p, "true", 4) || !strncmp(j->p, "null", 4))) || (len == 5 && !strncmp(j->p, "false", 5));
    int number = len && (c == '-' || (c >= '0' && c <= '9'));
    if (!word && !number) return json_fail(j, "unexpected character");
    j->p = p;
    return 0;
}

/* ---------------------------------------------------------------- reader */

static CkptTensor *reader_push(CkptReader *r, Json *j, char *name) {
    for (size_t i = 0; i < r->n_tensors; i++)
        if (!strcmp(r->tensors[i].name, name)) {
            err_fail(j->e, "%s: safetensors header: tensor '%s' appears twice", r->path, name);
            return NULL;
        }
    CkptTensor *t = realloc(r->tensors, (r->n_tensors + 1) * sizeof *t);
    if (!t) { json_fail(j, "out of memory"); return NULL; }
    r->tensors = t;
    t = &r->tensors[r->n_tensors++];
    memset(t, 0, sizeof *t);
    t->name = name;
    return t;
}

/* {"dtype": "F32", "shape": [..], "data_offsets": [b, e]} for tensor `name` (owned by the reader from here). */
static int parse_tensor(CkptReader *r, Json *j, char *name) {
    CkptTensor *t = reader_push(r, j, name);
    if (!t) { free(name); return -1; }
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    if (json_expect(j, '{')) return -1;
    if (!json_eat(j, '}')) do {
        char *key, *dtype;
        if (json_string(j, &key)) return -1;
        int rc = json_expect(j, ':');
        if (!rc && !strcmp(key, "dtype")) {
            rc = json_string(j, &dtype);
            if (!rc && dtype_from_name(dtype, &t->dtype))
                rc = err_fail(j->e, "%s: tensor '%s': unknown dtype '%s'", r->path, t->name, dtype);
            free(dtype);
            have_dtype = 1;
        } else if (!rc && !strcmp(key, "shape")) {
            uint64_t dims[CKPT_MAX_DIMS];
            rc = json_uint_array(j, dims, CKPT_MAX_DIMS, &t->ndim);
            for (int d = 0; d < t->ndim; d++) t->shape[d] = (int64_t)dims[d];
            have_shape = 1;
        } else if (!rc && !strcmp(key, "data_offsets")) {
            uint64_t off[2];
            int n = 0;
            rc = json_uint_array(j, off, 2, &n);
            if (!rc && n != 2) rc = err_fail(j->e, "%s: tensor '%s': data_offsets needs 2 numbers", r->path, t->name);
            t->begin = off[0], t->end = off[1];
            have_offsets = 1;
        } else if (!rc) {
            rc = json_skip(j, 1);
        }
        free(key);
        if (rc) return -1;
    } while (json_eat(j, ','));
    if (json_expect(j, '}')) return -1;
    if (!have_dtype || !have_shape || !have_offsets)
        return err_fail(j->e, "%s: tensor '%s': header entry lacks dtype, shape or data_offsets", r->path, t->name);
    return 0;
}

static int parse_metadata(CkptReader *r, Json *j) {
    if (json_expect(j, '{')) return -1;
    if (json_eat(j, '}')) return 0;
    do {
        char *k = NULL, *v = NULL;
        if (json_string(j, &k) || json_expect(j, ':') || json_string(j, &v)) { free(k); free(v); return -1; }
        char **keys = realloc(r->meta_keys, (r->n_meta + 1) * sizeof *keys);
        if (keys) r->meta_keys = keys;
        char **values = keys ? realloc(r->meta_values, (r->n_meta + 1) * sizeof *values) : NULL;
        if (values) r->meta_values = values;
        if (!values) { free(k); free(v); return json_fail(j, "out of memory"); }
        r->meta_keys[r->n_meta] = k;
        r->meta_values[r->n_meta++] = v;
    } while (json_eat(j, ','));
    return json_expect(j, '}');
}

static int parse_header(CkptReader *r, const char *text, size_t len, Err *e) {
    Json j = {.start = text, .p = text, .end = text + len, .path = r->path, .e = e};
    if (json_expect(&j, '{')) return -1;
    if (!json_eat(&j, '}')) {
        do {
            char *key;
            if (json_string(&j, &key)) return -1;
            if (json_expect(&j, ':')) { free(key); return -1; }
            int meta = !strcmp(key, METADATA_KEY);
            if (meta && r->n_meta) { free(key); return json_fail(&j, "__metadata__ appears twice"); }
            int rc = meta ? parse_metadata(r, &j) : parse_tensor(r, &j, key);
            if (meta) free(key);
            if (rc) return -1;
        } while (json_eat(&j, ','));
        if (json_expect(&j, '}')) return -1;
    }
    json_ws(&j);
    if (j.p != j.end) return json_fail(&j, "text after the header object");
    return 0;
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
