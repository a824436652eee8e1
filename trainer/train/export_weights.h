/* A trial's backbone as a Keras weight file (`trainer export-weights`): the layout of
 * resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 (model/weights_h5_write.c), which
 * `model.weights: FILE.h5` and Keras's ResNet50(weights=None, include_top=False)
 * .load_weights(FILE) both read. The frozen prefix comes from the trial's model.weights as
 * it loaded them; a fine-tuned trial's suffix (kernels, biases, BN gamma, beta and moving
 * statistics) from its checkpoint, by the Keras names the checkpoint stores them under. A
 * head-only trial exports its model.weights unchanged. */
#ifndef TL_EXPORT_WEIGHTS_H
#define TL_EXPORT_WEIGHTS_H

#include "core/error.h"

/* run_dir: a trial folder (config.yaml, and best.safetensors or last.safetensors);
 * checkpoint: "best" or "last". Writes out_path atomically. *summary (may be NULL) gets one
 * line saying what was exported. */
int export_trial_weights(const char *run_dir, const char *checkpoint, const char *out_path, char *summary, size_t n,
                         Err *e);

#endif
