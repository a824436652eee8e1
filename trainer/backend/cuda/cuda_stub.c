/* The CUDA backend's entry points for builds without CUDA (CMake drops this file and
 * compiles cuda_backend.cu instead when the CUDA toolkit and cuDNN are found). */
#include "backend/backend.h"

int backend_cuda_create(Backend **out, int device, Precision precision, Err *e) {
    (void)device;
    (void)precision;
    *out = NULL;
    return err_fail(e, "CUDA backend: this program was built without CUDA "
                       "(reconfigure with -DTL_CUDA=ON on a machine with the CUDA toolkit and cuDNN)");
}

int backend_cuda_compiled(void) { return 0; }

int backend_cuda_device_count(void) { return 0; }
