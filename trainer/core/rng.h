/* Counter-based randomness (Philox4x32-10). Every random number in a trial is a pure
 * function of (seed, domain, a, b) and a position in the stream, so results do not
 * depend on thread count, rank or call order. No global state. */
#ifndef TL_RNG_H
#define TL_RNG_H

#include <stdint.h>

/* What a stream is for; keeps streams of different purposes independent. */
typedef enum RngDomain {
    RNG_INIT = 1,       /* weight init: a = layer index */
    RNG_SHUFFLE = 2,    /* epoch order: a = epoch */
    RNG_AUGMENT = 3,    /* augmentation: a = image index, b = view (or epoch) */
    RNG_DROPOUT = 4,    /* dropout masks: a = epoch, b = step */
    RNG_SPLIT = 5,      /* validation split / train_fraction: a = class */
    RNG_VIEW = 6,       /* which cached view an image uses: a = epoch */
    RNG_SWEEP = 7,      /* random-search sampling: a = trial, b = axis */
    RNG_BACKBONE = 8,   /* random:SEED backbone init: a = conv index */
} RngDomain;

typedef struct Rng {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int used;           /* words of buf consumed; 4 = refill */
} Rng;

/* One Philox4x32-10 block: out = f(ctr, key). */
void philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* A stream keyed by seed and (domain, a, b). */
void rng_init(Rng *r, uint64_t seed, RngDomain domain, uint32_t a, uint32_t b);
uint32_t rng_u32(Rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_double(Rng *r);
/* Uniform in [0, 1) as float (24 bits); what dropout uses. */
float rng_float(Rng *r);
/* Uniform in [lo, hi). */
double rng_uniform(Rng *r, double lo, double hi);
/* Uniform integer in [0, n), unbiased (rejection). n > 0. */
uint32_t rng_below(Rng *r, uint32_t n);
/* Standard normal (Box-Muller). */
double rng_normal(Rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void rng_shuffle(Rng *r, int *idx, int n);

#endif
