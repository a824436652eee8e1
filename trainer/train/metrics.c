#include "train/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv_field.h"
#include "core/fsutil.h"

void mean_update(MeanMetric *m, float value_sum, float weight_sum) {
    m->total += value_sum;
    m->count += weight_sum;
}

float mean_result(const MeanMetric *m) { return m->count != 0.0f ? m->total / m->count : 0.0f; }

int argmax_row(const float *z, int C) {
    int best = 0;
    for (int k = 1; k < C; k++) if (z[k] > z[best]) best = k;
    return best;
}

int count_correct(const float *logits, const int *labels, int b, int C) {
    int n = 0;
    for (int i = 0; i < b; i++) n += argmax_row(logits + (size_t)i * C, C) == labels[i];
    return n;
}

int count_top_k(const float *logits, const int *labels, int b, int C, int k) {
    int n = 0;
    for (int i = 0; i < b; i++) {
        const float *z = logits + (size_t)i * C;
        float target = z[labels[i]];
        if (!isfinite(target)) continue;
        int above = 0;
        for (int j = 0; j < C; j++) above += z[j] > target;
        n += above < k;
    }
    return n;
}

int confusion_create(Confusion *m, int C, Err *e) {
    m->C = C;
    m->counts = tl_calloc(e, (size_t)C * C, sizeof *m->counts, "confusion matrix");
    return m->counts ? 0 : -1;
}

void confusion_reset(Confusion *m) { memset(m->counts, 0, (size_t)m->C * m->C * sizeof *m->counts); }

void confusion_add(Confusion *m, const float *logits, const int *labels, int b) {
    for (int i = 0; i < b; i++)
        m->counts[(size_t)labels[i] * m->C + argmax_row(logits + (size_t)i * m->C, m->C)]++;
}

void confusion_free(Confusion *m) {
    free(m->counts);
    m->counts = NULL;
    m->C = 0;
}

static int pair_order(const void *a, const void *b) {
    const ConfusedPair *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return (x->p > y->p) - (x->p < y->p);
}

int confusion_pairs(const Confusion *m, ConfusedPair **out, Err *e) {
    size_t n = 0, C = (size_t)m->C;
    *out = NULL;
    for (size_t i = 0; i < C * C; i++) n += m->counts[i] != 0 && i / C != i % C;
    if (n == 0) return 0;
    ConfusedPair *pairs = tl_malloc(e, n * sizeof *pairs, "confused pairs");
    if (!pairs) return -1;
    size_t k = 0;
    for (size_t i = 0; i < C * C; i++)
        if (m->counts[i] != 0 && i / C != i % C) pairs[k++] = (ConfusedPair){(int)(i / C), (int)(i % C), m->counts[i]};
    qsort(pairs, n, sizeof *pairs, pair_order);
    *out = pairs;
    return (int)n;
}

int write_confusion_csv(const char *path, const Confusion *m, const char *const *names, Err *e) {
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    fputs("true/predicted", af.f);
    for (int p = 0; p < m->C; p++) { fputc(',', af.f); csv_put_field(af.f, names[p]); }
    fputc('\n', af.f);
    for (int t = 0; t < m->C; t++) {
        csv_put_field(af.f, names[t]);
        for (int p = 0; p < m->C; p++) fprintf(af.f, ",%ld", m->counts[(size_t)t * m->C + p]);
        fputc('\n', af.f);
    }
    return fs_atomic_commit(&af, e);
}

int write_errors_csv(const char *path, const Confusion *m, const char *const *names, int max_rows, Err *e) {
    ConfusedPair *pairs;
    int n = confusion_pairs(m, &pairs, e);
    if (n < 0) return -1;
    if (max_rows > 0 && n > max_rows) n = max_rows;
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) { free(pairs); return -1; }
    fputs("true,predicted,count\n", af.f);
    for (int i = 0; i < n; i++) {
        csv_put_field(af.f, names[pairs[i].t]);
        fputc(',', af.f);
        csv_put_field(af.f, names[pairs[i].p]);
        fprintf(af.f, ",%ld\n", pairs[i].count);
    }
    free(pairs);
    return fs_atomic_commit(&af, e);
}
