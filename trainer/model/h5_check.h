/* H5_CHECK: every HDF5 call's status checked (negative = failure), naming the call,
 * file and line. HDF5's own error-stack printing is switched off by h5_quiet(). */
#ifndef TL_H5_CHECK_H
#define TL_H5_CHECK_H

#include <hdf5.h>

#include "core/error.h"

#define H5_CHECK(e, call) do { \
    if ((call) < 0) return err_fail((e), "%s:%d: HDF5 call %s failed", __FILE__, __LINE__, #call); \
} while (0)

/* Turns off HDF5's automatic error printing (library state HDF5 forces on us). */
void h5_quiet(void);

#endif
