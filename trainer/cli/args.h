/* Tiny command-line helpers shared by the subcommands. */
#ifndef TL_ARGS_H
#define TL_ARGS_H

#include <string.h>

/* Matches "--name VALUE" or "--name=VALUE" at argv[*i]; advances *i past the value. */
static inline int arg_value(int argc, char **argv, int *i, const char *name, const char **value) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n)) return 0;
    if (argv[*i][n] == '=') { *value = argv[*i] + n + 1; return 1; }
    if (argv[*i][n] != 0 || *i + 1 >= argc) return 0;
    *value = argv[++*i];
    return 1;
}

#endif
