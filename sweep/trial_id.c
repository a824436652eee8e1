#include "trial_id.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int scalar_is_number(const char *s, int quoted, double *v) {
    if (quoted || !s || !*s) return 0;
    char *end;
    double x = strtod(s, &end);
    if (end == s || *end != 0 || !isfinite(x)) return 0;
    /* strtod accepts hex and "inf"/"nan"; YAML numbers here are decimal only. */
    if (strpbrk(s, "xXnN")) return 0;
    if (v) *v = x;
    return 1;
}

/* Fewest significant digits (1..17) that round-trip v. */
static int shortest_digits(double v) {
    char buf[64];
    for (int p = 1; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return p;
    }
    return 17;
}

void format_number_shortest(double v, char *out, size_t n) {
    /* %g writes 30 as "3e+01" (one digit round-trips it): whole numbers below 1e15 as digits,
     * so an int key gets "30" and the progress line and report say epochs=30. */
    if (v == floor(v) && fabs(v) < 1e15) snprintf(out, n, "%.0f", v);
    else snprintf(out, n, "%.*g", shortest_digits(v), v);
}

/* "5e-04" -> "5e-4", "1e+06" -> "1e6". */
static void tidy_exponent(char *s) {
    char *e = strchr(s, 'e');
    if (!e) return;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+') src++;
    else if (*src == '-') *dst++ = *src++;
    while (*src == '0' && src[1]) src++;
    memmove(dst, src, strlen(src) + 1);
}

void format_number_compact(double v, char *out, size_t n) {
    if (v == floor(v) && fabs(v) < 1e6) { snprintf(out, n, "%.0f", v); return; }
    int p = shortest_digits(v);
    char expo[64], fixed[64];
    snprintf(expo, sizeof expo, "%.*e", p - 1, v);
    tidy_exponent(expo);
    int exp10 = (int)floor(log10(fabs(v)));
    int decimals = p - 1 - exp10;
    if (decimals < 0) decimals = 0;
    if (decimals > 30) decimals = 30;
    snprintf(fixed, sizeof fixed, "%.*f", decimals, v);
    snprintf(out, n, "%s", strlen(expo) < strlen(fixed) ? expo : fixed);
}

void value_canonical(const char *scalar, int quoted, char *out, size_t n) {
    double v;
    if (scalar_is_number(scalar, quoted, &v)) format_number_shortest(v, out, n);
    else snprintf(out, n, "%s", scalar ? scalar : "");
}

static int id_char_ok(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '+' || c == '-';
}

void value_compact(const char *scalar, int quoted, char *out, size_t n) {
    double v;
    if (scalar_is_number(scalar, quoted, &v)) { format_number_compact(v, out, n); return; }
    size_t k = 0, limit = n - 1 < 32 ? n - 1 : 32;
    for (const char *s = scalar ? scalar : ""; *s && k < limit; s++) {
        char c = id_char_ok(*s) ? *s : '-';
        if (c == '-' && k > 0 && out[k - 1] == '-') continue;
        if (k == 0 && (c == '.' || c == '-')) continue;   /* no hidden or dash-led names */
        out[k++] = c;
    }
    if (k == 0) out[k++] = 'x';
    out[k] = 0;
}

/* Pointer to the start of the last `parts` dotted components of path (path itself when
 * it has fewer). */
static const char *dotted_suffix(const char *path, int parts) {
    const char *p = path + strlen(path);
    while (p > path) {
        if (p[-1] == '.' && --parts == 0) return p;
        p--;
    }
    return path;
}

static int suffix_matches(const char *path, const char *suffix) {
    size_t lp = strlen(path), ls = strlen(suffix);
    if (ls > lp || strcmp(path + lp - ls, suffix) != 0) return 0;
    return ls == lp || path[lp - ls - 1] == '.';
}

