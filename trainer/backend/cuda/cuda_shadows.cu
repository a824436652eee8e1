/* The CUDA backend's half copies ("shadows") of float32 tensors in device memory, for
 * fp16/bf16 convolutions (cuda_backend.cu's top comment says how they are used): a table
 * per context of tensor address -> half buffer and how much of it is valid. Every op of
 * the backend that writes float32 memory (inference, training, optimizer) invalidates the
 * overlapping copies; in a file of its own so that those ops need no other op's file. */
#include <cuda_runtime.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_internal.h"

/* Float32 memory [p, p + bytes) is about to be written: its half copies go stale. */
void cuda_shadows_invalidate(CudaCtx *c, const void *p, size_t bytes) {
    for (int i = 0; i < c->n_shadows; i++) {
        Shadow *s = &c->shadows[i];
        if (s->valid && cuda_ranges_overlap(s->ptr, s->valid * sizeof(float), p, bytes)) s->valid = 0;
    }
}

/* The half copy of the float32 tensor x[0, elems), or NULL when there is none. */
const void *cuda_shadows_lookup(CudaCtx *c, const float *x, size_t elems) {
    for (int i = 0; i < c->n_shadows; i++) {
        const Shadow *s = &c->shadows[i];
        if (s->ptr == (const char *)x && s->valid >= elems) return s->half;
    }
    return NULL;
}

/* The shadow slot for the float32 tensor at y with room for elems half values (made or
 * grown as needed; the caller sets ->valid once it has queued the write). Grows only
 * when a larger tensor appears at y, so steady-state batches allocate nothing. */
int cuda_shadows_slot(CudaCtx *c, const float *y, size_t elems, Shadow **out, Err *e) {
    Shadow *s = NULL;
    for (int i = 0; i < c->n_shadows && !s; i++)
        if (c->shadows[i].ptr == (const char *)y) s = &c->shadows[i];
    if (!s) {
        if (c->n_shadows == c->cap_shadows) {
            int cap = c->cap_shadows ? 2 * c->cap_shadows : 32;
            Shadow *a = (Shadow *)realloc(c->shadows, (size_t)cap * sizeof *a);
            if (!a) return err_fail(e, "CUDA backend: out of host memory for the shadow table");
            c->shadows = a;
            c->cap_shadows = cap;
        }
        s = &c->shadows[c->n_shadows++];
        memset(s, 0, sizeof *s);
        s->ptr = (const char *)y;
    }
    if (s->cap < elems) {
        s->valid = 0;
        CUDA_CHECK(cudaFree(s->half));          /* cudaFree waits for queued work using it */
        s->half = NULL;
        s->cap = 0;
        CUDA_CHECK(cudaMalloc(&s->half, elems * 2));
        s->cap = elems;
    }
    *out = s;
    return 0;
}

/* Frees the shadows of float32 tensors inside [p, p + bytes) (memory being released). */
void cuda_shadows_drop(CudaCtx *c, const void *p, size_t bytes) {
    for (int i = 0; i < c->n_shadows;) {
        Shadow *s = &c->shadows[i];
        if ((uintptr_t)s->ptr - (uintptr_t)p < bytes) {       /* p <= s->ptr < p + bytes */
            (void)cudaFree(s->half);            /* teardown: nothing to report to */
            *s = c->shadows[--c->n_shadows];
        } else {
            i++;
        }
    }
}
