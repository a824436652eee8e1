/* yaml_tree: parsing (block and flow), lines, dotted get/set, conversions and their
 * messages, unknown-key reports, syntax errors, and emit -> load round trips. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/yaml_tree.h"
#include "test_util.h"

static const char *SAMPLE =
    "# a trial\n"
    "data:\n"
    "  root: data/cars\n"
    "  image_size: 224\n"
    "model:\n"
    "  head: {batchnorm: true, hidden: 512, dropout: 0.6}\n"
    "  weights: \"random:7\"\n"
    "axes:\n"
    "  model.head.dropout: [0.2, 0.4]\n"
    "  names:\n"
    "    - a\n"
    "    - {b: 1, c: [x, 'y']}\n"
    "empty:\n"
    "quoted_num: '42'\n";

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static void test_parse_and_lines(void) {
    YamlDoc doc;
    Err e = {{0}};
    CHECK_OK(yaml_load_string(&doc, SAMPLE, "sample.yaml", &e), &e);
    YamlNode *r = doc.root;
    CHECK(r && r->kind == YAML_MAP && r->n == 5, "root map of 5 entries");
    YamlNode *head = yaml_path_get(r, "model.head");
    CHECK(head && head->kind == YAML_MAP && head->n == 3 && head->line == 6, "flow map, line 6 (got %d)", head ? head->line : -1);
    YamlNode *hidden = yaml_path_get(r, "model.head.hidden");
    long v = 0;
    CHECK_OK(yaml_as_int(hidden, "model.head.hidden", &v, &e), &e);
    CHECK(v == 512, "hidden %ld", v);
    double d = 0;
    CHECK_OK(yaml_as_double(yaml_path_get(r, "model.head.dropout"), "model.head.dropout", &d, &e), &e);
    CHECK(d == 0.6, "dropout %g", d);
    int b = 0;
    CHECK_OK(yaml_as_bool(yaml_path_get(r, "model.head.batchnorm"), "x", &b, &e), &e);
    CHECK(b == 1, "batchnorm");
    YamlNode *w = yaml_path_get(r, "model.weights");
    CHECK(w && w->quoted && !strcmp(w->scalar, "random:7") && w->line == 7, "quoted weights at line 7");
    /* A key with dots is one key of its map, reached with map_get, not path_get. */
    YamlNode *axes = yaml_map_get(r, "axes");
    YamlNode *seq = yaml_map_get(axes, "model.head.dropout");
    CHECK(seq && seq->kind == YAML_SEQ && seq->n == 2 && !strcmp(seq->items[1]->scalar, "0.4"), "flow list");
    CHECK(yaml_path_peek(r, "axes.names") && yaml_path_peek(r, "axes.names")->items[1]->line == 12, "block seq item line");
    YamlNode *c = yaml_path_peek(yaml_path_peek(r, "axes.names")->items[1], "c");
    CHECK(c && c->n == 2 && c->items[1]->quoted && !c->items[0]->quoted, "nested flow seq quoting");
    CHECK(yaml_is_null(yaml_map_peek(r, "empty")), "empty value is null");
    CHECK(yaml_as_int(yaml_map_peek(r, "quoted_num"), "quoted_num", &v, &e) == -1 &&
          !strcmp(e.msg, "sample.yaml:14: key 'quoted_num' must be an integer"), "quoted number is a string: %s", e.msg);
    CHECK(yaml_path_get(r, "data.nope") == NULL && yaml_path_get(r, "data.root.x") == NULL, "absent paths");
    yaml_doc_free(&doc);
}

