/* The data layer's configuration: where the images are and how they are augmented.
 * train/config.c reads these from a trial's data: and augment: YAML sections (and
 * validates them); the data layer only reads them. */
#ifndef TL_DATA_CONFIG_H
#define TL_DATA_CONFIG_H

enum { CONFIG_PATH_MAX = 1024 };     /* bytes of a path held in a config, NUL included */

typedef struct DataConfig {
    char root[CONFIG_PATH_MAX];      /* holds train/, validation/ (optional), test/ */
    int image_size;                  /* square side in pixels, 32..1024 */
    char interpolation[16];          /* "nearest" | "bilinear" */
    double validation_split;         /* [0, 0.9]: used only when root/validation is absent */
    double train_fraction;           /* (0, 1] */
    char **classes;                  /* optional explicit class order (NULL = sorted folders) */
    int n_classes_listed;
} DataConfig;

typedef struct AugmentConfig {
    double strength;                 /* >= 0: scales every range below; 0 = off */
    int horizontal_flip;
    double rotation;                 /* degrees */
    double width_shift, height_shift;/* fractions of width/height */
    double zoom;                     /* zoom range 1-z .. 1+z */
    double shear;                    /* degrees (as Keras) */
    double brightness;               /* range 1-b .. 1+b; 0 = off */
    double channel_shift;            /* pixel units 0..255 */
    char fill[16];                   /* "reflect" | "nearest" | "constant" | "wrap" */
} AugmentConfig;

#endif
