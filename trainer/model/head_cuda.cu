/* The head trained on the GPU (model/head_cuda.h): head.c, loss.c and optimizer.c moved
 * onto the CUDA backend's stream, op for op.
 *
 * Matching the CPU. Every elementwise formula is the CPU's, written with the _rn
 * intrinsics so that nvcc cannot contract a*b+c into an FMA (the CPU build has no FMA:
 * each op rounds on its own). Column reductions (BN statistics, bias and BN gradients)
 * run one thread per column over the rows in order, the CPU's order. The softmax
 * cross-entropy sums in double like loss.c (a warp per row, a fixed tree); the L2 sum
 * keeps loss.c's blocks of 1024 and 16 float lanes, then adds blocks in double in a
 * fixed tree. So the only differences from the CPU are the GEMMs' summation order and
 * expf/log's last bits; the GEMMs are plain float32 (CUBLAS_COMPUTE_32F_PEDANTIC: no
 * TF32 even when the backend's handle allows it), so the head's numbers do not depend
 * on model.precision.
 *
 * One step (batch b of at most B rows, D = drop_dim, H = hidden, C = classes):
 *   gather xb (b, in), yb (b) from the training table by the epoch's row list
 *   [mask (b, D): dropout_mask() on the host into a pinned buffer, async upload]
 *   BN stats + apply -> Dense 1 (bias fill + GEMM) -> ReLU -> dropout -> Dense 2
 *   cross-entropy rows (ce, correct, dlogits) -> backward (3-5 GEMMs, column sums)
 *   L2 (penalty and 2*lambda*W into the gradients) -> running sums -> optimizer
 * Nothing waits for the device inside an epoch except a pinned mask buffer's reuse
 * (MASK_BUFS steps later); the epoch's sums are read once at its end.
 *
 * TerminateOnNaN: the running-sum kernel writes the step whose running loss is not
 * finite into stop_step; every kernel that changes state (BN moving statistics, running
 * sums, optimizer) does nothing in later steps, which is what the CPU loop's break does. */
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_internal.h"

extern "C" {
#include "model/head_cuda.h"
}

#define BN_EPSILON 1e-3f
#define BN_MOMENTUM 0.99

enum {
    THREADS = 256,
    WARP = 32,
    MASK_BUFS = 4,          /* pinned mask buffers: the host runs up to this many steps ahead */
    L2_BLOCK = 1024,        /* loss.c's L2 blocking */
    L2_LANES = 16,
    MAX_ALLOCS = 40,
    STOP_NONE = 0x7f7f7f7f  /* stop_step after a 0x7f byte fill: later than any step */
};

struct GpuHead {
    Backend *be;
    CudaCtx *c;
    cudaStream_t stream;
    HeadSpec spec;
    int drop_dim;
    size_t n_params;
    /* Offsets in the arena (floats) of the named views; SIZE_MAX when absent. */
    size_t off_gamma, off_beta, off_mm, off_mv, off_w1, off_b1, off_w2, off_b2;
    /* Regularized views (the Dense kernels): offset, size, first L2 block in l2_partial. */
    int n_reg;
    size_t reg_off[HEAD_MAX_VIEWS], reg_size[HEAD_MAX_VIEWS], reg_block0[HEAD_MAX_VIEWS];
    OptimizerSpec opt;
    OptRange *ranges;
    int n_ranges;
    long iterations;
    GpuHeadLoss loss;
    float smooth_on, smooth_off;    /* smoothed targets, rounded as loss.c does */

    /* Device memory. */
    float *params, *grads, *m, *v;  /* (n_params) each; v NULL for SGD */
    float *train_x;                 /* (train_cap, in) */
    int train_cap, train_n;
    int *pos_rows, *pos_labels;     /* (train_cap) the epoch's row and label per position */
    float *eval_x;                  /* (eval_cap, in) */
    int *eval_y;
    int eval_cap, eval_n;
    float *xb;                      /* (B, in) gathered batch */
    int *yb;                        /* (B) */
    float *bn_out, *bn_mean, *bn_rstd;          /* (B, in), (in), (in) */
    float *h1, *a1, *d_h1;                      /* (B, H) */
    float *mask, *drop_out, *d_cls_in;          /* (B, D) */
    float *logits, *dlogits;                    /* (B, C) */
    float *d_bn_out;                            /* (B, in) */
    const float *cls_in;                        /* what Dense 2 read in the last forward */
    double *row_ce;                 /* (B) cross-entropy per row */
    int *row_correct;               /* (B) argmax == label */
    double *l2_partial;             /* (L2 blocks of all regularized views) */
    double *l2_sq;                  /* (n_reg) sum of squares per view */
    float *stats;                   /* [0] loss sum, [1] count, [2] correct, [3] stop_step (int) */
    void *allocs[MAX_ALLOCS];
    int n_allocs;

    float *host_mask[MASK_BUFS];    /* pinned (B, D) */
    cudaEvent_t mask_done[MASK_BUFS];
};

static unsigned grid_for(size_t n) { return (unsigned)((n + THREADS - 1) / THREADS); }

/* ---------------------------------------------------------------- kernels */
/* All static: the backend's other .cu files have kernels of their own (relu_backward_kernel,
 * ...), and kernels with external linkage would clash at link time. */

