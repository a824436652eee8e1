/* Dataset checker (see check_data.h). Scan order: splits, class folders (sorted), files
 * (sorted); each image file is read once into a reused buffer for its hash, its header
 * is parsed, and in deep mode it is decoded. Duplicates are found afterwards by sorting
 * on (size, hash) and comparing the bytes of every candidate pair. */
#include "check_data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dirwalk.h"
#include "core/fsutil.h"
#include "data/image.h"

const char *const data_split_names[DATA_NSPLITS] = {"train", "validation", "test"};

enum {
    ISSUES_SHOWN = 20,              /* per severity in the table; JSON lists all */
    EOI_WINDOW = 64 * 1024,         /* bytes at the end searched for the end-of-image marker */
    NAME_COL_MAX = 44,
};
static const double IMBALANCE_WARN = 5.0;   /* max/min images per class above this warns */

uint64_t fnv1a64(const void *data, size_t n, uint64_t h) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---------------------------------------------------------------- report building */

static int add_issue(DataReport *r, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int add_issue(DataReport *r, int error, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if ((r->n_issues & (r->n_issues - 1)) == 0) {      /* grow at powers of two */
        DataIssue *ni = realloc(r->issues, (size_t)(r->n_issues ? 2 * r->n_issues : 16) * sizeof *ni);
        if (!ni) return -1;
        r->issues = ni;
    }
    if (!(r->issues[r->n_issues].msg = strdup(msg))) return -1;
    r->issues[r->n_issues++].error = error;
    if (error) r->n_errors++;
    else r->n_warnings++;
    return 0;
}

static int class_index(DataReport *r, const char *name, Err *e) {
    for (int i = 0; i < r->n_classes; i++)
        if (strcmp(r->classes[i].name, name) == 0) return i;
    if ((r->n_classes & (r->n_classes - 1)) == 0) {
        DataClass *nc = realloc(r->classes, (size_t)(r->n_classes ? 2 * r->n_classes : 64) * sizeof *nc);
        if (!nc) return err_fail(e, "out of memory");
        r->classes = nc;
    }
    DataClass *c = &r->classes[r->n_classes];
    memset(c, 0, sizeof *c);
    if (!(c->name = strdup(name))) return err_fail(e, "out of memory");
    return r->n_classes++;
}

static DataFile *add_file(DataReport *r, int split, int cls, const char *name) {
    if ((r->n_files & (r->n_files - 1)) == 0) {
        DataFile *nf = realloc(r->files, (size_t)(r->n_files ? 2 * r->n_files : 256) * sizeof *nf);
        if (!nf) return NULL;
        r->files = nf;
    }
    DataFile *f = &r->files[r->n_files];
    memset(f, 0, sizeof *f);
    if (!(f->name = strdup(name))) return NULL;
    f->split = split;
    f->cls = cls;
    r->n_files++;
    return f;
}

void data_report_free(DataReport *r) {
    for (int i = 0; i < r->n_classes; i++) free(r->classes[i].name);
    for (int i = 0; i < r->n_files; i++) free(r->files[i].name);
    for (int i = 0; i < r->n_issues; i++) free(r->issues[i].msg);
    free(r->classes);
    free(r->files);
    free(r->dups);
    free(r->issues);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- one file */

typedef struct ScanCtx {
    DataReport *r;
    const CheckDataOptions *opt;
    uint8_t *buf;               /* whole-file buffer, grown as needed, reused */
    size_t cap;
    uint8_t *buf2;              /* second buffer for duplicate comparison */
    size_t cap2;
    Image img;                  /* deep-mode decode buffer, reused */
    int scanned;
} ScanCtx;

/* Reads a whole file into *buf (grown to fit). */
static int read_file(const char *path, uint8_t **buf, size_t *cap, size_t *size, Err *e) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) { close(fd); return err_fail(e, "%s: fstat: %s", path, strerror(errno)); }
    size_t want = (size_t)st.st_size;
    if (want + 1 > *cap) {
        uint8_t *nb = realloc(*buf, want + 1);
        if (!nb) { close(fd); return err_fail(e, "%s: out of memory for %zu bytes", path, want); }
        *buf = nb;
        *cap = want + 1;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t k = read(fd, *buf + got, want - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) { close(fd); return err_fail(e, "%s: read error: %s", path, k ? strerror(errno) : "file shrank"); }
        got += (size_t)k;
    }
    close(fd);
    *size = got;
    return 0;
}

