#include "data/dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fsutil.h"
#include "core/rng.h"

enum { DS_PATH_MAX = 4096, DS_MAX_EXTS = 12, DS_EXT_LEN = 24 };

/* ---- small containers ---- */

typedef struct NameList {
    char **v;
    int n, cap;
} NameList;

static int names_push(NameList *l, const char *s, Err *e) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v) return err_fail(e, "out of memory listing files");
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return err_fail(e, "out of memory listing files");
    l->n++;
    return 0;
}

static void names_free(NameList *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int names_find(const NameList *l, const char *s) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0) return i;
    return -1;
}

static int split_push(DatasetSplit *s, int *cap, char *path, int label, Err *e) {
    if (s->n == *cap) {
        int nc = *cap ? 2 * *cap : 256;
        DatasetItem *v = realloc(s->items, sizeof *v * (size_t)nc);
        if (!v) return err_fail(e, "out of memory listing images");
        s->items = v;
        *cap = nc;
    }
    s->items[s->n].path = path;
    s->items[s->n].label = label;
    s->n++;
    return 0;
}

static void split_free(DatasetSplit *s) {
    for (int i = 0; i < s->n; i++) free(s->items[i].path);
    free(s->items);
    memset(s, 0, sizeof *s);
}

static void report(Dataset *ds, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(Dataset *ds, const char *fmt, ...) {
    size_t len = strlen(ds->report);
    if (len + 1 >= sizeof ds->report) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ds->report + len, sizeof ds->report - len, fmt, ap);
    va_end(ap);
}

/* ---- counting what we do not load ---- */

typedef struct SkipTally {
    int total;
    int n_ext;
    char ext[DS_MAX_EXTS][DS_EXT_LEN];   /* ".png", "(no extension)", "(symlinked folder)", ... */
    int count[DS_MAX_EXTS];
    int other_exts;                      /* files whose extension did not fit the table */
} SkipTally;

static void tally_add(SkipTally *t, const char *label) {
    t->total++;
    for (int i = 0; i < t->n_ext; i++)
        if (strcmp(t->ext[i], label) == 0) { t->count[i]++; return; }
    if (t->n_ext == DS_MAX_EXTS) { t->other_exts++; return; }
    snprintf(t->ext[t->n_ext], DS_EXT_LEN, "%s", label);
    t->count[t->n_ext++] = 1;
}

static void tally_file(SkipTally *t, const char *name) {
    const char *dot = strrchr(name, '.');
    char label[DS_EXT_LEN];
    if (!dot || dot == name || strlen(dot) >= DS_EXT_LEN) {
        tally_add(t, dot == name ? "(hidden file)" : "(no extension)");
        return;
    }
    size_t i = 0;
    for (; dot[i]; i++) label[i] = (char)tolower((unsigned char)dot[i]);
    label[i] = 0;
    tally_add(t, label);
}

/* "(2 .png, 1 .txt)", largest counts first. */
static void tally_format(const SkipTally *t, char *buf, size_t n) {
    int order[DS_MAX_EXTS];
    for (int i = 0; i < t->n_ext; i++) order[i] = i;
    for (int i = 1; i < t->n_ext; i++)
        for (int j = i; j > 0; j--) {
            int a = order[j - 1], b = order[j];
            if (t->count[a] > t->count[b] || (t->count[a] == t->count[b] && strcmp(t->ext[a], t->ext[b]) <= 0)) break;
            order[j - 1] = b;
            order[j] = a;
        }
    size_t len = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < t->n_ext && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%d %s", i ? ", " : "", t->count[order[i]], t->ext[order[i]]);
    if (t->other_exts && len < n) len += (size_t)snprintf(buf + len, n - len, ", %d other", t->other_exts);
    if (len < n) snprintf(buf + len, n - len, ")");
}