/* xb (b, in) = rows of the table at positions [start, start + b) of the epoch; yb (b). */
static __global__ void gather_kernel(float *xb, int *yb, const float *table, const int *rows, const int *labels, int start,
                              int b, int in) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= (size_t)b * in) return;
    int k = (int)(i / in), j = (int)(i % in);
    xb[i] = table[(size_t)rows[start + k] * in + j];
    if (j == 0) yb[k] = labels[start + k];
}

/* BN training statistics, one thread per column j, rows in order (head.c's loops):
 * batch mean, biased variance, moving updates (unless stopped), rstd = 1/sqrt(var+eps). */
static __global__ void bn_stats_kernel(float *mean, float *rstd, float *moving_mean, float *moving_var, const float *x, int b,
                                int n, float decay, const int *stop_step, int step) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    float mu = 0.0f, var = 0.0f;
    for (int i = 0; i < b; i++) mu = __fadd_rn(mu, x[(size_t)i * n + j]);
    mu = __fdiv_rn(mu, (float)b);
    for (int i = 0; i < b; i++) {
        float d = __fsub_rn(x[(size_t)i * n + j], mu);
        var = __fadd_rn(var, __fmul_rn(d, d));
    }
    var = __fdiv_rn(var, (float)b);
    if (*stop_step >= step) {
        moving_mean[j] = __fsub_rn(moving_mean[j], __fmul_rn(__fsub_rn(moving_mean[j], mu), decay));
        moving_var[j] = __fsub_rn(moving_var[j], __fmul_rn(__fsub_rn(moving_var[j], var), decay));
    }
    mean[j] = mu;
    rstd[j] = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(var, BN_EPSILON)));
}

/* out = x * inv + (beta - mean * inv), inv = gamma * rstd (TF's batch_normalization). */
static __global__ void bn_apply_kernel(float *out, const float *x, const float *gamma, const float *beta, const float *mean,
                                const float *rstd, int b, int n) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= (size_t)b * n) return;
    int j = (int)(i % n);
    float inv = __fmul_rn(gamma[j], rstd[j]);
    out[i] = __fadd_rn(__fmul_rn(x[i], inv), __fsub_rn(beta[j], __fmul_rn(mean[j], inv)));
}

/* Inference: the same with the moving statistics, inv = gamma * (1 / sqrt(var + eps)). */
static __global__ void bn_infer_kernel(float *out, const float *x, const float *gamma, const float *beta,
                                const float *moving_mean, const float *moving_var, int b, int n) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= (size_t)b * n) return;
    int j = (int)(i % n);
    float inv = __fmul_rn(gamma[j], __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(moving_var[j], BN_EPSILON))));
    out[i] = __fadd_rn(__fmul_rn(x[i], inv), __fsub_rn(beta[j], __fmul_rn(moving_mean[j], inv)));
}

/* out (b, n) = bias in every row: the GEMM then adds x W (beta = 1), as dense_forward. */
static __global__ void bias_fill_kernel(float *out, const float *bias, int b, int n) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < (size_t)b * n) out[i] = bias[i % n];
}

static __global__ void relu_kernel(float *out, const float *x, size_t n) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* dx = dout where x > 0, else 0 (x: the ReLU input). */
static __global__ void relu_backward_kernel(float *dx, const float *dout, const float *x, size_t n) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n) dx[i] = x[i] > 0.0f ? dout[i] : 0.0f;
}

/* out = x * mask: dropout forward and backward (out may be x). */
static __global__ void mask_mul_kernel(float *out, const float *x, const float *mask, size_t n) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n) out[i] = __fmul_rn(x[i], mask[i]);
}

/* out (n) = column sums of dout (b, n), rows in order: a Dense bias gradient. */
static __global__ void col_sum_kernel(float *out, const float *dout, int b, int n) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    float s = 0.0f;
    for (int i = 0; i < b; i++) s = __fadd_rn(s, dout[(size_t)i * n + j]);
    out[j] = s;
}

/* dbeta = sum_i dout, dgamma = sum_i dout * xhat, xhat = (x - mean) * rstd. */
static __global__ void bn_param_grads_kernel(float *dgamma, float *dbeta, const float *dout, const float *x,
                                      const float *mean, const float *rstd, int b, int n) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    float dg = 0.0f, db = 0.0f;
    for (int i = 0; i < b; i++) {
        size_t k = (size_t)i * n + j;
        float xhat = __fmul_rn(__fsub_rn(x[k], mean[j]), rstd[j]);
        db = __fadd_rn(db, dout[k]);
        dg = __fadd_rn(dg, __fmul_rn(dout[k], xhat));
    }
    dgamma[j] = dg;
    dbeta[j] = db;
}

/* Softmax cross-entropy with smoothed targets, one warp per row i (loss.c's loss_xent):
 * row_ce[i] = sum_k y'_k (lse - (z_k - zmax)) in double, row_correct[i] = (argmax == label,
 * first index of the max as argmax_row), dlogits = (softmax - y') / b unless NULL. */