/* A complete JPEG ends with EOI (FF D9); writers may append data after it, so the last
 * EOI_WINDOW bytes are searched. */
static int jpeg_has_eoi(const uint8_t *d, size_t n) {
    size_t lo = n > EOI_WINDOW ? n - EOI_WINDOW : 0;
    for (size_t i = n; i >= lo + 2; i--)
        if (d[i - 2] == 0xFF && d[i - 1] == 0xD9) return 1;
    return 0;
}

/* Header, then (deep mode, or no EOI marker) a full decode. Returns 0 if readable; else the
 * message in e names the file. */
static int check_image_bytes(ScanCtx *c, const char *path, size_t size, DataFile *f, Err *e) {
    if (size == 0) return err_fail(e, "%s: empty file", path);
    if (image_jpeg_info(path, &f->h, &f->w, &f->components, e)) return -1;
    int eoi = jpeg_has_eoi(c->buf, size);
    if (!c->opt->deep && eoi) return 0;
    if (image_decode_jpeg_mem(c->buf, size, path, &c->img, 1, NULL, e)) return -1;
    if (!eoi) return err_fail(e, "%s: truncated: no end-of-image marker (the decoder accepted it)", path);
    return 0;
}

static int scan_file(ScanCtx *c, const char *path, int split, int cls, const char *name, Err *e) {
    DataFile *f = add_file(c->r, split, cls, name);
    if (!f) return err_fail(e, "out of memory");
    DataClass *k = &c->r->classes[cls];
    size_t size = 0;
    Err fe = {{0}};
    k->count[split]++;
    if (read_file(path, &c->buf, &c->cap, &size, &fe) == 0) {
        f->bytes = (int64_t)size;
        f->hash = fnv1a64(c->buf, size, FNV1A64_INIT);
        if (check_image_bytes(c, path, size, f, &fe) == 0) {
            k->gray += f->components == 1;
            k->cmyk += f->components == 4;
            return 0;
        }
    }
    f->bad = 1;
    f->w = f->h = f->components = 0;
    k->bad++;
    return add_issue(c->r, 1, "%s", fe.msg) ? err_fail(e, "out of memory") : 0;
}

/* ---------------------------------------------------------------- folders */

static void show_progress(ScanCtx *c) {
    FILE *p = c->opt->progress;
    if (++c->scanned % 500 == 0 && p && isatty(fileno(p))) fprintf(p, "\rcheck-data: %d files", c->scanned);
}

enum { WALK_DEPTH_MAX = 32 };

/* Files the loader skips in one class folder: counted, and one example kept. */
typedef struct Skipped { int files, links; char example[256], link_example[256]; } Skipped;

/* Walks a class folder as the loader does: JPEG-named files anywhere below it are images
 * (rel is their path below the class folder), other files are skipped, symlinked
 * subfolders are not entered. */
static int scan_tree(ScanCtx *c, const char *dir, const char *rel, int split, int cls, int depth, Skipped *sk, Err *e) {
    char path[PATH_MAX], name[PATH_MAX];
    DirList files, subdirs;
    if (depth > WALK_DEPTH_MAX) return err_fail(e, "%s: folders nested deeper than %d", dir, WALK_DEPTH_MAX);
    if (dir_list_sorted(dir, 'f', &files, e)) return -1;
    int rc = 0;
    for (int i = 0; i < files.n && rc == 0; i++) {
        snprintf(name, sizeof name, "%s%s%s", rel, rel[0] ? "/" : "", files.names[i]);
        if (!image_has_jpeg_name(files.names[i])) {  /* the loader (dataset.c) reads .jpg / .jpeg only */
            if (sk->files++ == 0) snprintf(sk->example, sizeof sk->example, "%s", name);
            continue;
        }
        rc = scan_file(c, fs_join(path, sizeof path, dir, files.names[i]), split, cls, name, e);
        show_progress(c);
    }
    dir_list_free(&files);
    if (rc || dir_list_sorted(dir, 'd', &subdirs, e)) return -1;
    for (int i = 0; i < subdirs.n && rc == 0; i++) {
        struct stat st;
        snprintf(name, sizeof name, "%s%s%s", rel, rel[0] ? "/" : "", subdirs.names[i]);
        fs_join(path, sizeof path, dir, subdirs.names[i]);
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
            if (sk->links++ == 0) snprintf(sk->link_example, sizeof sk->link_example, "%s", name);
            continue;
        }
        rc = scan_tree(c, path, name, split, cls, depth + 1, sk, e);
    }
    dir_list_free(&subdirs);
    return rc;
}