static void test_conversions(void) {
    YamlDoc doc;
    Err e = {{0}};
    CHECK_OK(yaml_load_string(&doc, "a: 1.5\nb: 1e-3\nc: abc\nd: 7\ne: yes\nf: [1]\ng: -.inf\nh: 0x10\n", "c.yaml", &e), &e);
    YamlNode *r = doc.root;
    long v;
    double d;
    int b;
    const char *s;
    CHECK(yaml_as_int(yaml_map_get(r, "a"), "x.a", &v, &e) == -1 && !strcmp(e.msg, "c.yaml:1: key 'x.a' must be an integer"), "%s", e.msg);
    CHECK_OK(yaml_as_double(yaml_map_get(r, "b"), "b", &d, &e), &e);
    CHECK(d == 1e-3, "1e-3");
    CHECK(yaml_as_double(yaml_map_get(r, "c"), "c", &d, &e) == -1 && !strcmp(e.msg, "c.yaml:3: key 'c' must be a number"), "%s", e.msg);
    CHECK_OK(yaml_as_double(yaml_map_get(r, "d"), "d", &d, &e), &e);
    CHECK(d == 7.0, "int as double");
    CHECK_OK(yaml_as_bool(yaml_map_get(r, "e"), "e", &b, &e), &e);
    CHECK(b == 1, "yes is true");
    CHECK(yaml_as_bool(yaml_map_get(r, "c"), "c", &b, &e) == -1 && contains(e.msg, "c.yaml:3: key 'c' must be true or false"), "%s", e.msg);
    CHECK(yaml_as_string(yaml_map_get(r, "f"), "f", &s, &e) == -1 && !strcmp(e.msg, "c.yaml:6: key 'f' must be a string"), "%s", e.msg);
    CHECK_OK(yaml_as_double(yaml_map_get(r, "g"), "g", &d, &e), &e);
    CHECK(isinf(d) && d < 0, "-.inf");
    CHECK(yaml_as_int(yaml_map_get(r, "h"), "h", &v, &e) == -1, "hex is not accepted as an integer");
    CHECK(yaml_as_int(NULL, "k", &v, &e) == -1 && contains(e.msg, "'k' is missing"), "%s", e.msg);
    yaml_doc_free(&doc);
}

static void test_unused(void) {
    YamlDoc doc;
    Err e = {{0}};
    CHECK_OK(yaml_load_string(&doc, "model:\n  head:\n    dropout: 0.5\n    dropot: 0.1\nother: 1\n", "u.yaml", &e), &e);
    YamlNode *r = doc.root;
    yaml_path_get(r, "model.head.dropout");
    CHECK(yaml_check_unused(r, "u.yaml", "", &e) == -1 && !strcmp(e.msg, "u.yaml:4: unknown key 'model.head.dropot'"), "%s", e.msg);
    yaml_path_get(r, "model.head.dropot");
    CHECK(yaml_check_unused(r, "u.yaml", "", &e) == -1 && !strcmp(e.msg, "u.yaml:5: unknown key 'other'"), "%s", e.msg);
    yaml_map_get(r, "other");
    CHECK_OK(yaml_check_unused(r, "u.yaml", "", &e), &e);
    /* A clone starts with no marks. */
    YamlNode *c = yaml_clone(r);
    CHECK(yaml_check_unused(c, "u.yaml", "", &e) == -1 && !strcmp(e.msg, "u.yaml:1: unknown key 'model'"), "%s", e.msg);
    yaml_mark_used(c);
    CHECK_OK(yaml_check_unused(c, "u.yaml", "", &e), &e);
    yaml_free(c);
    yaml_doc_free(&doc);
}

static void test_errors(void) {
    YamlDoc doc;
    Err e = {{0}};
    CHECK(yaml_load_string(&doc, "a: 1\nb: [1, 2\nc: 3\n", "s.yaml", &e) == -1 && contains(e.msg, "s.yaml:") &&
          contains(e.msg, "YAML syntax error"), "unclosed flow: %s", e.msg);
    CHECK(yaml_load_string(&doc, "a:\n  b: 1\n c: 2\n", "s.yaml", &e) == -1 && contains(e.msg, "s.yaml:3:"), "bad indent: %s", e.msg);
    CHECK(yaml_load_string(&doc, "a: 1\nb:\n  x: 1\n  x: 2\n", "d.yaml", &e) == -1 &&
          !strcmp(e.msg, "d.yaml:4: duplicate key 'b.x' (first at line 3)"), "dup: %s", e.msg);
    CHECK(yaml_load_string(&doc, "a: {x: 1, x: 2}\n", "d.yaml", &e) == -1 && contains(e.msg, "d.yaml:1: duplicate key 'a.x'"), "%s", e.msg);
    CHECK(yaml_load_string(&doc, "a: &x 1\nb: *x\n", "al.yaml", &e) == -1 && contains(e.msg, "al.yaml:2:"), "alias: %s", e.msg);
    CHECK(yaml_load_string(&doc, "a: 1\n---\nb: 2\n", "m.yaml", &e) == -1 && contains(e.msg, "m.yaml:2: more than one"), "%s", e.msg);
    CHECK(yaml_load_file(&doc, "/nonexistent/x.yaml", &e) == -1 && contains(e.msg, "/nonexistent/x.yaml"), "%s", e.msg);
    /* A byte that is not UTF-8, at its own line and column (libyaml says only the offset). */
    CHECK(yaml_load_string(&doc, "a: 1\nb: caf\xc3\xa9\nc: \"x\xff\"\n", "u.yaml", &e) == -1 &&
          contains(e.msg, "u.yaml:3:6: not UTF-8 text: byte 0xff"), "bad leading byte: %s", e.msg);
    CHECK(yaml_load_string(&doc, "a: 1\n\n  b: h\xe9" "ad\n", "u.yaml", &e) == -1 && contains(e.msg, "u.yaml:3:7: not UTF-8 text: byte 0xe9"),
          "latin-1 letter: %s", e.msg);
    CHECK_OK(yaml_load_string(&doc, "", "empty.yaml", &e), &e);
    CHECK(doc.root && doc.root->kind == YAML_MAP && doc.root->n == 0, "empty file is an empty map");
    yaml_doc_free(&doc);
}

