#include "train/config_limits.h"

#include "core/host.h"
#include "model/resnet.h"

/* The head's float32 vectors of its parameters' size: weights, gradients, the two Adam
 * moments, the best weights kept for the report and EarlyStopping's restore copy. */
enum { HEAD_COPIES = 6 };
/* Lower bound of the backbone's activations per pixel of an input image: the stage-2
 * output (S/4 x S/4 x 256 float32 = 64 bytes per input pixel), in and out of one conv. */
enum { ACTIVATION_BYTES_PER_PIXEL = 128 };

static int line_of(const YamlNode *root, const char *key) {
    const YamlNode *n = root ? yaml_path_peek(root, key) : NULL;
    return n ? n->line : 0;
}

static const char *file_of(const YamlNode *root, const char *key, const char *file) {
    const YamlNode *n = root ? yaml_path_peek(root, key) : NULL;
    return n && n->file ? n->file : file;
}

int config_check_memory(int hidden, int batch_size, int image_size, const YamlNode *root, const char *file, double memory,
                        Err *e) {
    if (memory <= 0) return 0;
    char need[32], have[32];
    host_format_bytes(memory, have, sizeof have);
    double head = (double)HEAD_COPIES * 4.0 * (RESNET_FEATURES + 1.0) * hidden;
    if (head > memory) {
        host_format_bytes(head, need, sizeof need);
        return err_fail(e, "%s:%d: key 'model.head.hidden' is %d: the head alone needs about %s (%d float32 copies of %d x %d "
                        "weights: weights, gradients, Adam moments, best and restored weights), more than this machine's %s",
                        file_of(root, "model.head.hidden", file), line_of(root, "model.head.hidden"), hidden, need,
                        HEAD_COPIES, RESNET_FEATURES + 1, hidden, have);
    }
    double side = image_size, act = (double)batch_size * side * side * ACTIVATION_BYTES_PER_PIXEL;
    if (act > memory) {
        const char *key = line_of(root, "train.batch_size") ? "train.batch_size" : "data.image_size";
        host_format_bytes(act, need, sizeof need);
        return err_fail(e, "%s:%d: train.batch_size %d x data.image_size %d^2: the backbone's activations need at least %s "
                        "(%d x %d x %d pixels x %d bytes), more than this machine's %s", file_of(root, key, file),
                        line_of(root, key), batch_size, image_size, need, batch_size, image_size, image_size,
                        ACTIVATION_BYTES_PER_PIXEL, have);
    }
    return 0;
}
