/* oneDNN helpers shared by the float32 and bfloat16 CPU backends (and the benchmarks and
 * logs): what oneDNN runs on this CPU (its instruction set, whether it has bfloat16 units:
 * AMX or AVX-512 BF16), which implementation each planned primitive got, and the fused
 * epilogue of the backbone's convolutions. */
#ifndef TL_CPU_ONEDNN_H
#define TL_CPU_ONEDNN_H

#include <stddef.h>

#include "backend/backend.h"
#include "backend/dnnl_check.h"

/* oneDNN's effective ISA (the best the CPU has, capped by ONEDNN_MAX_CPU_ISA), e.g.
 * "avx512_core_amx", "avx512_core_bf16", "avx512_core", "avx2". */
const char *cpu_isa_name(void);
/* 1 when oneDNN may use bfloat16 units: AMX (Sapphire Rapids and later) or AVX-512 BF16
 * (Zen 4, Cooper Lake and later). Without them oneDNN would emulate bf16, slower than fp32.
 * Test hook: ONEDNN_MAX_CPU_ISA=AVX512_CORE (oneDNN's own setting) makes a bf16 CPU look
 * like one without, as it also stops oneDNN from using the units. */
int cpu_has_bf16(void);
/* Fails with "this CPU has neither AMX nor AVX-512 BF16 (oneDNN ISA ...)" when !cpu_has_bf16(). */
int cpu_bf16_check(Err *e);
/* Appends pd's implementation name (e.g. "brgconv:avx512_core_bf16") to the space
 * separated list `kernels` (n bytes) unless it is there already or does not fit. */
void cpu_note_kernel(char *kernels, size_t n, const_dnnl_primitive_desc_t pd);
/* *attr (new, the caller destroys it): d's epilogue as post-ops, the residual sum (into
 * dst, which holds the residual) then ReLU, each when d asks for it. */
int cpu_conv_epilogue_attr(const ConvDesc *d, dnnl_primitive_attr_t *attr, Err *e);

#endif
