#include "rng.h"

#include <math.h>

enum { PHILOX_M0 = 0xD2511F53u, PHILOX_M1 = 0xCD9E8D57u, PHILOX_W0 = 0x9E3779B9u, PHILOX_W1 = 0xBB67AE85u };

static void philox_round(uint32_t c[4], const uint32_t k[2]) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k[0], n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0; c[1] = lo1; c[2] = n2; c[3] = lo0;
}

void philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int i = 0; i < 10; i++) {
        philox_round(c, k);
        k[0] += PHILOX_W0;
        k[1] += PHILOX_W1;
    }
    for (int i = 0; i < 4; i++) out[i] = c[i];
}

void rng_init(Rng *r, uint64_t seed, RngDomain domain, uint32_t a, uint32_t b) {
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32) ^ ((uint32_t)domain * 0x9E3779B9u);
    r->ctr[0] = 0;          /* position in the stream */
    r->ctr[1] = a;
    r->ctr[2] = b;
    r->ctr[3] = (uint32_t)domain;
    r->used = 4;
}

uint32_t rng_u32(Rng *r) {
    if (r->used == 4) {
        philox4x32(r->ctr, r->key, r->buf);
        r->ctr[0]++;
        r->used = 0;
    }
    return r->buf[r->used++];
}

double rng_double(Rng *r) {
    uint64_t a = rng_u32(r) >> 5, b = rng_u32(r) >> 6;
    return (double)(a * 67108864u + b) / 9007199254740992.0;
}

float rng_float(Rng *r) { return (float)(rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

double rng_uniform(Rng *r, double lo, double hi) { return lo + (hi - lo) * rng_double(r); }

uint32_t rng_below(Rng *r, uint32_t n) {
    uint32_t limit = UINT32_MAX - UINT32_MAX % n;
    uint32_t x;
    do x = rng_u32(r); while (x >= limit);
    return x % n;
}

double rng_normal(Rng *r) {
    double u1 = rng_double(r), u2 = rng_double(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void rng_shuffle(Rng *r, int *idx, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint32_t)i + 1);
        int t = idx[i]; idx[i] = idx[j]; idx[j] = t;
    }
}