static void test_path_set(void) {
    Err e = {{0}};
    YamlNode *r = yaml_new_map();
    CHECK_OK(yaml_path_set(r, "model.head.dropout", yaml_new_double(0.25), &e), &e);
    CHECK_OK(yaml_path_set(r, "model.head.dropout", yaml_new_double(0.5), &e), &e);
    CHECK_OK(yaml_path_set(r, "model.backbone", yaml_new_string("resnet50"), &e), &e);
    YamlNode *head = yaml_path_peek(r, "model.head");
    CHECK(head && head->n == 1 && !strcmp(head->items[0]->scalar, "0.5"), "replaced in place");
    CHECK(yaml_path_set(r, "model.backbone.depth", yaml_new_int(3), &e) == -1 &&
          contains(e.msg, "cannot set 'model.backbone.depth': 'model.backbone' is not a mapping"), "%s", e.msg);
    char buf[40];
    CHECK(!strcmp(yaml_format_double(buf, sizeof buf, 0.1), "0.1"), "0.1 -> %s", buf);
    CHECK(!strcmp(yaml_format_double(buf, sizeof buf, 100), "100.0"), "100 -> %s", buf);
    CHECK(strtod(yaml_format_double(buf, sizeof buf, 1.0 / 3), NULL) == 1.0 / 3, "1/3 exact: %s", buf);
    CHECK(!strcmp(yaml_format_double(buf, sizeof buf, 5e-4), "0.0005"), "5e-4 -> %s", buf);
    CHECK(!strcmp(yaml_format_double(buf, sizeof buf, 1e-7), "1.0e-07"), "1e-7 -> %s", buf);
    CHECK(!strcmp(yaml_format_double(buf, sizeof buf, -2.5e-300), "-2.5e-300"), "-2.5e-300 -> %s", buf);
    CHECK(!strcmp(yaml_format_double(buf, sizeof buf, 1e20), "1.0e+20"), "1e20 -> %s", buf);
    yaml_free(r);
}

/* Scalars that need quoting, nested blocks, empty containers and nulls survive emit -> load. */
/* Same reading: a number, a boolean, null or a string alike (the quoted flag itself may differ). */
static int same_type(const YamlNode *a, const YamlNode *b) {
    double d;
    int t;
    return (yaml_as_double(a, "", &d, NULL) == yaml_as_double(b, "", &d, NULL)) &&
           (yaml_as_bool(a, "", &t, NULL) == yaml_as_bool(b, "", &t, NULL)) && yaml_is_null(a) == yaml_is_null(b);
}

static int trees_equal(const YamlNode *a, const YamlNode *b) {
    if (a->kind != b->kind || a->n != b->n) return 0;
    if (a->kind == YAML_SCALAR) return !strcmp(a->scalar, b->scalar) && same_type(a, b);
    for (size_t i = 0; i < a->n; i++) {
        if (a->kind == YAML_MAP && strcmp(a->keys[i], b->keys[i])) return 0;
        if (!trees_equal(a->items[i], b->items[i])) return 0;
    }
    return 1;
}

