/* trainer cache-features CONFIG.yaml --shard K/N [--out DIR] [--threads N] [--gpu I]
 * Fills shard K of N of the backbone feature cache a trial with this config uses (every
 * chunk whose index % N == K), skipping chunks already present. The sweep's phase 1 runs
 * one shard per rank, so the images are split across ranks. --out names the trial folder
 * a relative feature_cache.dir resolves against (as `trainer train --out`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/stop_signal.h"
#include "train/feature_cache.h"
#include "train/trial_data.h"

static int fill(const TrialConfig *cfg, const char *out, int shard, int shards, int threads, int gpu, volatile sig_atomic_t *stop,
                Err *e) {
    Dataset ds;
    Backend *be = NULL;
    FeatureExtractor fx;
    TrialEntries te;
    char dir[1100];
    trial_cache_dir(cfg, out, dir, sizeof dir);
    if (dataset_open(&cfg->data, config_cache_seed(cfg), &ds, e)) return -1;
    int rc = backend_open(&be, cfg->train.device, gpu, cfg->model.precision, threads, e);
    if (rc == 0) rc = feature_extractor_init(&fx, cfg, be, be->threads, e);
    if (rc == 0) {
        fx.stop = stop;
        rc = trial_entries_init(&te, &fx, &ds, e) || feature_cache_fill_shard(&fx, dir, &te, shard, shards, e) ? -1 : 0;
        printf("cache-features shard %d/%d: %ld images through the backbone into %s\n", shard, shards, fx.images_done, dir);
        trial_entries_free(&te);
        feature_extractor_free(&fx);
    }
    backend_destroy(be);
    dataset_free(&ds);
    return rc;
}

int cmd_cache_features(int argc, char **argv) {
    const char *config = NULL, *out = ".", *shard_s = "0/1";
    int threads = 0, gpu = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_value(argc, argv, &i, "--shard", &v)) shard_s = v;
        else if (arg_value(argc, argv, &i, "--out", &v)) out = v;
        else if (arg_value(argc, argv, &i, "--threads", &v)) threads = atoi(v);
        else if (arg_value(argc, argv, &i, "--gpu", &v)) gpu = atoi(v);
        else if (argv[i][0] != '-' && !config) config = argv[i];
        else { fprintf(stderr, "trainer cache-features: unknown argument %s\n", argv[i]); return 2; }
    }
    int shard, shards;
    if (!config || sscanf(shard_s, "%d/%d", &shard, &shards) != 2 || shards < 1 || shard < 0 || shard >= shards) {
        fprintf(stderr, "usage: trainer cache-features CONFIG.yaml --shard K/N [--out DIR] [--threads N] [--gpu I]\n");
        return 2;
    }
    TrialConfig cfg;
    Err e = {{0}};
    if (config_load_file(&cfg, config, &e)) { fprintf(stderr, "trainer cache-features: %s\n", e.msg); return 2; }
    volatile sig_atomic_t *stop = stop_signal_install();
    int rc = fill(&cfg, out, shard, shards, threads, gpu, stop, &e);
    config_free(&cfg);
    if (rc && *stop) { fprintf(stderr, "trainer cache-features: interrupted; finished chunks are kept\n"); return 130; }
    if (rc) fprintf(stderr, "trainer cache-features: %s\n", e.msg);
    return rc ? 1 : 0;
}
