/* Tiny command-line helpers shared by the subcommands. */
#ifndef TL_ARGS_H
#define TL_ARGS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --threads: a count 1..ARG_MAX_THREADS (beyond, OpenMP's thread pool fails to start). */
enum { ARG_MAX_THREADS = 1024 };

/* Matches "--name VALUE" or "--name=VALUE" at argv[*i]; advances *i past the value. */
static inline int arg_value(int argc, char **argv, int *i, const char *name, const char **value) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n)) return 0;
    if (argv[*i][n] == '=') { *value = argv[*i] + n + 1; return 1; }
    if (argv[*i][n] != 0 || *i + 1 >= argc) return 0;
    *value = argv[++*i];
    return 1;
}

/* "--threads N": *out = N, or -1 with "CMD: --threads takes a count 1..1024, not 'abc'". */
static inline int arg_threads(const char *cmd, const char *v, int *out) {
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < 1 || n > ARG_MAX_THREADS) {
        fprintf(stderr, "%s: --threads takes a count 1..%d, not '%s'\n", cmd, ARG_MAX_THREADS, v);
        return -1;
    }
    *out = (int)n;
    return 0;
}

#endif
