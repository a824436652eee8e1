/* What a trial trains and evaluates on: the dataset, the frozen backbone's features of
 * every split (read from the feature cache, computed where missing) with their labels,
 * and the running epoch's training order. */
#ifndef TL_TRIAL_DATA_H
#define TL_TRIAL_DATA_H

#include <stddef.h>

#include "backend/backend.h"
#include "core/error.h"
#include "data/dataset.h"
#include "train/config.h"
#include "train/feature_cache.h"
#include "train/trial_options.h"

typedef struct TrialData {
    Dataset ds;
    FeatureExtractor fx;
    TrialEntries te;                /* the feature cache entries of the splits */
    char cache_dir[1024];           /* feature_cache.dir resolved (trial_cache_dir) */
    float *train_x;                 /* (views, n_train, 2048); views = max(1, te.n_train_views) */
    float *val_x, *test_x;          /* (n, 2048) */
    int *train_y, *val_y, *test_y;  /* (n) labels */
    int *order;                     /* (n_train) the running epoch's training order */
} TrialData;

/* Lists data.root, logging the dataset's report to opt->log; fails, naming the config,
 * when the folder is unusable or there is no validation split. */
int trial_data_open(TrialData *d, const TrialConfig *c, const TrialOptions *opt, Err *e);
/* Reads (computing what is missing, on be) every feature table the trial needs.
 * Fine-tuning from the first epoch needs no training features (validation: the untrained
 * accuracy). */
int trial_data_load_features(TrialData *d, const TrialConfig *c, Backend *be, const TrialOptions *opt, Err *e);
/* feature_cache.views 0: the epoch's augmented training features, recomputed into
 * train_x (Keras's own behaviour). */
int trial_data_recompute_train(TrialData *d, int epoch, Err *e);
void trial_data_free(TrialData *d);

/* Resolves feature_cache.dir: absolute as is, relative against the parent of out_dir. */
void trial_cache_dir(const TrialConfig *cfg, const char *out_dir, char *out, size_t n);

#endif
