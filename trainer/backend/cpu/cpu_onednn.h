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
/* *pd (new, the caller destroys it): d as an inference convolution from src to dst, weights
 * of weights_type in the layout oneDNN prefers (format any), a float32 bias (cout), and d's
 * epilogue fused as post-ops: the residual sum (into dst, which holds the residual), then
 * ReLU, each when d asks for it. */
int cpu_conv_inference_pd(dnnl_engine_t engine, const ConvDesc *d, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
                          dnnl_data_type_t weights_type, dnnl_primitive_desc_t *pd, Err *e);

#endif
