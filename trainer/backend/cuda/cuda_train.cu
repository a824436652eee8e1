/* Training ops of the CUDA backend (backend_train.h): cuDNN convolutions (legacy API,
 * NHWC activations, KRSC filters) forward, backward data and backward filter, and small
 * kernels of our own for the frozen BatchNorm, ReLU, accumulation and pooling backward.
 *
 * Data is float32 in every precision (training keeps no half copies): fp32 runs cuDNN with
 * CUDNN_FMA_MATH (no tensor cores), every other precision with CUDNN_DEFAULT_MATH (TF32
 * tensor cores). Weights arrive as HWIO (kh, kw, cin, cout) device memory on every call and
 * change every step, so each call transposes them into the plan's KRSC scratch (HWIO is a
 * (kh*kw*cin) x cout matrix, KRSC its transpose); the weight gradient comes back the same
 * way. Algorithms: cuDNN's heuristics (_v7), or timed by cudnnFind* when TL_CUDNN_FIND=1 (as
 * for the forward convolutions), chosen once per plan, deterministic ones first; the
 * heuristics choose the same every run, so the same inputs give the same numbers (timed
 * choices can differ between runs). The per-channel sums (dbias, dgamma, dbeta) are
 * block reductions in a fixed order, and max pool backward is a gather per input element:
 * no float atomics anywhere, so every op is deterministic.
 * Every op runs on the backend's stream and returns once its work is queued. */
#include <cudnn.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_internal.h"

extern "C" {
#include "backend/backend_train.h"
}

enum { TILE = 32, TILE_ROWS = 8, SUM_LANES = 32 };

typedef struct TrainConv {
    ConvDesc d;
    cudnnTensorDescriptor_t x_desc;         /* (n, cin, h, w) in NHWC */
    cudnnTensorDescriptor_t y_desc;         /* (n, cout, oh, ow) in NHWC */
    cudnnFilterDescriptor_t w_desc;         /* (cout, cin, kh, kw) in NHWC = KRSC */
    /* One convolution descriptor per direction: each keeps the math type of its own algorithm. */
    cudnnConvolutionDescriptor_t fwd_desc, data_desc, filter_desc;
    cudnnConvolutionFwdAlgo_t fwd_algo;
    cudnnConvolutionBwdDataAlgo_t data_algo;
    cudnnConvolutionBwdFilterAlgo_t filter_algo;
    size_t fwd_ws, data_ws, filter_ws;      /* workspace bytes of each algorithm */
    float *krsc;                            /* device (cout, kh, kw, cin): w or dw in cuDNN's layout */
} TrainConv;

static double bn_epsilon(void) { return BN_FROZEN_EPSILON; }

/* ---------------------------------------------------------------- kernels */

/* out (cols, rows) = in (rows, cols) transposed, through a shared 32x32 tile so that both
 * the reads and the writes coalesce. Block (TILE, TILE_ROWS); grid (cols/TILE, rows/TILE). */
__global__ void transpose_kernel(const float *in, unsigned rows, unsigned cols, float *out) {
    __shared__ float tile[TILE][TILE + 1];
    unsigned col0 = blockIdx.x * TILE, row0 = blockIdx.y * TILE;
    for (unsigned j = threadIdx.y; j < TILE; j += TILE_ROWS) {
        unsigned r = row0 + j, c = col0 + threadIdx.x;
        if (r < rows && c < cols) tile[j][threadIdx.x] = in[r * cols + c];
    }
    __syncthreads();
    for (unsigned j = threadIdx.y; j < TILE; j += TILE_ROWS) {
        unsigned c = col0 + j, r = row0 + threadIdx.x;
        if (r < rows && c < cols) out[c * rows + r] = tile[threadIdx.x][j];
    }
}

/* y (n elements, channels last, c channels) += bias[ch]. */
__global__ void add_bias_kernel(float *y, const float *bias, unsigned n, unsigned c) {
    GRID_STRIDE_LOOP(i, n) y[i] += bias[i % c];
}

