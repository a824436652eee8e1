/* The importer's item list and its class folder names. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/cars_import_internal.h"

/* ---------------------------------------------------------------- items */

void cars_set_free(CarsSet *s) {
    for (int i = 0; i < s->n_classes; i++) {
        if (s->raw_names) free(s->raw_names[i]);
        if (s->dirs) free(s->dirs[i]);
    }
    free(s->raw_names);
    free(s->dirs);
    for (int i = 0; i < s->n_items; i++) free(s->items[i].src);
    free(s->items);
    memset(s, 0, sizeof *s);
}

int cars_add_item(CarsSet *s, const char *dir, const char *name, int cls, int split, const int bbox[4], Err *e) {
    if (s->n_items == s->cap) {
        int cap = s->cap ? 2 * s->cap : 1024;
        CarsItem *ni = realloc(s->items, (size_t)cap * sizeof *ni);
        TL_CHECK_ALLOC(e, ni);
        s->items = ni;
        s->cap = cap;
    }
    CarsItem *it = &s->items[s->n_items];
    memset(it, 0, sizeof *it);
    size_t len = strlen(dir) + strlen(name) + 2;
    it->src = tl_malloc(e, len, "image path");
    TL_CHECK_ALLOC(e, it->src);
    snprintf(it->src, len, "%s/%s", dir, name);
    it->name = it->src + strlen(dir) + 1;
    it->cls = cls;
    it->split = split;
    if (bbox) memcpy(it->bbox, bbox, sizeof it->bbox);
    s->n_items++;
    return 0;
}

int cars_item_cmp(const void *pa, const void *pb) {
    const CarsItem *a = pa, *b = pb;
    if (a->split != b->split) return a->split - b->split;
    if (a->cls != b->cls) return a->cls - b->cls;
    return strcmp(a->name, b->name);
}

/* ---------------------------------------------------------------- class names */

/* Drops a UTF-8 sequence cut short at the end of s[0..*k). */
static void utf8_drop_partial(char *s, size_t *k) {
    size_t start = *k;
    while (start > 0 && ((unsigned char)s[start - 1] & 0xC0) == 0x80) start--;
    if (start == 0) return;
    unsigned char lead = (unsigned char)s[start - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (*k - (start - 1) < want) *k = start - 1;
    s[*k] = 0;
}

int cars_safe_class_name(const char *in, int index, char *out, size_t n) {
    size_t k = 0;
    for (const char *p = in; *p && k + 1 < n; p++) {
        unsigned char ch = (unsigned char)*p;
        char c = (ch == '/' || ch == '\\') ? '-' : (ch < 0x20 || ch == 0x7F) ? ' ' : (char)ch;
        if (c == ' ' && (k == 0 || out[k - 1] == ' ')) continue;    /* trim left, collapse runs */
        out[k++] = c;
    }
    out[k] = 0;
    utf8_drop_partial(out, &k);
    while (k > 0 && out[k - 1] == ' ') k--;
    out[k] = 0;
    if (out[0] == '.') out[0] = '_';                                /* no hidden directories */
    if (out[0] == 0 || strcmp(out, "_") == 0 || strcmp(out, "_.") == 0) snprintf(out, n, "class_%d", index + 1);
    return strcmp(in, out) != 0;
}

int cars_class_dirs(char **raw, int n, char ***out, int *renamed, Err *e) {
    char **dirs = tl_calloc(e, (size_t)n, sizeof *dirs, "class directory names");
    TL_CHECK_ALLOC(e, dirs);
    *renamed = 0;
    for (int i = 0; i < n; i++) {
        char base[CLASS_NAME_MAX + 1], cand[CLASS_NAME_MAX + 16];
        int changed = cars_safe_class_name(raw[i], i, base, sizeof base);
        snprintf(cand, sizeof cand, "%s", base);
        for (int suffix = 2, clash = 1; clash; ) {
            clash = 0;
            for (int j = 0; j < i && !clash; j++) clash = strcasecmp(dirs[j], cand) == 0;
            if (clash) { snprintf(cand, sizeof cand, "%s_%d", base, suffix++); changed = 1; }
        }
        *renamed += changed;
        if (!(dirs[i] = strdup(cand))) {
            for (int j = 0; j < i; j++) free(dirs[j]);
            free(dirs);
            return err_fail(e, "out of memory");
        }
    }
    *out = dirs;
    return 0;
}

