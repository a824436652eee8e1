/* Building DEST: every item linked, copied or cropped into DEST.tmp.<pid>, classes.csv
 * beside them, then the whole tree renamed into place. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/csv_field.h"
#include "core/dirwalk.h"
#include "core/fsutil.h"
#include "data/cars_import_internal.h"
#include "data/image.h"
#include "data/image_jpeg_write.h"

enum { COPY_BUF_BYTES = 1 << 20, CROP_QUALITY = 95 };

/* libc calls: name the call, the path and our line. */
#define SYS_CHECK(e, call, path) \
    ((call) == 0 ? 0 : err_fail((e), "%s: %s: %s (%s:%d)", (path), #call, strerror(errno), __FILE__, __LINE__))

/* What placing the items reuses from one to the next. */
typedef struct Placer {
    ImportCtx *c;
    uint8_t *copy_buf;          /* COPY_BUF_BYTES, reused for every copy */
    Image img;                  /* decode buffer, reused for every crop */
} Placer;

/* ---------------------------------------------------------------- placing files */

static int copy_file(Placer *p, const char *src, const char *dst, Err *e) {
    return fs_copy_file(src, dst, p->copy_buf, COPY_BUF_BYTES, e);
}

static int link_file(Placer *p, const char *src, const char *dst, Err *e) {
    ImportCtx *c = p->c;
    if (c->opt->link == CARS_LINK_COPY) return copy_file(p, src, dst, e);
    if (c->opt->link == CARS_LINK_SYM) {
        char abs[PATH_MAX];
        if (!realpath(src, abs)) return err_fail(e, "%s: realpath: %s", src, strerror(errno));
        return SYS_CHECK(e, symlink(abs, dst), dst);
    }
    if (link(src, dst) == 0) return 0;
    if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP)
        return err_fail(e, "%s: cannot hard-link to %s: %s", src, dst, strerror(errno));
    c->rep->copied_fallback++;
    return copy_file(p, src, dst, e);
}

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Box (1-based inclusive x1..x2, y1..y2) clamped to the image, re-encoded at quality 95. */
static int crop_file(Placer *p, const CarsItem *it, const char *dst, Err *e) {
    Image *im = &p->img;
    if (image_decode_jpeg_file(it->src, im, 0, NULL, e)) return -1;
    int x0 = clamp_int(it->bbox[0] - 1, 0, im->w), x1 = clamp_int(it->bbox[2], 0, im->w);
    int y0 = clamp_int(it->bbox[1] - 1, 0, im->h), y1 = clamp_int(it->bbox[3], 0, im->h);
    if (x1 <= x0 || y1 <= y0)
        return err_fail(e, "%s: box (%d,%d)-(%d,%d) lies outside the %dx%d image", it->src, it->bbox[0], it->bbox[1],
                        it->bbox[2], it->bbox[3], im->w, im->h);
    const uint8_t *origin = im->rgb + ((size_t)y0 * (size_t)im->w + (size_t)x0) * 3;
    p->c->rep->cropped++;
    JpegPixels px = {.data = origin, .h = y1 - y0, .w = x1 - x0, .components = 3, .stride = (size_t)im->w * 3};
    return image_encode_jpeg_file(dst, &px, CROP_QUALITY, e);
}

/* Items come sorted by (split, class): the class directory is made when the first of its items arrives. */
static int place_item(Placer *p, const CarsSet *s, const CarsItem *it, const CarsItem *prev, const char *root, Err *e) {
    char dir[PATH_MAX], dst[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/%s/%s", root, cars_split_names[it->split], s->dirs[it->cls]) >= (int)sizeof dir)
        return err_fail(e, "%s: path too long", root);
    if ((!prev || prev->split != it->split || prev->cls != it->cls) && fs_mkdir_p(dir, e)) return -1;
    if (snprintf(dst, sizeof dst, "%s/%s", dir, it->name) >= (int)sizeof dst) return err_fail(e, "%s/%s: path too long", dir, it->name);
    if (p->c->opt->crop_bbox) return crop_file(p, it, dst, e);
    return link_file(p, it->src, dst, e);
}

/* classes.csv: label (1-based, the source's numbering), folder, original name. */
static int write_class_table(const CarsSet *s, const char *root, Err *e) {
    char path[PATH_MAX];
    AtomicFile af;
    if (fs_atomic_open(&af, fs_join(path, sizeof path, root, "classes.csv"), e)) return -1;
    fprintf(af.f, "label,folder,name\n");
    for (int i = 0; i < s->n_classes; i++) {
        fprintf(af.f, "%d,", i + 1);
        csv_put_field(af.f, s->dirs[i]);
        fputc(',', af.f);
        csv_put_field(af.f, s->raw_names[i]);
        fputc('\n', af.f);
    }
    return fs_atomic_commit(&af, e);
}

static int place_all(Placer *p, const CarsSet *s, const char *tmp, Err *e) {
    ImportCtx *c = p->c;
    int tty = c->log && isatty(fileno(c->log));
    if (fs_mkdir_p(tmp, e)) return -1;
    for (int i = 0; i < s->n_items; i++) {
        if (place_item(p, s, &s->items[i], i ? &s->items[i - 1] : NULL, tmp, e)) return -1;
        if (tty && (i % 256 == 255 || i + 1 == s->n_items))
            fprintf(c->log, "\rimport-cars: %s %d/%d", c->opt->crop_bbox ? "cropped" : "placed", i + 1, s->n_items);
    }
    if (tty && s->n_items) fputc('\n', c->log);
    return write_class_table(s, tmp, e);
}

int cars_build_tree(ImportCtx *c, const CarsSet *s, const char *tmp, Err *e) {
    Placer p = {.c = c};
    int rc = (p.copy_buf = tl_malloc(e, COPY_BUF_BYTES, "copy buffer")) ? 0 : -1;
    if (rc == 0) rc = place_all(&p, s, tmp, e);
    free(p.copy_buf);
    image_free(&p.img);
    return rc;
}

/* ---------------------------------------------------------------- destination */

int cars_check_dest(const char *dest, int force, Err *e) {
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

int cars_commit_tree(const char *tmp, const char *dest, Err *e) {
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