static int scan_class(ScanCtx *c, const char *split_dir, int split, const char *cname, Err *e) {
    char dir[PATH_MAX];
    Skipped sk = {0};
    int cls = class_index(c->r, cname, e);
    if (cls < 0) return -1;
    c->r->classes[cls].folder[split] = 1;
    fs_join(dir, sizeof dir, split_dir, cname);
    if (scan_tree(c, dir, "", split, cls, 0, &sk, e)) return -1;
    c->r->ignored_files += sk.files;
    int rc = 0;
    if (sk.files) rc = add_issue(c->r, 0, "%s: %d files that are not .jpg/.jpeg are skipped by the loader (e.g. %s)", dir, sk.files, sk.example);
    if (rc == 0 && sk.links) rc = add_issue(c->r, 0, "%s: %d symlinked subfolders are skipped by the loader (e.g. %s)", dir, sk.links, sk.link_example);
    return rc ? err_fail(e, "out of memory") : 0;
}

static int scan_split(ScanCtx *c, const char *root, int split, Err *e) {
    char dir[PATH_MAX];
    DirList classes, loose;
    fs_join(dir, sizeof dir, root, data_split_names[split]);
    if (!fs_is_dir(dir)) return 0;
    c->r->split[split].present = 1;
    if (dir_list_sorted(dir, 'd', &classes, e)) return -1;
    c->r->split[split].classes = classes.n;
    int rc = 0;
    for (int i = 0; i < classes.n && rc == 0; i++) rc = scan_class(c, dir, split, classes.names[i], e);
    dir_list_free(&classes);
    if (rc == 0 && dir_list_sorted(dir, 'f', &loose, e) == 0) {
        c->r->ignored_files += loose.n;
        if (loose.n) rc = add_issue(c->r, 0, "%s: %d files outside class folders are skipped (e.g. %s)", dir, loose.n, loose.names[0]);
        dir_list_free(&loose);
    }
    return rc;
}

/* Folders at the root the loader does not read (val/, valid/, ...). */
static int note_unknown_dirs(DataReport *r, const char *root, Err *e) {
    DirList dirs;
    if (dir_list_sorted(root, 'd', &dirs, e)) return -1;
    for (int i = 0; i < dirs.n; i++) {
        int known = 0;
        for (int s = 0; s < DATA_NSPLITS; s++) known |= strcmp(dirs.names[i], data_split_names[s]) == 0;
        if (!known) add_issue(r, 0, "%s/%s/: not a split folder (train, validation, test); ignored", root, dirs.names[i]);
    }
    dir_list_free(&dirs);
    return 0;
}

/* ---------------------------------------------------------------- statistics */

static int cmp_int(const void *a, const void *b) { int x = *(const int *)a, y = *(const int *)b; return (x > y) - (x < y); }

static SizeStats stats_of(int *v, int n) {
    SizeStats s = {0, 0, 0};
    if (n == 0) return s;
    qsort(v, (size_t)n, sizeof *v, cmp_int);
    s.min = v[0];
    s.median = v[n / 2];
    s.max = v[n - 1];
    return s;
}

/* Width and height statistics of the readable files of a split and/or class (-1 = any). */
static void size_stats(const DataReport *r, int split, int cls, int *tmp, SizeStats *w, SizeStats *h) {
    int n = 0;
    for (int i = 0; i < r->n_files; i++) {
        const DataFile *f = &r->files[i];
        if (!f->bad && (split < 0 || f->split == split) && (cls < 0 || f->cls == cls)) tmp[n++] = f->w;
    }
    *w = stats_of(tmp, n);
    n = 0;
    for (int i = 0; i < r->n_files; i++) {
        const DataFile *f = &r->files[i];
        if (!f->bad && (split < 0 || f->split == split) && (cls < 0 || f->cls == cls)) tmp[n++] = f->h;
    }
    *h = stats_of(tmp, n);
}

