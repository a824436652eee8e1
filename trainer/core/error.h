/* Errors travel up as return codes (0 ok, -1 failed) with a message in an Err.
 * Library code never exits; only main() decides. */
#ifndef TL_ERROR_H
#define TL_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef struct Err {
    char msg[2048];
} Err;

/* Formats the message into e (if e is not NULL) and returns -1. */
int err_fail(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "prefix: " to an existing message (context on the way up); returns -1. */
int err_context(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checked allocation: NULL plus a message on failure. */
void *tl_malloc(Err *e, size_t bytes, const char *what);
void *tl_calloc(Err *e, size_t count, size_t size, const char *what);

/* Library status checks: each names the call, file and line. Use inside a function
 * that returns int and has an `Err *e` (or pass the Err explicitly). */
#define TL_CHECK_ALLOC(e, ptr) \
    do { if (!(ptr)) return err_fail((e), "%s:%d: out of memory (%s)", __FILE__, __LINE__, #ptr); } while (0)

#endif