static __global__ void xent_rows_kernel(double *row_ce, int *row_correct, float *dlogits, const float *logits,
                                 const int *labels, int b, int C, float on, float off) {
    int i = blockIdx.x, lane = threadIdx.x;
    const float *z = logits + (size_t)i * C;
    int y = labels[i];
    float best = 0.0f;
    int best_k = C;                             /* C: this lane has no element */
    for (int k = lane; k < C; k += WARP)
        if (best_k == C || z[k] > best) { best = z[k]; best_k = k; }
    for (int o = WARP / 2; o > 0; o /= 2) {
        float ov = __shfl_down_sync(0xffffffffu, best, o);
        int ok = __shfl_down_sync(0xffffffffu, best_k, o);
        if (ok < C && (best_k == C || ov > best || (ov == best && ok < best_k))) { best = ov; best_k = ok; }
    }
    float zmax = __shfl_sync(0xffffffffu, best, 0);
    int arg = __shfl_sync(0xffffffffu, best_k, 0);
    double sum_exp = 0.0;
    for (int k = lane; k < C; k += WARP) sum_exp = __dadd_rn(sum_exp, (double)expf(__fsub_rn(z[k], zmax)));
    for (int o = WARP / 2; o > 0; o /= 2) sum_exp = __dadd_rn(sum_exp, __shfl_down_sync(0xffffffffu, sum_exp, o));
    double lse = log(__shfl_sync(0xffffffffu, sum_exp, 0));     /* logsumexp(z) - zmax */
    double ce = 0.0;
    for (int k = lane; k < C; k += WARP)
        ce = __dadd_rn(ce, __dmul_rn((double)(k == y ? on : off), __dsub_rn(lse, (double)__fsub_rn(z[k], zmax))));
    for (int o = WARP / 2; o > 0; o /= 2) ce = __dadd_rn(ce, __shfl_down_sync(0xffffffffu, ce, o));
    if (lane == 0) {
        row_ce[i] = ce;
        row_correct[i] = arg == y;
    }
    if (!dlogits) return;
    for (int k = lane; k < C; k += WARP) {
        float p = (float)exp(__dsub_rn((double)__fsub_rn(z[k], zmax), lse));
        dlogits[(size_t)i * C + k] = __fdiv_rn(__fsub_rn(p, k == y ? on : off), (float)b);
    }
}

/* L2 over one view, a group of 16 threads per block of 1024 floats (loss.c's l2_block):
 * lane l sums w[l], w[l+16], ... in float; the tail (len % 16) in double; the block's sum
 * = tail + lanes in order. dw (may be NULL) += k * w. Every thread of a warp reaches the
 * shuffles (no early return). */
static __global__ void l2_blocks_kernel(double *partial, float *dw, const float *w, size_t n, float k) {
    size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    size_t blk = t / L2_LANES, lo = blk * L2_BLOCK;
    int lane = (int)(t % L2_LANES);
    size_t len = lo < n ? (n - lo < L2_BLOCK ? n - lo : L2_BLOCK) : 0;
    size_t full = len / L2_LANES * L2_LANES;
    float acc = 0.0f;
    for (size_t i = lane; i < full; i += L2_LANES) {
        float x = w[lo + i];
        acc = __fadd_rn(acc, __fmul_rn(x, x));
        if (dw) dw[lo + i] = __fadd_rn(dw[lo + i], __fmul_rn(k, x));
    }
    double s = 0.0;
    if (lane == 0)
        for (size_t i = full; i < len; i++) {
            float x = w[lo + i];
            s = __dadd_rn(s, __dmul_rn((double)x, (double)x));
            if (dw) dw[lo + i] = __fadd_rn(dw[lo + i], __fmul_rn(k, x));
        }
    for (int l = 0; l < L2_LANES; l++) s = __dadd_rn(s, (double)__shfl_sync(0xffffffffu, acc, l, L2_LANES));
    if (lane == 0 && len > 0) partial[blk] = s;
}

/* *out = sum of partial (n) in double, in a fixed order (one block of THREADS). */
static __global__ void sum_partials_kernel(double *out, const double *partial, int n) {
    __shared__ double sh[THREADS];
    int t = threadIdx.x;
    double s = 0.0;
    for (int i = t; i < n; i += THREADS) s = __dadd_rn(s, partial[i]);
    sh[t] = s;
    __syncthreads();
    for (int o = THREADS / 2; o > 0; o /= 2) {
        if (t < o) sh[t] = __dadd_rn(sh[t], sh[t + o]);
        __syncthreads();
    }
    if (t == 0) *out = sh[0];
}

/* The CPU loop's MeanMetric updates for one batch (one thread): ce = mean of row_ce (in
 * double, as loss_xent), l2 = sum over views of lambda * sq (loss_l2), total += (ce + l2) * b,
 * count += b, correct += correct. With stop_on_nan, a non-finite running mean ends the
 * epoch at this step (callbacks_batch_end). */
static __global__ void running_sums_kernel(float *stats, const double *row_ce, const int *row_correct, int b,
                                    const double *l2_sq, int n_reg, float lambda, int step, int stop_on_nan) {
    int *stop_step = (int *)(stats + 3);
    if (*stop_step < step) return;
    double total = 0.0;
    int correct = 0;
    for (int i = 0; i < b; i++) { total = __dadd_rn(total, row_ce[i]); correct += row_correct[i]; }
    float ce = (float)__ddiv_rn(total, (double)b), l2 = 0.0f;
    for (int v = 0; v < n_reg; v++) l2 = __fadd_rn(l2, __fmul_rn(lambda, (float)l2_sq[v]));
    stats[0] = __fadd_rn(stats[0], __fmul_rn(__fadd_rn(ce, l2), (float)b));
    stats[1] = __fadd_rn(stats[1], (float)b);
    stats[2] = __fadd_rn(stats[2], (float)correct);
    if (stop_on_nan) {
        float mean = stats[1] != 0.0f ? __fdiv_rn(stats[0], stats[1]) : 0.0f;
        if (isnan(mean) || isinf(mean)) *stop_step = step;
    }
}