static void split_stats(DataReport *r, int s, int *tmp) {
    DataSplit *sp = &r->split[s];
    int n = 0;
    for (int k = 0; k < r->n_classes; k++) {
        const DataClass *c = &r->classes[k];
        if (c->folder[s]) tmp[n++] = c->count[s];
    }
    SizeStats counts = stats_of(tmp, n);
    sp->class_min = counts.min;
    sp->class_median = counts.median;
    sp->class_max = counts.max;
    sp->imbalance = counts.min > 0 ? (double)counts.max / counts.min : 0;
    for (int i = 0; i < r->n_files; i++) {
        const DataFile *f = &r->files[i];
        if (f->split != s) continue;
        sp->images++;
        sp->bad += f->bad;
        sp->gray += !f->bad && f->components == 1;
        sp->cmyk += !f->bad && f->components == 4;
    }
    size_stats(r, s, -1, tmp, &sp->w, &sp->h);
}

static int compute_stats(DataReport *r, Err *e) {
    int *tmp = tl_malloc(e, (size_t)(r->n_files > r->n_classes ? r->n_files : r->n_classes) * sizeof *tmp + 1, "statistics");
    TL_CHECK_ALLOC(e, tmp);
    for (int s = 0; s < DATA_NSPLITS; s++)
        if (r->split[s].present) split_stats(r, s, tmp);
    for (int k = 0; k < r->n_classes; k++) size_stats(r, -1, k, tmp, &r->classes[k].w, &r->classes[k].h);
    free(tmp);
    return 0;
}

/* ---------------------------------------------------------------- duplicates */

static void file_path(const DataReport *r, int i, char *out, size_t n) {
    const DataFile *f = &r->files[i];
    snprintf(out, n, "%s/%s/%s/%s", r->root, data_split_names[f->split], r->classes[f->cls].name, f->name);
}

/* Short form for messages: split/class/name. */
static void file_label(const DataReport *r, int i, char *out, size_t n) {
    const DataFile *f = &r->files[i];
    snprintf(out, n, "%s/%s/%s", data_split_names[f->split], r->classes[f->cls].name, f->name);
}

static int same_bytes(ScanCtx *c, int a, int b, Err *e) {
    char pa[PATH_MAX], pb[PATH_MAX];
    size_t na, nb;
    file_path(c->r, a, pa, sizeof pa);
    file_path(c->r, b, pb, sizeof pb);
    if (read_file(pa, &c->buf, &c->cap, &na, e) || read_file(pb, &c->buf2, &c->cap2, &nb, e)) return -1;
    return na == nb && memcmp(c->buf, c->buf2, na) == 0;
}

static int cmp_size_hash(const void *pa, const void *pb, void *files) {
    const DataFile *a = (const DataFile *)files + *(const int *)pa, *b = (const DataFile *)files + *(const int *)pb;
    if (a->bytes != b->bytes) return a->bytes < b->bytes ? -1 : 1;
    if (a->hash != b->hash) return a->hash < b->hash ? -1 : 1;
    return *(const int *)pa - *(const int *)pb;
}

static int add_dup(DataReport *r, int a, int b) {
    if ((r->n_dups & (r->n_dups - 1)) == 0) {
        DataDuplicate *nd = realloc(r->dups, (size_t)(r->n_dups ? 2 * r->n_dups : 16) * sizeof *nd);
        if (!nd) return -1;
        r->dups = nd;
    }
    r->dups[r->n_dups++] = (DataDuplicate){a, b};
    const DataFile *fa = &r->files[a], *fb = &r->files[b];
    r->dup_within += fa->split == fb->split;
    r->dup_across += fa->split != fb->split;
    r->dup_cross_class += fa->cls != fb->cls;
    return 0;
}

/* Within one run of equal (size, hash): each file joins the first earlier file with the same bytes. */
static int dup_run(ScanCtx *c, const int *idx, int n, uint8_t *taken, Err *e) {
    for (int i = 0; i < n; i++) {
        if (taken[i]) continue;
        for (int j = i + 1; j < n; j++) {
            if (taken[j]) continue;
            int same = same_bytes(c, idx[i], idx[j], e);
            if (same < 0) return -1;
            if (same && add_dup(c->r, idx[i], idx[j])) return err_fail(e, "out of memory");
            taken[j] = (uint8_t)same;
        }
    }
    return 0;
}

