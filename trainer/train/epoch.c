#include "train/epoch.h"

#include <stdint.h>
#include <stdio.h>

#include "core/rng.h"

void epoch_order(int *order, int n, long seed, int epoch) {
    for (int i = 0; i < n; i++) order[i] = i;
    Rng r;
    rng_init(&r, (uint64_t)seed, RNG_SHUFFLE, (uint32_t)epoch, 0);
    rng_shuffle(&r, order, n);
}

int epoch_view(long seed, int views, int epoch, int i) {
    if (views <= 1) return 0;
    Rng r;
    rng_init(&r, (uint64_t)seed, RNG_VIEW, (uint32_t)epoch, (uint32_t)i);
    return (int)rng_below(&r, (uint32_t)views);
}

void epoch_progress(const Epoch *ep, int step, float loss, float accuracy) {
    int steps = ep->steps;
    if (!ep->progress || (step % (steps / 40 + 1) && step + 1 != steps)) return;
    enum { WIDTH = 30 };
    int filled = (int)((long)(step + 1) * WIDTH / steps);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[WIDTH] = 0;
    fprintf(stderr, "\repoch %d/%d [%s] %d/%d  loss %.4f  accuracy %.4f", ep->index + 1, ep->epochs, bar, step + 1, steps,
            loss, accuracy);
    if (step + 1 == steps) fputs("\r\033[K", stderr); /* the epoch line replaces the bar */
    fflush(stderr);
}