/* Per-channel sums over the rows of dy (rows, c), in a fixed order:
 *   sum_dy[ch] = sum_r dy[r, ch];  sum_dy_xhat[ch] = sum_r dy[r, ch] * (x[r, ch] - mean[ch]) * rstd[ch].
 * Either output may be NULL; x, mean, var are read only for sum_dy_xhat. Block (SUM_LANES
 * channels, SUM_LANES row lanes), one block per 32 channels: lane ty sums rows ty, ty + 32,
 * ... in double, then a tree over the lanes. */
__global__ void channel_sums_kernel(const float *dy, const float *x, const float *mean, const float *var, double eps,
                                    unsigned rows, unsigned c, float *sum_dy, float *sum_dy_xhat) {
    __shared__ double s_dy[SUM_LANES][SUM_LANES + 1], s_xhat[SUM_LANES][SUM_LANES + 1];
    unsigned tx = threadIdx.x, ty = threadIdx.y, ch = blockIdx.x * SUM_LANES + tx;
    double a = 0.0, b = 0.0;
    if (ch < c) {
        double m = sum_dy_xhat ? (double)mean[ch] : 0.0, rstd = sum_dy_xhat ? 1.0 / sqrt((double)var[ch] + eps) : 0.0;
        for (unsigned r = ty; r < rows; r += SUM_LANES) {
            double g = dy[r * c + ch];
            a += g;
            if (sum_dy_xhat) b += g * (((double)x[r * c + ch] - m) * rstd);
        }
    }
    s_dy[ty][tx] = a;
    s_xhat[ty][tx] = b;
    __syncthreads();
    for (unsigned half = SUM_LANES / 2; half > 0; half /= 2) {
        if (ty < half) {
            s_dy[ty][tx] += s_dy[ty + half][tx];
            s_xhat[ty][tx] += s_xhat[ty + half][tx];
        }
        __syncthreads();
    }
    if (ty == 0 && ch < c) {
        if (sum_dy) sum_dy[ch] = (float)s_dy[0][tx];
        if (sum_dy_xhat) sum_dy_xhat[ch] = (float)s_xhat[0][tx];
    }
}

/* y = act(gamma * (x - mean) / sqrt(var + eps) + beta + res); res NULL or equal to y (each
 * element of res is read before the same element of y is written). ReLU keeps NaN. */
__global__ void bn_forward_kernel(const float *x, const float *gamma, const float *beta, const float *mean,
                                  const float *var, float eps, const float *res, int relu, unsigned n, unsigned c, float *y) {
    GRID_STRIDE_LOOP(i, n) {
        unsigned ch = i % c;
        float scale = gamma[ch] / sqrtf(var[ch] + eps);
        float v = (x[i] - mean[ch]) * scale + beta[ch];
        if (res) v += res[i];
        y[i] = relu && v < 0.f ? 0.f : v;
    }
}

/* dx = dy * gamma / sqrt(var + eps); dx may equal dy. */
__global__ void bn_backward_data_kernel(const float *dy, const float *gamma, const float *var, float eps, unsigned n,
                                        unsigned c, float *dx) {
    GRID_STRIDE_LOOP(i, n) {
        unsigned ch = i % c;
        dx[i] = dy[i] * (gamma[ch] / sqrtf(var[ch] + eps));
    }
}

__global__ void relu_backward_kernel(const float *y, const float *dy, unsigned n, float *dx) {
    GRID_STRIDE_LOOP(i, n) dx[i] = y[i] > 0.f ? dy[i] : 0.f;
}

__global__ void accumulate_kernel(const float *src, unsigned n, float *dst) {
    GRID_STRIDE_LOOP(i, n) dst[i] += src[i];
}

/* Flat index of the input element that window (img, r, q, ch) of maxpool3x3s2 (zero pad 1)
 * sends its gradient to, or -1 when a pad cell holds the maximum. The scan is the
 * reference's: row-major over the padded 3x3 window, the first tap starts it, a strictly
 * greater value replaces, so the first maximum wins. */
