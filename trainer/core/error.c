#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int err_fail(Err *e, const char *fmt, ...) {
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int err_context(Err *e, const char *fmt, ...) {
    if (!e) return -1;
    char prefix[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
    return -1;
}

void *tl_malloc(Err *e, size_t bytes, const char *what) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) err_fail(e, "out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

void *tl_calloc(Err *e, size_t count, size_t size, const char *what) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) err_fail(e, "out of memory allocating %zu x %zu bytes for %s", count, size, what);
    return p;
}
