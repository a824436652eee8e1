/* A mutable YAML tree built from libyaml's event stream (see yaml_tree.h).
 * Sections: nodes, loading, mapping/path access, scalar conversions, emitter. */
#include "yaml_tree.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "fsutil.h"

enum { YAML_MAX_DEPTH = 64, YAML_PATH_MAX = 512 };

/* ---------------------------------------------------------------- nodes */

static YamlNode *node_new(YamlKind kind) {
    YamlNode *n = calloc(1, sizeof *n);
    if (n) n->kind = kind;
    return n;
}

YamlNode *yaml_new_scalar(const char *text) {
    YamlNode *n = node_new(YAML_SCALAR);
    if (!n) return NULL;
    n->scalar = strdup(text ? text : "");
    if (!n->scalar) { free(n); return NULL; }
    return n;
}

YamlNode *yaml_new_map(void) { return node_new(YAML_MAP); }
YamlNode *yaml_new_seq(void) { return node_new(YAML_SEQ); }

YamlNode *yaml_new_string(const char *text) {
    YamlNode *n = yaml_new_scalar(text);
    if (n) n->quoted = 1;
    return n;
}

YamlNode *yaml_new_int(long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    return yaml_new_scalar(buf);
}

YamlNode *yaml_new_double(double v) {
    char buf[40];
    return yaml_new_scalar(yaml_format_double(buf, sizeof buf, v));
}

YamlNode *yaml_new_bool(int v) { return yaml_new_scalar(v ? "true" : "false"); }

char *yaml_format_double(char *buf, size_t n, double v) {
    if (isnan(v)) { snprintf(buf, n, ".nan"); return buf; }
    if (isinf(v)) { snprintf(buf, n, v > 0 ? ".inf" : "-.inf"); return buf; }
    int prec = 1;
    while (prec < 17 && (snprintf(buf, n, "%.*g", prec, v), strtod(buf, NULL) != v)) prec++;
    /* Keep integers below 1e16 in positional form ("100.0", not "1e+02"). */
    int digits = v != 0 ? (int)floor(log10(fabs(v))) + 1 : 1;
    if (digits > prec && digits <= 16) prec = digits;
    snprintf(buf, n, "%.*g", prec, v);
    /* "100" would read back as an integer: make it "100.0". YAML 1.1 readers (PyYAML) want
     * a '.' in exponent forms too: "1e-07" -> "1.0e-07". */
    char *exp = strchr(buf, 'e');
    if (!strchr(buf, '.') && strlen(buf) + 3 <= n) {
        size_t at = exp ? (size_t)(exp - buf) : strlen(buf);
        memmove(buf + at + 2, buf + at, strlen(buf + at) + 1);
        memcpy(buf + at, ".0", 2);
    }
    return buf;
}

void yaml_free(YamlNode *n) {
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) free(n->keys[i]);
        yaml_free(n->items[i]);
    }
    free(n->keys);
    free(n->key_lines);
    free(n->used);
    free(n->items);
    free(n->scalar);
    free(n);
}

/* Grows the entry arrays by one (keys only for mappings). Returns 0 or -1 (no memory). */
static int node_grow(YamlNode *n) {
    size_t m = n->n + 1;
    YamlNode **items = realloc(n->items, m * sizeof *items);
    if (!items) return -1;
    n->items = items;
    if (n->kind != YAML_MAP) return 0;
    char **keys = realloc(n->keys, m * sizeof *keys);
    if (!keys) return -1;
    n->keys = keys;
    int *lines = realloc(n->key_lines, m * sizeof *lines);
    if (!lines) return -1;
    n->key_lines = lines;
    int *used = realloc(n->used, m * sizeof *used);
    if (!used) return -1;
    n->used = used;
    return 0;
}

/* Appends without checking for an existing key; takes ownership of value on success. */
static int map_append(YamlNode *map, const char *key, int key_line, YamlNode *value) {
    char *k = strdup(key);
    if (!k || node_grow(map)) { free(k); return -1; }
    map->keys[map->n] = k;
    map->key_lines[map->n] = key_line;
    map->used[map->n] = 0;
    map->items[map->n] = value;
    map->n++;
    return 0;
}

