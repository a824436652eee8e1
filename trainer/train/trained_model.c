#include "train/trained_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "train/checkpoint.h"
#include "train/model_spec.h"

static const char *HEAD_FORMAT = "resnet-sweep head v1";

static int find_files(TrainedModel *m, const char *run_dir, Err *e) {
    snprintf(m->run_dir, sizeof m->run_dir, "%s", run_dir);
    if (!fs_exists(run_dir)) return err_fail(e, "%s: no such run folder", run_dir);
    if (!fs_is_dir(run_dir)) return err_fail(e, "%s: not a folder (give a trial's --out folder)", run_dir);
    fs_join(m->config_path, sizeof m->config_path, run_dir, "config.yaml");
    fs_join(m->best_path, sizeof m->best_path, run_dir, "best.safetensors");
    if (!fs_exists(m->config_path)) return err_fail(e, "%s: missing (not a trial folder?)", m->config_path);
    if (!fs_exists(m->best_path))
        return err_fail(e, "%s: missing (the trial saved no best weights: not one epoch finished, or callbacks.checkpoint off)",
                        m->best_path);
    return 0;
}

/* "a\nb\nc" -> class_names {a, b, c}, in place in a copy. */
static int parse_classes(TrainedModel *m, const char *text, Err *e) {
    if (!text || !text[0]) return err_fail(e, "%s: no class names (metadata \"classes\")", m->best_path);
    size_t len = strlen(text);
    m->classes_text = tl_malloc(e, len + 1, "class names");
    if (!m->classes_text) return -1;
    memcpy(m->classes_text, text, len + 1);
    int n = 1;
    for (size_t i = 0; i < len; i++) n += text[i] == '\n';
    m->class_names = tl_calloc(e, (size_t)n, sizeof(char *), "class names");
    if (!m->class_names) return -1;
    char *p = m->classes_text;
    for (int i = 0; i < n; i++) {
        m->class_names[i] = p;
        char *nl = strchr(p, '\n');
        if (nl) { *nl = 0; p = nl + 1; }
        if (!m->class_names[i][0]) return err_fail(e, "%s: class %d has an empty name", m->best_path, i);
    }
    m->n_classes = n;
    if (n < 2) return err_fail(e, "%s: %d class name(s); a classifier needs at least 2", m->best_path, n);
    return 0;
}

static int create_head(TrainedModel *m, int max_batch, Err *e) {
    HeadSpec hs = model_head_spec(&m->cfg, m->n_classes, max_batch);
    if (head_create(&m->head, &hs, e)) return err_context(e, "%s", m->config_path);
    return 0;
}

