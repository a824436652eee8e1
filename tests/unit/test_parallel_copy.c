/* memcpy_parallel copies every byte, for sizes below, at and across its 1 MiB blocks,
 * and touches nothing past n. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel_copy.h"
#include "test_util.h"

int main(void) {
    const size_t sizes[] = {0, 1, 4095, (size_t)2 << 20, ((size_t)2 << 20) + 1, ((size_t)19 << 20) + 12345};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        uint8_t *src = malloc(n + 64), *dst = malloc(n + 64);
        for (size_t i = 0; i < n + 64; i++) src[i] = (uint8_t)(i * 2654435761u >> 13);
        memset(dst, 0xA5, n + 64);
        memcpy_parallel(dst, src, n);
        CHECK(memcmp(dst, src, n) == 0, "size %zu: copy differs", n);
        int untouched = 1;
        for (size_t i = n; i < n + 64; i++) untouched &= dst[i] == 0xA5;
        CHECK(untouched, "size %zu: bytes past n were written", n);
        free(src);
        free(dst);
    }
    return TEST_END();
}
