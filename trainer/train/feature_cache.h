/* The backbone feature cache. With the backbone frozen, its output for an image and an
 * augmentation draw never changes, so each (split, view) table of pooled features is
 * computed once and stored in chunks of FEATURE_CHUNK images:
 *   <dir>/<key>/chunk-<c>.f32     header (64 bytes) + rows x 2048 float32, little-endian
 *   <dir>/<key>/chunk-<c>.f16     the same as IEEE float16 (feature_cache.dtype: fp16)
 *   <dir>/<key>/about.txt         what the key covers, for people
 * The header (format TLFEAT02) holds the table's full key, the chunk's index and shape,
 * and a CRC-32 of the header and the values. A reader checks all of them and that every
 * value is finite; a chunk that fails (flipped bytes, a chunk of another view or split or
 * cache, an older format, NaNs) is deleted and computed again, with a line in the log.
 * <key> is a digest of everything that determines the numbers: weights file content,
 * backbone, backend precision, image list (path, label, size, mtime), image size,
 * interpolation, augmentation ranges, view and the cache seed (config_cache_seed: one pool
 * for every train.seed by default). Trials that differ only in head, optimizer, schedule or
 * train.seed share entries; a stale entry can never be used. Chunks are written to a temp
 * file and renamed, so concurrent writers (sweep ranks) never corrupt one, and any rank may
 * fill any chunk. */
#ifndef TL_FEATURE_CACHE_H
#define TL_FEATURE_CACHE_H

#include <signal.h>
#include <stdio.h>

#include "backend/backend.h"
#include "core/hash.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "model/resnet.h"
#include "train/config.h"

enum { FEATURE_CHUNK = 256, FEATURE_DIM = RESNET_FEATURES, FEATURE_CHUNK_HEADER = 64 };

/* How a table's values are stored (feature_cache.dtype). */
typedef enum CacheDtype { CACHE_FP32 = 0, CACHE_FP16 = 1 } CacheDtype;

/* One feature table: every image of a split under one view. */
typedef struct FeatureEntry {
    const char *split;           /* "train" | "validation" | "test" */
    const DatasetItem *items;    /* the split's items (borrowed) */
    int n;
    int augment;                 /* draw augmentation (keyed by view) */
    uint32_t view;
    CacheDtype dtype;
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
    uint16_t *halves;            /* (FEATURE_CHUNK, 2048) the chunk as stored in fp16 */
    volatile sig_atomic_t *stop; /* set by a signal handler: stop between batches */
    int progress;                /* print progress to stderr */
    FILE *log;                   /* damaged chunks are reported here (NULL: stderr) */
    long images_done;            /* images through the backbone (for logs/benchmarks) */
    long chunks_replaced;        /* damaged or stale chunks deleted and computed again */
} FeatureExtractor;

/* Pieces of a cache key shared with the boundary cache (boundary_cache.c), hashed in this
 * order by both. The backend setup the numbers depend on: backend name, native layout,
 * precision, image size and interpolation. */
void cache_hash_backbone_setup(Hash128 *h, const TrialConfig *c, const Backend *be);
/* The image list: count, then each path, label, and the file's size and mtime. */
void cache_hash_images(Hash128 *h, const DatasetItem *items, int n);
/* The first 16 hex digits of a key as a number. */
uint64_t cache_key_prefix(const char *key);
/* "backbone output is not finite ...": the error for a non-finite value at index `at` of a
 * batch (row_floats values per image) computed from images[first ...], naming the image
 * and the weights file. */
int cache_nonfinite_error(Err *e, const float *x, long at, size_t row_floats, const DatasetItem *items, int first,
                          const char *what, const char *weights);

int feature_extractor_init(FeatureExtractor *fx, const TrialConfig *cfg, Backend *be, int threads, Err *e);
void feature_extractor_free(FeatureExtractor *fx);
/* Images per second of the backbone and loader (augmenting if en does) on the first
 * `batches` batches of 32 images of en (1..8; fewer when en is smaller), timed after a
 * warm-up pass over the first batch; *setup_seconds: building the backbone (weights,
 * plans) and that warm-up, what a process pays before its first chunk. For the sweep's
 * estimate of phase 1. */
int feature_extractor_measure(FeatureExtractor *fx, const FeatureEntry *en, int batches, double *images_per_s,
                              double *setup_seconds, Err *e);

void feature_entry_init(FeatureEntry *en, const FeatureExtractor *fx, const char *split, const DatasetItem *items, int n,
                        int augment, uint32_t view);
int feature_entry_chunks(const FeatureEntry *en);
/* Bytes of the whole table on disk (headers included). */
size_t feature_entry_bytes(const FeatureEntry *en);
/* Images and bytes of the table's chunks that are not present (feature_chunk_state) in dir. */
void feature_entry_missing(const char *dir, const FeatureEntry *en, long *rows, size_t *bytes);

typedef enum ChunkState { CHUNK_ABSENT, CHUNK_PRESENT, CHUNK_BAD } ChunkState;
/* From the file's size and header alone (its values are checked when read): CHUNK_BAD
 * when the file is there but of another format, key, chunk or shape (why says which). */
ChunkState feature_chunk_state(const char *dir, const FeatureEntry *en, int chunk, Err *why);
int feature_chunk_present(const char *dir, const FeatureEntry *en, int chunk);
/* Reads and verifies the chunk file at `path` as chunk `chunk` of en into dst (its rows x
 * 2048 float32, widened when stored as fp16): format, size, key, chunk index, shape, CRC-32
 * and finite values. A file that fails any of them fails naming path and what is wrong.
 * (The fuzz harness's entry point.) */
int feature_chunk_read_path(const char *path, const FeatureEntry *en, int chunk, float *dst, Err *e);
/* The same for the chunk's own place in dir. */
int feature_chunk_read(const char *dir, const FeatureEntry *en, int chunk, float *dst, Err *e);
/* Computes one chunk and stores it (atomically). */
int feature_chunk_compute(FeatureExtractor *fx, const char *dir, const FeatureEntry *en, int chunk, Err *e);
/* dst (n, 2048): reads every chunk, computing (and storing, if dir) those that are missing,
 * and replacing those that fail to verify (a line in fx->log each).
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
/* Every cached table of te in a fixed order (validation, test, training views); returns
 * how many (at most max). */
int trial_entries_list(const TrialEntries *te, const FeatureEntry **out, int max);
/* Every chunk of every cached table, in a fixed order; this process fills those with
 * index % shards == shard (the sweep's phase 1, images split across ranks). Chunks present
 * are checked by their header only: the trials that read them check the rest. */
int feature_cache_fill_shard(FeatureExtractor *fx, const char *dir, const TrialEntries *te, int shard, int shards, Err *e);

#endif