YamlNode *yaml_clone(const YamlNode *n) {
    if (!n) return NULL;
    YamlNode *c = n->kind == YAML_SCALAR ? yaml_new_scalar(n->scalar) : node_new(n->kind);
    if (!c) return NULL;
    c->line = n->line;
    c->file = n->file;
    c->quoted = n->quoted;
    for (size_t i = 0; i < n->n; i++) {
        YamlNode *item = yaml_clone(n->items[i]);
        int bad = !item;
        if (!bad && n->kind == YAML_MAP) bad = map_append(c, n->keys[i], n->key_lines[i], item);
        else if (!bad && !(bad = node_grow(c))) c->items[c->n++] = item;
        if (bad) { yaml_free(item); yaml_free(c); return NULL; }
    }
    return c;
}

void yaml_mark_used(YamlNode *n) {
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->kind == YAML_MAP) n->used[i] = 1;
        yaml_mark_used(n->items[i]);
    }
}

int yaml_is_null(const YamlNode *n) {
    return n && n->kind == YAML_SCALAR && !n->quoted && n->scalar[0] == 0;
}

/* "file:line: " (or less, for nodes made in code) into buf. */
static const char *where(char *buf, size_t size, const char *file, int line) {
    if (file && line > 0) snprintf(buf, size, "%s:%d: ", file, line);
    else if (file) snprintf(buf, size, "%s: ", file);
    else if (line > 0) snprintf(buf, size, "line %d: ", line);
    else buf[0] = 0;
    return buf;
}

/* ---------------------------------------------------------------- loading */

/* One load: libyaml's event parser and what messages name (the file, the key path).
 * (Not the image Loader of data/loader.h.) */
typedef struct YamlReader {
    yaml_parser_t parser;
    const char *text;          /* the input, for the line of a reader (encoding) error */
    const char *file;
    Err *e;
    char path[YAML_PATH_MAX];  /* dotted path of the mapping being read, for messages */
} YamlReader;

/* libyaml gives an encoding error as a byte offset only: its line and column (in
 * characters) are counted here. A bad trailing byte is reported at the byte that began
 * its sequence (the one the user typed: "\xe9" in "h\xe9ad", not the "a"). */
static int reader_encoding_error(YamlReader *rd) {
    const yaml_parser_t *p = &rd->parser;
    const unsigned char *t = (const unsigned char *)rd->text;
    size_t at = p->problem_offset, line = 1, column = 1;
    if (p->problem && strstr(p->problem, "trailing") && at > 0)
        for (at--; at > 0 && (t[at] & 0xC0) == 0x80; at--) {}
    for (size_t i = 0; i < at && t[i]; i++) {
        if (t[i] == '\n') line++, column = 1;
        else if ((t[i] & 0xC0) != 0x80) column++;   /* not a UTF-8 continuation byte */
    }
    return err_fail(rd->e, "%s:%zu:%zu: not UTF-8 text: byte 0x%02x (%s); save the file as UTF-8", rd->file, line, column, t[at],
                    p->problem ? p->problem : "invalid encoding");
}

static int reader_syntax_error(YamlReader *rd) {
    yaml_parser_t *p = &rd->parser;
    if (p->error == YAML_READER_ERROR && rd->text) return reader_encoding_error(rd);
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->context)
        return err_fail(rd->e, "%s:%zu:%zu: YAML syntax error: %s (%s at line %zu)", rd->file,
                        p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
                        p->context_mark.line + 1);
    return err_fail(rd->e, "%s:%zu:%zu: YAML syntax error: %s", rd->file, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, problem);
}

static int reader_next(YamlReader *rd, yaml_event_t *ev) {
    if (!yaml_parser_parse(&rd->parser, ev)) return reader_syntax_error(rd);
    return 0;
}

static int load_node(YamlReader *rd, yaml_event_t *ev, int depth, YamlNode **out);

