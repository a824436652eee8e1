/* Internals shared by the bfloat16 CPU backend's inference (cpu_bf16.c) and training
 * (cpu_bf16_train.c) parts.
 *
 * The bf16 backend wraps a float32 CPU backend: memory, the plain-layout pools and every
 * training op but the convolutions are the float32 backend's; convolutions run in bf16
 * (inputs and weights rounded to bf16, float32 accumulation inside oneDNN, float32 bias).
 * Data crosses between the caller's float32 tensors and a primitive's bf16 ones through
 * ports: a oneDNN reorder into (or out of) a scratch slot of the backend, or nothing when
 * the caller's memory already is what the primitive reads. Convolutions run one at a
 * time, so the slots are shared by all of them: each grows to the largest tensor it
 * carries when a convolution is planned (never while one runs). */
#ifndef TL_CPU_BF16_H
#define TL_CPU_BF16_H

#include <stdint.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/backend_train.h"
#include "backend/cpu/dnnl_check.h"

/* Slots 0-2 for the tensors of one call, 3 for a weights port's intermediate. */
enum { BF16_SLOTS = 4, BF16_SLOT_MID = 3 };

/* What a port carries: an input, an output, or float32 weights (HWIO) for a bf16 blocked
 * layout, converted to bf16 in HWIO first (oneDNN 2.6's direct f32 -> blocked bf16
 * weights reorder runs at 3 GB/s here, the two steps 4x faster). */
typedef enum Bf16PortKind { PORT_IN, PORT_OUT, PORT_WEIGHTS } Bf16PortKind;

typedef struct Bf16Ctx {
    Backend *fp32;                   /* the float32 CPU backend this one wraps (owned) */
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_format_tag_t native;        /* the bf16 activation layout between layers */
    BackendTrainOps train;           /* fp32's training ops with bf16 convolutions */
    void *slot[BF16_SLOTS];          /* scratch for ports (see above) */
    size_t slot_bytes[BF16_SLOTS];
} Bf16Ctx;

/* One tensor between the caller's memory (user md) and a primitive's (prim md). */
typedef struct Bf16Port {
    dnnl_memory_t user, prim;        /* prim: NULL when no reorder is needed */
    dnnl_primitive_t reorder;        /* user -> prim (inputs) or prim -> user (outputs) */
    dnnl_memory_t mid;               /* PORT_WEIGHTS: bf16 in the user's layout, in BF16_SLOT_MID */
    dnnl_primitive_t to_mid;         /* user -> mid; reorder then runs mid -> prim */
    Bf16PortKind kind;
    int slot;                        /* scratch slot holding prim's data */
} Bf16Port;

/* Plans a port; PORT_OUT: the reorder runs prim -> user. Grows the slots it uses. */
int bf16_port_init(Bf16Ctx *ctx, Bf16Port *p, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want, Bf16PortKind kind,
                   int slot, Err *e);
/* Input: points the port at the caller's data, reorders it into the slot; *mem is what
 * the primitive reads. */
int bf16_port_in(Bf16Ctx *ctx, Bf16Port *p, const void *data, dnnl_memory_t *mem, Err *e);
/* Output: *mem is what the primitive writes; bf16_port_flush then moves it to `data`. */
int bf16_port_out(Bf16Ctx *ctx, Bf16Port *p, void *data, dnnl_memory_t *mem, Err *e);
int bf16_port_flush(Bf16Ctx *ctx, Bf16Port *p, Err *e);
void bf16_port_free(Bf16Port *p);

/* Runs a primitive on the backend's stream and waits. */
int bf16_execute(Bf16Ctx *ctx, dnnl_primitive_t prim, int n_args, const dnnl_exec_arg_t *args, Err *e);

/* Fills ops with the float32 CPU training ops, convolutions and native_to_nhwc replaced. */
void cpu_bf16_train_ops(BackendTrainOps *ops);

/* bfloat16 is the top half of a float32: widening is exact. */
static inline float bf16_to_f32(uint16_t v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
