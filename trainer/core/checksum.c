#include "core/checksum.h"

#include <zlib.h>

uint32_t checksum_update(uint32_t crc, const void *data, size_t n) {
    return (uint32_t)crc32_z(crc, data, n);
}