static int load_scalar(YamlReader *rd, yaml_event_t *ev, YamlNode **out) {
    YamlNode *n = yaml_new_scalar((const char *)ev->data.scalar.value);
    if (!n) return err_fail(rd->e, "%s: out of memory", rd->file);
    const char *tag = (const char *)ev->data.scalar.tag;
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || (tag && !strcmp(tag, YAML_STR_TAG));
    *out = n;
    return 0;
}

static int load_seq(YamlReader *rd, YamlNode *seq, int depth) {
    for (;;) {
        yaml_event_t ev;
        if (reader_next(rd, &ev)) return -1;
        if (ev.type == YAML_SEQUENCE_END_EVENT) { yaml_event_delete(&ev); return 0; }
        YamlNode *item = NULL;
        if (load_node(rd, &ev, depth + 1, &item)) return -1;
        if (node_grow(seq)) { yaml_free(item); return err_fail(rd->e, "%s: out of memory", rd->file); }
        seq->items[seq->n++] = item;
    }
}

/* Reads one "key: value" entry whose key event is `kev` (consumed). */
static int load_map_entry(YamlReader *rd, YamlNode *map, yaml_event_t *kev, int depth) {
    int line = (int)kev->start_mark.line + 1;
    if (kev->type != YAML_SCALAR_EVENT) {
        yaml_event_delete(kev);
        return err_fail(rd->e, "%s:%d: mapping keys must be plain scalars", rd->file, line);
    }
    char *key = strdup((const char *)kev->data.scalar.value);
    yaml_event_delete(kev);
    if (!key) return err_fail(rd->e, "%s: out of memory", rd->file);
    size_t plen = strlen(rd->path);
    snprintf(rd->path + plen, sizeof rd->path - plen, "%s%s", plen ? "." : "", key);
    YamlNode *dup = yaml_map_peek(map, key);
    if (dup) {
        size_t i = 0;
        while (map->items[i] != dup) i++;
        err_fail(rd->e, "%s:%d: duplicate key '%s' (first at line %d)", rd->file, line, rd->path, map->key_lines[i]);
        free(key);
        return -1;
    }
    yaml_event_t vev;
    YamlNode *value = NULL;
    int rc = reader_next(rd, &vev) || load_node(rd, &vev, depth + 1, &value);
    if (!rc && map_append(map, key, line, value)) {
        yaml_free(value);
        rc = err_fail(rd->e, "%s: out of memory", rd->file);
    }
    free(key);
    rd->path[plen] = 0;
    return rc ? -1 : 0;
}

static int load_map(YamlReader *rd, YamlNode *map, int depth) {
    for (;;) {
        yaml_event_t ev;
        if (reader_next(rd, &ev)) return -1;
        if (ev.type == YAML_MAPPING_END_EVENT) { yaml_event_delete(&ev); return 0; }
        if (load_map_entry(rd, map, &ev, depth)) return -1;
    }
}

/* Builds the node that starts with event `ev` (consumed) into *out. */
static int load_node(YamlReader *rd, yaml_event_t *ev, int depth, YamlNode **out) {
    int line = (int)ev->start_mark.line + 1;
    yaml_event_type_t type = ev->type;
    if (depth > YAML_MAX_DEPTH) {
        yaml_event_delete(ev);
        return err_fail(rd->e, "%s:%d: nesting deeper than %d levels", rd->file, line, YAML_MAX_DEPTH);
    }
    if (type == YAML_SCALAR_EVENT) {
        int rc = load_scalar(rd, ev, out);
        yaml_event_delete(ev);
        if (!rc) { (*out)->line = line; (*out)->file = rd->file; }
        return rc;
    }
    yaml_event_delete(ev);
    if (type == YAML_ALIAS_EVENT) return err_fail(rd->e, "%s:%d: YAML aliases (*name) are not supported", rd->file, line);
    if (type != YAML_SEQUENCE_START_EVENT && type != YAML_MAPPING_START_EVENT)
        return err_fail(rd->e, "%s:%d: unexpected YAML event %d", rd->file, line, (int)type);
    YamlNode *n = type == YAML_MAPPING_START_EVENT ? yaml_new_map() : yaml_new_seq();
    if (!n) return err_fail(rd->e, "%s: out of memory", rd->file);
    n->line = line;
    n->file = rd->file;
    int rc = type == YAML_MAPPING_START_EVENT ? load_map(rd, n, depth) : load_seq(rd, n, depth);
    if (rc) { yaml_free(n); return -1; }
    *out = n;
    return 0;
}

