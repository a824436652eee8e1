/* A 128-bit content digest (two independent 64-bit FNV-1a lanes) for cache keys and
 * duplicate detection. Not cryptographic: it names content, it does not protect it. */
#ifndef TL_HASH_H
#define TL_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct Hash128 {
    uint64_t a, b;
} Hash128;

void hash_init(Hash128 *h);
void hash_bytes(Hash128 *h, const void *data, size_t n);
void hash_str(Hash128 *h, const char *s);            /* includes the terminating NUL */
void hash_i64(Hash128 *h, int64_t v);
void hash_f64(Hash128 *h, double v);
/* 32 lowercase hex characters + NUL. */
void hash_hex(const Hash128 *h, char out[33]);
/* Digest of a whole file's bytes. */
int hash_file(const char *path, Hash128 *out, Err *e);

#endif