static int find_duplicates(ScanCtx *c, Err *e) {
    DataReport *r = c->r;
    int *idx = tl_malloc(e, (size_t)r->n_files * sizeof *idx + 1, "duplicate index");
    uint8_t *taken = tl_calloc(e, (size_t)r->n_files + 1, 1, "duplicate marks");
    int rc = idx && taken ? 0 : -1;
    int n = 0;
    for (int i = 0; i < r->n_files && rc == 0; i++)
        if (r->files[i].bytes > 0) idx[n++] = i;
    if (rc == 0 && n > 1) qsort_r(idx, (size_t)n, sizeof *idx, cmp_size_hash, r->files);
    for (int i = 0; i < n && rc == 0; ) {
        int j = i + 1;
        while (j < n && r->files[idx[j]].bytes == r->files[idx[i]].bytes && r->files[idx[j]].hash == r->files[idx[i]].hash) j++;
        if (j - i > 1) rc = dup_run(c, idx + i, j - i, taken + i, e);
        i = j;
    }
    free(idx);
    free(taken);
    return rc;
}

/* ---------------------------------------------------------------- issues */

static void split_issues(DataReport *r) {
    const DataSplit *train = &r->split[0], *val = &r->split[1], *test = &r->split[2];
    if (!train->present) add_issue(r, 1, "%s/train/: missing; nothing to train on", r->root);
    if (!val->present) add_issue(r, 0, "%s/validation/: absent; the trainer carves validation from train (data.validation_split)", r->root);
    if (!test->present) add_issue(r, 0, "%s/test/: absent; no test evaluation possible", r->root);
    for (int s = 0; s < DATA_NSPLITS; s++) {
        const DataSplit *sp = &r->split[s];
        if (sp->present && sp->classes == 0) add_issue(r, 1, "%s/%s/: no class folders", r->root, data_split_names[s]);
        if (sp->present && sp->imbalance > IMBALANCE_WARN)
            add_issue(r, 0, "%s: class imbalance %.1f (max %d / min %d images per class)", data_split_names[s],
                      sp->imbalance, sp->class_max, sp->class_min);
    }
}

static void class_issues(DataReport *r) {
    for (int k = 0; k < r->n_classes; k++) {
        const DataClass *c = &r->classes[k];
        for (int s = 0; s < DATA_NSPLITS; s++) {
            if (!r->split[s].present) continue;
            if (!c->folder[s]) {
                for (int o = 0; o < DATA_NSPLITS; o++)
                    if (c->folder[o] && o != s) {
                        add_issue(r, 1, "%s: class '%s' is missing (it is in %s)", data_split_names[s], c->name, data_split_names[o]);
                        break;
                    }
            } else if (c->count[s] == 0)
                add_issue(r, 1, "%s/%s/%s/: empty class folder (no images)", r->root, data_split_names[s], c->name);
        }
    }
}

static void duplicate_issues(DataReport *r) {
    for (int i = 0; i < r->n_dups; i++) {
        char a[PATH_MAX], b[PATH_MAX];
        const DataDuplicate *d = &r->dups[i];
        file_label(r, d->a, a, sizeof a);
        file_label(r, d->b, b, sizeof b);
        const DataFile *fa = &r->files[d->a], *fb = &r->files[d->b];
        const char *kind = fa->cls != fb->cls ? "same image under two classes" : fa->split != fb->split ? "duplicate across splits (leak)"
                                                                                                       : "duplicate";
        add_issue(r, 0, "%s: %s == %s", kind, a, b);
    }
}

int check_data_scan(const char *root, const CheckDataOptions *opt, DataReport *r, Err *e) {
    memset(r, 0, sizeof *r);
    snprintf(r->root, sizeof r->root, "%s", root);
    r->deep = opt->deep;
    if (!fs_is_dir(root)) return err_fail(e, "%s: not a directory", root);
    ScanCtx c = {.r = r, .opt = opt};
    int rc = 0;
    for (int s = 0; s < DATA_NSPLITS && rc == 0; s++) rc = scan_split(&c, root, s, e);
    if (opt->progress && isatty(fileno(opt->progress)) && c.scanned >= 500) fputc('\n', opt->progress);
    if (rc == 0) rc = note_unknown_dirs(r, root, e);
    if (rc == 0) rc = compute_stats(r, e);
    if (rc == 0) rc = find_duplicates(&c, e);
    if (rc == 0) {
        split_issues(r);
        class_issues(r);
        duplicate_issues(r);
    }
    free(c.buf);
    free(c.buf2);
    image_free(&c.img);
    return rc;
}

