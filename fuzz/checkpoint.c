/* Fuzz target: the safetensors checkpoint reader (trainer/train/checkpoint.c). What
 * ckpt_open accepts must be readable: every tensor of a dtype the trainer reads comes
 * back through its ckpt_get_*, every metadata key through ckpt_meta. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "train/checkpoint.h"

static int read_tensor(const CkptReader *r, const CkptTensor *t, Err *e) {
    size_t count = (size_t)ckpt_numel(t);
    void *buf = malloc(count * ckpt_dtype_size(t->dtype) + 1);
    int rc = 0;
    if (!buf) fuzz_fail("out of memory for %zu elements", count);
    switch (t->dtype) {
    case CKPT_F32: rc = ckpt_get_f32(r, t->name, buf, count, e); break;
    case CKPT_F64: rc = ckpt_get_f64(r, t->name, buf, count, e); break;
    case CKPT_I64: rc = ckpt_get_i64(r, t->name, buf, count, e); break;
    case CKPT_U32: rc = ckpt_get_u32(r, t->name, buf, count, e); break;
    default: break;
    }
    free(buf);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[1024];
    CkptReader r;
    Err e = {0};
    fuzz_write(path, sizeof path, "last.safetensors", data, size);
    int rc = ckpt_open(path, &r, &e);
    fuzz_expect_named(rc, &e, path);
    if (rc) return 0;
    for (size_t i = 0; i < r.n_tensors; i++) {
        const CkptTensor *t = &r.tensors[i];
        if (ckpt_find(&r, t->name) != t) fuzz_fail("tensor '%s' is not found by name", t->name);
        if (read_tensor(&r, t, &e)) fuzz_fail("tensor '%s' was accepted by ckpt_open but does not read: %s", t->name, e.msg);
    }
    for (size_t i = 0; i < r.n_meta; i++) {
        const char *v = ckpt_meta(&r, r.meta_keys[i]);
        if (!v || strcmp(v, r.meta_values[i])) fuzz_fail("metadata '%s' does not read back", r.meta_keys[i]);
    }
    ckpt_close(&r);
    return 0;
}