/* STREAM-START [DOCUMENT-START node DOCUMENT-END] STREAM-END; an empty stream is an empty map. */
static int load_stream(YamlReader *rd, YamlNode **root) {
    yaml_event_t ev;
    if (reader_next(rd, &ev)) return -1;
    yaml_event_delete(&ev); /* stream start */
    if (reader_next(rd, &ev)) return -1;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        *root = yaml_new_map();
        return *root ? 0 : err_fail(rd->e, "%s: out of memory", rd->file);
    }
    yaml_event_delete(&ev); /* document start */
    if (reader_next(rd, &ev) || load_node(rd, &ev, 0, root)) return -1;
    if (reader_next(rd, &ev)) return -1;
    yaml_event_delete(&ev); /* document end */
    if (reader_next(rd, &ev)) return -1;
    int line = (int)ev.start_mark.line + 1;
    int more = ev.type != YAML_STREAM_END_EVENT;
    yaml_event_delete(&ev);
    if (more) return err_fail(rd->e, "%s:%d: more than one YAML document", rd->file, line);
    return 0;
}

/* Parses text[0..len): a file's NUL bytes reach libyaml, which refuses them, instead of
 * silently ending the document there. */
static int load_text(YamlDoc *doc, const char *text, size_t len, const char *name, Err *e) {
    memset(doc, 0, sizeof *doc);
    doc->file = strdup(name ? name : "<string>");
    if (!doc->file) return err_fail(e, "out of memory");
    YamlReader rd = {.text = text, .file = doc->file, .e = e};
    if (!yaml_parser_initialize(&rd.parser)) { yaml_doc_free(doc); return err_fail(e, "%s: yaml_parser_initialize failed", name); }
    yaml_parser_set_input_string(&rd.parser, (const unsigned char *)text, len);
    YamlNode *root = NULL;
    int rc = load_stream(&rd, &root);
    yaml_parser_delete(&rd.parser);
    if (rc) { yaml_free(root); yaml_doc_free(doc); return -1; }
    doc->root = root;
    return 0;
}

int yaml_load_string(YamlDoc *doc, const char *text, const char *name, Err *e) {
    return load_text(doc, text, strlen(text), name, e);
}

int yaml_load_file(YamlDoc *doc, const char *path, Err *e) {
    char *text = NULL;
    size_t size;
    memset(doc, 0, sizeof *doc);
    if (fs_read_all(path, &text, &size, e)) return -1;
    int rc = load_text(doc, text, size, path, e);
    free(text);
    return rc;
}

void yaml_doc_free(YamlDoc *doc) {
    if (!doc) return;
    yaml_free(doc->root);
    free(doc->file);
    doc->root = NULL;
    doc->file = NULL;
}

/* ---------------------------------------------------------------- mappings and paths */

static long map_index(const YamlNode *map, const char *key) {
    if (!map || map->kind != YAML_MAP) return -1;
    for (size_t i = 0; i < map->n; i++)
        if (!strcmp(map->keys[i], key)) return (long)i;
    return -1;
}

YamlNode *yaml_map_peek(const YamlNode *map, const char *key) {
    long i = map_index(map, key);
    return i < 0 ? NULL : map->items[i];
}

YamlNode *yaml_map_get(YamlNode *map, const char *key) {
    long i = map_index(map, key);
    if (i < 0) return NULL;
    map->used[i] = 1;
    return map->items[i];
}

int yaml_map_set(YamlNode *map, const char *key, YamlNode *value, Err *e) {
    if (!value) return err_fail(e, "yaml_map_set '%s': no value (out of memory?)", key);
    if (!map || map->kind != YAML_MAP) { yaml_free(value); return err_fail(e, "yaml_map_set '%s': not a mapping", key); }
    long i = map_index(map, key);
    if (i >= 0) {
        yaml_free(map->items[i]);
        map->items[i] = value;
        map->used[i] = 0;
        return 0;
    }
    if (map_append(map, key, value->line, value)) { yaml_free(value); return err_fail(e, "out of memory setting '%s'", key); }
    return 0;
}

