/* safetensors checkpoints: bit-exact round trip with metadata, reader errors that name
 * the tensor, truncated files, headers that lie about offsets, and a cross-check with
 * Python (json + numpy reading our file by the safetensors format, and writing one we read; the
 * safetensors package too when /usr/bin/python3 has it). */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "train/checkpoint.h"

static char dir[] = "/tmp/test_checkpoint.XXXXXX";
static const char *NOTE = "quote\" back\\slash\nnew\ttab\x01 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static size_t files_in_dir(void) {
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *de; d && (de = readdir(d));) n += de->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

/* w[i] = i/4 - 1 (exact in float and in Python). */
static void fill_w(float *w, int n) {
    for (int i = 0; i < n; i++) w[i] = (float)i * 0.25f - 1.0f;
}

static void write_sample(const char *path) {
    Err e = {{0}};
    Checkpoint ck;
    float w[6], special[4] = {-0.0f, 1e-45f, 3.4e38f, -1.5f};
    uint32_t rng[4] = {0, 1, 0xdeadbeefu, 0xffffffffu};
    int64_t shape_w[2] = {2, 3}, shape4[1] = {4}, shape0[1] = {0};
    fill_w(w, 6);
    ckpt_init(&ck);
    CHECK_OK(ckpt_set_meta(&ck, "format", "tl-1", &e), &e);
    CHECK_OK(ckpt_set_meta(&ck, "note", "replaced below", &e), &e);
    CHECK_OK(ckpt_set_meta(&ck, "note", NOTE, &e), &e);
    CHECK_OK(ckpt_add_f32(&ck, "head.dense1.kernel", w, 2, shape_w, &e), &e);
    CHECK_OK(ckpt_add_f32(&ck, "special", special, 1, shape4, &e), &e);
    CHECK_OK(ckpt_add_u32(&ck, "rng", rng, 1, shape4, &e), &e);
    CHECK_OK(ckpt_add_f32(&ck, "empty", NULL, 1, shape0, &e), &e);
    CHECK_OK(ckpt_add_scalar_i64(&ck, "step", -1234567890123LL, &e), &e);
    CHECK_OK(ckpt_add_scalar_f64(&ck, "best", 0.1 + 0.2, &e), &e);
    CHECK(ckpt_add_f32(&ck, "rng", w, 1, shape4, &e) == -1 && contains(e.msg, "'rng' added twice"), "%s", e.msg);
    CHECK(ckpt_add_f32(&ck, "__metadata__", w, 1, shape4, &e) == -1, "reserved name");
    int64_t neg[1] = {-2}, nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(ckpt_add_f32(&ck, "neg", w, 1, neg, &e) == -1 && contains(e.msg, "'neg'"), "%s", e.msg);
    CHECK(ckpt_add_f32(&ck, "nine", w, 9, nine, &e) == -1 && contains(e.msg, "'nine' has 9 dimensions"), "%s", e.msg);
    CHECK_OK(ckpt_write_atomic(&ck, path, &e), &e);
    ckpt_free(&ck);
}