/* ---------------------------------------------------------------- GEMMs */

/* Column-major C (m x n) = op(A) op(B) + beta C, float32 inputs and math whatever the
 * handle's math mode (PEDANTIC: no TF32, no reduced-precision reductions). alpha = 1. */
static int sgemm(GpuHead *g, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc, Err *e) {
    const float one = 1.0f;
    CUBLAS_CHECK(cublasGemmEx(g->c->cublas, ta, tb, m, n, k, &one, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, &beta, c,
                              CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT));
    return 0;
}

/* Row-major X (r, c) is column-major X' (c, r) with leading dimension c, so each row-major
 * product is computed transposed. */

/* out (b, o) = x (b, in) W (in, o) + bias (o): out' (o, b) = W' (o, in) x' (in, b). */
static int dense_forward(GpuHead *g, float *out, const float *x, const float *w, const float *bias, int b, int in,
                         int o, Err *e) {
    bias_fill_kernel<<<grid_for((size_t)b * o), THREADS, 0, g->stream>>>(out, bias, b, o);
    CUDA_CHECK_LAUNCH("bias_fill_kernel");
    return sgemm(g, CUBLAS_OP_N, CUBLAS_OP_N, o, b, in, w, o, x, in, 1.0f, out, o, e);
}

/* dx (b, in) = dout (b, o) W' (o, in): dx' (in, b) = W (in, o) dout' (o, b); W is stored
 * as W' (o, in), hence OP_T. */
static int dense_backward_dx(GpuHead *g, float *dx, const float *dout, const float *w, int b, int in, int o, Err *e) {
    return sgemm(g, CUBLAS_OP_T, CUBLAS_OP_N, in, b, o, w, o, dout, o, 0.0f, dx, in, e);
}

/* dW (in, o) = x' (in, b) dout (b, o): dW' (o, in) = dout' (o, b) x (b, in); x is stored
 * as x' (in, b), hence OP_T. dbias (o) = column sums of dout. */
static int dense_backward_dw(GpuHead *g, float *dw, float *dbias, const float *x, const float *dout, int b, int in,
                             int o, Err *e) {
    if (sgemm(g, CUBLAS_OP_N, CUBLAS_OP_T, o, in, b, dout, o, x, in, 0.0f, dw, o, e)) return -1;
    col_sum_kernel<<<grid_for((size_t)o), THREADS, 0, g->stream>>>(dbias, dout, b, o);
    CUDA_CHECK_LAUNCH("col_sum_kernel");
    return 0;
}

/* ---------------------------------------------------------------- forward, backward */

static int *stop_step_of(GpuHead *g) { return (int *)(g->stats + 3); }

/* x (b, in) -> g->logits (b, C). train: BN batch statistics, dropout with g->mask. */
static int forward(GpuHead *g, const float *x, int b, int train, int step, Err *e) {
    const HeadSpec *s = &g->spec;
    float *p = g->params;
    const float *cur = x;
    size_t nb_in = (size_t)b * s->in_dim;
    if (s->batchnorm) {
        if (train) {
            bn_stats_kernel<<<grid_for((size_t)s->in_dim), THREADS, 0, g->stream>>>(
                g->bn_mean, g->bn_rstd, p + g->off_mm, p + g->off_mv, x, b, s->in_dim, (float)(1.0 - BN_MOMENTUM),
                stop_step_of(g), step);
            CUDA_CHECK_LAUNCH("bn_stats_kernel");
            bn_apply_kernel<<<grid_for(nb_in), THREADS, 0, g->stream>>>(g->bn_out, x, p + g->off_gamma, p + g->off_beta,
                                                                         g->bn_mean, g->bn_rstd, b, s->in_dim);
            CUDA_CHECK_LAUNCH("bn_apply_kernel");
        } else {
            bn_infer_kernel<<<grid_for(nb_in), THREADS, 0, g->stream>>>(g->bn_out, x, p + g->off_gamma, p + g->off_beta,
                                                                         p + g->off_mm, p + g->off_mv, b, s->in_dim);
            CUDA_CHECK_LAUNCH("bn_infer_kernel");
        }
        cur = g->bn_out;
    }
    if (s->hidden > 0) {
        size_t nh = (size_t)b * s->hidden;
        if (dense_forward(g, g->h1, cur, p + g->off_w1, p + g->off_b1, b, s->in_dim, s->hidden, e)) return -1;
        relu_kernel<<<grid_for(nh), THREADS, 0, g->stream>>>(g->a1, g->h1, nh);
        CUDA_CHECK_LAUNCH("relu_kernel");
        cur = g->a1;
    }
    if (train && s->dropout > 0.0) {
        size_t nd = (size_t)b * g->drop_dim;
        mask_mul_kernel<<<grid_for(nd), THREADS, 0, g->stream>>>(g->drop_out, cur, g->mask, nd);
        CUDA_CHECK_LAUNCH("mask_mul_kernel");
        cur = g->drop_out;
    }
    g->cls_in = cur;
    return dense_forward(g, g->logits, cur, p + g->off_w2, p + g->off_b2, b, g->drop_dim, s->classes, e);
}

/* Backward of the last (training) forward from g->dlogits into g->grads; the features
 * are frozen, so no dx (head_backward with dx = NULL). */