/* Keras accepts a file by its lower-cased name's suffix; of those we decode only JPEG. */
static int has_suffix_ci(const char *name, const char *suffix) {
    size_t n = strlen(name), m = strlen(suffix);
    if (m > n) return 0;
    for (size_t i = 0; i < m; i++)
        if (tolower((unsigned char)name[n - m + i]) != suffix[i]) return 0;
    return 1;
}

static int is_jpeg_name(const char *name) { return has_suffix_ci(name, "jpg") || has_suffix_ci(name, "jpeg"); }

/* ---- directory listing ---- */

static int path_join(char *buf, const char *a, const char *b, Err *e) {
    size_t na = strlen(a), nb = strlen(b);
    if (na + 1 + nb + 1 > DS_PATH_MAX) return err_fail(e, "%s/%s: path too long", a, b);
    memcpy(buf, a, na);
    buf[na] = '/';
    memcpy(buf + na + 1, b, nb + 1);
    return 0;
}

/* Sorted entries of a directory: folders (symlinks followed, as os.path.isdir) and the rest. */
static int list_dir(const char *path, NameList *dirs, NameList *files, Err *e) {
    DIR *d = opendir(path);
    if (!d) return err_fail(e, "%s: cannot open directory: %s", path, strerror(errno));
    struct dirent *ent;
    char full[DS_PATH_MAX];
    int rc = 0;
    while (rc == 0 && (ent = readdir(d))) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
        struct stat st;
        if ((rc = path_join(full, path, ent->d_name, e)) != 0) break;
        int is_dir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
        rc = names_push(is_dir ? dirs : files, ent->d_name, e);
    }
    closedir(d);
    if (rc) return rc;
    if (dirs->n > 1) qsort(dirs->v, (size_t)dirs->n, sizeof *dirs->v, cmp_str);
    if (files->n > 1) qsort(files->v, (size_t)files->n, sizeof *files->v, cmp_str);
    return 0;
}

/* One file found by the walk: its directory and name (sorted like Keras: by directory path,
 * then by name). */
typedef struct WalkFile {
    char *dir, *name;
} WalkFile;

typedef struct Walk {
    WalkFile *f;
    int n, cap;
    int symlinked_dirs;          /* os.walk(followlinks=False) does not enter them */
} Walk;

static int walk_push(Walk *w, const char *dir, const char *name, Err *e) {
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        WalkFile *f = realloc(w->f, sizeof *f * (size_t)cap);
        if (!f) return err_fail(e, "out of memory listing files");
        w->f = f;
        w->cap = cap;
    }
    w->f[w->n].dir = strdup(dir);
    w->f[w->n].name = strdup(name);
    if (!w->f[w->n].dir || !w->f[w->n].name) {
        free(w->f[w->n].dir);
        free(w->f[w->n].name);
        return err_fail(e, "out of memory listing files");
    }
    w->n++;
    return 0;
}

static void walk_free(Walk *w) {
    for (int i = 0; i < w->n; i++) {
        free(w->f[i].dir);
        free(w->f[i].name);
    }
    free(w->f);
    memset(w, 0, sizeof *w);
}

static int walk_dir(const char *dir, Walk *w, Err *e) {
    NameList dirs = {0}, files = {0};
    int rc = list_dir(dir, &dirs, &files, e);
    for (int i = 0; rc == 0 && i < files.n; i++) rc = walk_push(w, dir, files.v[i], e);
    char sub[DS_PATH_MAX];
    for (int i = 0; rc == 0 && i < dirs.n; i++) {
        struct stat st;
        if ((rc = path_join(sub, dir, dirs.v[i], e)) != 0) break;
        if (lstat(sub, &st) == 0 && S_ISLNK(st.st_mode)) w->symlinked_dirs++;
        else rc = walk_dir(sub, w, e);
    }
    names_free(&dirs);
    names_free(&files);
    return rc;
}

static int cmp_walkfile(const void *a, const void *b) {
    const WalkFile *x = a, *y = b;
    int c = strcmp(x->dir, y->dir);
    return c ? c : strcmp(x->name, y->name);
}

