/* The validation split: a seeded, stratified share of each class's train items, keyed by
 * the label the loader gives the class, so the importer and the loader's own carve agree. */
#include <stdlib.h>
#include <string.h>

#include "core/dirwalk.h"
#include "core/rng.h"
#include "data/cars_import_internal.h"

int cars_validation_count(int n, double frac) {
    if (n <= 1 || frac <= 0) return 0;
    int k = (int)(frac * n);            /* Keras and dataset.c: int(split * n) */
    if (k == 0) k = 1;                  /* else the class would be missing from validation/ */
    return k > n - 1 ? n - 1 : k;
}

void cars_pick_validation(int n, double frac, uint64_t seed, uint32_t cls, uint8_t *is_val) {
    memset(is_val, 0, (size_t)(n > 0 ? n : 0));
    int k = cars_validation_count(n, frac);
    if (k == 0) return;
    int *perm = malloc((size_t)n * sizeof *perm);
    Rng r;
    rng_init(&r, seed, RNG_SPLIT, cls, 0);
    if (perm) {
        for (int i = 0; i < n; i++) perm[i] = i;
        rng_shuffle(&r, perm, n);
        for (int i = 0; i < k; i++) is_val[perm[i]] = 1;
        free(perm);
        return;
    }
    /* No memory for the permutation: sequential selection sampling (Knuth's S) from the same stream. */
    for (int i = 0, left = k; i < n && left > 0; i++)
        if (rng_below(&r, (uint32_t)(n - i)) < (uint32_t)left) { is_val[i] = 1; left--; }
}

/* The label the loader gives each class: its folder's rank among train/'s folders in byte
 * order (dataset.c, like Keras). rank[k] = -1 for a class without train images. */
static int train_folder_ranks(const CarsSet *s, int *rank, Err *e) {
    const char **names = tl_calloc(e, (size_t)s->n_classes, sizeof *names, "class ranks");
    TL_CHECK_ALLOC(e, names);
    int n = 0;
    for (int k = 0; k < s->n_classes; k++) rank[k] = -1;
    for (int i = 0; i < s->n_items && s->items[i].split == CARS_TRAIN; i++)
        if (rank[s->items[i].cls] == -1) { rank[s->items[i].cls] = 0; names[n++] = s->dirs[s->items[i].cls]; }
    qsort(names, (size_t)n, sizeof *names, dir_name_cmp);
    for (int k = 0; k < s->n_classes; k++)
        if (rank[k] == 0)
            for (int r = 0; r < n; r++)
                if (names[r] == s->dirs[k]) rank[k] = r;
    free(names);
    return 0;
}

/* Items sorted by (split, class, name); each class's train run is split in place, keyed by
 * the label the loader will give the class, so a tree imported with --val-split f --seed s
 * holds the split the trainer carves (data.validation_split f, seed s) from a train-only
 * import. A source that brings its own validation images keeps them and is not split. */
int cars_assign_validation(CarsSet *s, const CarsImportOptions *opt, Err *e) {
    if (s->n_items) qsort(s->items, (size_t)s->n_items, sizeof *s->items, cars_item_cmp);
    int has_val = 0;
    for (int i = 0; i < s->n_items && !has_val; i++) has_val = s->items[i].split == CARS_VALIDATION;
    if (opt->val_split <= 0 || has_val) return 0;
    uint8_t *is_val = tl_malloc(e, (size_t)s->n_items, "validation marks");
    int *rank = tl_calloc(e, (size_t)s->n_classes, sizeof *rank, "class ranks");
    if (!is_val || !rank || train_folder_ranks(s, rank, e)) { free(is_val); free(rank); return -1; }
    for (int i = 0; i < s->n_items && s->items[i].split == CARS_TRAIN; ) {
        int j = i;
        while (j < s->n_items && s->items[j].split == CARS_TRAIN && s->items[j].cls == s->items[i].cls) j++;
        cars_pick_validation(j - i, opt->val_split, opt->seed, (uint32_t)rank[s->items[i].cls], is_val);
        for (int k = i; k < j; k++)
            if (is_val[k - i]) s->items[k].split = CARS_VALIDATION;
        i = j;
    }
    free(is_val);
    free(rank);
    qsort(s->items, (size_t)s->n_items, sizeof *s->items, cars_item_cmp);
    return 0;
}