__device__ long maxpool_winner(const float *x, int h, int w, int c, unsigned img, int r, int q, unsigned ch) {
    float best = 0.f;
    long best_at = -2;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            int yy = 2 * r + a - 1, xx = 2 * q + b - 1;
            int pad = yy < 0 || yy >= h || xx < 0 || xx >= w;
            long at = pad ? -1 : (long)(((img * h + yy) * w + xx) * c + ch);
            float v = pad ? 0.f : x[at];
            if (best_at == -2 || v > best) {
                best = v;
                best_at = at;
            }
        }
    return best_at;
}

/* dx (n, h, w, c): one thread per input element gathers the gradient of the (at most 2x2)
 * windows that contain it and chose it, adding them in the reference's order (windows
 * row-major), so the sums are the reference's bit for bit. dy (n, oh, ow, c). */
__global__ void maxpool_backward_kernel(const float *x, const float *dy, int n, int h, int w, int c, int oh, int ow,
                                        float *dx) {
    unsigned total = (unsigned)n * h * w * c;
    GRID_STRIDE_LOOP(i, total) {
        unsigned ch = i % c, t = i / c;
        int xx = (int)(t % w);
        t /= w;
        int yy = (int)(t % h);
        unsigned img = t / h;
        /* Window r covers rows 2r-1 .. 2r+1: r from ceil((yy-1)/2) to floor((yy+1)/2). */
        int r_lo = yy / 2, r_hi = (yy + 1) / 2, q_lo = xx / 2, q_hi = (xx + 1) / 2;
        r_hi = r_hi < oh - 1 ? r_hi : oh - 1;
        q_hi = q_hi < ow - 1 ? q_hi : ow - 1;
        float g = 0.f;
        for (int r = r_lo; r <= r_hi; r++)
            for (int q = q_lo; q <= q_hi; q++)
                if (maxpool_winner(x, h, w, c, img, r, q, ch) == (long)i) g += dy[((img * oh + r) * ow + q) * c + ch];
        dx[i] = g;
    }
}

/* dx (n, hw, c) = dy (n, c) / hw, rounded from double as the reference does. */
__global__ void gap_backward_kernel(const float *dy, unsigned hw, unsigned c, unsigned total, float *dx) {
    GRID_STRIDE_LOOP(i, total) {
        unsigned ch = i % c, img = i / c / hw;
        dx[i] = (float)((double)dy[img * c + ch] / hw);
    }
}

/* ---------------------------------------------------------------- helpers */

/* out (cols, rows) = in (rows, cols), queued on the stream. */
static int transpose(CudaCtx *c, const float *in, unsigned rows, unsigned cols, float *out, Err *e) {
    dim3 block(TILE, TILE_ROWS), grid((cols + TILE - 1) / TILE, (rows + TILE - 1) / TILE);
    transpose_kernel<<<grid, block, 0, c->stream>>>(in, rows, cols, out);
    CUDA_CHECK_LAUNCH("transpose_kernel");
    return 0;
}

static size_t weight_elems(const ConvDesc *d) { return (size_t)d->kh * d->kw * d->cin * d->cout; }

/* HWIO device weights -> the plan's KRSC scratch: (kh*kw*cin, cout) -> (cout, kh*kw*cin). */
static int weights_to_krsc(CudaCtx *c, TrainConv *tc, const float *w, Err *e) {
    const ConvDesc *d = &tc->d;
    return transpose(c, w, (unsigned)(d->kh * d->kw * d->cin), (unsigned)d->cout, tc->krsc, e);
}