/* ---- one split ---- */

typedef struct SplitSpec {
    const char *root, *name;     /* name: "train", "validation", "test" */
    char **classes;
    int n_classes;
    int explicit_list;           /* classes come from data.classes */
} SplitSpec;

/* Every class must have its folder; extra folders are an error, or (explicit list) ignored
 * with a note, as Keras ignores folders outside `classes`. */
static int check_class_folders(const SplitSpec *sp, const char *split_path, const NameList *dirs, Dataset *ds, Err *e) {
    for (int c = 0; c < sp->n_classes; c++)
        if (names_find(dirs, sp->classes[c]) < 0)
            return err_fail(e, "%s/%s: class folder missing (class '%s' is %s)", split_path, sp->classes[c],
                            sp->classes[c], sp->explicit_list ? "listed in data.classes" : "in train/");
    int extra = 0;
    char names[512] = "";
    for (int i = 0; i < dirs->n; i++) {
        int listed = 0;
        for (int c = 0; c < sp->n_classes && !listed; c++) listed = strcmp(dirs->v[i], sp->classes[c]) == 0;
        if (listed) continue;
        if (!sp->explicit_list)
            return err_fail(e, "%s/%s: class folder not present in train/", split_path, dirs->v[i]);
        size_t len = strlen(names);
        if (len < sizeof names - 1) snprintf(names + len, sizeof names - len, "%s%s", extra ? ", " : "", dirs->v[i]);
        extra++;
    }
    if (extra) report(ds, "ignored %d folder(s) of %s/ not in data.classes: %s\n", extra, sp->name, names);
    return 0;
}

/* Walks one class folder; JPEG names become items, everything else is tallied. */
static int list_class(const char *class_path, int label, DatasetSplit *out, int *cap, SkipTally *skip, Err *e) {
    Walk w = {0};
    int rc = walk_dir(class_path, &w, e), found = 0, skipped_before = skip->total;
    if (rc == 0 && w.n > 1) qsort(w.f, (size_t)w.n, sizeof *w.f, cmp_walkfile);
    char full[DS_PATH_MAX];
    for (int i = 0; rc == 0 && i < w.n; i++) {
        if (!is_jpeg_name(w.f[i].name)) { tally_file(skip, w.f[i].name); continue; }
        if ((rc = path_join(full, w.f[i].dir, w.f[i].name, e)) != 0) break;
        char *p = strdup(full);
        if (!p) rc = err_fail(e, "out of memory listing images");
        else if ((rc = split_push(out, cap, p, label, e)) != 0) free(p);
        found++;
    }
    for (int i = 0; i < w.symlinked_dirs; i++) tally_add(skip, "(symlinked folder)");
    walk_free(&w);
    if (rc == 0 && found == 0)
        rc = err_fail(e, "%s: class folder has no JPEG images (%d other entries)", class_path, skip->total - skipped_before);
    return rc;
}

static int list_split(const SplitSpec *sp, DatasetSplit *out, Dataset *ds, Err *e) {
    char split_path[DS_PATH_MAX], class_path[DS_PATH_MAX];
    NameList dirs = {0}, files = {0};
    int cap = 0;
    int rc = path_join(split_path, sp->root, sp->name, e);
    if (rc == 0) rc = list_dir(split_path, &dirs, &files, e);
    if (rc == 0) rc = check_class_folders(sp, split_path, &dirs, ds, e);
    SkipTally skip;
    memset(&skip, 0, sizeof skip);
    for (int c = 0; rc == 0 && c < sp->n_classes; c++) {
        rc = path_join(class_path, split_path, sp->classes[c], e);
        if (rc == 0) rc = list_class(class_path, c, out, &cap, &skip, e);
    }
    if (rc == 0 && skip.total) {
        char what[512];
        tally_format(&skip, what, sizeof what);
        report(ds, "skipped %d non-JPEG file%s in %s/ %s\n", skip.total, skip.total == 1 ? "" : "s", sp->name, what);
    }
    if (rc == 0 && files.n)
        report(ds, "ignored %d file%s outside class folders in %s/\n", files.n, files.n == 1 ? "" : "s", sp->name);
    names_free(&dirs);
    names_free(&files);
    return rc;
}

