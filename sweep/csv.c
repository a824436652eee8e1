#include "csv.h"

#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"

/* A growable list of strings (one record). */
typedef struct Fields { char **v; int n, cap; } Fields;

static int fields_push(Fields *f, const char *s, size_t len, Err *e) {
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 16;
        char **nv = realloc(f->v, (size_t)cap * sizeof *nv);
        TL_CHECK_ALLOC(e, nv);
        f->v = nv, f->cap = cap;
    }
    char *copy = malloc(len + 1);
    TL_CHECK_ALLOC(e, copy);
    memcpy(copy, s, len);
    copy[len] = 0;
    f->v[f->n++] = copy;
    return 0;
}

static void fields_free(Fields *f) {
    for (int i = 0; i < f->n; i++) free(f->v[i]);
    free(f->v);
    memset(f, 0, sizeof *f);
}

/* Parses one record starting at *p; leaves *p after its line end. buf holds one field. */
static int parse_record(const char **p, Fields *out, char *buf, const char *name, int line, Err *e) {
    const char *s = *p;
    for (;;) {
        size_t k = 0;
        if (*s == '"') {
            for (s++;; s++) {
                if (*s == 0) return err_fail(e, "%s:%d: unterminated quoted field", name, line);
                if (*s == '"' && s[1] == '"') { buf[k++] = '"'; s++; continue; }
                if (*s == '"') { s++; break; }
                buf[k++] = *s;
            }
        }
        while (*s && *s != ',' && *s != '\n' && *s != '\r') buf[k++] = *s++;
        if (fields_push(out, buf, k, e)) return -1;
        if (*s == ',') { s++; continue; }
        if (*s == '\r') s++;
        if (*s == '\n') s++;
        break;
    }
    *p = s;
    return 0;
}

static int add_row(CsvTable *t, Fields *f, Err *e) {
    char ***rows = realloc(t->rows, (size_t)(t->n_rows + 1) * sizeof *rows);
    TL_CHECK_ALLOC(e, rows);
    t->rows = rows;
    char **row = calloc((size_t)t->n_cols, sizeof *row);
    TL_CHECK_ALLOC(e, row);
    for (int c = 0; c < t->n_cols; c++) {
        row[c] = c < f->n ? f->v[c] : strdup("");
        if (c < f->n) f->v[c] = NULL;
    }
    t->rows[t->n_rows++] = row;
    return 0;
}

int csv_parse(CsvTable *t, const char *text, const char *name, Err *e) {
    memset(t, 0, sizeof *t);
    char *buf = malloc(strlen(text) + 1);
    TL_CHECK_ALLOC(e, buf);
    const char *p = text;
    Fields f = {0};
    int line = 1, rc = 0;
    while (*p && rc == 0) {
        if (*p == '\n' || *p == '\r') { p++; line += p[-1] == '\n'; continue; }  /* blank line */
        rc = parse_record(&p, &f, buf, name, line, e);
        if (rc) break;
        if (!t->header) {
            t->header = f.v, t->n_cols = f.n;
            memset(&f, 0, sizeof f);
        } else {
            if (f.n > t->n_cols) rc = err_fail(e, "%s:%d: %d fields, header has %d", name, line, f.n, t->n_cols);
            else rc = add_row(t, &f, e);
            fields_free(&f);
        }
        line++;
    }
    fields_free(&f);
    free(buf);
    if (rc == 0 && !t->header) rc = err_fail(e, "%s: empty file (no header)", name);
    if (rc) csv_free(t);
    return rc;
}

int csv_read_file(CsvTable *t, const char *path, Err *e) {
    char *text;
    if (fs_read_all(path, &text, NULL, e)) return -1;
    int rc = csv_parse(t, text, path, e);
    free(text);
    return rc;
}

int csv_col(const CsvTable *t, const char *name) {
    for (int c = 0; c < t->n_cols; c++)
        if (strcmp(t->header[c], name) == 0) return c;
    return -1;
}

const char *csv_get(const CsvTable *t, int row, const char *name) {
    int c = csv_col(t, name);
    return c < 0 || row < 0 || row >= t->n_rows ? "" : t->rows[row][c];
}

void csv_free(CsvTable *t) {
    for (int r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++) free(t->rows[r][c]);
        free(t->rows[r]);
    }
    for (int c = 0; c < t->n_cols; c++) free(t->header[c]);
    free(t->rows);
    free(t->header);
    memset(t, 0, sizeof *t);
}

void csv_write_field(FILE *f, const char *s) {
    if (!s) s = "";
    if (!strpbrk(s, ",\"\n\r")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputs("\"\"", f);
        else if (*s == '\n' || *s == '\r') fputc(' ', f);
        else fputc(*s, f);
    }
    fputc('"', f);
}
