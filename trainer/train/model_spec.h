/* What a trial's config asks of the model layer, in one place for training (trial.c)
 * and inference (trained_model.c): the head's shape and the optimizer's settings. */
#ifndef TL_MODEL_SPEC_H
#define TL_MODEL_SPEC_H

#include "model/head.h"
#include "train/config.h"
#include "model/optimizer.h"

/* model.head over RESNET_FEATURES inputs, `classes` outputs, batches of up to max_batch,
 * seeded by train.seed. */
HeadSpec model_head_spec(const TrialConfig *c, int classes, int max_batch);
/* train.optimizer with its coefficients (beta_1, beta_2, epsilon, momentum, nesterov). */
OptimizerSpec model_optimizer_spec(const TrialConfig *c);

#endif
