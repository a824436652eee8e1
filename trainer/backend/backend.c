/* Backend-independent helpers: convolution shape arithmetic and device selection. */
#include <string.h>

#include "backend/backend.h"

int conv_desc_init(ConvDesc *d, Err *e) {
    if (d->n <= 0 || d->h <= 0 || d->w <= 0 || d->cin <= 0 || d->cout <= 0 || d->kh <= 0 || d->kw <= 0 || d->stride <= 0)
        return err_fail(e, "convolution: non-positive size (n=%d h=%d w=%d cin=%d cout=%d k=%dx%d s=%d)",
                        d->n, d->h, d->w, d->cin, d->cout, d->kh, d->kw, d->stride);
    d->oh = (d->h + d->pad_top + d->pad_bottom - d->kh) / d->stride + 1;
    d->ow = (d->w + d->pad_left + d->pad_right - d->kw) / d->stride + 1;
    if (d->oh <= 0 || d->ow <= 0)
        return err_fail(e, "convolution: input %dx%d too small for a %dx%d kernel", d->h, d->w, d->kh, d->kw);
    return 0;
}

double conv_desc_flops(const ConvDesc *d) {
    return 2.0 * d->n * d->oh * d->ow * d->cout * (double)d->kh * d->kw * d->cin;
}

static int open_cpu(Backend **out, const char *precision, int threads, Err *e) {
    return !strcmp(precision, "bf16") ? backend_cpu_bf16_create(out, threads, e) : backend_cpu_create(out, threads, e);
}

int backend_open(Backend **out, const char *device, int gpu_index, const char *precision, int threads, Err *e) {
    if (!strcmp(device, "cpu")) return open_cpu(out, precision, threads, e);
    if (!strcmp(device, "cuda")) return backend_cuda_create(out, gpu_index, precision, e);
    if (!strcmp(device, "auto")) {
        if (backend_cuda_device_count() > 0) return backend_cuda_create(out, gpu_index, precision, e);
        return open_cpu(out, precision, threads, e);
    }
    return err_fail(e, "unknown device '%s' (expected auto, cpu or cuda)", device);
}

void backend_destroy(Backend *b) {
    if (b) b->destroy(b);
}
