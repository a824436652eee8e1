#include "train/boundary_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "model/resnet_train.h"
#include "train/feature_cache.h"

/* ------------------------------------------------------------------ fp16 */

uint16_t half_from_float(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN, quiet */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 (inf included) rounds to inf */
    if (a >= 0x38800000u) {                                     /* normal half: >= 2^-14 */
        uint32_t r = a - (112u << 23);                          /* rebias the exponent 127 -> 15 */
        r += 0xfffu + ((r >> 13) & 1u);                         /* ties to even on the 13 dropped bits */
        return (uint16_t)(sign | (r >> 13));                    /* a carry moves into the exponent */
    }
    if (a < 0x33000000u) return sign;                           /* <= 2^-25: zero (2^-25 ties to even) */
    /* Subnormal half: value / 2^-24 rounded, = m * 2^(e - 126) with the 24-bit significand m. */
    uint32_t exp = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    int shift = 126 - (int)exp;                                 /* 14..24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (q & 1u))) q++;             /* 0x400 = the smallest normal */
    return (uint16_t)(sign | q);
}

float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (exp == 0x1f) x = sign | 0x7f800000u | (m << 13);
    else if (exp) x = sign | ((exp + 112u) << 23) | (m << 13);
    else {
        float v = ldexpf((float)m, -24); /* subnormal (or zero): exact */
        return sign ? -v : v;
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

void halves_from_floats(const float *src, size_t n, uint16_t *dst) {
    for (size_t i = 0; i < n; i++) dst[i] = half_from_float(src[i]);
}

void floats_from_halves(const uint16_t *src, size_t n, float *dst) {
    for (size_t i = 0; i < n; i++) dst[i] = half_to_float(src[i]);
}

/* ---------------------------------------------------------------- the file */

static const char MAGIC[8] = {'T', 'L', 'B', 'N', 'D', 'F', '1', '6'};

typedef struct FileHeader {
    char magic[8];
    uint32_t rows, side, channels, reserved;
    uint64_t key_prefix;          /* first 16 hex digits of the key */
} FileHeader;

static void row_shape(const ResnetArch *a, int first_conv, int image_size, int *side, int *channels) {
    const ResnetConvSpec *s = &a->convs[first_conv];
    *side = resnet_side(image_size, s->in_halvings);
    *channels = s->cin;
}

size_t boundary_cache_bytes(const ResnetArch *a, int first_conv, int image_size, int n_train, int n_val) {
    int side, ch;
    row_shape(a, first_conv, image_size, &side, &ch);
    return ((size_t)n_train + (size_t)n_val) * (size_t)side * side * ch * sizeof(uint16_t) + 2 * sizeof(FileHeader);
}

void boundary_name(const ResnetArch *a, int first_conv, char *out, size_t n) {
    snprintf(out, n, "images");
    if (first_conv <= 0) return;
    /* The block before the suffix ends with its _3_conv; Keras names the block's output _out. */
    for (int i = first_conv - 1; i >= 0; i--) {
        const char *name = a->convs[i].conv, *end = strstr(name, "_3_conv");
        if (end) { snprintf(out, n, "%.*s_out", (int)(end - name), name); return; }
    }
}

static void table_key(BoundaryTable *t, const TrialConfig *c, const Backend *be, const Hash128 *weights_digest,
                      const ResnetArch *a, int first_conv) {
    Hash128 h;
    hash_init(&h);
    hash_str(&h, "tl-boundary-cache v1 fp16 nhwc");
    hash_bytes(&h, weights_digest, sizeof *weights_digest);
    hash_str(&h, c->model.backbone);
    hash_str(&h, a->convs[first_conv].conv);      /* where the prefix stops */
    cache_hash_backbone_setup(&h, c, be);
    cache_hash_images(&h, t->items, t->n);
    hash_hex(&h, t->key);
}

int boundary_cache_init(BoundaryCache *bc, Backend *be, const TrialConfig *c, const Hash128 *weights_digest,
                        const ResnetArch *a, int first_conv, const Dataset *ds, const char *dir, int max_batch, Err *e) {
    memset(bc, 0, sizeof *bc);
    bc->be = be;
    bc->train.fd = bc->validation.fd = -1;
    if (first_conv <= 0) return err_fail(e, "boundary cache: no frozen prefix to cache");
    snprintf(bc->dir, sizeof bc->dir, "%s", dir);
    bc->first_conv = first_conv;
    bc->max_batch = max_batch;
    row_shape(a, first_conv, c->data.image_size, &bc->side, &bc->channels);
    bc->row_floats = (size_t)bc->side * bc->side * bc->channels;
    bc->train = (BoundaryTable){.split = "train", .items = ds->train.items, .n = ds->train.n, .fd = -1};
    bc->validation = (BoundaryTable){.split = "validation", .items = ds->validation.items, .n = ds->validation.n, .fd = -1};
    table_key(&bc->train, c, be, weights_digest, a, first_conv);
    table_key(&bc->validation, c, be, weights_digest, a, first_conv);
    size_t floats = (size_t)max_batch * bc->row_floats;
    bc->host_h = tl_malloc(e, floats * sizeof(uint16_t), "boundary rows (fp16)");
    bc->host_x = tl_malloc(e, floats * sizeof(float), "boundary rows");
    if (!bc->host_h || !bc->host_x || be->ops->alloc(be, floats * sizeof(float), (void **)&bc->dev_x, e)) {
        boundary_cache_free(bc);
        return err_context(e, "boundary cache");
    }
    return 0;
}

void boundary_cache_free(BoundaryCache *bc) {
    if (bc->train.fd >= 0) close(bc->train.fd);
    if (bc->validation.fd >= 0) close(bc->validation.fd);
    if (bc->dev_x) bc->be->ops->release(bc->be, bc->dev_x);
    free(bc->host_h);
    free(bc->host_x);
    memset(bc, 0, sizeof *bc);
    bc->train.fd = bc->validation.fd = -1;
}

static void table_path(char *buf, size_t n, const BoundaryCache *bc, const BoundaryTable *t, const char *file) {
    snprintf(buf, n, "%s/%s/%s", bc->dir, t->key, file);
}

static size_t table_bytes(const BoundaryCache *bc, const BoundaryTable *t) {
    return sizeof(FileHeader) + (size_t)t->n * bc->row_floats * sizeof(uint16_t);
}

/* Runs the prefix over every image of the table and streams the rows into f. */
static int compute_rows(BoundaryCache *bc, const BoundaryTable *t, Backbone *bb, Loader *l, FILE *f, Err *e) {
    Backend *be = bc->be;
    if (loader_start(l, t->items, NULL, t->n, bc->max_batch, 0, e)) return -1;
    LoaderBatch *b;
    int got, done = 0;
    while ((got = loader_next(l, &b, e)) == 1) {
        const float *x;
        int n = b->count;
        size_t floats = (size_t)n * bc->row_floats;
        int rc = resnet_prefix_forward(bb, bc->first_conv, b->x, n, &x, e) ||
                 be->ops->download(be, bc->host_x, x, floats * sizeof(float), e) || be->ops->sync(be, e) ? -1 : 0;
        loader_release(l, b);
        if (rc) return -1;
        halves_from_floats(bc->host_x, floats, bc->host_h);
        if (fwrite(bc->host_h, sizeof(uint16_t), floats, f) != floats) return err_fail(e, "write failed");
        done += n;
        if (bc->stop && *bc->stop) return err_fail(e, "interrupted");
    }
    if (got < 0) return -1;
    return done == t->n ? 0 : err_fail(e, "%d of %d images", done, t->n);
}

static int write_table(BoundaryCache *bc, const BoundaryTable *t, Backbone *bb, Loader *l, Err *e) {
    char sub[1100], path[1200];
    snprintf(sub, sizeof sub, "%s/%s", bc->dir, t->key);
    if (fs_mkdir_p(sub, e)) return -1;
    table_path(path, sizeof path, bc, t, "boundary.f16");
    FileHeader h = {.rows = (uint32_t)t->n, .side = (uint32_t)bc->side, .channels = (uint32_t)bc->channels,
                    .key_prefix = cache_key_prefix(t->key)};
    memcpy(h.magic, MAGIC, sizeof MAGIC);
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    if (fwrite(&h, sizeof h, 1, af.f) != 1) { fs_atomic_abort(&af); return err_fail(e, "%s: write failed", path); }
    if (compute_rows(bc, t, bb, l, af.f, e)) { fs_atomic_abort(&af); return err_context(e, "%s", path); }
    if (fs_atomic_commit(&af, e)) return -1;
    char about[1200], text[512];
    table_path(about, sizeof about, bc, t, "about.txt");
    int len = snprintf(text, sizeof text, "split: %s\nimages: %d\nboundary: input of %s\nrow: %dx%dx%d fp16 NHWC\n", t->split,
                       t->n, bb->arch.convs[bc->first_conv].conv, bc->side, bc->side, bc->channels);
    return fs_write_atomic(about, text, (size_t)len, e);
}

static int open_table(BoundaryCache *bc, BoundaryTable *t, Err *e) {
    char path[1200];
    table_path(path, sizeof path, bc, t, "boundary.f16");
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_fail(e, "%s: %s", path, strerror(errno));
    FileHeader h;
    struct stat st;
    int ok = pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && !memcmp(h.magic, MAGIC, sizeof MAGIC) &&
             h.rows == (uint32_t)t->n && h.side == (uint32_t)bc->side && h.channels == (uint32_t)bc->channels &&
             h.key_prefix == cache_key_prefix(t->key) && fstat(fd, &st) == 0 && (size_t)st.st_size == table_bytes(bc, t);
    if (!ok) { close(fd); return err_fail(e, "%s: corrupt boundary cache (delete it to recompute)", path); }
    t->fd = fd;
    return 0;
}

int boundary_table_fill(BoundaryCache *bc, BoundaryTable *t, Backbone *bb, Loader *l, int *computed, Err *e) {
    char path[1200];
    *computed = 0;
    if (t->fd >= 0) return 0;
    if (bb->max_batch != bc->max_batch) return err_fail(e, "boundary cache: backbone batch %d, cache %d", bb->max_batch, bc->max_batch);
    table_path(path, sizeof path, bc, t, "boundary.f16");
    if (!fs_exists(path)) {
        if (write_table(bc, t, bb, l, e)) return err_context(e, "boundary activations of %s", t->split);
        *computed = 1;
    }
    return open_table(bc, t, e);
}

int boundary_table_load(BoundaryCache *bc, const BoundaryTable *t, const int *rows, int n, const float **x, Err *e) {
    if (t->fd < 0) return err_fail(e, "boundary cache: %s table not open", t->split);
    if (n <= 0 || n > bc->max_batch) return err_fail(e, "boundary batch %d outside 1..%d", n, bc->max_batch);
    size_t row_bytes = bc->row_floats * sizeof(uint16_t);
    for (int i = 0; i < n; i++) {
        if (rows[i] < 0 || rows[i] >= t->n) return err_fail(e, "boundary row %d outside 0..%d", rows[i], t->n - 1);
        off_t at = (off_t)sizeof(FileHeader) + (off_t)rows[i] * (off_t)row_bytes;
        if (pread(t->fd, bc->host_h + (size_t)i * bc->row_floats, row_bytes, at) != (ssize_t)row_bytes)
            return err_fail(e, "boundary cache (%s): short read at row %d", t->split, rows[i]);
    }
    floats_from_halves(bc->host_h, (size_t)n * bc->row_floats, bc->host_x);
    if (n < bc->max_batch) memset(bc->host_x + (size_t)n * bc->row_floats, 0, (size_t)(bc->max_batch - n) * bc->row_floats * sizeof(float));
    if (bc->be->ops->upload(bc->be, bc->dev_x, bc->host_x, (size_t)bc->max_batch * bc->row_floats * sizeof(float), e))
        return -1;
    *x = bc->dev_x;
    return 0;
}