/* Sums over the rows of dy (rows, ch); see channel_sums_kernel. */
static int channel_sums(CudaCtx *c, const float *dy, const BnParams *p, size_t rows, int ch, float *sum_dy,
                        float *sum_dy_xhat, const float *x, Err *e) {
    dim3 block(SUM_LANES, SUM_LANES), grid((unsigned)((ch + SUM_LANES - 1) / SUM_LANES));
    channel_sums_kernel<<<grid, block, 0, c->stream>>>(dy, x, p ? p->mean : NULL, p ? p->var : NULL, bn_epsilon(),
                                                       (unsigned)rows, (unsigned)ch, sum_dy, sum_dy_xhat);
    CUDA_CHECK_LAUNCH("channel_sums_kernel");
    return 0;
}

/* ---------------------------------------------------------------- conv plans */

static cudnnMathType_t wanted_math(Precision p) { return p == PREC_FP32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH; }

static int make_conv_desc(const ConvDesc *d, Precision p, cudnnConvolutionDescriptor_t *out, Err *e) {
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(out));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(*out, d->pad_top, d->pad_left, d->stride, d->stride, 1, 1,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(*out, wanted_math(p)));
    return 0;
}

static int describe(CudaCtx *c, TrainConv *tc, Err *e) {
    const ConvDesc *d = &tc->d;
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&tc->x_desc));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(tc->x_desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, d->n, d->cin, d->h, d->w));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&tc->y_desc));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(tc->y_desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, d->n, d->cout, d->oh, d->ow));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&tc->w_desc));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(tc->w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, d->cout, d->cin, d->kh, d->kw));
    if (make_conv_desc(d, c->precision, &tc->fwd_desc, e) || make_conv_desc(d, c->precision, &tc->data_desc, e) ||
        make_conv_desc(d, c->precision, &tc->filter_desc, e))
        return -1;
    int n, ch, oh, ow;
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(tc->fwd_desc, tc->x_desc, tc->w_desc, &n, &ch, &oh, &ow));
    if (n != d->n || ch != d->cout || oh != d->oh || ow != d->ow)
        return err_fail(e, "CUDA training conv: cuDNN computes output %dx%dx%dx%d, the descriptor says %dx%dx%dx%d", n, oh,
                        ow, ch, d->n, d->oh, d->ow, d->cout);
    return 0;
}

static int no_algo(const TrainConv *tc, const char *direction, int count, Err *e) {
    const ConvDesc *d = &tc->d;
    return err_fail(e, "CUDA training conv: cuDNN offers no %s algorithm for %dx%d stride %d, %dx%dx%d -> %d channels "
                       "(%d candidates)", direction, d->kh, d->kw, d->stride, d->h, d->w, d->cin, d->cout, count);
}

static int choose_forward(CudaCtx *c, TrainConv *tc, Err *e) {
    return cuda_choose_forward_algo(c, tc->x_desc, tc->w_desc, tc->fwd_desc, tc->y_desc, &tc->d, "CUDA training conv",
                                    &tc->fwd_algo, &tc->fwd_ws, e);
}

static int choose_backward_data(CudaCtx *c, TrainConv *tc, Err *e) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int count = 0;
    if (c->find_algo)
        CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(c->cudnn, tc->w_desc, tc->y_desc, tc->data_desc,
                                                              tc->x_desc, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count,
                                                              perf));
    else
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(c->cudnn, tc->w_desc, tc->y_desc, tc->data_desc,
                                                                tc->x_desc, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count,
                                                                perf));
    int i = cuda_pick_algo(perf, count, c->precision);
    if (i < 0) return no_algo(tc, "backward-data", count, e);
    tc->data_algo = perf[i].algo;
    CUDNN_CHECK(cudnnSetConvolutionMathType(tc->data_desc, perf[i].mathType));
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(c->cudnn, tc->w_desc, tc->y_desc, tc->data_desc, tc->x_desc,
                                                             tc->data_algo, &tc->data_ws));
    return 0;
}