int check_data_status(const DataReport *r) { return r->n_errors ? 1 : 0; }

/* ---------------------------------------------------------------- table */

static void print_name(FILE *f, const char *name, int width) {
    int len = (int)strlen(name);
    if (len <= width) fprintf(f, "%-*s", width, name);
    else fprintf(f, "%.*s~", width - 1, name);
}

static void print_size(FILE *f, SizeStats s) {
    char buf[40];
    snprintf(buf, sizeof buf, "%d/%d/%d", s.min, s.median, s.max);
    fprintf(f, "  %17s", buf);
}

static void print_split_table(const DataReport *r, FILE *f) {
    fprintf(f, "%-10s  %7s  %7s  %21s  %9s  %5s  %5s  %5s  %17s  %17s\n", "split", "classes", "images", "per class min/med/max",
            "imbalance", "bad", "gray", "cmyk", "width min/med/max", "height min/med/max");
    for (int s = 0; s < DATA_NSPLITS; s++) {
        const DataSplit *sp = &r->split[s];
        if (!sp->present) { fprintf(f, "%-10s  (absent)\n", data_split_names[s]); continue; }
        char per[40];
        snprintf(per, sizeof per, "%d/%d/%d", sp->class_min, sp->class_median, sp->class_max);
        char imb[24];
        snprintf(imb, sizeof imb, sp->imbalance > 0 ? "%.2f" : "-", sp->imbalance);
        fprintf(f, "%-10s  %7d  %7d  %21s  %9s  %5d  %5d  %5d", data_split_names[s], sp->classes, sp->images, per, imb, sp->bad,
                sp->gray, sp->cmyk);
        print_size(f, sp->w);
        print_size(f, sp->h);
        fputc('\n', f);
    }
}

static void print_class_table(const DataReport *r, FILE *f) {
    int width = 5;
    for (int k = 0; k < r->n_classes; k++) {
        int len = (int)strlen(r->classes[k].name);
        if (len > width) width = len;
    }
    if (width > NAME_COL_MAX) width = NAME_COL_MAX;
    print_name(f, "class", width);
    for (int s = 0; s < DATA_NSPLITS; s++)
        if (r->split[s].present) fprintf(f, "  %10s", data_split_names[s]);
    fprintf(f, "  %5s  %5s  %5s  %17s  %17s\n", "bad", "gray", "cmyk", "width min/med/max", "height min/med/max");
    for (int k = 0; k < r->n_classes; k++) {
        const DataClass *c = &r->classes[k];
        print_name(f, c->name, width);
        for (int s = 0; s < DATA_NSPLITS; s++) {
            if (!r->split[s].present) continue;
            if (c->folder[s]) fprintf(f, "  %10d", c->count[s]);
            else fprintf(f, "  %10s", "MISSING");
        }
        fprintf(f, "  %5d  %5d  %5d", c->bad, c->gray, c->cmyk);
        print_size(f, c->w);
        print_size(f, c->h);
        fputc('\n', f);
    }
}

static void print_issues(const DataReport *r, FILE *f, int error) {
    int total = error ? r->n_errors : r->n_warnings, shown = 0;
    if (!total) return;
    fprintf(f, "\n%s (%d):\n", error ? "errors" : "warnings", total);
    for (int i = 0; i < r->n_issues && shown < ISSUES_SHOWN; i++)
        if (r->issues[i].error == error) { fprintf(f, "  %s\n", r->issues[i].msg); shown++; }
    if (total > shown) fprintf(f, "  ... and %d more (--json lists all)\n", total - shown);
}

void check_data_print_table(const DataReport *r, FILE *f) {
    fprintf(f, "check-data %s: %d images, %d classes (%s)\n\n", r->root, r->n_files, r->n_classes,
            r->deep ? "every image decoded" : "headers only; --deep decodes every image");
    print_split_table(r, f);
    if (r->n_classes) {
        fputc('\n', f);
        print_class_table(r, f);
    }
    fprintf(f, "\nduplicates (identical bytes): %d within a split, %d across splits, %d under different classes\n",
            r->dup_within, r->dup_across, r->dup_cross_class);
    if (r->ignored_files) fprintf(f, "files the loader skips (not .jpg/.jpeg, or outside class folders): %d\n", r->ignored_files);
    print_issues(r, f, 1);
    print_issues(r, f, 0);
    fprintf(f, "\nresult: %s (%d errors, %d warnings)\n", r->n_errors ? "ERRORS: training would fail" : "OK", r->n_errors,
            r->n_warnings);
}

