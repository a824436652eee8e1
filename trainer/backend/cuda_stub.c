/* Used when the build has no CUDA: the CUDA backend reports itself absent. */
#include "backend/backend.h"

int backend_cuda_create(Backend **out, int device, const char *precision, Err *e) {
    (void)out; (void)device; (void)precision;
    return err_fail(e, "device cuda requested, but this build has no CUDA backend (rebuild where CUDA and cuDNN are found)");
}

int backend_cuda_compiled(void) { return 0; }
int backend_cuda_device_count(void) { return 0; }