static int choose_backward_filter(CudaCtx *c, TrainConv *tc, Err *e) {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int count = 0;
    if (c->find_algo)
        CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(c->cudnn, tc->x_desc, tc->y_desc, tc->filter_desc,
                                                                tc->w_desc, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                &count, perf));
    else
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->cudnn, tc->x_desc, tc->y_desc, tc->filter_desc,
                                                                  tc->w_desc, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                  &count, perf));
    int i = cuda_pick_algo(perf, count, c->precision);
    if (i < 0) return no_algo(tc, "backward-filter", count, e);
    tc->filter_algo = perf[i].algo;
    CUDNN_CHECK(cudnnSetConvolutionMathType(tc->filter_desc, perf[i].mathType));
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(c->cudnn, tc->x_desc, tc->y_desc, tc->filter_desc,
                                                               tc->w_desc, tc->filter_algo, &tc->filter_ws));
    return 0;
}

static void plan_free(TrainConv *tc) {
    if (!tc) return;
    if (tc->x_desc) (void)cudnnDestroyTensorDescriptor(tc->x_desc);      /* teardown: nothing to report to */
    if (tc->y_desc) (void)cudnnDestroyTensorDescriptor(tc->y_desc);
    if (tc->w_desc) (void)cudnnDestroyFilterDescriptor(tc->w_desc);
    cudnnConvolutionDescriptor_t convs[3] = {tc->fwd_desc, tc->data_desc, tc->filter_desc};
    for (int i = 0; i < 3; i++)
        if (convs[i]) (void)cudnnDestroyConvolutionDescriptor(convs[i]);
    (void)cudaFree(tc->krsc);
    free(tc);
}

static int check_desc(const ConvDesc *d, Err *e) {
    if (d->has_residual || d->relu || d->native_io)
        return err_fail(e, "CUDA training conv: no fused residual, ReLU or native layout (got %d, %d, %d)", d->has_residual,
                        d->relu, d->native_io);
    if (d->pad_top != d->pad_bottom || d->pad_left != d->pad_right)
        return err_fail(e, "CUDA training conv: asymmetric padding (top %d, bottom %d, left %d, right %d) is not supported "
                           "by cuDNN's legacy API", d->pad_top, d->pad_bottom, d->pad_left, d->pad_right);
    if (d->n <= 0 || d->h <= 0 || d->w <= 0 || d->cin <= 0 || d->cout <= 0 || d->kh <= 0 || d->kw <= 0 || d->stride <= 0 ||
        d->oh <= 0 || d->ow <= 0)
        return err_fail(e, "CUDA training conv: bad shape n %d, %dx%dx%d, kernel %dx%d stride %d, cout %d, out %dx%d "
                           "(was conv_desc_init called?)", d->n, d->h, d->w, d->cin, d->kh, d->kw, d->stride, d->cout, d->oh,
                        d->ow);
    /* The transpose's grid has one row of blocks per 32 rows of the larger side (limit 65535). */
    size_t taps = (size_t)d->kh * d->kw * d->cin;
    if (taps >= (size_t)65535 * TILE || (size_t)d->cout >= (size_t)65535 * TILE)
        return err_fail(e, "CUDA training conv: kernel %dx%dx%d -> %d too large to transpose", d->kh, d->kw, d->cin, d->cout);
    if (cuda_check_elems((size_t)d->n * d->h * d->w * d->cin, "CUDA training", "conv input", e) ||
        cuda_check_elems((size_t)d->n * d->oh * d->ow * d->cout, "CUDA training", "conv output", e) ||
        cuda_check_elems(weight_elems(d), "CUDA training", "conv kernel", e))
        return -1;
    return 0;
}