int yaml_seq_push(YamlNode *seq, YamlNode *value, Err *e) {
    if (!value) return err_fail(e, "yaml_seq_push: no value (out of memory?)");
    if (!seq || seq->kind != YAML_SEQ) { yaml_free(value); return err_fail(e, "yaml_seq_push: not a sequence"); }
    if (node_grow(seq)) { yaml_free(value); return err_fail(e, "out of memory"); }
    seq->items[seq->n++] = value;
    return 0;
}

/* Walks a dotted path; `mark` sets used on every entry passed. */
static YamlNode *path_walk(YamlNode *root, const char *dotted, int mark) {
    char buf[YAML_PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dotted) >= (int)sizeof buf) return NULL;
    YamlNode *n = root;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && n; part = strtok_r(NULL, ".", &save))
        n = mark ? yaml_map_get(n, part) : yaml_map_peek(n, part);
    return n;
}

YamlNode *yaml_path_get(YamlNode *root, const char *dotted) { return path_walk(root, dotted, 1); }
YamlNode *yaml_path_peek(const YamlNode *root, const char *dotted) { return path_walk((YamlNode *)root, dotted, 0); }

int yaml_path_set(YamlNode *root, const char *dotted, YamlNode *value, Err *e) {
    char buf[YAML_PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dotted) >= (int)sizeof buf) { yaml_free(value); return err_fail(e, "path too long: %s", dotted); }
    YamlNode *n = root;
    char *part = buf;
    for (char *dot; (dot = strchr(part, '.')); part = dot + 1) {
        *dot = 0;
        if (!n || n->kind != YAML_MAP) break;
        YamlNode *next = yaml_map_peek(n, part);
        if (!next) {
            if (yaml_map_set(n, part, yaml_new_map(), e)) { yaml_free(value); return -1; }
            next = yaml_map_peek(n, part);
        }
        n = next;
    }
    if (!n || n->kind != YAML_MAP) {
        yaml_free(value);
        char wbuf[YAML_PATH_MAX + 32];
        return err_fail(e, "%scannot set '%s': '%.*s' is not a mapping", n ? where(wbuf, sizeof wbuf, n->file, n->line) : "",
                        dotted, (int)(part - buf - 1), dotted);
    }
    return yaml_map_set(n, part, value, e);
}

