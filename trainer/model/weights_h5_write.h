/* Variants of the Keras weight layout, for writing test files. */
#ifndef TL_WEIGHTS_H5_WRITE_H
#define TL_WEIGHTS_H5_WRITE_H

#include "model/resnet.h"

typedef struct H5WriteStyle {
    int vlen_strings;          /* variable-length string attributes (else fixed-length) */
    int no_suffix;             /* weight names without ":0" */
    int flat;                  /* datasets directly in the layer group, not under <layer>/ */
    int omit_weight_names;     /* no weight_names attribute on weighted layers */
    const char *skip_layer;    /* leave this layer out (for error tests) */
} H5WriteStyle;

int resnet_weights_save_h5_style(const ResnetWeights *w, const ResnetArch *a, const char *path, const H5WriteStyle *st,
                                 Err *e);

#endif
