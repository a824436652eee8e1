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

const char *const DEVICE_NAMES[N_DEVICES] = {"auto", "cpu", "cuda"};
const char *const PRECISION_NAMES[N_PRECISIONS] = {"fp32", "tf32", "fp16", "bf16"};

int backend_name_index(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}

int backend_device_parse(const char *name, BackendDevice *out, Err *e) {
    int i = backend_name_index(DEVICE_NAMES, N_DEVICES, name);
    if (i < 0) return err_fail(e, "unknown device '%s' (expected auto, cpu or cuda)", name);
    *out = (BackendDevice)i;
    return 0;
}

int backend_precision_parse(const char *name, Precision *out, Err *e) {
    int i = backend_name_index(PRECISION_NAMES, N_PRECISIONS, name);
    if (i < 0) return err_fail(e, "unknown precision '%s' (fp32, tf32, fp16 or bf16)", name);
    *out = (Precision)i;
    return 0;
}

int backend_open(Backend **out, BackendDevice device, int gpu_index, Precision precision, int threads, Err *e) {
    switch (device) {
    case DEVICE_CPU: return backend_cpu_create(out, threads, e);
    case DEVICE_CUDA: return backend_cuda_create(out, gpu_index, precision, e);
    case DEVICE_AUTO:
        if (backend_cuda_device_count() > 0) return backend_cuda_create(out, gpu_index, precision, e);
        return backend_cpu_create(out, threads, e);
    default: break;
    }
    return err_fail(e, "unknown device %d (expected auto, cpu or cuda)", (int)device);
}

void backend_destroy(Backend *b) {
    if (b) b->ops->destroy(b);
}

int backend_has(const Backend *b, unsigned caps) { return (b->caps & caps) == caps; }
