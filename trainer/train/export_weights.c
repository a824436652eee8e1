/* export-weights: the trial's weights file, loaded as the trial loaded it, with the
 * fine-tuned suffix's tensors replaced from the checkpoint, written back in Keras's layout. */
#include "train/export_weights.h"

#include <stdio.h>
#include <string.h>

#include "core/fsutil.h"
#include "model/resnet.h"
#include "model/resnet_train.h"
#include "train/checkpoint.h"
#include "train/config.h"

/* Every conv of the suffix from first_conv on: its six tensors from the checkpoint, by the
 * names the trial saved them under (resnet_train.h's views: "<conv>/kernel", "<bn>/gamma"). */
static int read_suffix(const CkptReader *r, const ResnetArch *a, int first_conv, ResnetWeights *w, Err *e) {
    static const char *const kinds[6] = {"kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"};
    for (int i = first_conv; i < a->n_convs; i++) {
        const ResnetConvSpec *s = &a->convs[i];
        ResnetConvWeights *cw = &w->w[i];
        float *dst[6] = {cw->kernel, cw->bias, cw->gamma, cw->beta, cw->mean, cw->var};
        size_t sizes[6] = {(size_t)s->kh * s->kw * s->cin * s->cout, (size_t)s->cout, (size_t)s->cout, (size_t)s->cout,
                           (size_t)s->cout, (size_t)s->cout};
        for (int k = 0; k < 6; k++) {
            char name[2 * RESNET_NAME_MAX + 16];
            snprintf(name, sizeof name, "%s/%s", k < 2 ? s->conv : s->bn, kinds[k]);
            if (ckpt_get_f32(r, name, dst[k], sizes[k], e)) return -1;
        }
    }
    return 0;
}

static int load_trained(const TrialConfig *c, const char *ckpt_path, const ResnetArch *a, ResnetWeights *w, int *first_conv,
                        Err *e) {
    if (resnet_weights_open(w, a, c->model.weights, e)) return -1;
    *first_conv = a->n_convs;
    if (!strcmp(c->model.trainable, "head")) return 0;
    CkptReader r;
    if (resnet_suffix_start(a, c->model.trainable, first_conv, e) || ckpt_open(ckpt_path, &r, e)) return -1;
    int rc = read_suffix(&r, a, *first_conv, w, e);
    ckpt_close(&r);
    return rc ? err_context(e, "%s (the fine-tuned backbone from %s)", ckpt_path, c->model.trainable) : 0;
}

/* Written beside the destination and renamed into place. */
static int save_atomic(const ResnetWeights *w, const ResnetArch *a, const char *out_path, Err *e) {
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
    if (resnet_weights_save_h5(w, a, tmp, e)) {
        remove(tmp);
        return -1;
    }
    if (rename(tmp, out_path)) {
        remove(tmp);
        return err_fail(e, "%s: cannot rename into place", out_path);
    }
    return 0;
}

int export_trial_weights(const char *run_dir, const char *checkpoint, const char *out_path, char *summary, size_t n,
                         Err *e) {
    if (strcmp(checkpoint, "best") && strcmp(checkpoint, "last"))
        return err_fail(e, "--checkpoint must be best or last, got '%s'", checkpoint);
    char cfg_path[1100], ckpt_name[32], ckpt_path[1100];
    snprintf(ckpt_name, sizeof ckpt_name, "%s.safetensors", checkpoint);
    fs_join(cfg_path, sizeof cfg_path, run_dir, "config.yaml");
    fs_join(ckpt_path, sizeof ckpt_path, run_dir, ckpt_name);
    TrialConfig c;
    ResnetArch a;
    ResnetWeights w = {0};
    if (config_load_file(&c, cfg_path, e)) return -1;
    int first = 0, rc = resnet_arch_init(&a, c.model.backbone, e);
    if (rc == 0) {
        rc = load_trained(&c, ckpt_path, &a, &w, &first, e) || save_atomic(&w, &a, out_path, e) ? -1 : 0;
        if (rc == 0 && summary)
            snprintf(summary, n, "%s: %s from %s%s%s%s", out_path, c.model.backbone, c.model.weights,
                     first < a.n_convs ? ", trained from " : " (head-only trial: the backbone as it was)",
                     first < a.n_convs ? a.convs[first].conv : "", first < a.n_convs ? " on (" : "");
        if (rc == 0 && summary && first < a.n_convs)
            snprintf(summary + strlen(summary), n - strlen(summary), "%s, BN %s)", ckpt_path,
                     BACKBONE_BN_NAMES[c.model.backbone_bn]);
        resnet_weights_free(&w);
        resnet_arch_free(&a);
    }
    config_free(&c);
    return rc;
}