static int backward(GpuHead *g, const float *x, int b, Err *e) {
    const HeadSpec *s = &g->spec;
    float *p = g->params, *d = g->grads;
    if (dense_backward_dw(g, d + g->off_w2, d + g->off_b2, g->cls_in, g->dlogits, b, g->drop_dim, s->classes, e))
        return -1;
    if (s->hidden == 0 && !s->batchnorm) return 0;
    if (dense_backward_dx(g, g->d_cls_in, g->dlogits, p + g->off_w2, b, g->drop_dim, s->classes, e)) return -1;
    float *grad = g->d_cls_in;                              /* (b, drop_dim) */
    size_t nd = (size_t)b * g->drop_dim;
    if (s->dropout > 0.0) {
        mask_mul_kernel<<<grid_for(nd), THREADS, 0, g->stream>>>(grad, grad, g->mask, nd);
        CUDA_CHECK_LAUNCH("mask_mul_kernel");
    }
    if (s->hidden > 0) {
        size_t nh = (size_t)b * s->hidden;
        relu_backward_kernel<<<grid_for(nh), THREADS, 0, g->stream>>>(g->d_h1, grad, g->h1, nh);
        CUDA_CHECK_LAUNCH("relu_backward_kernel");
        const float *d1_in = s->batchnorm ? g->bn_out : x;
        if (dense_backward_dw(g, d + g->off_w1, d + g->off_b1, d1_in, g->d_h1, b, s->in_dim, s->hidden, e)) return -1;
        if (!s->batchnorm) return 0;
        if (dense_backward_dx(g, g->d_bn_out, g->d_h1, p + g->off_w1, b, s->in_dim, s->hidden, e)) return -1;
        grad = g->d_bn_out;                                 /* (b, in) */
    }
    bn_param_grads_kernel<<<grid_for((size_t)s->in_dim), THREADS, 0, g->stream>>>(
        d + g->off_gamma, d + g->off_beta, grad, x, g->bn_mean, g->bn_rstd, b, s->in_dim);
    CUDA_CHECK_LAUNCH("bn_param_grads_kernel");
    return 0;
}

/* Sums of squares of the regularized views into l2_sq; add_grad: grads += 2 lambda W. */
static int l2_penalty(GpuHead *g, int add_grad, Err *e) {
    if (g->loss.l2 == 0.0f) return 0;                      /* loss_l2: no term, no gradient */
    for (int r = 0; r < g->n_reg; r++) {
        size_t n = g->reg_size[r], blocks = (n + L2_BLOCK - 1) / L2_BLOCK;
        double *partial = g->l2_partial + g->reg_block0[r];
        l2_blocks_kernel<<<grid_for(blocks * L2_LANES), THREADS, 0, g->stream>>>(
            partial, add_grad ? g->grads + g->reg_off[r] : NULL, g->params + g->reg_off[r], n, 2.0f * g->loss.l2);
        CUDA_CHECK_LAUNCH("l2_blocks_kernel");
        sum_partials_kernel<<<1, THREADS, 0, g->stream>>>(g->l2_sq + r, partial, (int)blocks);
        CUDA_CHECK_LAUNCH("sum_partials_kernel");
    }
    return 0;
}

/* Cross-entropy rows of the last forward (and dlogits when training). */
static int cross_entropy(GpuHead *g, const int *labels, int b, int train, Err *e) {
    xent_rows_kernel<<<b, WARP, 0, g->stream>>>(g->row_ce, g->row_correct, train ? g->dlogits : NULL, g->logits, labels,
                                                b, g->spec.classes, g->smooth_on, g->smooth_off);
    CUDA_CHECK_LAUNCH("xent_rows_kernel");
    return 0;
}

/* This batch's loss and accuracy into the running sums (see running_sums_kernel). */
static int running_sums(GpuHead *g, int b, int step, int stop_on_nan, Err *e) {
    running_sums_kernel<<<1, 1, 0, g->stream>>>(g->stats, g->row_ce, g->row_correct, b, g->l2_sq,
                                                g->loss.l2 == 0.0f ? 0 : g->n_reg, g->loss.l2, step, stop_on_nan);
    CUDA_CHECK_LAUNCH("running_sums_kernel");
    return 0;
}

/* optimizer_step over the trainable ranges; it = the optimizer's iterations before it. */
static int optimizer_update(GpuHead *g, float lr, long it, int step, Err *e) {
    return cuda_optimizer_launch(g->stream, &g->opt, it, lr, g->params, g->grads, g->m, g->v, g->ranges, g->n_ranges,
                                 stop_step_of(g), step, e);
}

/* The step's dropout mask: dropout_mask() into a free pinned buffer, then an async copy
 * into g->mask, queued after the previous step's kernels that read it. */
static int upload_mask(GpuHead *g, int b, uint32_t epoch, int step, Err *e) {
    int k = step % MASK_BUFS;
    size_t n = (size_t)b * g->drop_dim;
    CUDA_CHECK(cudaEventSynchronize(g->mask_done[k]));     /* its copy of MASK_BUFS steps ago is done */
    dropout_mask(g->host_mask[k], n, g->spec.dropout, g->spec.seed, epoch, (uint32_t)step);
    CUDA_CHECK(cudaMemcpyAsync(g->mask, g->host_mask[k], n * sizeof(float), cudaMemcpyHostToDevice, g->stream));
    CUDA_CHECK(cudaEventRecord(g->mask_done[k], g->stream));
    return 0;
}

