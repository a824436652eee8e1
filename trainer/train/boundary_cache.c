#include "train/boundary_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checksum.h"
#include "core/fsutil.h"
#include "model/resnet_train.h"
#include "train/feature_cache.h"

/* ---------------------------------------------------------------- the file */

/* The format's version is its magic; TLBNDF16 (a 32-byte header with a key prefix and no
 * checksum) is recognised only to say it is stale. */
static const char MAGIC[8] = {'T', 'L', 'B', 'O', 'U', 'N', 'D', '2'};
static const char MAGIC_V1[8] = {'T', 'L', 'B', 'N', 'D', 'F', '1', '6'};

typedef struct FileHeader {       /* 64 bytes, little-endian */
    char magic[8];
    uint32_t rows, side, channels, reserved;
    char key[32];                 /* the table's key, 32 hex digits (no NUL) */
    uint32_t crc;                 /* CRC-32 of this header with crc = 0, then of every row */
    uint32_t reserved2;
} FileHeader;
_Static_assert(sizeof(FileHeader) == 64, "boundary header layout");

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
    bc->weights = c->model.weights;
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

static FileHeader header_for(const BoundaryCache *bc, const BoundaryTable *t) {
    FileHeader h = {.rows = (uint32_t)t->n, .side = (uint32_t)bc->side, .channels = (uint32_t)bc->channels};
    memcpy(h.magic, MAGIC, sizeof MAGIC);
    memcpy(h.key, t->key, sizeof h.key);
    return h;
}

/* The rows of a batch (host_x, n rows) as stored, into host_h: finite before and after the
 * narrowing to fp16 (an activation beyond 65504 has no fp16 value). */
static int narrow_rows(BoundaryCache *bc, const BoundaryTable *t, int first, int n, Err *e) {
    size_t floats = (size_t)n * bc->row_floats;
    long bad = floats_first_nonfinite(bc->host_x, floats);
    if (bad >= 0) return cache_nonfinite_error(e, bc->host_x, bad, bc->row_floats, t->items, first, "frozen prefix output", bc->weights);
    halves_from_floats(bc->host_x, floats, bc->host_h);
    bad = halves_first_nonfinite(bc->host_h, floats);
    if (bad >= 0)
        return err_fail(e, "frozen prefix output %g of image %s is beyond float16's range (65504): set "
                        "feature_cache.boundary_mib: 0 to recompute the prefix instead", (double)bc->host_x[bad],
                        t->items[first + bad / (long)bc->row_floats].path);
    return 0;
}

/* Runs the prefix over every image of the table and streams the rows into f; *crc goes on
 * over them. */
static int compute_rows(BoundaryCache *bc, const BoundaryTable *t, Backbone *bb, Loader *l, FILE *f, uint32_t *crc, Err *e) {
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
        if (rc || narrow_rows(bc, t, done, n, e)) return -1;
        if (fwrite(bc->host_h, sizeof(uint16_t), floats, f) != floats) return err_fail(e, "write failed");
        *crc = checksum_update(*crc, bc->host_h, floats * sizeof(uint16_t));
        done += n;
        if (bc->stop && *bc->stop) return err_fail(e, "interrupted");
    }
    if (got < 0) return -1;
    return done == t->n ? 0 : err_fail(e, "%d of %d images", done, t->n);
}

/* The header goes first with crc 0 and again, complete, once every row is written. */
static int write_table(BoundaryCache *bc, const BoundaryTable *t, Backbone *bb, Loader *l, Err *e) {
    char sub[1100], path[1200];
    snprintf(sub, sizeof sub, "%s/%s", bc->dir, t->key);
    if (fs_mkdir_p(sub, e)) return -1;
    table_path(path, sizeof path, bc, t, "boundary.f16");
    FileHeader h = header_for(bc, t);
    uint32_t crc = checksum_update(0, &h, sizeof h);
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    if (fwrite(&h, sizeof h, 1, af.f) != 1) { fs_atomic_abort(&af); return err_fail(e, "%s: write failed", path); }
    if (compute_rows(bc, t, bb, l, af.f, &crc, e)) { fs_atomic_abort(&af); return err_context(e, "%s", path); }
    h.crc = crc;
    if (fseek(af.f, 0, SEEK_SET) != 0 || fwrite(&h, sizeof h, 1, af.f) != 1) { fs_atomic_abort(&af); return err_fail(e, "%s: write failed", path); }
    if (fs_atomic_commit(&af, e)) return -1;
    char about[1200], text[512];
    table_path(about, sizeof about, bc, t, "about.txt");
    int len = snprintf(text, sizeof text, "split: %s\nimages: %d\nboundary: input of %s\nrow: %dx%dx%d fp16 NHWC\n", t->split,
                       t->n, bb->arch.convs[bc->first_conv].conv, bc->side, bc->side, bc->channels);
    return fs_write_atomic(about, text, (size_t)len, e);
}

