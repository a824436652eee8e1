/* DNNL_CHECK: every oneDNN call's status checked, naming the call, file and line (the CPU
 * backend's two files; dnnl_status_name is in dnnl_check.c). */
#ifndef TL_DNNL_CHECK_H
#define TL_DNNL_CHECK_H

#include <oneapi/dnnl/dnnl.h>

#include "core/error.h"

const char *dnnl_status_name(dnnl_status_t s);

#define DNNL_CHECK(e, call) do { \
    dnnl_status_t dnnl_st_ = (call); \
    if (dnnl_st_ != dnnl_success) \
        return err_fail((e), "%s:%d: %s failed: %s", __FILE__, __LINE__, #call, dnnl_status_name(dnnl_st_)); \
} while (0)

#endif
