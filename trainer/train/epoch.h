/* One training epoch as both training loops see it (the head on cached features,
 * head_trainer.c; fine-tuning on images, finetune.c): its learning rate, the order of the
 * training images, which cached view each image uses, and the progress bar. */
#ifndef TL_EPOCH_H
#define TL_EPOCH_H

typedef struct Epoch {
    int index;                  /* 0-based */
    int epochs;                 /* train.epochs: the bar's "epoch i/N" */
    int steps;                  /* batches: ceil(n_train / batch_size) */
    float lr;                   /* the schedule's rate for this epoch */
    const int *order;           /* (n_train) image indices in training order */
    int progress;               /* 1: draw a progress bar on stderr (a terminal) */
} Epoch;

/* The epoch's training order: 0..n-1 shuffled by (seed, RNG_SHUFFLE, epoch, 0). */
void epoch_order(int *order, int n, long seed, int epoch);
/* The cached view image i uses in the epoch: (seed, RNG_VIEW, epoch, i) below views;
 * 0 when views <= 1. */
int epoch_view(long seed, int views, int epoch, int i);
/* The bar after step (0-based) with the running loss and accuracy; about 40 redraws per
 * epoch, erased at the last step (the epoch line replaces it). Nothing unless ep->progress. */
void epoch_progress(const Epoch *ep, int step, float loss, float accuracy);

#endif