static int header_check(const BoundaryCache *bc, const BoundaryTable *t, const FileHeader *h, size_t size, const char *path, Err *e) {
    FileHeader want = header_for(bc, t);
    if (!memcmp(h->magic, MAGIC_V1, sizeof MAGIC_V1))
        return err_fail(e, "%s: a table of the older format TLBNDF16 (no checksum): stale", path);
    if (memcmp(h->magic, MAGIC, sizeof MAGIC)) return err_fail(e, "%s: not a boundary cache table (bad magic)", path);
    if (memcmp(h->key, t->key, sizeof h->key))
        return err_fail(e, "%s: holds another table (key %.32s), not %s's (%s)", path, h->key, t->split, t->key);
    if (h->rows != want.rows || h->side != want.side || h->channels != want.channels)
        return err_fail(e, "%s: %u rows of %ux%ux%u, expected %u of %ux%ux%u", path, h->rows, h->side, h->side, h->channels,
                        want.rows, want.side, want.side, want.channels);
    if (size != table_bytes(bc, t)) return err_fail(e, "%s: %zu bytes, expected %zu (truncated or extended)", path, size, table_bytes(bc, t));
    return 0;
}

/* Every row read once: the CRC over header and rows, then (the data being what was
 * written) every value finite. */
static int verify_rows(BoundaryCache *bc, const BoundaryTable *t, int fd, const FileHeader *h, const char *path, Err *e) {
    FileHeader zero = *h;
    zero.crc = 0;
    uint32_t crc = checksum_update(0, &zero, sizeof zero);
    size_t row_bytes = bc->row_floats * sizeof(uint16_t);
    long bad_row = -1;
    for (int r = 0; r < t->n; r += bc->max_batch) {
        int n = t->n - r < bc->max_batch ? t->n - r : bc->max_batch;
        size_t bytes = (size_t)n * row_bytes;
        if (pread(fd, bc->host_h, bytes, (off_t)sizeof *h + (off_t)r * (off_t)row_bytes) != (ssize_t)bytes)
            return err_fail(e, "%s: short read at row %d", path, r);
        crc = checksum_update(crc, bc->host_h, bytes);
        long bad = bad_row >= 0 ? -1 : halves_first_nonfinite(bc->host_h, (size_t)n * bc->row_floats);
        if (bad >= 0) bad_row = r + bad / (long)bc->row_floats;
    }
    if (crc != h->crc) return err_fail(e, "%s: checksum mismatch (damaged data)", path);
    return bad_row < 0 ? 0 : err_fail(e, "%s: value at row %ld is not finite", path, bad_row);
}

/* Opens the table and verifies all of it: header, key, shape, size, checksum, values. */
static int open_table(BoundaryCache *bc, BoundaryTable *t, Err *e) {
    char path[1200];
    table_path(path, sizeof path, bc, t, "boundary.f16");
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_fail(e, "%s: %s", path, strerror(errno));
    FileHeader h;
    struct stat st;
    int rc = pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && fstat(fd, &st) == 0
                 ? header_check(bc, t, &h, (size_t)st.st_size, path, e)
                 : err_fail(e, "%s: shorter than a table header", path);
    if (rc == 0) rc = verify_rows(bc, t, fd, &h, path, e);
    if (rc) { close(fd); return -1; }
    t->fd = fd;
    return 0;
}

/* A table that failed its check: said in the log and deleted, to be computed again. */
static void drop_table(const BoundaryCache *bc, const char *path, const Err *why) {
    FILE *log = bc->log ? bc->log : stderr;
    fprintf(log, "boundary cache: %s; deleted, computing it again\n", why->msg);
    if (unlink(path) != 0 && errno != ENOENT) fprintf(log, "boundary cache: %s: cannot delete: %s\n", path, strerror(errno));
    fflush(log);
}

int boundary_table_fill(BoundaryCache *bc, BoundaryTable *t, Backbone *bb, Loader *l, int *computed, Err *e) {
    char path[1200];
    *computed = 0;
    if (t->fd >= 0) return 0;
    if (bb->max_batch != bc->max_batch) return err_fail(e, "boundary cache: backbone batch %d, cache %d", bb->max_batch, bc->max_batch);
    table_path(path, sizeof path, bc, t, "boundary.f16");
    if (fs_exists(path)) {
        Err why;
        if (open_table(bc, t, &why) == 0) return 0;
        if (!l) return err_fail(e, "%s", why.msg);   /* open only: nothing to compute it with */
        drop_table(bc, path, &why);
    }
    if (!l) return err_fail(e, "%s: no such table", path);
    if (write_table(bc, t, bb, l, e)) return err_context(e, "boundary activations of %s", t->split);
    *computed = 1;
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