/* ---- class names ---- */

static int class_names_from_config(const DataConfig *cfg, Dataset *ds, Err *e) {
    ds->class_names = calloc((size_t)cfg->n_classes_listed, sizeof *ds->class_names);
    if (!ds->class_names) return err_fail(e, "out of memory");
    for (int i = 0; i < cfg->n_classes_listed; i++) {
        for (int j = 0; j < i; j++)
            if (strcmp(cfg->classes[i], cfg->classes[j]) == 0)
                return err_fail(e, "data.classes: class '%s' listed twice", cfg->classes[i]);
        if (!(ds->class_names[i] = strdup(cfg->classes[i]))) return err_fail(e, "out of memory");
        ds->n_classes = i + 1;
    }
    return 0;
}

static int class_names_from_folders(const char *train_path, Dataset *ds, Err *e) {
    NameList dirs = {0}, files = {0};
    if (list_dir(train_path, &dirs, &files, e) != 0) return -1;
    names_free(&files);
    if (dirs.n == 0) return err_fail(e, "%s: no class folders", train_path);
    ds->class_names = dirs.v; /* sorted by byte order, as Python's sorted() */
    ds->n_classes = dirs.n;
    return 0;
}

/* ---- seeded stratified selection ---- */

/* For each class (items of a class are contiguous), marks `count(n)` items chosen by a
 * shuffle keyed (seed, RNG_SPLIT, class, stream). */
static int choose_per_class(const DatasetSplit *s, uint64_t seed, uint32_t stream, int (*count)(int n, double f),
                            double f, char *chosen, Err *e) {
    int *idx = malloc(sizeof *idx * (size_t)(s->n ? s->n : 1));
    if (!idx) return err_fail(e, "out of memory");
    memset(chosen, 0, (size_t)s->n);
    for (int lo = 0, hi; lo < s->n; lo = hi) {
        int label = s->items[lo].label;
        for (hi = lo; hi < s->n && s->items[hi].label == label; hi++) {}
        int n = hi - lo, k = count(n, f);
        for (int i = 0; i < n; i++) idx[i] = i;
        Rng r;
        rng_init(&r, seed, RNG_SPLIT, (uint32_t)label, stream);
        rng_shuffle(&r, idx, n);
        for (int i = 0; i < k; i++) chosen[lo + idx[i]] = 1;
    }
    free(idx);
    return 0;
}

static int count_validation(int n, double split) { return (int)(split * n); /* Keras: int(split * n) */ }

static int count_keep(int n, double fraction) {
    int k = (int)floor(fraction * n + 0.5);
    return k < 1 ? 1 : (k > n ? n : k);
}

/* Moves the chosen items of *from into *to (order kept); the others stay in *from, or are
 * freed when free_unchosen is set. */
static int partition(DatasetSplit *from, const char *chosen, DatasetSplit *to, int free_unchosen, Err *e) {
    DatasetItem *keep = malloc(sizeof *keep * (size_t)(from->n ? from->n : 1));
    DatasetItem *moved = malloc(sizeof *moved * (size_t)(from->n ? from->n : 1));
    if (!keep || !moved) {
        free(keep);
        free(moved);
        return err_fail(e, "out of memory");
    }
    int nk = 0, nm = 0;
    for (int i = 0; i < from->n; i++) {
        if (chosen[i]) moved[nm++] = from->items[i];
        else if (free_unchosen) free(from->items[i].path);
        else keep[nk++] = from->items[i];
    }
    free(from->items);
    from->items = keep;
    from->n = nk;
    to->items = moved;
    to->n = nm;
    return 0;
}