static int cuda_conv_plan_create(Backend *b, const ConvDesc *d, void **plan, Err *e) {
    CudaCtx *c = ctx_of(b);
    *plan = NULL;
    if (check_desc(d, e) || cuda_use_device(c, e)) return -1;
    TrainConv *tc = (TrainConv *)tl_calloc(e, 1, sizeof *tc, "CUDA training conv");
    if (!tc) return -1;
    tc->d = *d;
    int rc = describe(c, tc, e) || choose_forward(c, tc, e) || choose_backward_data(c, tc, e) ||
             choose_backward_filter(c, tc, e) ? -1 : 0;
    if (rc == 0) {
        size_t ws = tc->fwd_ws > tc->data_ws ? tc->fwd_ws : tc->data_ws;
        ws = ws > tc->filter_ws ? ws : tc->filter_ws;
        cudaError_t st = cudaMalloc((void **)&tc->krsc, weight_elems(d) * sizeof(float));
        if (st != cudaSuccess)
            rc = err_fail(e, "%s:%d: cudaMalloc(KRSC scratch, %zu floats): %s", __FILE__, __LINE__, weight_elems(d),
                          cudaGetErrorString(st));
        if (rc == 0) rc = cuda_grow_workspace(c, ws, e);
    }
    if (rc) {
        plan_free(tc);
        return err_context(e, "training conv %dx%d/%d %dx%dx%d->%d", d->kh, d->kw, d->stride, d->h, d->w, d->cin, d->cout);
    }
    *plan = tc;
    return 0;
}

static void cuda_conv_plan_destroy(Backend *b, void *plan) {
    (void)cudaSetDevice(ctx_of(b)->device);     /* void op: errors have nowhere to go */
    plan_free((TrainConv *)plan);
}

static size_t x_elems(const ConvDesc *d) { return (size_t)d->n * d->h * d->w * d->cin; }
static size_t y_elems(const ConvDesc *d) { return (size_t)d->n * d->oh * d->ow * d->cout; }

static int conv_context(const TrainConv *tc, const char *what, Err *e) {
    const ConvDesc *d = &tc->d;
    return err_context(e, "training conv %s %dx%d/%d %dx%dx%d->%d", what, d->kh, d->kw, d->stride, d->h, d->w, d->cin,
                       d->cout);
}

/* y = conv(x, w) + bias. */
static int conv_forward(CudaCtx *c, TrainConv *tc, const float *x, const float *w, const float *bias, float *y, Err *e) {
    const ConvDesc *d = &tc->d;
    size_t n = y_elems(d);
    if (weights_to_krsc(c, tc, w, e)) return -1;
    const float one = 1.f, zero = 0.f;
    CUDNN_CHECK(cudnnConvolutionForward(c->cudnn, &one, tc->x_desc, x, tc->w_desc, tc->krsc, tc->fwd_desc, tc->fwd_algo,
                                        c->workspace, tc->fwd_ws, &zero, tc->y_desc, y));
    add_bias_kernel<<<cuda_blocks_for(n), CUDA_THREADS, 0, c->stream>>>(y, bias, (unsigned)n, (unsigned)d->cout);
    CUDA_CHECK_LAUNCH("add_bias_kernel");
    return 0;
}

static int cuda_conv_plan_forward(Backend *b, void *plan, const float *x, const float *w, const float *bias, float *y,
                                  Err *e) {
    CudaCtx *c = ctx_of(b);
    TrainConv *tc = (TrainConv *)plan;
    if (cuda_use_device(c, e)) return -1;
    cuda_shadows_invalidate(c, y, y_elems(&tc->d) * sizeof(float));
    return conv_forward(c, tc, x, w, bias, y, e) ? conv_context(tc, "forward", e) : 0;
}

/* dx = conv_transpose(dy, w), overwritten (beta 0: cuDNN does not read dx). */
static int conv_backward_data(CudaCtx *c, TrainConv *tc, const float *dy, const float *w, float *dx, Err *e) {
    if (weights_to_krsc(c, tc, w, e)) return -1;
    const float one = 1.f, zero = 0.f;
    CUDNN_CHECK(cudnnConvolutionBackwardData(c->cudnn, &one, tc->w_desc, tc->krsc, tc->y_desc, dy, tc->data_desc,
                                             tc->data_algo, c->workspace, tc->data_ws, &zero, tc->x_desc, dx));
    return 0;
}

