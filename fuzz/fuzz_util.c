#include "fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checksum.h"
#include "core/fsutil.h"

static char dir[512];   /* the process's temp folder: state a harness cannot avoid keeping */

static void remove_dir(void) {
    Err e;
    if (dir[0]) fs_remove_tree(dir, &e);
}

const char *fuzz_dir(void) {
    if (dir[0]) return dir;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/tl-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir)) fuzz_fail("cannot make a temp folder %s", dir);
    atexit(remove_dir);
    return dir;
}

void fuzz_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", fuzz_dir(), name);
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", out);
    char *slash = strrchr(parent, '/');
    Err e;
    if (slash) *slash = 0;
    if (fs_mkdir_p(parent, &e)) fuzz_fail("%s", e.msg);
}

void fuzz_write(char *out, size_t n, const char *name, const uint8_t *data, size_t size) {
    fuzz_path(out, n, name);
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f)) fuzz_fail("cannot write %s", out);
}

void fuzz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void fuzz_expect_named(int rc, const Err *e, const char *name) {
    if (rc && getenv("FUZZ_VERBOSE")) fprintf(stderr, "refused: %s\n", e->msg);
    if (rc && !strstr(e->msg, name)) fuzz_fail("the error does not name %s: \"%s\"", name, e->msg);
}

void fuzz_tiny_arch(ResnetArch *a, ResnetConvSpec convs[2]) {
    convs[0] = (ResnetConvSpec){.conv = "conv1_conv", .bn = "conv1_bn", .kh = 1, .kw = 1, .cin = 3, .cout = 2, .stride = 1};
    convs[1] = (ResnetConvSpec){.conv = "conv2_block1_1_conv", .bn = "conv2_block1_1_bn", .kh = 3, .kw = 3, .cin = 2,
                                .cout = 2, .stride = 1, .pad = 1};
    *a = (ResnetArch){.depth = 50, .n_convs = 2, .convs = convs};
}

const uint8_t *fuzz_cache_crc_fixed(const uint8_t *data, size_t size) {
    static uint8_t *copy;
    static size_t cap;
    if (size < FUZZ_CACHE_HEADER) return NULL;
    if (size > cap) {
        free(copy);
        if (!(copy = malloc(size))) fuzz_fail("out of memory for a %zu-byte input", size);
        cap = size;
    }
    memcpy(copy, data, size);
    memset(copy + FUZZ_CACHE_CRC_AT, 0, 4);
    uint32_t crc = checksum_update(checksum_update(0, copy, FUZZ_CACHE_HEADER), copy + FUZZ_CACHE_HEADER,
                                   size - FUZZ_CACHE_HEADER);
    memcpy(copy + FUZZ_CACHE_CRC_AT, &crc, 4);   /* little-endian, as the files */
    return copy;
}
