/* Directory listings in byte order: what the importer and check-data walk. */
#ifndef TL_DIRWALK_H
#define TL_DIRWALK_H

#include "core/error.h"

/* Sorted listing of a directory's entries that do not start with '.'; kind filters:
 * 'f' regular files, 'd' directories (symlinks followed), anything else: all. names are malloc'ed. */
typedef struct DirList {
    char **names;
    int n;
} DirList;
int dir_list_sorted(const char *path, char kind, DirList *out, Err *e);
void dir_list_free(DirList *d);

/* strcmp of two `char *` elements: qsort/bsearch over names in dir_list_sorted's order. */
int dir_name_cmp(const void *a, const void *b);

#endif
