/* oneDNN helpers shared by the CPU backends (cpu_onednn.h). */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_onednn.h"

const char *backend_cpu_isa(void) {
    /* Most capable first: each ISA's bits include those of the ones it extends. */
    static const struct { dnnl_cpu_isa_t isa; const char *name; } isas[] = {
        {dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"}, {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"},
        {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"}, {dnnl_cpu_isa_avx512_core, "avx512_core"},
        {dnnl_cpu_isa_avx2_vnni, "avx2_vnni"}, {dnnl_cpu_isa_avx2, "avx2"}, {dnnl_cpu_isa_avx, "avx"},
        {dnnl_cpu_isa_sse41, "sse41"}};
    unsigned have = (unsigned)dnnl_get_effective_cpu_isa();
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++)
        if ((have & (unsigned)isas[i].isa) == (unsigned)isas[i].isa) return isas[i].name;
    return "generic";
}

int backend_cpu_has_bf16(void) {
    unsigned want = (unsigned)dnnl_cpu_isa_avx512_core_bf16;   /* AMX's bits include these */
    return ((unsigned)dnnl_get_effective_cpu_isa() & want) == want;
}

int backend_cpu_bf16_check(Err *e) {
    if (backend_cpu_has_bf16()) return 0;
    const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
    return err_fail(e, "this CPU has neither AMX nor AVX-512 BF16 (oneDNN's instruction set: %s%s%s), so bf16 would be "
                       "emulated, slower than fp32: use fp32 on this machine", backend_cpu_isa(),
                    cap ? ", capped by ONEDNN_MAX_CPU_ISA=" : "", cap ? cap : "");
}

void cpu_note_kernel(char *kernels, size_t n, const_dnnl_primitive_desc_t pd) {
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl) return;
    size_t len = strlen(kernels), add = strlen(impl);
    for (const char *p = strstr(kernels, impl); p; p = strstr(p + 1, impl))
        if ((p == kernels || p[-1] == ' ') && (p[add] == ' ' || p[add] == 0)) return;
    if (len + add + 2 > n) return;
    if (len) kernels[len++] = ' ';
    memcpy(kernels + len, impl, add + 1);
}

/* d's epilogue as post-ops: the residual sum (into dst, which holds the residual) then ReLU,
 * each when d asks for it. *attr is new; the caller destroys it. */
static int epilogue_attr(const ConvDesc *d, dnnl_primitive_attr_t *attr, Err *e) {
    dnnl_post_ops_t po;
    DNNL_CHECK(e, dnnl_primitive_attr_create(attr));
    DNNL_CHECK(e, dnnl_post_ops_create(&po));
    if (d->has_residual) DNNL_CHECK(e, dnnl_post_ops_append_sum(po, 1.0f));
    if (d->relu) DNNL_CHECK(e, dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
    DNNL_CHECK(e, dnnl_primitive_attr_set_post_ops(*attr, po));
    DNNL_CHECK(e, dnnl_post_ops_destroy(po));
    return 0;
}

int cpu_conv_inference_pd(dnnl_engine_t engine, const ConvDesc *d, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
                          dnnl_data_type_t weights_type, dnnl_primitive_desc_t *pd, Err *e) {
    dnnl_memory_desc_t w_any, b_md;
    dnnl_dims_t wdims = {d->cout, d->cin, d->kh, d->kw}, bdims = {d->cout};
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&w_any, 4, wdims, weights_type, dnnl_format_tag_any));
    DNNL_CHECK(e, dnnl_memory_desc_init_by_tag(&b_md, 1, bdims, dnnl_f32, dnnl_x));
    dnnl_dims_t strides = {d->stride, d->stride}, pl = {d->pad_top, d->pad_left}, pr = {d->pad_bottom, d->pad_right};
    dnnl_convolution_desc_t cd;
    DNNL_CHECK(e, dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, src, &w_any, &b_md, dst,
                                                     strides, pl, pr));
    dnnl_primitive_attr_t attr;
    if (epilogue_attr(d, &attr, e)) return -1;
    dnnl_status_t st = dnnl_primitive_desc_create(pd, &cd, attr, engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success)
        return err_fail(e, "%s:%d: dnnl_primitive_desc_create(convolution) failed: %s", __FILE__, __LINE__, dnnl_status_name(st));
    return 0;
}
