/* Checkpoints in the safetensors format, so Python tools can open them:
 *   u64 little-endian N | N bytes of JSON header, space-padded so 8 + N is a multiple of 8 |
 *   raw little-endian tensor data.
 * Header: {"__metadata__": {"key": "value", ...},
 *          "name": {"dtype": "F32", "shape": [d0, d1], "data_offsets": [begin, end]}, ...}
 * with offsets in bytes from the start of the data section.
 *
 * Integrity: the writer puts a CRC-32 (core/checksum.h: zlib's) of the whole file first in the
 * metadata, "checksum": "crc32:xxxxxxxx", so the header begins with
 * {"__metadata__":{"checksum":"crc32: and the 8 hex digits sit at a fixed offset; the CRC is
 * computed over every byte of the file with those 8 digits as "00000000". ckpt_open
 * verifies it: a flipped bit anywhere (length, header, data) is an error. Files written
 * before the checksum (or by other tools) have none: ckpt_open reads them and says so in
 * CkptReader.checksum; whether to trust them is the caller's choice.
 *
 * Writing: a Checkpoint collects tensors (borrowed pointers: the data must stay valid
 * until ckpt_write_atomic) and metadata strings (copied), then writes temp file + rename.
 * Reading: ckpt_open validates the whole header against the file size; ckpt_get_* read
 * one tensor straight into the caller's buffer. */
#ifndef TL_CHECKPOINT_H
#define TL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

enum { CKPT_MAX_DIMS = 8 };

/* The safetensors dtypes. The writer makes F32, F64, I64 and U32; the reader accepts all. */
typedef enum CkptDtype {
    CKPT_BOOL, CKPT_U8, CKPT_I8, CKPT_I16, CKPT_U16, CKPT_F16, CKPT_BF16,
    CKPT_I32, CKPT_U32, CKPT_F32, CKPT_I64, CKPT_U64, CKPT_F64, CKPT_N_DTYPES
} CkptDtype;

const char *ckpt_dtype_name(CkptDtype d); /* "F32" */
size_t ckpt_dtype_size(CkptDtype d);      /* bytes per element */

typedef struct CkptTensor {
    char *name;
    CkptDtype dtype;
    int ndim;                       /* 0 = scalar (one element) */
    int64_t shape[CKPT_MAX_DIMS];
    uint64_t begin, end;            /* byte offsets in the data section */
    const void *data;               /* writer: borrowed; NULL when `own` holds the value */
    unsigned char own[8];           /* writer: a scalar copied by ckpt_add_scalar_* */
} CkptTensor;

typedef struct Checkpoint {
    CkptTensor *tensors;
    size_t n_tensors, cap_tensors;
    char **meta_keys, **meta_values;
    size_t n_meta;
} Checkpoint;

void ckpt_init(Checkpoint *ck);
void ckpt_free(Checkpoint *ck);
/* Adds a tensor of shape[0..ndim) (ndim 0..8; a scalar has ndim 0). Fails on an empty or
 * duplicate name, "__metadata__", a negative dimension or too many dimensions. */
int ckpt_add_f32(Checkpoint *ck, const char *name, const float *data, int ndim, const int64_t *shape, Err *e);
int ckpt_add_f64(Checkpoint *ck, const char *name, const double *data, int ndim, const int64_t *shape, Err *e);
int ckpt_add_i64(Checkpoint *ck, const char *name, const int64_t *data, int ndim, const int64_t *shape, Err *e);
int ckpt_add_u32(Checkpoint *ck, const char *name, const uint32_t *data, int ndim, const int64_t *shape, Err *e);
/* Scalars (copied, so a local variable is fine): counters, epochs, schedule state. */
int ckpt_add_scalar_i64(Checkpoint *ck, const char *name, int64_t value, Err *e);
int ckpt_add_scalar_f64(Checkpoint *ck, const char *name, double value, Err *e);
/* Metadata string (copied; setting a key again replaces it). */
int ckpt_set_meta(Checkpoint *ck, const char *key, const char *value, Err *e);
/* Writes PATH.tmp.<pid>.<host> (checksum included), fsyncs, renames over PATH. The
 * metadata key "checksum" is the writer's own: setting it is an error. */
int ckpt_write_atomic(const Checkpoint *ck, const char *path, Err *e);

typedef enum CkptChecksum {
    CKPT_CHECKSUM_NONE = 0,         /* the file carries none (an older writer's, or another tool's) */
    CKPT_CHECKSUM_OK,               /* carried and verified */
} CkptChecksum;

typedef struct CkptReader {
    char path[1024];
    CkptChecksum checksum;
    int fd;
    uint64_t data_start;            /* 8 + header length */
    uint64_t data_size;             /* bytes after the header */
    CkptTensor *tensors;            /* in header order */
    size_t n_tensors;
    char **meta_keys, **meta_values;
    size_t n_meta;
} CkptReader;

/* Opens and validates: header length within the file, JSON well formed, known dtypes,
 * end - begin = elements * dtype size, offsets inside the data, no two tensors
 * overlapping, no bytes after the last tensor, no duplicate names, and the checksum when
 * the file has one (reading the whole file once). A mismatch fails with "checksum
 * mismatch" and the path. */
int ckpt_open(const char *path, CkptReader *r, Err *e);
void ckpt_close(CkptReader *r);
const CkptTensor *ckpt_find(const CkptReader *r, const char *name); /* NULL when absent */
int64_t ckpt_numel(const CkptTensor *t);
/* Reads tensor `name` into dst, which holds `count` elements. Fails naming the tensor when
 * it is missing, has another dtype, or has another element count. */
int ckpt_get_f32(const CkptReader *r, const char *name, float *dst, size_t count, Err *e);
int ckpt_get_f64(const CkptReader *r, const char *name, double *dst, size_t count, Err *e);
int ckpt_get_i64(const CkptReader *r, const char *name, int64_t *dst, size_t count, Err *e);
int ckpt_get_u32(const CkptReader *r, const char *name, uint32_t *dst, size_t count, Err *e);
/* Metadata value, or NULL when the key is absent. */
const char *ckpt_meta(const CkptReader *r, const char *key);

#endif
