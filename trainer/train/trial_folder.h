/* A trial's folder between runs (`trainer train --out DIR`, a sweep's runs/<name>/<trial>):
 * whether it holds results of a run, whether a config differs from the one it ran with
 * (its config.yaml, written once), and setting it aside to run the trial again. Shared by
 * `trainer train` and the sweep, so both refuse the same changes with the same words. */
#ifndef TL_TRIAL_FOLDER_H
#define TL_TRIAL_FOLDER_H

#include <stddef.h>

#include "core/error.h"
#include "train/config.h"

/* 1 when DIR holds what a run made: train_log.csv, a checkpoint, or a result other than
 * "failed" (a trial that failed before its first epoch left no numbers: it may change). */
int trial_folder_started(const char *dir);
/* cfg against DIR/config.yaml: the number of differing keys that change a trial's numbers,
 * listed in changes as "key OLD -> NEW, ..." (0 when there is no config.yaml); *run_only
 * (may be NULL) counts the differing keys that do not (feature_cache.dir, train.threads,
 * data.max_pixels). A config.yaml that cannot be read counts as one change, saying why. */
int trial_folder_changes(const char *dir, const TrialConfig *cfg, char *changes, size_t n, int *run_only);
/* Renames DIR to DIR.old-K, K the first free number from 1; aside gets the new path. */
int trial_folder_set_aside(const char *dir, char *aside, size_t n, Err *e);

#endif