static void shape_text(char *buf, size_t n, int ndim, const int64_t *shape) {
    int len = snprintf(buf, n, "[");
    for (int d = 0; d < ndim && len < (int)n; d++) len += snprintf(buf + len, n - (size_t)len, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (len < (int)n) snprintf(buf + len, n - (size_t)len, "]");
}

/* Every head view is in the file with its shape; nothing else is. */
static int check_tensors(const TrainedModel *m, const CkptReader *r, Err *e) {
    const Head *h = &m->head;
    for (int i = 0; i < h->n_views; i++) {
        const ParamView *v = &h->views[i];
        const CkptTensor *t = ckpt_find(r, v->name);
        int64_t want[2] = {v->shape[0], v->shape[1]};
        char got_s[96], want_s[96];
        shape_text(want_s, sizeof want_s, v->ndim, want);
        if (!t) return err_fail(e, "%s: no tensor '%s' (the config's head wants %s)", m->best_path, v->name, want_s);
        int same = t->ndim == v->ndim && t->dtype == CKPT_F32;
        for (int d = 0; same && d < v->ndim; d++) same = t->shape[d] == want[d];
        shape_text(got_s, sizeof got_s, t->ndim, t->shape);
        if (!same)
            return err_fail(e, "%s: tensor '%s' is %s %s; config.yaml's head with %d classes wants F32 %s", m->best_path, v->name,
                            ckpt_dtype_name(t->dtype), got_s, m->n_classes, want_s);
    }
    /* A fine-tuned trial's backbone tensors ("conv5_block1_1_conv/kernel") are checked
     * when the suffix loads them (trained_model_load_suffix). */
    int finetuned = strcmp(m->cfg.model.trainable, "head") != 0;
    for (size_t i = 0; i < r->n_tensors; i++)
        if (!head_view(h, r->tensors[i].name) && !(finetuned && strchr(r->tensors[i].name, '/')))
            return err_fail(e, "%s: unexpected tensor '%s' (config.yaml's head has no such layer)", m->best_path, r->tensors[i].name);
    return 0;
}

static int read_checkpoint(TrainedModel *m, int max_batch, Err *e) {
    CkptReader r;
    if (ckpt_open(m->best_path, &r, e)) return -1;
    const char *fmt = ckpt_meta(&r, "format"), *epoch = ckpt_meta(&r, "epoch");
    int rc = 0;
    if (!fmt || strcmp(fmt, HEAD_FORMAT))
        rc = err_fail(e, "%s: not a head checkpoint (format '%s', expected '%s')", m->best_path, fmt ? fmt : "none", HEAD_FORMAT);
    if (rc == 0) rc = parse_classes(m, ckpt_meta(&r, "classes"), e);
    if (rc == 0) rc = create_head(m, max_batch, e);
    if (rc == 0) rc = check_tensors(m, &r, e);
    for (int i = 0; rc == 0 && i < m->head.n_views; i++) {
        const ParamView *v = &m->head.views[i];
        rc = ckpt_get_f32(&r, v->name, m->head.params + v->offset, v->size, e);
    }
    m->epoch = epoch ? atoi(epoch) : -1;
    ckpt_close(&r);
    return rc;
}

int trained_model_load(TrainedModel *m, const char *run_dir, int max_batch, Err *e) {
    memset(m, 0, sizeof *m);
    if (find_files(m, run_dir, e)) return -1;
    if (config_load_file(&m->cfg, m->config_path, e)) return -1;
    if (max_batch <= 0) max_batch = m->cfg.train.batch_size;
    if (read_checkpoint(m, max_batch, e)) {
        trained_model_free(m);
        return -1;
    }
    return 0;
}

void trained_model_free(TrainedModel *m) {
    head_free(&m->head);
    config_free(&m->cfg);
    free(m->class_names);
    free(m->classes_text);
    memset(m, 0, sizeof *m);
}

const float *trained_model_logits(TrainedModel *m, const float *features, int b) {
    head_forward(&m->head, features, b, 0, 0, 0);
    return m->head.logits;
}

void softmax_row(const float *logits, int C, double *probs) {
    double mx = logits[0], sum = 0;
    for (int k = 1; k < C; k++) if (logits[k] > mx) mx = logits[k];
    for (int k = 0; k < C; k++) sum += probs[k] = exp((double)logits[k] - mx);
    for (int k = 0; k < C; k++) probs[k] /= sum;
}

/* Insertion into a sorted prefix: k is small (top 5 of a few hundred classes). */
void top_k_indices(const double *p, int C, int k, int *idx) {
    int have = 0;
    for (int c = 0; c < C; c++) {
        if (have == k && !(p[c] > p[idx[k - 1]])) continue;
        int j = have < k ? have++ : k - 1;
        while (j > 0 && p[c] > p[idx[j - 1]]) { idx[j] = idx[j - 1]; j--; }
        idx[j] = c;
    }
}

int trained_model_load_suffix(const TrainedModel *m, ResnetSuffix *s, Err *e) {
    CkptReader r;
    if (ckpt_open(m->best_path, &r, e)) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < s->n_views; i++)
        rc = ckpt_get_f32(&r, s->views[i].name, s->params + s->views[i].offset, s->views[i].size, e);
    ckpt_close(&r);
    return rc ? err_context(e, "%s (fine-tuned backbone from %s)", m->best_path, m->cfg.model.trainable) : 0;
}