int yaml_check_unused(const YamlNode *n, const char *file, const char *prefix, Err *e) {
    if (!n || n->kind == YAML_SCALAR) return 0;
    for (size_t i = 0; i < n->n; i++) {
        char path[YAML_PATH_MAX];
        if (n->kind == YAML_MAP) snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", n->keys[i]);
        else snprintf(path, sizeof path, "%s[%zu]", prefix, i);
        if (n->kind == YAML_MAP && !n->used[i]) {
            char wbuf[YAML_PATH_MAX + 32];
            return err_fail(e, "%sunknown key '%s'", where(wbuf, sizeof wbuf, file ? file : n->file, n->key_lines[i]), path);
        }
        if (yaml_check_unused(n->items[i], file, path, e)) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- scalar conversions */

static int type_error(const YamlNode *n, const char *path, const char *what, Err *e) {
    char wbuf[YAML_PATH_MAX + 32];
    if (!n) return err_fail(e, "key '%s' is missing (must be %s)", path, what);
    return err_fail(e, "%skey '%s' must be %s", where(wbuf, sizeof wbuf, n->file, n->line), path, what);
}

static int is_one_of(const char *s, const char *const *words) {
    for (; *words; words++)
        if (!strcmp(s, *words)) return 1;
    return 0;
}

static const char *const TRUE_WORDS[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
static const char *const FALSE_WORDS[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};
static const char *const NULL_WORDS[] = {"", "~", "null", "Null", "NULL", NULL};

/* Decimal number syntax: [+-] (digits [. digits] | . digits) [e [+-] digits]. */
static int is_decimal(const char *s, int *is_integer) {
    const char *p = s;
    int digits = 0, integer = 1;
    if (*p == '+' || *p == '-') p++;
    while (isdigit((unsigned char)*p)) p++, digits++;
    if (*p == '.') {
        integer = 0;
        p++;
        while (isdigit((unsigned char)*p)) p++, digits++;
    }
    if (!digits) return 0;
    if (*p == 'e' || *p == 'E') {
        integer = 0;
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (is_integer) *is_integer = integer;
    return *p == 0;
}

static int special_float(const char *s, double *out) {
    const char *p = s + (*s == '+' || *s == '-');
    double sign = *s == '-' ? -1.0 : 1.0;
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) { *out = sign * INFINITY; return 1; }
    if (p == s && (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))) { *out = NAN; return 1; }
    return 0;
}

int yaml_as_double(const YamlNode *n, const char *path, double *out, Err *e) {
    if (!n || n->kind != YAML_SCALAR || n->quoted) return type_error(n, path, "a number", e);
    if (special_float(n->scalar, out)) return 0;
    if (!is_decimal(n->scalar, NULL)) return type_error(n, path, "a number", e);
    errno = 0;
    double v = strtod(n->scalar, NULL);
    if (errno == ERANGE && isinf(v)) return type_error(n, path, "a number within double range", e);
    *out = v;
    return 0;
}

int yaml_as_int(const YamlNode *n, const char *path, long *out, Err *e) {
    int integer = 0;
    if (!n || n->kind != YAML_SCALAR || n->quoted || !is_decimal(n->scalar, &integer) || !integer)
        return type_error(n, path, "an integer", e);
    errno = 0;
    long v = strtol(n->scalar, NULL, 10);
    if (errno == ERANGE) return type_error(n, path, "an integer within long range", e);
    *out = v;
    return 0;
}

int yaml_as_bool(const YamlNode *n, const char *path, int *out, Err *e) {
    if (!n || n->kind != YAML_SCALAR || n->quoted) return type_error(n, path, "true or false", e);
    if (is_one_of(n->scalar, TRUE_WORDS)) { *out = 1; return 0; }
    if (is_one_of(n->scalar, FALSE_WORDS)) { *out = 0; return 0; }
    return type_error(n, path, "true or false", e);
}

int yaml_as_string(const YamlNode *n, const char *path, const char **out, Err *e) {
    if (!n || n->kind != YAML_SCALAR) return type_error(n, path, "a string", e);
    *out = n->scalar;
    return 0;
}

/* ---------------------------------------------------------------- emitter */

/* Would a plain scalar with this text read back as something other than a string? */
static int reads_as_typed(const char *s) {
    double d;
    if (is_one_of(s, TRUE_WORDS) || is_one_of(s, FALSE_WORDS) || is_one_of(s, NULL_WORDS)) return 1;
    if (is_one_of(s, (const char *const[]){"y", "Y", "n", "N", NULL})) return 1; /* YAML 1.1 readers */
    if (special_float(s, &d) || is_decimal(s, NULL)) return 1;
    /* Anything number-like that other readers might take (0x1F, 0o17, 1_000, 1e5 variants). */
    const char *p = s + (*s == '+' || *s == '-');
    return isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]));
}

/* Bytes of the UTF-8 character at p that YAML readers do not keep as written: a line break
 * other than \n (U+0085 NEL, U+2028, U+2029: folded to a space even inside quotes), a C1
 * control or a non-character (U+FEFF, U+FFFE, U+FFFF: refused). esc (8 bytes) receives its
 * double-quoted escape. 0 for any other character. */
static int unkept_char(const unsigned char *p, char *esc) {
    unsigned cp;
    int n;
    if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
        cp = p[1], n = 2;
    } else if (p[0] == 0xE2 || p[0] == 0xEF) {
        if (p[1] < 0x80 || p[2] < 0x80) return 0;   /* (also stops at the NUL) */
        cp = (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu), n = 3;
        if (cp != 0x2028 && cp != 0x2029 && cp != 0xFEFF && cp != 0xFFFE && cp != 0xFFFF) return 0;
    } else {
        return 0;
    }
    if (cp == 0x85) strcpy(esc, "\\N");
    else if (cp == 0x2028 || cp == 0x2029) strcpy(esc, cp == 0x2028 ? "\\L" : "\\P");
    else if (cp < 0x100) snprintf(esc, 8, "\\x%02x", cp);
    else snprintf(esc, 8, "\\u%04X", cp);
    return n;
}