static void test_emit_round_trip(void) {
    Err e = {{0}};
    char dir[] = "/tmp/test_yaml_tree.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    YamlNode *r = yaml_new_map();
    const char *strings[] = {"", "42", "1e-3", "true", "no", "null", "~", "a: b", "x #y", "-", "- z", "[1]", "{a}",
                             "'q'", "\"dq\"", " lead", "trail ", "tab\there", "line\nbreak", "back\\slash", "random:42",
                             ".inf", "0x1F", "*star", "&amp", "!bang", "%pct", "@at", "`tick", "...", "---", "plain words",
                             /* characters readers fold or refuse unless escaped: NEL, C1, U+2028/9, BOM, U+FFFF */
                             "nel\xc2\x85here", "c1\xc2\x80", "ls\xe2\x80\xa8ps\xe2\x80\xa9", "bom\xef\xbb\xbf",
                             "nonchar\xef\xbf\xbf", "caf\xc3\xa9 \xe2\x82\xac", NULL};
    YamlNode *strs = yaml_new_seq();
    for (int i = 0; strings[i]; i++) yaml_seq_push(strs, yaml_new_string(strings[i]), &e);
    CHECK_OK(yaml_map_set(r, "strings", strs, &e), &e);
    CHECK_OK(yaml_path_set(r, "numbers.pi", yaml_new_double(3.141592653589793), &e), &e);
    CHECK_OK(yaml_path_set(r, "numbers.tiny", yaml_new_double(1e-300), &e), &e);
    CHECK_OK(yaml_path_set(r, "numbers.big", yaml_new_int(-9000000000L), &e), &e);
    CHECK_OK(yaml_path_set(r, "flags.on", yaml_new_bool(1), &e), &e);
    CHECK_OK(yaml_path_set(r, "weird key: yes", yaml_new_scalar("v"), &e), &e);
    CHECK_OK(yaml_map_set(r, "nothing", yaml_new_scalar(""), &e), &e);
    CHECK_OK(yaml_map_set(r, "emptymap", yaml_new_map(), &e), &e);
    CHECK_OK(yaml_map_set(r, "emptyseq", yaml_new_seq(), &e), &e);
    YamlNode *nested = yaml_new_seq(), *inner = yaml_new_seq(), *m = yaml_new_map();
    yaml_seq_push(inner, yaml_new_int(1), &e);
    yaml_seq_push(inner, yaml_new_int(2), &e);
    yaml_seq_push(nested, inner, &e);
    yaml_map_set(m, "k", yaml_new_string("v"), &e);
    yaml_map_set(m, "list", yaml_new_seq(), &e);
    yaml_seq_push(yaml_map_peek(m, "list"), yaml_new_scalar("x"), &e);
    yaml_seq_push(nested, m, &e);
    yaml_seq_push(nested, yaml_new_scalar(""), &e);
    CHECK_OK(yaml_map_set(r, "nested", nested, &e), &e);

    char path[256];
    snprintf(path, sizeof path, "%s/out.yaml", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "open %s", path);
    CHECK_OK(yaml_emit_file(r, f, &e), &e);
    fclose(f);
    YamlDoc doc;
    CHECK_OK(yaml_load_file(&doc, path, &e), &e);
    CHECK(doc.root && trees_equal(r, doc.root), "emit -> load gives the same tree");
    YamlNode *back = yaml_map_peek(doc.root, "strings");
    for (size_t i = 0; back && i < back->n; i++)
        CHECK(!strcmp(back->items[i]->scalar, strings[i]) && same_type(strs->items[i], back->items[i]), "string %zu '%s' -> '%s'", i,
              strings[i], back->items[i]->scalar);
    CHECK(back && back->n == strs->n, "all strings back");
    double d = 0;
    CHECK_OK(yaml_as_double(yaml_path_peek(doc.root, "numbers.pi"), "pi", &d, &e), &e);
    CHECK(d == 3.141592653589793, "pi exact");
    CHECK(yaml_is_null(yaml_map_peek(doc.root, "nothing")), "null stays null");
    yaml_doc_free(&doc);
    yaml_free(r);
    unlink(path);
    rmdir(dir);
}

/* A NUL byte in a file is an error naming the file, not a silent end of the document
 * (the text after it was ignored: "a: 1<NUL>b: [" loaded as "a: 1"). */
static void test_nul_byte(void) {
    char path[] = "/tmp/tl-yaml-nul-XXXXXX";
    int fd = mkstemp(path);
    static const char text[] = "train: {epochs: 2}\n\0model: [unclosed\n";
    CHECK(fd >= 0 && write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1), "write %s", path);
    if (fd >= 0) close(fd);
    YamlDoc doc;
    Err e = {{0}};
    CHECK(yaml_load_file(&doc, path, &e) == -1 && contains(e.msg, path), "NUL byte: %s", e.msg);
    unlink(path);
}

int main(void) {
    test_parse_and_lines();
    test_nul_byte();
    test_conversions();
    test_unused();
    test_errors();
    test_path_set();
    test_emit_round_trip();
    return TEST_END();
}