/* ---------------------------------------------------------------- JSON */

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void json_size(FILE *f, const char *key, SizeStats s) {
    fprintf(f, "\"%s\": {\"min\": %d, \"median\": %d, \"max\": %d}", key, s.min, s.median, s.max);
}

static void json_splits(const DataReport *r, FILE *f) {
    fprintf(f, "  \"splits\": {");
    for (int s = 0, first = 1; s < DATA_NSPLITS; s++) {
        const DataSplit *sp = &r->split[s];
        if (!sp->present) continue;
        fprintf(f, "%s\n    \"%s\": {\"classes\": %d, \"images\": %d, \"bad\": %d, \"gray\": %d, \"cmyk\": %d, ", first ? "" : ",",
                data_split_names[s], sp->classes, sp->images, sp->bad, sp->gray, sp->cmyk);
        fprintf(f, "\"per_class\": {\"min\": %d, \"median\": %d, \"max\": %d}, \"imbalance\": %.4f, ", sp->class_min,
                sp->class_median, sp->class_max, sp->imbalance);
        json_size(f, "width", sp->w);
        fprintf(f, ", ");
        json_size(f, "height", sp->h);
        fprintf(f, "}");
        first = 0;
    }
    fprintf(f, "\n  },\n");
}

static void json_classes(const DataReport *r, FILE *f) {
    fprintf(f, "  \"classes\": [");
    for (int k = 0; k < r->n_classes; k++) {
        const DataClass *c = &r->classes[k];
        fprintf(f, "%s\n    {\"name\": ", k ? "," : "");
        json_str(f, c->name);
        fprintf(f, ", \"counts\": {");
        for (int s = 0, first = 1; s < DATA_NSPLITS; s++) {
            if (!r->split[s].present) continue;
            if (c->folder[s]) fprintf(f, "%s\"%s\": %d", first ? "" : ", ", data_split_names[s], c->count[s]);
            else fprintf(f, "%s\"%s\": null", first ? "" : ", ", data_split_names[s]);
            first = 0;
        }
        fprintf(f, "}, \"bad\": %d, \"gray\": %d, \"cmyk\": %d, ", c->bad, c->gray, c->cmyk);
        json_size(f, "width", c->w);
        fprintf(f, ", ");
        json_size(f, "height", c->h);
        fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n");
}

static void json_dups(const DataReport *r, FILE *f) {
    fprintf(f, "  \"duplicates\": {\"within\": %d, \"across\": %d, \"cross_class\": %d, \"pairs\": [", r->dup_within,
            r->dup_across, r->dup_cross_class);
    for (int i = 0; i < r->n_dups; i++) {
        char a[PATH_MAX], b[PATH_MAX];
        file_label(r, r->dups[i].a, a, sizeof a);
        file_label(r, r->dups[i].b, b, sizeof b);
        fprintf(f, "%s\n    [", i ? "," : "");
        json_str(f, a);
        fprintf(f, ", ");
        json_str(f, b);
        fprintf(f, "]");
    }
    fprintf(f, "%s]},\n", r->n_dups ? "\n  " : "");
}

static void json_issues(const DataReport *r, FILE *f, int error) {
    fprintf(f, "  \"%s\": [", error ? "errors" : "warnings");
    for (int i = 0, first = 1; i < r->n_issues; i++) {
        if (r->issues[i].error != error) continue;
        fprintf(f, "%s\n    ", first ? "" : ",");
        json_str(f, r->issues[i].msg);
        first = 0;
    }
    fprintf(f, "%s]", (error ? r->n_errors : r->n_warnings) ? "\n  " : "");
}

void check_data_print_json(const DataReport *r, FILE *f) {
    fprintf(f, "{\n  \"root\": ");
    json_str(f, r->root);
    fprintf(f, ",\n  \"mode\": \"%s\",\n  \"images\": %d,\n  \"ignored_files\": %d,\n", r->deep ? "deep" : "header",
            r->n_files, r->ignored_files);
    json_splits(r, f);
    json_classes(r, f);
    json_dups(r, f);
    json_issues(r, f, 1);
    fprintf(f, ",\n");
    json_issues(r, f, 0);
    fprintf(f, ",\n  \"ok\": %s\n}\n", r->n_errors ? "false" : "true");
}
