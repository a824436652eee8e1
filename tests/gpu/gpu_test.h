/* Shared by the GPU tests: the skip rule (exit 77 with a clear line when this build has no
 * CUDA backend or no GPU is visible, as CI has none). */
#ifndef TL_GPU_TEST_H
#define TL_GPU_TEST_H

#include <stdio.h>

#include "backend/backend.h"

/* 1 (after printing why) when the GPU tests cannot run here. */
static inline int gpu_test_skip(void) {
    if (!backend_cuda_compiled()) {
        printf("SKIP: this build has no CUDA backend\n");
        return 1;
    }
    if (backend_cuda_device_count() == 0) {
        printf("SKIP: no CUDA device visible (backend_cuda_device_count() == 0)\n");
        return 1;
    }
    return 0;
}

#endif