/* Last components that say little alone ("schedule.name" reads better than "name"). */
static int generic_component(const char *s) {
    static const char *const generic[] = {"name", "enabled", "monitor", "mode", "dir", "root", "views", NULL};
    for (int i = 0; generic[i]; i++)
        if (strcmp(s, generic[i]) == 0) return 1;
    return 0;
}

void axis_labels(const char *const *paths, int n, char (*labels)[AXIS_LABEL_MAX]) {
    for (int i = 0; i < n; i++) {
        const char *s = paths[i];
        for (int parts = generic_component(dotted_suffix(paths[i], 1)) ? 2 : 1;; parts++) {
            s = dotted_suffix(paths[i], parts);
            int clash = 0;
            for (int j = 0; j < n && !clash; j++) clash = j != i && suffix_matches(paths[j], s);
            if (!clash || s == paths[i]) break;
        }
        snprintf(labels[i], AXIS_LABEL_MAX, "%s", s);
    }
}

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

void trial_id_make(const char (*labels)[AXIS_LABEL_MAX], const char *const *values, int n,
                   char out[TRIAL_ID_MAX]) {
    char full[4096] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof full; i++)
        len += snprintf(full + len, sizeof full - len, "%s%s-%s", i ? "_" : "", labels[i], values[i]);
    if (n == 0) snprintf(full, sizeof full, "base");
    if (strlen(full) <= 100) { snprintf(out, TRIAL_ID_MAX, "%s", full); return; }
    snprintf(out, TRIAL_ID_MAX, "%.90s-%08x", full, fnv1a(full));
}

/* The dedupe's table of every id value present: open addressing over rows of ids (the
 * row of the value's first holder, which keeps it), 2^k slots for at most 2n values. */
typedef struct IdSlot {
    int row;        /* -1: empty */
    int seen;       /* a row before the current one holds this value */
    int next_k;     /* next suffix to try for copies of this value */
} IdSlot;

typedef struct IdTable {
    char (*ids)[TRIAL_ID_MAX];
    IdSlot *slots;
    size_t mask;
} IdTable;

static IdSlot *id_slot(const IdTable *t, const char *id) {
    size_t i = fnv1a(id) & t->mask;
    while (t->slots[i].row >= 0 && strcmp(t->ids[t->slots[i].row], id)) i = (i + 1) & t->mask;
    return &t->slots[i];
}

static void id_add(IdTable *t, int row) {
    IdSlot *s = id_slot(t, t->ids[row]);
    if (s->row < 0) *s = (IdSlot){.row = row, .seen = 0, .next_k = 2};
}

/* Linear in n: a value once present stays present (only a copy is renamed, and its
 * first holder keeps it), so a value's suffixes are tried upwards from the last one used. */
int trial_ids_dedupe(char (*ids)[TRIAL_ID_MAX], int n) {
    size_t cap = 4;
    while (cap < 2 * (size_t)(n > 0 ? n : 1)) cap *= 2;
    IdTable t = {.ids = ids, .slots = malloc(cap * sizeof(IdSlot)), .mask = cap - 1};
    if (!t.slots) return -1;
    for (size_t i = 0; i < cap; i++) t.slots[i].row = -1;
    for (int i = 0; i < n; i++) id_add(&t, i);
    int changed = 0;
    for (int i = 0; i < n; i++) {
        IdSlot *s = id_slot(&t, ids[i]);
        if (!s->seen) { s->seen = 1; continue; }
        char base[TRIAL_ID_MAX - 12], cand[TRIAL_ID_MAX];
        snprintf(base, sizeof base, "%s", ids[i]);
        int k = s->next_k;
        do snprintf(cand, sizeof cand, "%s_%d", base, k++);
        while (id_slot(&t, cand)->row >= 0);
        s->next_k = k;
        memcpy(ids[i], cand, TRIAL_ID_MAX);
        id_add(&t, i);
        id_slot(&t, ids[i])->seen = 1;
        changed++;
    }
    free(t.slots);
    return changed;
}