static void test_round_trip(void) {
    char path[256];
    Err e = {{0}};
    path_in(path, sizeof path, "sample.safetensors");
    write_sample(path);
    CHECK(files_in_dir() == 1, "no temp file left (%zu files)", files_in_dir());
    FILE *f = fopen(path, "rb");
    unsigned char len8[8] = {0};
    CHECK(f && fread(len8, 1, 8, f) == 8, "read length");
    if (f) fclose(f);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | len8[i];
    CHECK((8 + n) % 8 == 0, "data starts 8-aligned (header %llu)", (unsigned long long)n);

    CkptReader r;
    CHECK_OK(ckpt_open(path, &r, &e), &e);
    float w[6], want[6], special[4], want_special[4] = {-0.0f, 1e-45f, 3.4e38f, -1.5f};
    uint32_t rng[4], want_rng[4] = {0, 1, 0xdeadbeefu, 0xffffffffu};
    int64_t step = 0;
    double best = 0;
    fill_w(want, 6);
    CHECK_OK(ckpt_get_f32(&r, "head.dense1.kernel", w, 6, &e), &e);
    CHECK(!memcmp(w, want, sizeof w), "kernel bit-exact");
    CHECK_OK(ckpt_get_f32(&r, "special", special, 4, &e), &e);
    CHECK(!memcmp(special, want_special, sizeof special), "-0, denormal, large bit-exact");
    CHECK_OK(ckpt_get_u32(&r, "rng", rng, 4, &e), &e);
    CHECK(!memcmp(rng, want_rng, sizeof rng), "rng state");
    CHECK_OK(ckpt_get_i64(&r, "step", &step, 1, &e), &e);
    CHECK(step == -1234567890123LL, "step %lld", (long long)step);
    CHECK_OK(ckpt_get_f64(&r, "best", &best, 1, &e), &e);
    CHECK(best == 0.1 + 0.2, "best exact");
    CHECK_OK(ckpt_get_f32(&r, "empty", NULL, 0, &e), &e);
    const CkptTensor *t = ckpt_find(&r, "head.dense1.kernel");
    CHECK(t && t->dtype == CKPT_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && ckpt_numel(t) == 6, "shape");
    t = ckpt_find(&r, "step");
    CHECK(t && t->ndim == 0 && ckpt_numel(t) == 1, "scalar shape []");
    CHECK(r.n_tensors == 6, "6 tensors (%zu)", r.n_tensors);
    CHECK(ckpt_meta(&r, "note") && !strcmp(ckpt_meta(&r, "note"), NOTE), "metadata with escapes and UTF-8");
    CHECK(ckpt_meta(&r, "format") && !strcmp(ckpt_meta(&r, "format"), "tl-1") && !ckpt_meta(&r, "nope"), "metadata");

    CHECK(ckpt_get_f32(&r, "nope", w, 6, &e) == -1 && contains(e.msg, "tensor 'nope' is missing") && contains(e.msg, path), "%s", e.msg);
    CHECK(ckpt_get_f32(&r, "step", w, 1, &e) == -1 && contains(e.msg, "tensor 'step' is I64 [], expected F32"), "%s", e.msg);
    CHECK(ckpt_get_f32(&r, "head.dense1.kernel", w, 5, &e) == -1 &&
          contains(e.msg, "tensor 'head.dense1.kernel' has 6 elements (shape [2, 3]), expected 5"), "%s", e.msg);
    ckpt_close(&r);
}

static void copy_prefix(const char *src, const char *dst, long keep) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    for (long i = 0; in && out && i < keep; i++) {
        int c = fgetc(in);
        if (c == EOF) break;
        fputc(c, out);
    }
    if (in) fclose(in);
    if (out) fclose(out);
}

