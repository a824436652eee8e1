/* One trial end to end, exactly as a sweep runs it (`trainer train CONFIG --out DIR`):
 * dataset -> cached backbone features -> head training with the Keras callbacks ->
 * test evaluation with the best weights -> DIR/{config.yaml, train_log.csv,
 * best.safetensors, last.safetensors, result.csv, confusion.csv, errors.csv}.
 * A killed trial rerun with the same command resumes from last.safetensors and ends
 * with the same numbers as an uninterrupted run. */
#ifndef TL_TRIAL_H
#define TL_TRIAL_H

#include "core/error.h"
#include "train/config.h"
#include "train/trial_options.h"
#include "train/trial_result.h"

/* Runs (or resumes) the trial. Returns 0 when it ran to an end (res->status done or
 * diverged) or was interrupted (status interrupted, no result.csv); -1 on failure (the
 * caller writes a failed result.csv with the message). */
int trial_run(const TrialConfig *cfg, const TrialOptions *opt, TrialResult *res, Err *e);

#endif
