/* A finished trial, loaded for inference (`trainer predict`, `trainer evaluate`):
 *   RUN/config.yaml       the resolved config (backbone, weights, image size, head shape, ...)
 *   RUN/best.safetensors  the head's weights by view name (bn.gamma, ..., dense2.bias), with
 *                         metadata "classes" (class names joined by '\n') and "epoch"
 * The head is rebuilt from the config and every tensor is checked against it by name and
 * shape, so a checkpoint from another config fails with a message naming the tensor. */
#ifndef TL_TRAINED_MODEL_H
#define TL_TRAINED_MODEL_H

#include "core/error.h"
#include "model/head.h"
#include "model/resnet_train.h"
#include "train/config.h"

typedef struct TrainedModel {
    char run_dir[1024];
    char config_path[1100], best_path[1100];
    TrialConfig cfg;
    Head head;                  /* inference only (head_forward with train = 0) */
    int n_classes;
    char **class_names;         /* (n_classes) pointers into classes_text */
    char *classes_text;         /* the "classes" metadata, '\n' replaced by NUL */
    int epoch;                  /* best epoch (0-based) from the metadata, -1 when absent */
} TrainedModel;

/* Loads config.yaml and best.safetensors from run_dir; the head takes batches of up to
 * max_batch rows (<= 0: the config's train.batch_size, the trial's own evaluation batch). Fails, naming the file, when the folder or a file is missing, the
 * checkpoint is not a head checkpoint, its classes are missing, or a tensor is missing,
 * unexpected, or of another shape than the config's head wants. m needs trained_model_free
 * only after success. */
int trained_model_load(TrainedModel *m, const char *run_dir, int max_batch, Err *e);
void trained_model_free(TrainedModel *m);
/* A fine-tuned trial (model.trainable != head): loads the trained backbone suffix's tensors
 * from best.safetensors into s (created from the config's weights and trainable). */
int trained_model_load_suffix(const TrainedModel *m, ResnetSuffix *s, Err *e);

/* Inference: features (b, 2048) -> m->head.logits (b, C); b <= max_batch. */
const float *trained_model_logits(TrainedModel *m, const float *features, int b);

/* probs (C) = softmax(logits (C)), computed in double with the max subtracted. */
void softmax_row(const float *logits, int C, double *probs);
/* The k (<= C) largest of p (C), largest first, ties to the lower index: idx (k). */
void top_k_indices(const double *p, int C, int k, int *idx);

#endif