static int cuda_conv_backward_data(Backend *b, void *plan, const float *dy, const float *w, float *dx, Err *e) {
    CudaCtx *c = ctx_of(b);
    TrainConv *tc = (TrainConv *)plan;
    if (cuda_use_device(c, e)) return -1;
    cuda_shadows_invalidate(c, dx, x_elems(&tc->d) * sizeof(float));
    return conv_backward_data(c, tc, dy, w, dx, e) ? conv_context(tc, "backward data", e) : 0;
}

/* dw (KRSC scratch, then transposed to HWIO) and dbias = sum of dy over rows. */
static int conv_backward_weights(CudaCtx *c, TrainConv *tc, const float *x, const float *dy, float *dw, float *dbias,
                                 Err *e) {
    const ConvDesc *d = &tc->d;
    const float one = 1.f, zero = 0.f;
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(c->cudnn, &one, tc->x_desc, x, tc->y_desc, dy, tc->filter_desc,
                                               tc->filter_algo, c->workspace, tc->filter_ws, &zero, tc->w_desc, tc->krsc));
    /* KRSC (cout, kh*kw*cin) -> HWIO (kh*kw*cin, cout). */
    if (transpose(c, tc->krsc, (unsigned)d->cout, (unsigned)(d->kh * d->kw * d->cin), dw, e)) return -1;
    return channel_sums(c, dy, NULL, (size_t)d->n * d->oh * d->ow, d->cout, dbias, NULL, NULL, e);
}

static int cuda_conv_backward_weights(Backend *b, void *plan, const float *x, const float *dy, float *dw, float *dbias,
                                      Err *e) {
    CudaCtx *c = ctx_of(b);
    TrainConv *tc = (TrainConv *)plan;
    if (cuda_use_device(c, e)) return -1;
    cuda_shadows_invalidate(c, dw, weight_elems(&tc->d) * sizeof(float));
    cuda_shadows_invalidate(c, dbias, (size_t)tc->d.cout * sizeof(float));
    return conv_backward_weights(c, tc, x, dy, dw, dbias, e) ? conv_context(tc, "backward weights", e) : 0;
}

/* ---------------------------------------------------------------- elementwise ops */

/* Common checks of an elementwise op over n elements: size and device. */
static int begin_op(CudaCtx *c, size_t n, const char *what, Err *e) {
    if (cuda_check_elems(n, "CUDA training", what, e)) return -1;
    return cuda_use_device(c, e);
}

static int cuda_bn_forward(Backend *b, const BnParams *p, const float *x, const float *res, int relu, size_t rows, float *y,
                           Err *e) {
    CudaCtx *c = ctx_of(b);
    size_t n = rows * (size_t)p->c;
    if (p->c <= 0) return err_fail(e, "CUDA bn_forward: %d channels", p->c);
    if (begin_op(c, n, "bn_forward tensor", e)) return -1;
    cuda_shadows_invalidate(c, y, n * sizeof(float));
    bn_forward_kernel<<<cuda_blocks_for(n), CUDA_THREADS, 0, c->stream>>>(x, p->gamma, p->beta, p->mean, p->var,
                                                                (float)BN_FROZEN_EPSILON, res, relu, (unsigned)n,
                                                                (unsigned)p->c, y);
    CUDA_CHECK_LAUNCH("bn_forward_kernel");
    return 0;
}

/* The sums read dy, so they run before dx overwrites it (dx may equal dy); same stream. */
static int cuda_bn_backward(Backend *b, const BnParams *p, const float *x, const float *dy, size_t rows, float *dx,
                            float *dgamma, float *dbeta, Err *e) {
    CudaCtx *c = ctx_of(b);
    size_t n = rows * (size_t)p->c;
    if (p->c <= 0) return err_fail(e, "CUDA bn_backward: %d channels", p->c);
    if (begin_op(c, n, "bn_backward tensor", e)) return -1;
    if (dgamma) cuda_shadows_invalidate(c, dgamma, (size_t)p->c * sizeof(float));
    if (dbeta) cuda_shadows_invalidate(c, dbeta, (size_t)p->c * sizeof(float));
    if ((dgamma || dbeta) && channel_sums(c, dy, p, rows, p->c, dbeta, dgamma, x, e)) return err_context(e, "bn_backward");
    if (!dx) return 0;
    cuda_shadows_invalidate(c, dx, n * sizeof(float));
    bn_backward_data_kernel<<<cuda_blocks_for(n), CUDA_THREADS, 0, c->stream>>>(dy, p->gamma, p->var, (float)BN_FROZEN_EPSILON,
                                                                      (unsigned)n, (unsigned)p->c, dx);
    CUDA_CHECK_LAUNCH("bn_backward_data_kernel");
    return 0;
}