static int train_step(GpuHead *g, int start, int b, int step, float lr, uint32_t epoch, Err *e) {
    const HeadSpec *s = &g->spec;
    size_t nb_in = (size_t)b * s->in_dim;
    gather_kernel<<<grid_for(nb_in), THREADS, 0, g->stream>>>(g->xb, g->yb, g->train_x, g->pos_rows, g->pos_labels,
                                                             start, b, s->in_dim);
    CUDA_CHECK_LAUNCH("gather_kernel");
    if (s->dropout > 0.0 && upload_mask(g, b, epoch, step, e)) return -1;
    return forward(g, g->xb, b, 1, step, e) || cross_entropy(g, g->yb, b, 1, e) || backward(g, g->xb, b, e) ||
           l2_penalty(g, 1, e) || running_sums(g, b, step, g->loss.terminate_on_nan, e) ||
           optimizer_update(g, lr, g->iterations + step, step, e) ? -1 : 0;
}

/* Zero sums, no stop. */
static int reset_stats(GpuHead *g, Err *e) {
    CUDA_CHECK(cudaMemsetAsync(g->stats, 0, 3 * sizeof(float), g->stream));
    CUDA_CHECK(cudaMemsetAsync(g->stats + 3, 0x7f, sizeof(int), g->stream));
    return 0;
}

/* Waits for the stream: loss sum, count, correct, stop_step. */
static int read_stats(GpuHead *g, float out[3], int *stop_step, Err *e) {
    float host[4];
    if (g->be->ops->download(g->be, host, g->stats, sizeof host, e)) return -1;
    memcpy(out, host, 3 * sizeof(float));
    memcpy(stop_step, &host[3], sizeof(int));
    return 0;
}

/* ---------------------------------------------------------------- interface */

extern "C" int gpu_head_train_epoch(GpuHead *g, const int *rows, const int *labels, int n, float lr, uint32_t epoch,
                                    GpuHeadStats *stats, Err *e) {
    memset(stats, 0, sizeof *stats);
    if (n < 0 || n > g->train_cap) return err_fail(e, "GPU head: %d positions, room for %d", n, g->train_cap);
    for (int p = 0; p < n; p++) {
        if (rows[p] < 0 || rows[p] >= g->train_n)
            return err_fail(e, "GPU head: position %d uses row %d of a %d-row training table", p, rows[p], g->train_n);
        if (labels[p] < 0 || labels[p] >= g->spec.classes)
            return err_fail(e, "GPU head: position %d has label %d, not in [0, %d)", p, labels[p], g->spec.classes);
    }
    if (cuda_use_device(g->c, e) || g->be->ops->upload(g->be, g->pos_rows, rows, (size_t)n * sizeof(int), e) ||
        g->be->ops->upload(g->be, g->pos_labels, labels, (size_t)n * sizeof(int), e) || reset_stats(g, e))
        return -1;
    int B = g->spec.max_batch, steps = (n + B - 1) / B;
    for (int step = 0; step < steps; step++) {
        int start = step * B, b = n - start < B ? n - start : B;
        if (train_step(g, start, b, step, lr, epoch, e)) return err_context(e, "GPU head: epoch %u step %d", epoch, step);
    }
    float sums[3];
    int stop;
    if (read_stats(g, sums, &stop, e)) return -1;
    stats->stopped = stop < steps;
    stats->steps = stats->stopped ? stop + 1 : steps;
    g->iterations += stats->steps;
    stats->loss = sums[1] != 0.0f ? sums[0] / sums[1] : 0.0f;        /* mean_result */
    stats->accuracy = sums[1] != 0.0f ? sums[2] / sums[1] : 0.0f;
    return 0;
}

extern "C" int gpu_head_evaluate(GpuHead *g, int n, float *loss, float *accuracy, Err *e) {
    if (n < 0 || n > g->eval_n) return err_fail(e, "GPU head: evaluating %d rows of a %d-row table", n, g->eval_n);
    if (cuda_use_device(g->c, e) || reset_stats(g, e) || l2_penalty(g, 0, e)) return -1;
    int B = g->spec.max_batch, in = g->spec.in_dim;
    for (int start = 0, step = 0; start < n; start += B, step++) {
        int b = n - start < B ? n - start : B;
        if (forward(g, g->eval_x + (size_t)start * in, b, 0, step, e) ||
            cross_entropy(g, g->eval_y + start, b, 0, e) || running_sums(g, b, step, 0, e))
            return err_context(e, "GPU head: evaluation batch %d", step);
    }
    float sums[3];
    int stop;
    if (read_stats(g, sums, &stop, e)) return -1;
    *loss = sums[1] != 0.0f ? sums[0] / sums[1] : 0.0f;
    *accuracy = sums[1] != 0.0f ? sums[2] / sums[1] : 0.0f;
    return 0;
}

extern "C" int gpu_head_upload_train(GpuHead *g, const float *x, int rows, Err *e) {
    if (rows < 0 || rows > g->train_cap) return err_fail(e, "GPU head: %d training rows, room for %d", rows, g->train_cap);
    if (cuda_use_device(g->c, e) || g->be->ops->upload(g->be, g->train_x, x, (size_t)rows * g->spec.in_dim * sizeof(float), e))
        return -1;
    g->train_n = rows;
    return 0;
}

