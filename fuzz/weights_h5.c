/* Fuzz target: the Keras HDF5 weight reader (trainer/model/weights_h5.c) over a two-conv
 * stand-in arch (fuzz_tiny_arch): libhdf5 reads from a file, so the input is written to
 * one. Every HDF5 object the reader opened must be closed again, whatever the outcome. */
#include <hdf5.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ResnetArch a;
    ResnetConvSpec convs[2];
    ResnetWeights w;
    Err e = {0};
    char path[1024];
    fuzz_tiny_arch(&a, convs);
    fuzz_write(path, sizeof path, "weights.h5", data, size);
    int rc = resnet_weights_load_h5(&w, &a, path, &e);
    fuzz_expect_named(rc, &e, path);
    if (rc == 0) resnet_weights_free(&w);
    ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open != 0) fuzz_fail("%zd HDF5 objects left open after reading %s (rc %d)", open, path, rc);
    return 0;
}