static int cuda_relu_backward(Backend *b, const float *y, const float *dy, size_t n, float *dx, Err *e) {
    CudaCtx *c = ctx_of(b);
    if (begin_op(c, n, "relu_backward tensor", e)) return -1;
    cuda_shadows_invalidate(c, dx, n * sizeof(float));
    relu_backward_kernel<<<cuda_blocks_for(n), CUDA_THREADS, 0, c->stream>>>(y, dy, (unsigned)n, dx);
    CUDA_CHECK_LAUNCH("relu_backward_kernel");
    return 0;
}

static int cuda_accumulate(Backend *b, const float *src, size_t n, float *dst, Err *e) {
    CudaCtx *c = ctx_of(b);
    if (begin_op(c, n, "accumulate tensor", e)) return -1;
    cuda_shadows_invalidate(c, dst, n * sizeof(float));
    accumulate_kernel<<<cuda_blocks_for(n), CUDA_THREADS, 0, c->stream>>>(src, (unsigned)n, dst);
    CUDA_CHECK_LAUNCH("accumulate_kernel");
    return 0;
}

static int cuda_maxpool_backward(Backend *b, const float *x, const float *dy, int n, int h, int w, int c, float *dx,
                                 Err *e) {
    CudaCtx *cx = ctx_of(b);
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0) return err_fail(e, "CUDA maxpool backward: bad shape %dx%dx%dx%d", n, h, w, c);
    int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
    size_t total = (size_t)n * h * w * c;
    if (begin_op(cx, total, "maxpool backward input", e)) return -1;
    cuda_shadows_invalidate(cx, dx, total * sizeof(float));
    maxpool_backward_kernel<<<cuda_blocks_for(total), CUDA_THREADS, 0, cx->stream>>>(x, dy, n, h, w, c, oh, ow, dx);
    CUDA_CHECK_LAUNCH("maxpool_backward_kernel");
    return 0;
}

static int cuda_gap_backward(Backend *b, const float *dy, int n, int h, int w, int c, float *dx, Err *e) {
    CudaCtx *cx = ctx_of(b);
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0) return err_fail(e, "CUDA global_avgpool backward: bad shape %dx%dx%dx%d", n, h, w, c);
    size_t total = (size_t)n * h * w * c;
    if (begin_op(cx, total, "global_avgpool backward output", e)) return -1;
    cuda_shadows_invalidate(cx, dx, total * sizeof(float));
    gap_backward_kernel<<<cuda_blocks_for(total), CUDA_THREADS, 0, cx->stream>>>(dy, (unsigned)(h * w), (unsigned)c,
                                                                       (unsigned)total, dx);
    CUDA_CHECK_LAUNCH("gap_backward_kernel");
    return 0;
}

static const BackendTrainOps CUDA_TRAIN_OPS = {
    cuda_conv_plan_create,
    cuda_conv_plan_forward,
    cuda_conv_backward_data,
    cuda_conv_backward_weights,
    cuda_conv_plan_destroy,
    cuda_bn_forward,
    cuda_bn_backward,
    cuda_relu_backward,
    cuda_accumulate,
    cuda_maxpool_backward,
    cuda_gap_backward,
    NULL,                                   /* native_to_nhwc: the CUDA backend has no native layout */
    cuda_optimizer_step,                    /* cuda_optimizer.cu */
};

const BackendTrainOps *backend_cuda_train_ops(void) { return &CUDA_TRAIN_OPS; }