extern "C" int gpu_head_upload_eval(GpuHead *g, const float *x, const int *y, int n, Err *e) {
    if (n < 0 || n > g->eval_cap) return err_fail(e, "GPU head: %d evaluation rows, room for %d", n, g->eval_cap);
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= g->spec.classes)
            return err_fail(e, "GPU head: evaluation row %d has label %d, not in [0, %d)", i, y[i], g->spec.classes);
    if (cuda_use_device(g->c, e) || g->be->ops->upload(g->be, g->eval_x, x, (size_t)n * g->spec.in_dim * sizeof(float), e) ||
        g->be->ops->upload(g->be, g->eval_y, y, (size_t)n * sizeof(int), e))
        return -1;
    g->eval_n = n;
    return 0;
}

static int check_same(const GpuHead *g, const Head *h, const Optimizer *o, Err *e) {
    if (h->n_params != g->n_params || o->n != g->n_params || o->spec.kind != g->opt.kind)
        return err_fail(e, "GPU head: the host head (%zu parameters) or optimizer (%zu) is not the one it was made from "
                        "(%zu)", h->n_params, o->n, g->n_params);
    return 0;
}

extern "C" int gpu_head_upload_params(GpuHead *g, const Head *h, const Optimizer *o, Err *e) {
    size_t bytes = g->n_params * sizeof(float);
    if (check_same(g, h, o, e) || cuda_use_device(g->c, e) || g->be->ops->upload(g->be, g->params, h->params, bytes, e) ||
        g->be->ops->upload(g->be, g->m, o->m, bytes, e) || (g->v && g->be->ops->upload(g->be, g->v, o->v, bytes, e)))
        return -1;
    g->iterations = o->iterations;
    return 0;
}

extern "C" int gpu_head_download_params(GpuHead *g, Head *h, Optimizer *o, Err *e) {
    size_t bytes = g->n_params * sizeof(float);
    if (check_same(g, h, o, e) || cuda_use_device(g->c, e) || g->be->ops->download(g->be, h->params, g->params, bytes, e) ||
        g->be->ops->download(g->be, o->m, g->m, bytes, e) || (g->v && g->be->ops->download(g->be, o->v, g->v, bytes, e)))
        return -1;
    o->iterations = g->iterations;
    return 0;
}

/* ---------------------------------------------------------------- create / free */

static int dev_alloc(GpuHead *g, void *ptr, size_t bytes, Err *e) {
    void **p = (void **)ptr;
    *p = NULL;
    if (g->n_allocs == MAX_ALLOCS) return err_fail(e, "GPU head: more than %d device buffers", MAX_ALLOCS);
    CUDA_CHECK(cudaMalloc(p, bytes ? bytes : 1));
    g->allocs[g->n_allocs++] = *p;
    CUDA_CHECK(cudaMemsetAsync(*p, 0, bytes ? bytes : 1, g->stream));
    return 0;
}

static size_t offset_of(const Head *h, const char *name) {
    const ParamView *v = head_view(h, name);
    return v ? v->offset : SIZE_MAX;
}

/* Layout, optimizer ranges and loss constants copied from the host objects. */
static int describe(GpuHead *g, const Head *h, const Optimizer *o, const GpuHeadLoss *loss, Err *e) {
    g->spec = h->spec;
    g->drop_dim = h->drop_dim;
    g->n_params = h->n_params;
    g->off_gamma = offset_of(h, "bn.gamma");
    g->off_beta = offset_of(h, "bn.beta");
    g->off_mm = offset_of(h, "bn.moving_mean");
    g->off_mv = offset_of(h, "bn.moving_variance");
    g->off_w1 = offset_of(h, "dense1.kernel");
    g->off_b1 = offset_of(h, "dense1.bias");
    g->off_w2 = offset_of(h, "dense2.kernel");
    g->off_b2 = offset_of(h, "dense2.bias");
    if (g->off_w2 == SIZE_MAX || g->off_b2 == SIZE_MAX || (h->spec.batchnorm && g->off_mv == SIZE_MAX) ||
        (h->spec.hidden > 0 && g->off_b1 == SIZE_MAX))
        return err_fail(e, "GPU head: the head's parameter views are not the expected ones");
    size_t blocks = 0;
    for (int i = 0; i < h->n_views; i++) {
        if (!h->views[i].regularized) continue;
        g->reg_off[g->n_reg] = h->views[i].offset;
        g->reg_size[g->n_reg] = h->views[i].size;
        g->reg_block0[g->n_reg++] = blocks;
        blocks += (h->views[i].size + L2_BLOCK - 1) / L2_BLOCK;
    }
    g->opt = o->spec;
    g->ranges = (OptRange *)tl_malloc(e, sizeof(OptRange) * (size_t)(o->n_ranges ? o->n_ranges : 1), "GPU head ranges");
    if (!g->ranges) return -1;
    if (o->n_ranges) memcpy(g->ranges, o->ranges, sizeof(OptRange) * (size_t)o->n_ranges);
    g->n_ranges = o->n_ranges;
    g->loss = *loss;
    const int C = h->spec.classes;                          /* loss_xent's rounding of y' */
    g->smooth_off = (float)(loss->label_smoothing / C);
    g->smooth_on = 1.0f * (float)(1.0 - loss->label_smoothing) + g->smooth_off;
    return 0;
}

