/* A small mutable YAML tree (read with libyaml), with source lines kept for error
 * messages and a "used" mark per mapping entry so readers can report unknown keys.
 * Used by the trial config (trainer) and the sweep file (sweep). */
#ifndef TL_YAML_TREE_H
#define TL_YAML_TREE_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

typedef enum YamlKind { YAML_SCALAR, YAML_MAP, YAML_SEQ } YamlKind;

typedef struct YamlNode {
    YamlKind kind;
    int line;              /* 1-based line in `file` where the node starts (0 = made in code) */
    const char *file;      /* borrowed from the YamlDoc that owns the node */
    char *scalar;          /* YAML_SCALAR: the text */
    int quoted;            /* YAML_SCALAR: was quoted in the source (a string, never a number) */
    size_t n;              /* YAML_MAP / YAML_SEQ: number of entries */
    char **keys;           /* YAML_MAP: keys[i] */
    int *key_lines;        /* YAML_MAP: line of keys[i] */
    int *used;             /* YAML_MAP: set by readers that consumed keys[i] */
    struct YamlNode **items; /* values (map) or elements (seq) */
} YamlNode;

typedef struct YamlDoc {
    char *file;            /* path as given, for messages */
    YamlNode *root;
} YamlDoc;

/* Parses a whole file (one document). A syntax error names file:line:column. */
int yaml_load_file(YamlDoc *doc, const char *path, Err *e);
int yaml_load_string(YamlDoc *doc, const char *text, const char *name, Err *e);
void yaml_doc_free(YamlDoc *doc);

/* libyaml exports its own yaml_free(void *) and calls it internally through the PLT, so a
 * global symbol of that name would replace libyaml's and corrupt its heap. Callers keep
 * writing yaml_free(node); the linker sees tl_yaml_free. */
#define yaml_free tl_yaml_free

/* Node constructors / destructor (for building trees in code). */
YamlNode *yaml_new_scalar(const char *text);
YamlNode *yaml_new_map(void);
YamlNode *yaml_new_seq(void);
YamlNode *yaml_clone(const YamlNode *n);   /* deep copy; lines and file kept, used marks cleared */
void yaml_free(YamlNode *n);
/* Typed scalars for trees built in code. yaml_new_string marks the scalar quoted (a string
 * even when its text reads as a number); yaml_new_double writes the shortest text that
 * reads back to the same double (with a "." or "e" so it reads as a float; .inf, -.inf, .nan). */
YamlNode *yaml_new_string(const char *text);
YamlNode *yaml_new_int(long v);
YamlNode *yaml_new_double(double v);
YamlNode *yaml_new_bool(int v);
/* Shortest "%.Ng" text of v that strtod reads back exactly, into buf (>= 32 bytes). */
char *yaml_format_double(char *buf, size_t n, double v);
/* Marks every mapping entry of the subtree used (for readers that walk keys[] themselves:
 * such a reader sets used[i] = 1 on the entries it consumed, or calls this). */
void yaml_mark_used(YamlNode *n);
/* A plain (unquoted) empty scalar: YAML null, as in "key:" with nothing after it. */
int yaml_is_null(const YamlNode *n);

/* Mapping access. yaml_map_get marks the entry used. */
YamlNode *yaml_map_get(YamlNode *map, const char *key);
YamlNode *yaml_map_peek(const YamlNode *map, const char *key); /* does not mark */
/* Sets (replacing, or appending) key -> value; takes ownership of value (freed when the
 * call fails). A replaced entry keeps its key line and becomes unused. */
int yaml_map_set(YamlNode *map, const char *key, YamlNode *value, Err *e);
int yaml_seq_push(YamlNode *seq, YamlNode *value, Err *e);

/* Dotted paths: "model.head.dropout". get returns NULL when absent. set creates
 * intermediate mappings; it fails (message names the path) when a prefix is not a map. */
YamlNode *yaml_path_get(YamlNode *root, const char *dotted);   /* marks the entries used */
YamlNode *yaml_path_peek(const YamlNode *root, const char *dotted); /* does not mark */
int yaml_path_set(YamlNode *root, const char *dotted, YamlNode *value, Err *e);

/* Reports the first mapping key never marked used: "file:line: unknown key 'a.b.c'".
 * prefix is the dotted path of `n` ("" at the root). Returns 0 when all keys are used. */
int yaml_check_unused(const YamlNode *n, const char *file, const char *prefix, Err *e);

/* Scalar conversions. Each fails with "file:line: key 'path' must be ..." using the
 * node's line and the given dotted path. */
int yaml_as_double(const YamlNode *n, const char *path, double *out, Err *e);
int yaml_as_int(const YamlNode *n, const char *path, long *out, Err *e);
int yaml_as_bool(const YamlNode *n, const char *path, int *out, Err *e);
int yaml_as_string(const YamlNode *n, const char *path, const char **out, Err *e);

/* Emits block-style YAML (keys in stored order). Strings that would read back as
 * another type are quoted. Returns 0 on success. */
int yaml_emit_file(const YamlNode *root, FILE *f, Err *e);

#endif