/* Is the text unsafe as a block-context plain scalar (indicators, ':' '#', spaces at the ends, controls)? */
static int needs_quotes_syntax(const char *s) {
    size_t len = strlen(s);
    if (!len) return 1;
    if (strchr(",[]{}#&*!|>'\"%@`", s[0])) return 1;
    if (strchr("-?:", s[0]) && (s[1] == 0 || s[1] == ' ' || s[1] == s[0])) return 1;
    if (!strncmp(s, "...", 3)) return 1;
    if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1])) return 1;
    char esc[8];
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == ':' || *p == '#' || unkept_char(p, esc)) return 1;
    return 0;
}

static void emit_quoted(FILE *f, const char *s) {
    fputc('"', f);
    char esc[8];
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int n = unkept_char(p, esc);
        if (n) { fputs(esc, f); p += n - 1; }
        else if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\x%02x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void emit_scalar_text(FILE *f, const YamlNode *n) {
    const char *s = n->scalar;
    if (!n->quoted && !*s) return; /* null stays null */
    if (needs_quotes_syntax(s) || (n->quoted && reads_as_typed(s))) emit_quoted(f, s);
    else fputs(s, f);
}

static void emit_key(FILE *f, const char *key) {
    if (needs_quotes_syntax(key)) emit_quoted(f, key);
    else fputs(key, f);
    fputc(':', f);
}

static void emit_map(FILE *f, const YamlNode *m, int indent, int first_inline);
static void emit_seq(FILE *f, const YamlNode *s, int indent, int first_inline);

/* Writes what follows "key:" or "-": " scalar", " {}", " []", or a nested block. */
static void emit_after_indicator(FILE *f, const YamlNode *v, int indent, int after_key) {
    if (v->kind == YAML_SCALAR) {
        if (v->quoted || *v->scalar) fputc(' ', f);
        emit_scalar_text(f, v);
        fputc('\n', f);
    } else if (v->n == 0) {
        fputs(v->kind == YAML_MAP ? " {}\n" : " []\n", f);
    } else if (after_key) {
        fputc('\n', f);
        if (v->kind == YAML_MAP) emit_map(f, v, indent + 2, 0);
        else emit_seq(f, v, indent + 2, 0);
    } else {
        fputc(' ', f);
        if (v->kind == YAML_MAP) emit_map(f, v, indent + 2, 1);
        else emit_seq(f, v, indent + 2, 1);
    }
}

static void emit_map(FILE *f, const YamlNode *m, int indent, int first_inline) {
    for (size_t i = 0; i < m->n; i++) {
        if (i > 0 || !first_inline) fprintf(f, "%*s", indent, "");
        emit_key(f, m->keys[i]);
        emit_after_indicator(f, m->items[i], indent, 1);
    }
}

static void emit_seq(FILE *f, const YamlNode *s, int indent, int first_inline) {
    for (size_t i = 0; i < s->n; i++) {
        if (i > 0 || !first_inline) fprintf(f, "%*s", indent, "");
        fputc('-', f);
        emit_after_indicator(f, s->items[i], indent, 0);
    }
}

int yaml_emit_file(const YamlNode *root, FILE *f, Err *e) {
    if (!root) return err_fail(e, "yaml_emit_file: no tree");
    if (root->kind == YAML_SCALAR) {
        emit_scalar_text(f, root);
        fputc('\n', f);
    } else if (root->n == 0) {
        fputs(root->kind == YAML_MAP ? "{}\n" : "[]\n", f);
    } else if (root->kind == YAML_MAP) {
        emit_map(f, root, 0, 0);
    } else {
        emit_seq(f, root, 0, 0);
    }
    if (ferror(f)) return err_fail(e, "yaml_emit_file: write error");
    return 0;
}
