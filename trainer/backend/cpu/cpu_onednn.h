/* oneDNN helpers shared by the float32 and bfloat16 CPU backends (and the benchmarks and
 * logs): what oneDNN runs on this CPU (its instruction set, whether it has bfloat16 units:
 * AMX or AVX-512 BF16), which implementation each planned primitive got, and the fused
 * epilogue of the backbone's convolutions. */
#ifndef TL_CPU_ONEDNN_H
#define TL_CPU_ONEDNN_H

#include <stddef.h>

#include "backend/backend.h"
#include "backend/cpu/dnnl_check.h"

/* Appends pd's implementation name (e.g. "brgconv:avx512_core_bf16") to the space
 * separated list `kernels` (n bytes) unless it is there already or does not fit. */
void cpu_note_kernel(char *kernels, size_t n, const_dnnl_primitive_desc_t pd);
/* *attr (new, the caller destroys it): d's epilogue as post-ops, the residual sum (into
 * dst, which holds the residual) then ReLU, each when d asks for it. */
int cpu_conv_epilogue_attr(const ConvDesc *d, dnnl_primitive_attr_t *attr, Err *e);

#endif
