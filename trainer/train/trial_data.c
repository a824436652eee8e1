#include "train/trial_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int trial_data_open(TrialData *d, const TrialConfig *c, const TrialOptions *opt, Err *e) {
    if (!c->data.root[0]) return err_fail(e, "data.root is required");
    if (dataset_open(&c->data, config_cache_seed(c), &d->ds, e))
        return err_context(e, "%s: data.root", opt->config_path ? opt->config_path : "config");
    if (d->ds.report[0] && opt->log) fprintf(opt->log, "%s", d->ds.report);
    if (d->ds.validation.n == 0) return err_fail(e, "%s: no validation images (add validation/ or set data.validation_split)", c->data.root);
    trial_cache_dir(c, opt->out_dir, d->cache_dir, sizeof d->cache_dir);
    return 0;
}

static int *labels_of(const DatasetSplit *s, Err *e) {
    int *y = tl_malloc(e, sizeof(int) * (size_t)(s->n ? s->n : 1), "labels");
    for (int i = 0; y && i < s->n; i++) y[i] = s->items[i].label;
    return y;
}

static float *feature_table(size_t rows, Err *e) { return tl_malloc(e, rows * FEATURE_DIM * sizeof(float), "feature table"); }

static int alloc_tables(TrialData *d, Err *e) {
    const Dataset *ds = &d->ds;
    int views = d->te.n_train_views ? d->te.n_train_views : 1;
    d->train_x = feature_table((size_t)views * ds->train.n, e);
    d->val_x = feature_table((size_t)ds->validation.n, e);
    d->test_x = feature_table((size_t)(ds->test.n ? ds->test.n : 1), e);
    d->train_y = labels_of(&ds->train, e);
    d->val_y = labels_of(&ds->validation, e);
    d->test_y = labels_of(&ds->test, e);
    d->order = tl_malloc(e, sizeof(int) * (size_t)ds->train.n, "epoch order");
    return d->train_x && d->val_x && d->test_x && d->train_y && d->val_y && d->test_y && d->order ? 0 : -1;
}

int trial_data_load_features(TrialData *d, const TrialConfig *c, Backend *be, const TrialOptions *opt, Err *e) {
    TrialEntries *te = &d->te;
    if (feature_extractor_init(&d->fx, c, be, be->threads, e) || trial_entries_init(te, &d->fx, &d->ds, e)) return -1;
    d->fx.stop = opt->stop;
    d->fx.progress = opt->progress;
    d->fx.log = opt->log;
    if (alloc_tables(d, e)) return -1;
    if (feature_entry_get(&d->fx, d->cache_dir, &te->validation, d->val_x, e)) return -1;
    if (d->ds.test.n && feature_entry_get(&d->fx, d->cache_dir, &te->test, d->test_x, e)) return -1;
    if (strcmp(c->model.trainable, "head") && c->finetune.after_epochs == 0) return 0;
    for (int v = 0; v < te->n_train_views; v++)
        if (feature_entry_get(&d->fx, d->cache_dir, &te->train[v], d->train_x + (size_t)v * d->ds.train.n * FEATURE_DIM, e))
            return -1;
    return 0;
}

int trial_data_recompute_train(TrialData *d, int epoch, Err *e) {
    FeatureEntry en;
    feature_entry_init(&en, &d->fx, "train", d->ds.train.items, d->ds.train.n, d->te.train_augment, (uint32_t)(1000000 + epoch));
    en.dtype = CACHE_FP32;   /* never stored: no rounding */
    return feature_entry_get(&d->fx, NULL, &en, d->train_x, e);
}

void trial_data_free(TrialData *d) {
    free(d->order);
    free(d->train_x); free(d->val_x); free(d->test_x);
    free(d->train_y); free(d->val_y); free(d->test_y);
    trial_entries_free(&d->te);
    feature_extractor_free(&d->fx);
    dataset_free(&d->ds);
}

void trial_cache_dir(const TrialConfig *cfg, const char *out_dir, char *out, size_t n) {
    const char *d = cfg->feature_cache.dir;
    if (d[0] == '/') { snprintf(out, n, "%s", d); return; }
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", out_dir);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/') parent[--len] = 0;
    char *slash = strrchr(parent, '/');
    if (slash) { *slash = 0; snprintf(out, n, "%s/%s", slash == parent ? "/" : parent, d); }
    else snprintf(out, n, "%s", d);
}
