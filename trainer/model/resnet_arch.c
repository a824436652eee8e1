/* ResNet v1 topology as keras.applications.resnet builds it (keras/applications/resnet.py, Keras 2.6-2.15). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/resnet.h"

static void add_conv(ResnetArch *a, const char *conv, const char *bn, int k, int cin, int cout, int stride, int pad,
                     int in_halvings) {
    ResnetConvSpec *s = &a->convs[a->n_convs++];
    snprintf(s->conv, sizeof s->conv, "%s", conv);
    snprintf(s->bn, sizeof s->bn, "%s", bn);
    s->kh = s->kw = k;
    s->cin = cin;
    s->cout = cout;
    s->stride = stride;
    s->pad = pad;
    s->in_halvings = in_halvings;
}

/* Keras block1: in model.layers order a projection block lists _1, _2, _0, _3
 * (Keras sorts layers by graph depth, the shortcut branch first); the stride sits on the 1x1 _1
 * and _0 convs, never on the 3x3 (v1). */
static void add_block(ResnetArch *a, int stage, int block, int filters, int cin, int stride, int projection) {
    /* Halvings of the image side: conv2 runs at 2 (conv1 + max pool), conv3 at 3, ...;
     * a strided first block reads its input one halving earlier. */
    int h_mid = stage == 2 ? 2 : stage, h_in = stride == 2 ? h_mid - 1 : h_mid;
    char conv[RESNET_NAME_MAX], bn[RESNET_NAME_MAX], prefix[32];
    snprintf(prefix, sizeof prefix, "conv%d_block%d", stage, block);
#define NAMES(k) (snprintf(conv, sizeof conv, "%s_%d_conv", prefix, k), snprintf(bn, sizeof bn, "%s_%d_bn", prefix, k))
    NAMES(1); add_conv(a, conv, bn, 1, cin, filters, stride, 0, h_in);
    NAMES(2); add_conv(a, conv, bn, 3, filters, filters, 1, 1, h_mid);
    if (projection) { NAMES(0); add_conv(a, conv, bn, 1, cin, 4 * filters, stride, 0, h_in); }
    NAMES(3); add_conv(a, conv, bn, 1, filters, 4 * filters, 1, 0, h_mid);
#undef NAMES
}

int resnet_arch_init(ResnetArch *a, const char *name, Err *e) {
    memset(a, 0, sizeof *a);
    static const int table[3][5] = {{50, 3, 4, 6, 3}, {101, 3, 4, 23, 3}, {152, 3, 8, 36, 3}};
    int row = !strcmp(name, "resnet50") ? 0 : !strcmp(name, "resnet101") ? 1 : !strcmp(name, "resnet152") ? 2 : -1;
    if (row < 0) return err_fail(e, "unknown backbone '%s' (expected resnet50, resnet101 or resnet152)", name);
    a->depth = table[row][0];
    int total = 1;
    for (int s = 0; s < 4; s++) total += 3 * (a->blocks[s] = table[row][s + 1]) + 1;
    a->convs = tl_calloc(e, (size_t)total, sizeof *a->convs, "resnet layer table");
    if (!a->convs) return -1;
    add_conv(a, "conv1_conv", "conv1_bn", 7, 3, 64, 2, 3, 0);
    int cin = 64;
    for (int s = 0; s < 4; s++) {
        int filters = 64 << s, stride = s == 0 ? 1 : 2;
        for (int b = 1; b <= a->blocks[s]; b++) {
            add_block(a, s + 2, b, filters, cin, b == 1 ? stride : 1, b == 1);
            cin = 4 * filters;
        }
    }
    return 0;
}

void resnet_arch_free(ResnetArch *a) {
    free(a->convs);
    memset(a, 0, sizeof *a);
}

int resnet_arch_find(const ResnetArch *a, const char *conv) {
    for (int i = 0; i < a->n_convs; i++)
        if (!strcmp(a->convs[i].conv, conv)) return i;
    return -1;
}

int resnet_side(int image_size, int halvings) {
    int side = image_size;
    for (int i = 0; i < halvings; i++) side = (side + 1) / 2;
    return side;
}

double resnet_arch_flops(const ResnetArch *a, int image_size) {
    double flops = 0;
    for (int i = 0; i < a->n_convs; i++) {
        const ResnetConvSpec *s = &a->convs[i];
        int h = resnet_side(image_size, s->in_halvings);
        ConvDesc d = {.n = 1, .h = h, .w = h, .cin = s->cin, .cout = s->cout, .kh = s->kh, .kw = s->kw, .stride = s->stride,
                      .pad_top = s->pad, .pad_left = s->pad, .pad_bottom = s->pad, .pad_right = s->pad};
        if (conv_desc_init(&d, NULL)) return 0;
        flops += conv_desc_flops(&d);
    }
    return flops;
}
