/* The backbone feature cache. With the backbone frozen, its output for an image and an
 * augmentation draw never changes, so each (split, view) table of pooled features is
 * computed once and stored in chunks of FEATURE_CHUNK images:
 *   <dir>/<key>/chunk-<c>.f32     header (32 bytes) + rows x 2048 float32, little-endian
 *   <dir>/<key>/about.txt         what the key covers, for people
 * <key> is a digest of everything that determines the numbers: weights file content,
 * backbone, backend precision, image list (path, label, size, mtime), image size,
 * interpolation, augmentation ranges, view and seed. Trials that differ only in head,
 * optimizer or schedule share entries; a stale entry can never be used. Chunks are
 * written to a temp file and renamed, so concurrent writers (sweep ranks) never corrupt
 * one, and any rank may fill any chunk. */
#ifndef TL_FEATURE_CACHE_H
#define TL_FEATURE_CACHE_H

#include <signal.h>

#include "backend/backend.h"
#include "core/hash.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "model/resnet.h"
#include "train/config.h"

enum { FEATURE_CHUNK = 256, FEATURE_DIM = RESNET_FEATURES };

/* One feature table: every image of a split under one view. */
typedef struct FeatureEntry {
    const char *split;           /* "train" | "validation" | "test" */
    const DatasetItem *items;    /* the split's items (borrowed) */
    int n;
    int augment;                 /* draw augmentation (keyed by view) */
    uint32_t view;
    char key[33];
} FeatureEntry;

/* Computes features: backend + backbone + loader, built on first use. */
typedef struct FeatureExtractor {
    const TrialConfig *cfg;
    Backend *be;                 /* borrowed */
    int threads;
    Hash128 weights_digest;
    int ready;
    Backbone bb;
    Loader *loader;              /* no augmentation (validation, test, strength 0) */
    Loader *loader_aug;          /* augmented training views */
    float *chunk;                /* (FEATURE_CHUNK, 2048) */
    volatile sig_atomic_t *stop; /* set by a signal handler: stop between batches */
    int progress;                /* print progress to stderr */
    long images_done;            /* images through the backbone (for logs/benchmarks) */
} FeatureExtractor;

/* Pieces of a cache key shared with the boundary cache (boundary_cache.c), hashed in this
 * order by both. The backend setup the numbers depend on: backend name, native layout,
 * precision, image size and interpolation. */
void cache_hash_backbone_setup(Hash128 *h, const TrialConfig *c, const Backend *be);
/* The image list: count, then each path, label, and the file's size and mtime. */
void cache_hash_images(Hash128 *h, const DatasetItem *items, int n);
/* The first 16 hex digits of a key as a number (kept in file headers to catch mix-ups). */
uint64_t cache_key_prefix(const char *key);

int feature_extractor_init(FeatureExtractor *fx, const TrialConfig *cfg, Backend *be, int threads, Err *e);
void feature_extractor_free(FeatureExtractor *fx);

void feature_entry_init(FeatureEntry *en, const FeatureExtractor *fx, const char *split, const DatasetItem *items, int n,
                        int augment, uint32_t view);
int feature_entry_chunks(const FeatureEntry *en);
int feature_chunk_present(const char *dir, const FeatureEntry *en, int chunk);
/* Reads a stored chunk into dst (its rows x 2048); a damaged file fails naming it. */
int feature_chunk_read(const char *dir, const FeatureEntry *en, int chunk, float *dst, Err *e);
/* Computes one chunk and stores it (atomically). */
int feature_chunk_compute(FeatureExtractor *fx, const char *dir, const FeatureEntry *en, int chunk, Err *e);
/* dst (n, 2048): reads every chunk, computing (and storing, if dir) those that are missing.
 * dir NULL: compute everything, store nothing (views: 0, recompute per epoch). */
int feature_entry_get(FeatureExtractor *fx, const char *dir, const FeatureEntry *en, float *dst, Err *e);

/* The tables a trial needs. Training views: augment.strength 0 -> 1 unaugmented view;
 * else feature_cache.views (0 = none cached: augmented features recomputed every epoch). */
typedef struct TrialEntries {
    FeatureEntry validation, test;
    FeatureEntry *train;         /* (n_train_views) */
    int n_train_views;
    int train_augment;
} TrialEntries;

int trial_entries_init(TrialEntries *te, const FeatureExtractor *fx, const Dataset *ds, Err *e);
void trial_entries_free(TrialEntries *te);
/* Every chunk of every cached table, in a fixed order; this process fills those with
 * index % shards == shard (the sweep's phase 1, images split across ranks). */
int feature_cache_fill_shard(FeatureExtractor *fx, const char *dir, const TrialEntries *te, int shard, int shards, Err *e);

#endif
