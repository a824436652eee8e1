#include "core/hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t FNV_PRIME = 0x100000001b3ULL;

void hash_init(Hash128 *h) {
    h->a = 0xcbf29ce484222325ULL;  /* FNV offset basis */
    h->b = 0x84222325cbf29ce4ULL;  /* a second, different basis */
}

void hash_bytes(Hash128 *h, const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t a = h->a, b = h->b;
    for (size_t i = 0; i < n; i++) {
        a = (a ^ p[i]) * FNV_PRIME;
        b = (b ^ (unsigned char)(p[i] + 0x5b)) * 0x100000001b3ULL;
        b ^= b >> 29;   /* decorrelate the second lane */
    }
    h->a = a;
    h->b = b;
}

void hash_str(Hash128 *h, const char *s) { hash_bytes(h, s, strlen(s) + 1); }
void hash_i64(Hash128 *h, int64_t v) { hash_bytes(h, &v, sizeof v); }
void hash_f64(Hash128 *h, double v) { hash_bytes(h, &v, sizeof v); }

void hash_hex(const Hash128 *h, char out[33]) {
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h->a, (unsigned long long)h->b);
}

int hash_file(const char *path, Hash128 *out, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_fail(e, "%s: cannot open: %s", path, strerror(errno));
    hash_init(out);
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf) { fclose(f); return err_fail(e, "out of memory"); }
    size_t got;
    while ((got = fread(buf, 1, CHUNK, f)) > 0) hash_bytes(out, buf, got);
    int bad = ferror(f);
    free(buf);
    fclose(f);
    return bad ? err_fail(e, "%s: read error", path) : 0;
}