static int alloc_buffers(GpuHead *g, int train_rows, int eval_rows, Err *e) {
    const HeadSpec *s = &g->spec;
    size_t B = (size_t)s->max_batch, in = (size_t)s->in_dim, H = (size_t)s->hidden, D = (size_t)g->drop_dim;
    size_t C = (size_t)s->classes, P = g->n_params * sizeof(float), F = sizeof(float);
    size_t l2_blocks = 0;
    for (int r = 0; r < g->n_reg; r++) l2_blocks += (g->reg_size[r] + L2_BLOCK - 1) / L2_BLOCK;
    g->train_cap = train_rows;
    g->eval_cap = eval_rows;
    if (dev_alloc(g, &g->params, P, e) || dev_alloc(g, &g->grads, P, e) || dev_alloc(g, &g->m, P, e) ||
        (g->opt.kind == OPT_ADAM && dev_alloc(g, &g->v, P, e)) ||
        dev_alloc(g, &g->train_x, (size_t)train_rows * in * F, e) ||
        dev_alloc(g, &g->pos_rows, (size_t)train_rows * sizeof(int), e) ||
        dev_alloc(g, &g->pos_labels, (size_t)train_rows * sizeof(int), e) ||
        dev_alloc(g, &g->eval_x, (size_t)eval_rows * in * F, e) ||
        dev_alloc(g, &g->eval_y, (size_t)eval_rows * sizeof(int), e) || dev_alloc(g, &g->xb, B * in * F, e) ||
        dev_alloc(g, &g->yb, B * sizeof(int), e) || dev_alloc(g, &g->bn_out, B * in * F, e) ||
        dev_alloc(g, &g->bn_mean, in * F, e) || dev_alloc(g, &g->bn_rstd, in * F, e) ||
        dev_alloc(g, &g->h1, B * H * F, e) || dev_alloc(g, &g->a1, B * H * F, e) ||
        dev_alloc(g, &g->d_h1, B * H * F, e) || dev_alloc(g, &g->mask, B * D * F, e) ||
        dev_alloc(g, &g->drop_out, B * D * F, e) || dev_alloc(g, &g->d_cls_in, B * D * F, e) ||
        dev_alloc(g, &g->logits, B * C * F, e) || dev_alloc(g, &g->dlogits, B * C * F, e) ||
        dev_alloc(g, &g->d_bn_out, B * in * F, e) || dev_alloc(g, &g->row_ce, B * sizeof(double), e) ||
        dev_alloc(g, &g->row_correct, B * sizeof(int), e) ||
        dev_alloc(g, &g->l2_partial, l2_blocks * sizeof(double), e) ||
        dev_alloc(g, &g->l2_sq, (size_t)HEAD_MAX_VIEWS * sizeof(double), e) || dev_alloc(g, &g->stats, 4 * F, e))
        return -1;
    for (int k = 0; k < MASK_BUFS; k++) {
        CUDA_CHECK(cudaMallocHost((void **)&g->host_mask[k], B * D * F));
        CUDA_CHECK(cudaEventCreateWithFlags(&g->mask_done[k], cudaEventDisableTiming));
    }
    return 0;
}

extern "C" int gpu_head_create(GpuHead **out, Backend *be, const Head *h, const Optimizer *o, int train_rows,
                               int eval_rows, const GpuHeadLoss *loss, Err *e) {
    *out = NULL;
    if (!be || !backend_has(be, BACKEND_CAP_GPU))
        return err_fail(e, "GPU head: needs the cuda backend (got '%s')", be && be->name ? be->name : "none");
    if (o->n != h->n_params) return err_fail(e, "GPU head: optimizer over %zu values, head has %zu", o->n, h->n_params);
    if (train_rows < 0 || eval_rows < 0) return err_fail(e, "GPU head: negative table size");
    GpuHead *g = (GpuHead *)tl_calloc(e, 1, sizeof *g, "GPU head");
    if (!g) return -1;
    g->be = be;
    g->c = ctx_of(be);
    g->stream = g->c->stream;
    cublasPointerMode_t mode;
    int rc = cuda_use_device(g->c, e) || describe(g, h, o, loss, e) ? -1 : 0;
    if (rc == 0 && cublasGetPointerMode(g->c->cublas, &mode) != CUBLAS_STATUS_SUCCESS)
        rc = err_fail(e, "GPU head: cublasGetPointerMode failed");
    if (rc == 0 && mode != CUBLAS_POINTER_MODE_HOST)
        rc = err_fail(e, "GPU head: the backend's cuBLAS handle is not in host pointer mode");
    if (rc == 0) rc = alloc_buffers(g, train_rows, eval_rows, e);
    if (rc) {
        gpu_head_free(g);
        return err_context(e, "GPU head");
    }
    *out = g;
    return 0;
}

extern "C" void gpu_head_free(GpuHead *g) {
    if (!g) return;
    (void)cudaSetDevice(g->c->device);                     /* teardown: errors have nowhere to go */
    (void)cudaStreamSynchronize(g->stream);
    for (int i = 0; i < g->n_allocs; i++) (void)cudaFree(g->allocs[i]);
    for (int k = 0; k < MASK_BUFS; k++) {
        if (g->host_mask[k]) (void)cudaFreeHost(g->host_mask[k]);
        if (g->mask_done[k]) (void)cudaEventDestroy(g->mask_done[k]);
    }
    free(g->ranges);
    free(g);
}
