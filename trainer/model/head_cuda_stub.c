/* The GPU head (model/head_cuda.h) for builds without CUDA (CMake drops this file and
 * compiles head_cuda.cu instead when the CUDA toolkit and cuDNN are found): every entry
 * fails; there is never a GpuHead. */
#include <string.h>

#include "model/head_cuda.h"

static int no_gpu_head(Err *e) {
    return err_fail(e, "GPU head: this program was built without CUDA (reconfigure with -DTL_CUDA=ON)");
}

int gpu_head_create(GpuHead **out, Backend *be, const Head *head, const Optimizer *optim, int train_rows,
                    int eval_rows, const GpuHeadLoss *loss, Err *e) {
    (void)be; (void)head; (void)optim; (void)train_rows; (void)eval_rows; (void)loss;
    *out = NULL;
    return no_gpu_head(e);
}

void gpu_head_free(GpuHead *g) { (void)g; }

int gpu_head_upload_train(GpuHead *g, const float *x, int rows, Err *e) {
    (void)g; (void)x; (void)rows;
    return no_gpu_head(e);
}

int gpu_head_upload_eval(GpuHead *g, const float *x, const int *y, int n, Err *e) {
    (void)g; (void)x; (void)y; (void)n;
    return no_gpu_head(e);
}

int gpu_head_upload_params(GpuHead *g, const Head *head, const Optimizer *optim, Err *e) {
    (void)g; (void)head; (void)optim;
    return no_gpu_head(e);
}

int gpu_head_download_params(GpuHead *g, Head *head, Optimizer *optim, Err *e) {
    (void)g; (void)head; (void)optim;
    return no_gpu_head(e);
}

int gpu_head_train_epoch(GpuHead *g, const int *rows, const int *labels, int n, float lr, uint32_t epoch,
                         GpuHeadStats *stats, Err *e) {
    (void)g; (void)rows; (void)labels; (void)n; (void)lr; (void)epoch;
    memset(stats, 0, sizeof *stats);
    return no_gpu_head(e);
}

int gpu_head_evaluate(GpuHead *g, int n, float *loss, float *accuracy, Err *e) {
    (void)g; (void)n;
    *loss = *accuracy = 0.0f;
    return no_gpu_head(e);
}