static void test_truncated(void) {
    char src[256], dst[256];
    Err e = {{0}};
    CkptReader r;
    path_in(src, sizeof src, "sample.safetensors");
    path_in(dst, sizeof dst, "cut.safetensors");
    FILE *f = fopen(src, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    copy_prefix(src, dst, size - 4);
    CHECK(ckpt_open(dst, &r, &e) == -1 && contains(e.msg, "truncated"), "4 bytes short: %s", e.msg);
    copy_prefix(src, dst, 5);
    CHECK(ckpt_open(dst, &r, &e) == -1 && contains(e.msg, "not a safetensors file"), "5 bytes: %s", e.msg);
    copy_prefix(src, dst, 60);
    CHECK(ckpt_open(dst, &r, &e) == -1 && contains(e.msg, "header length") && contains(e.msg, "60-byte file"), "cut header: %s", e.msg);
    CHECK(ckpt_open("/nonexistent/x.safetensors", &r, &e) == -1 && contains(e.msg, "cannot open"), "%s", e.msg);
}

/* Writes a file with this header text (padded) and `data_bytes` bytes of data; returns open's status. */
static int open_raw(const char *header, size_t data_bytes, Err *e) {
    char path[256];
    path_in(path, sizeof path, "raw.safetensors");
    FILE *f = fopen(path, "wb");
    size_t n = strlen(header), padded = n + (8 - (8 + n) % 8) % 8;
    for (int i = 0; i < 8; i++) fputc((int)((padded >> (8 * i)) & 0xff), f);
    fputs(header, f);
    for (size_t i = n; i < padded; i++) fputc(' ', f);
    for (size_t i = 0; i < data_bytes; i++) fputc((int)i, f);
    fclose(f);
    CkptReader r;
    int rc = ckpt_open(path, &r, e);
    if (!rc) ckpt_close(&r);
    return rc;
}

static void expect_bad(const char *header, size_t data_bytes, const char *want) {
    Err e = {{0}};
    int rc = open_raw(header, data_bytes, &e);
    CHECK(rc == -1 && contains(e.msg, want), "%s\n  want: %s\n  got:  %s", header, want, rc ? e.msg : "(opened)");
}

static void test_bad_headers(void) {
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "'a': data_offsets end 16 is past the 8 data bytes");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "'a': data_offsets [0, 8] do not fit F32 [3] (12 bytes)");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "'a': data_offsets [8, 0]");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, "tensors 'a' and 'b' overlap");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16, "8 bytes after the last tensor");
    expect_bad("{\"a\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "tensor 'a': unknown dtype 'F8'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "expected a non-negative integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "expected an integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "'a': header entry lacks dtype, shape or data_offsets");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "data_offsets needs 2 numbers");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               8, "duplicate object key near '\"a\"'");
    expect_bad("{\"a\":{\"dtype\":\"F32}", 8, "safetensors header: premature end of input");
    expect_bad("{\"a\":{\"dtype\":\"F32\" \"shape\":[2]}}", 8, "safetensors header: '}' expected");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", 8, "end of file expected near 'x'");
    expect_bad("{\"__metadata__\":{\"k\":5}}", 0, "expected a string");
    expect_bad("{\"a\":{\"dtype\":\"F\\u00\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "invalid escape");
    expect_bad("[1, 2]", 0, "expected '{'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,8]}}", 8, "too big integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8, "do not fit");
    /* Accepted: whitespace, escapes, unknown keys with any JSON inside, an empty header. */
    Err e = {{0}};
    CHECK_OK(open_raw("{ \"__metadata__\" : { \"format\" : \"pt\" } ,\n \"x\\u00e9\\ud83d\\ude00\" : {\"dtype\":\"U32\", \"shape\":[1],"
                      " \"data_offsets\":[0,4], \"extra\": {\"a\": [1, -2.5e3, true, null, false, \"s\"]}} }", 4, &e), &e);
    CHECK_OK(open_raw("{}", 0, &e), &e);
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate object key near '\"__metadata__\"'");
    expect_bad("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unable to decode byte 0xff");
    expect_bad("{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, "\\u0000 is not allowed");
}

/* The header text itself: compact JSON, metadata first, tensors in the order added, padded
 * with spaces to a multiple of 8 (what safetensors readers in other languages see). */
static void test_header_layout(void) {
    char path[256];
    Err e = {{0}};
    Checkpoint ck;
    float w[6] = {0};
    int64_t shape[2] = {2, 3};
    path_in(path, sizeof path, "layout.safetensors");
    ckpt_init(&ck);
    CHECK_OK(ckpt_set_meta(&ck, "format", "tl \"1\" caf\xc3\xa9/x", &e), &e);
    CHECK_OK(ckpt_add_f32(&ck, "w", w, 2, shape, &e), &e);
    CHECK_OK(ckpt_add_scalar_i64(&ck, "step", 3, &e), &e);
    CHECK_OK(ckpt_write_atomic(&ck, path, &e), &e);
    ckpt_free(&ck);
    static const char want[] = "{\"__metadata__\":{\"format\":\"tl \\\"1\\\" caf\xc3\xa9/x\"},"
                               "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                               "\"step\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]}}";
    char got[256] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(got, 1, sizeof got - 1, f) : 0;
    if (f) fclose(f);
    size_t len = strlen(want), padded = len + (8 - (8 + len) % 8) % 8;
    CHECK(n == 8 + padded + 32 && (unsigned char)got[0] == padded && !memcmp(got + 8, want, len), "header text:\n  want %s\n  got  %.*s",
          want, (int)(n > 8 ? n - 8 : 0), got + 8);
    for (size_t i = len; i < padded && n >= 8 + padded; i++) CHECK(got[8 + i] == ' ', "padding byte %zu", i);

    /* safetensors headers are UTF-8 JSON: a value that is not UTF-8 is refused, nothing written. */
    char bad[256];
    path_in(bad, sizeof bad, "bad_utf8.safetensors");
    ckpt_init(&ck);
    CHECK_OK(ckpt_set_meta(&ck, "classes", "ok\nnot \xff utf-8", &e), &e);
    CHECK(ckpt_write_atomic(&ck, bad, &e) == -1 && contains(e.msg, "metadata 'classes' is not UTF-8 text") && contains(e.msg, bad),
          "%s", e.msg);
    CHECK(access(bad, F_OK) != 0, "no file after a refused header");
    ckpt_free(&ck);
}

/* Python reads our sample by the safetensors format (json + numpy) and writes py.safetensors for us. */
static const char *PY_SCRIPT =
    "import json, struct, sys\n"
    "import numpy as np\n"
    "path, out = sys.argv[1], sys.argv[2]\n"
    "note = open(sys.argv[3], 'rb').read().decode('utf-8')\n"
    "raw = open(path, 'rb').read()\n"
    "n = struct.unpack('<Q', raw[:8])[0]\n"
    "hdr = json.loads(raw[8:8 + n].decode('utf-8'))\n"
    "data = raw[8 + n:]\n"
    "def get(name):\n"
    "    t = hdr[name]; b, e = t['data_offsets']\n"
    "    dt = {'F32': '<f4', 'U32': '<u4', 'I64': '<i8', 'F64': '<f8'}[t['dtype']]\n"
    "    return np.frombuffer(data[b:e], dtype=dt).reshape(t['shape'])\n"
    "w = get('head.dense1.kernel')\n"
    "assert w.shape == (2, 3) and (w.ravel() == np.arange(6, dtype=np.float32) * 0.25 - 1).all(), w\n"
    "assert get('step') == -1234567890123 and get('best') == 0.1 + 0.2\n"
    "assert list(get('rng')) == [0, 1, 0xdeadbeef, 0xffffffff]\n"
    "assert hdr['__metadata__']['note'] == note, hdr['__metadata__']\n"
    "try:\n"
    "    from safetensors.numpy import load_file, save_file\n"
    "    st = load_file(path)\n"
    "    assert (st['head.dense1.kernel'] == w).all() and st['step'] == -1234567890123\n"
    "    print('safetensors package: read ok')\n"
    "except ImportError:\n"
    "    print('safetensors package: not installed, spec check only')\n"
    "p = np.array([1.5, -2, 3], dtype='<f4'); q = np.array([[1, -2], [3, 4]], dtype='<i8')\n"
    "header = {'__metadata__': {'k': 'v\\u00e9'}, 'q': {'dtype': 'I64', 'shape': [2, 2], 'data_offsets': [0, 32]},\n"
    "          'p': {'dtype': 'F32', 'shape': [3], 'data_offsets': [32, 44]}}\n"
    "h = json.dumps(header).encode()\n"
    "h += b' ' * ((8 - (8 + len(h)) % 8) % 8)\n"
    "open(out, 'wb').write(struct.pack('<Q', len(h)) + h + q.tobytes() + p.tobytes())\n";

static void test_python(void) {
    if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
        printf("python3 with numpy not available: cross-check skipped\n");
        return;
    }
    char script[256], sample[256], out[256], note[256], cmd[1200];
    path_in(script, sizeof script, "check.py");
    path_in(sample, sizeof sample, "sample.safetensors");
    path_in(out, sizeof out, "py.safetensors");
    path_in(note, sizeof note, "note.txt");
    FILE *f = fopen(script, "w");
    fputs(PY_SCRIPT, f);
    fclose(f);
    f = fopen(note, "wb");
    fputs(NOTE, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s' '%s'", script, sample, out, note);
    CHECK(system(cmd) == 0, "python reads our file (%s)", cmd);
    Err e = {{0}};
    CkptReader r;
    CHECK_OK(ckpt_open(out, &r, &e), &e);
    float p[3];
    int64_t q[4];
    CHECK_OK(ckpt_get_f32(&r, "p", p, 3, &e), &e);
    CHECK_OK(ckpt_get_i64(&r, "q", q, 4, &e), &e);
    CHECK(p[0] == 1.5f && p[1] == -2 && p[2] == 3 && q[0] == 1 && q[1] == -2 && q[3] == 4, "values from python");
    CHECK(ckpt_meta(&r, "k") && !strcmp(ckpt_meta(&r, "k"), "v\xc3\xa9"), "\\u00e9 decoded");
    ckpt_close(&r);
}

int main(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_round_trip();
    test_truncated();
    test_bad_headers();
    test_header_layout();
    test_python();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_END();
}
