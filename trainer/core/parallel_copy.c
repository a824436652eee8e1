#include "core/parallel_copy.h"

#include <string.h>

enum { COPY_BLOCK = 1 << 20 };

void memcpy_parallel(void *dst, const void *src, size_t n) {
    if (n < 2 * (size_t)COPY_BLOCK) {
        memcpy(dst, src, n);
        return;
    }
    long blocks = (long)((n + COPY_BLOCK - 1) / COPY_BLOCK);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < blocks; i++) {
        size_t off = (size_t)i * COPY_BLOCK, len = n - off < COPY_BLOCK ? n - off : COPY_BLOCK;
        memcpy((char *)dst + off, (const char *)src + off, len);
    }
}