static int carve_validation(Dataset *ds, double split, uint64_t seed, Err *e) {
    char *chosen = malloc((size_t)ds->train.n);
    if (!chosen) return err_fail(e, "out of memory");
    int rc = choose_per_class(&ds->train, seed, 0, count_validation, split, chosen, e);
    if (rc == 0) rc = partition(&ds->train, chosen, &ds->validation, 0, e);
    free(chosen);
    if (rc == 0)
        report(ds, "no validation/ folder: validation = %d images carved from train/ (validation_split %g, per class)\n",
               ds->validation.n, split);
    return rc;
}

static int keep_train_fraction(Dataset *ds, double fraction, uint64_t seed, Err *e) {
    int before = ds->train.n;
    char *chosen = malloc((size_t)ds->train.n);
    if (!chosen) return err_fail(e, "out of memory");
    DatasetSplit kept = {0};
    int rc = choose_per_class(&ds->train, seed, 1, count_keep, fraction, chosen, e);
    if (rc == 0) rc = partition(&ds->train, chosen, &kept, 1, e);
    free(chosen);
    if (rc != 0) return rc;
    free(ds->train.items);
    ds->train = kept;
    report(ds, "train_fraction %g: kept %d of %d training images (per class, at least 1)\n", fraction, kept.n, before);
    return 0;
}

/* ---- public ---- */

static int dataset_open_checked(const DataConfig *cfg, uint64_t seed, Dataset *ds, Err *e) {
    char train_path[DS_PATH_MAX], val_path[DS_PATH_MAX], test_path[DS_PATH_MAX];
    if (!fs_is_dir(cfg->root)) return err_fail(e, "data.root %s: no such directory", cfg->root);
    if (path_join(train_path, cfg->root, "train", e) != 0 || path_join(val_path, cfg->root, "validation", e) != 0 ||
        path_join(test_path, cfg->root, "test", e) != 0)
        return -1;
    if (!fs_is_dir(train_path))
        return err_fail(e, "%s: missing (data.root must hold train/, and optionally validation/ and test/)", train_path);
    int explicit_list = cfg->n_classes_listed > 0 && cfg->classes;
    if ((explicit_list ? class_names_from_config(cfg, ds, e) : class_names_from_folders(train_path, ds, e)) != 0) return -1;
    SplitSpec sp = {cfg->root, "train", ds->class_names, ds->n_classes, explicit_list};
    if (list_split(&sp, &ds->train, ds, e) != 0) return -1;
    if (fs_is_dir(val_path)) {
        sp.name = "validation";
        if (list_split(&sp, &ds->validation, ds, e) != 0) return -1;
        if (cfg->validation_split > 0)
            report(ds, "validation_split %g ignored: %s exists\n", cfg->validation_split, val_path);
    } else if (cfg->validation_split > 0) {
        if (carve_validation(ds, cfg->validation_split, seed, e) != 0) return -1;
        ds->validation_carved = 1;
    } else {
        report(ds, "no validation/ folder and validation_split 0: no validation data\n");
    }
    if (fs_is_dir(test_path)) {
        sp.name = "test";
        if (list_split(&sp, &ds->test, ds, e) != 0) return -1;
        ds->have_test = 1;
    } else {
        report(ds, "no test/ folder: no test evaluation\n");
    }
    if (cfg->train_fraction < 1.0 && keep_train_fraction(ds, cfg->train_fraction, seed, e) != 0) return -1;
    return 0;
}

int dataset_open(const DataConfig *cfg, long seed, Dataset *ds, Err *e) {
    memset(ds, 0, sizeof *ds);
    if (dataset_open_checked(cfg, (uint64_t)seed, ds, e) != 0) {
        dataset_free(ds);
        return -1;
    }
    return 0;
}

void dataset_free(Dataset *ds) {
    for (int i = 0; i < ds->n_classes; i++) free(ds->class_names[i]);
    free(ds->class_names);
    split_free(&ds->train);
    split_free(&ds->validation);
    split_free(&ds->test);
    memset(ds, 0, sizeof *ds);
}
