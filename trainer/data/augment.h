/* Keras ImageDataGenerator augmentation, K>=2.9 semantics (keras v2.15 keras/preprocessing/image.py):
 * random_transform = affine warp (scipy.ndimage.affine_transform, order 1, S>=1.6 boundary
 * rules) -> channel shift -> horizontal flip -> brightness (PIL blend, uint8 truncation).
 * Images are HWC float RGB with values 0..255, before preprocess_caffe (as in Keras).
 * Parameters are drawn from an Rng the caller keys (seed, RNG_AUGMENT, image index, view or
 * epoch), so an image's transform does not depend on thread count or batch order. */
#ifndef TL_AUGMENT_H
#define TL_AUGMENT_H

#include "core/error.h"
#include "core/rng.h"
#include "data/data_config.h"

/* One drawn transform (Keras get_random_transform's dict). Units as Keras: degrees and
 * pixels. With K>=2.9 axes, tx (height_shift x rows) moves columns, ty (width_shift x cols)
 * moves rows, zx scales columns, zy rows; positive theta turns the picture counter-clockwise. */
typedef struct AugmentParams {
    double theta;             /* rotation, degrees */
    double tx, ty;            /* shifts, pixels */
    double shear;             /* degrees */
    double zx, zy;            /* zoom factors (input pixels per output pixel) */
    int flip_h;               /* mirror columns */
    int flip_v;               /* mirror rows (Keras's draw is consumed; we never enable it) */
    int channel_shift_on;     /* Keras skips the step when channel_shift_range == 0 */
    double channel_shift;     /* added to all channels, clipped to the image's [min, max] */
    int brightness_on;        /* Keras skips the step when brightness_range is None */
    double brightness;        /* PIL Brightness factor */
} AugmentParams;

/* Reusable work memory for augment_apply: per-row and per-column affine terms. */
typedef struct AugmentScratch {
    int h, w;
    double *row_terms;        /* (2, h): r * A[k][0] */
    double *col_terms;        /* (2, w): c * A[k][1] */
} AugmentScratch;

/* Identity transform: augment_apply copies the input unchanged. */
AugmentParams augment_identity(void);

/* Draws a transform in Keras's order (theta, tx, ty, shear, zx+zy, flip, vflip, channel
 * shift, brightness); a range of 0 draws nothing, as Keras (flip draws always happen).
 * Effective range = configured range * strength; strength 0 returns the identity and
 * draws nothing. h, w = image rows, columns. */
AugmentParams augment_draw(const AugmentConfig *cfg, Rng *rng, int h, int w);

/* The 2x2 matrix A and offset b that scipy.ndimage.affine_transform receives (array
 * (row, col) order): input coordinate of output pixel (r, c) = (r*A[k][0] + c*A[k][1]) + b[k].
 * Returns 0 when Keras would skip the warp (no rotation, shift, shear or zoom), else 1. */
int augment_affine(const AugmentParams *p, int h, int w, double A[2][2], double b[2]);

int augment_scratch_init(AugmentScratch *s, int h, int w, Err *e);
void augment_scratch_free(AugmentScratch *s);

/* Applies p to in (h, w, 3) writing out (h, w, 3); in != out. cfg gives the fill mode
 * (reflect | nearest | constant (cval 0) | wrap; unknown names act as reflect: the config
 * layer validates them). scratch must be sized for (h, w). No allocation. */
void augment_apply(const AugmentParams *p, const AugmentConfig *cfg, const float *in, float *out,
                   int h, int w, AugmentScratch *scratch);

#endif
