/* oneDNN status names for DNNL_CHECK's messages (dnnl_check.h), shared by the CPU
 * backend's inference (cpu_backend.c) and training ops (cpu_train.c); in a file of its
 * own so that neither of the two depends on the other for it. */
#include "backend/cpu/dnnl_check.h"

const char *dnnl_status_name(dnnl_status_t s) {
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}
