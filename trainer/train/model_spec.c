#include "train/model_spec.h"

#include "model/resnet.h"

HeadSpec model_head_spec(const TrialConfig *c, int classes, int max_batch) {
    const HeadConfig *h = &c->model.head;
    return (HeadSpec){.in_dim = RESNET_FEATURES, .hidden = h->hidden, .classes = classes, .batchnorm = h->batchnorm,
                      .dropout = h->dropout, .max_batch = max_batch, .seed = (uint64_t)c->train.seed};
}

OptimizerSpec model_optimizer_spec(const TrialConfig *c) {
    const TrainConfig *t = &c->train;
    return (OptimizerSpec){.kind = t->optimizer, .beta_1 = t->beta_1, .beta_2 = t->beta_2, .epsilon = t->epsilon,
                           .momentum = t->momentum, .nesterov = t->nesterov};
}
