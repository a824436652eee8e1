#include "data/augment.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* scipy.ndimage boundary modes that Keras's fill_mode can select, plus MIRROR, which
 * scipy (S>=1.6) uses for the interpolation taps of 'constant' and 'wrap'. */
typedef enum FillMode { FILL_REFLECT, FILL_NEAREST, FILL_CONSTANT, FILL_WRAP, FILL_MIRROR } FillMode;

typedef double Mat3[3][3];

static FillMode fill_mode_of(const AugmentConfig *cfg) {
    if (strcmp(cfg->fill, "nearest") == 0) return FILL_NEAREST;
    if (strcmp(cfg->fill, "constant") == 0) return FILL_CONSTANT;
    if (strcmp(cfg->fill, "wrap") == 0) return FILL_WRAP;
    return FILL_REFLECT;
}

AugmentParams augment_identity(void) {
    AugmentParams p;
    memset(&p, 0, sizeof p);
    p.zx = p.zy = 1.0;
    p.brightness = 1.0;
    return p;
}

AugmentParams augment_draw(const AugmentConfig *cfg, Rng *rng, int h, int w) {
    AugmentParams p = augment_identity();
    double s = cfg->strength;
    if (!(s > 0)) return p;
    double rotation = cfg->rotation * s, hshift = cfg->height_shift * s, wshift = cfg->width_shift * s;
    double shear = cfg->shear * s, zoom = cfg->zoom * s;
    double cshift = cfg->channel_shift * s, bright = cfg->brightness * s;
    /* Keras get_random_transform: each range draws only when non-zero; shifts are fractions
     * of the row / column count; the two flip draws always happen. */
    if (rotation != 0) p.theta = rng_uniform(rng, -rotation, rotation);
    if (hshift != 0) p.tx = rng_uniform(rng, -hshift, hshift) * h;
    if (wshift != 0) p.ty = rng_uniform(rng, -wshift, wshift) * w;
    if (shear != 0) p.shear = rng_uniform(rng, -shear, shear);
    if (zoom != 0) {
        p.zx = rng_uniform(rng, 1.0 - zoom, 1.0 + zoom);
        p.zy = rng_uniform(rng, 1.0 - zoom, 1.0 + zoom);
    }
    p.flip_h = (rng_double(rng) < 0.5) && cfg->horizontal_flip;
    (void)rng_double(rng); /* vertical flip: Keras draws it; vertical_flip is always False */
    p.flip_v = 0;
    if (cshift != 0) {
        p.channel_shift_on = 1;
        p.channel_shift = rng_uniform(rng, -cshift, cshift);
    }
    if (bright != 0) {
        p.brightness_on = 1;
        p.brightness = rng_uniform(rng, 1.0 - bright, 1.0 + bright);
    }
    return p;
}

/* ---- affine matrix (float64, the factor order of Keras apply_affine_transform) ---- */

static void mat3_identity(Mat3 m) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) m[i][j] = i == j;
}

/* m <- m . f, summed over k in order 0, 1, 2. */
static void mat3_mul_into(Mat3 m, Mat3 f) {
    Mat3 r;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double acc = m[i][0] * f[0][j];
            acc += m[i][1] * f[1][j];
            acc += m[i][2] * f[2][j];
            r[i][j] = acc;
        }
    memcpy(m, r, sizeof r);
}

static double deg2rad(double d) { return d * (M_PI / 180.0); }

/* Builds M = R.T.S.Z (only the non-identity factors, as Keras); returns 0 if none. */
static int keras_transform(const AugmentParams *p, Mat3 m) {
    int have = 0;
    Mat3 f;
    mat3_identity(m);
    if (p->theta != 0) {
        double t = deg2rad(p->theta);
        mat3_identity(f);
        f[0][0] = cos(t); f[0][1] = -sin(t);
        f[1][0] = sin(t); f[1][1] = cos(t);
        mat3_mul_into(m, f);
        have = 1;
    }
    if (p->tx != 0 || p->ty != 0) {
        mat3_identity(f);
        f[0][2] = p->tx; f[1][2] = p->ty;
        mat3_mul_into(m, f);
        have = 1;
    }
    if (p->shear != 0) {
        double s = deg2rad(p->shear);
        mat3_identity(f);
        f[0][1] = -sin(s); f[1][1] = cos(s);
        mat3_mul_into(m, f);
        have = 1;
    }
    if (p->zx != 1 || p->zy != 1) {
        mat3_identity(f);
        f[0][0] = p->zx; f[1][1] = p->zy;
        mat3_mul_into(m, f);
        have = 1;
    }
    return have;
}

int augment_affine(const AugmentParams *p, int h, int w, double A[2][2], double b[2]) {
    Mat3 m, c, reset;
    if (!keras_transform(p, m)) return 0;
    /* transform_matrix_offset_center(m, h, w): o_x from the rows, o_y from the columns. */
    double ox = (double)h / 2 - 0.5, oy = (double)w / 2 - 0.5;
    mat3_identity(c);
    c[0][2] = ox; c[1][2] = oy;
    mat3_identity(reset);
    reset[0][2] = -ox; reset[1][2] = -oy;
    mat3_mul_into(c, m);
    mat3_mul_into(c, reset);
    /* K>=2.9 swaps rows and columns of the matrix (coordinate 1 = column) for ndimage. */
    A[0][0] = c[1][1]; A[0][1] = c[1][0]; b[0] = c[1][2];
    A[1][0] = c[0][1]; A[1][1] = c[0][0]; b[1] = c[0][2];
    return 1;
}

/* ---- scipy.ndimage order-1 sampling (ni_interpolation.c, S>=1.6) ---- */

/* scipy map_coordinate: folds a coordinate outside [0, len-1] back in (or -1 = cval). */
static double map_coordinate(double in, long len, FillMode mode) {
    if (in < 0) {
        switch (mode) {
        case FILL_MIRROR:
            if (len <= 1) return 0;
            {
                long sz2 = 2 * len - 2;
                in = sz2 * (long)(-in / sz2) + in;
                return in <= 1 - len ? in + sz2 : -in;
            }
        case FILL_REFLECT:
            if (len <= 1) return 0;
            {
                long sz2 = 2 * len;
                if (in < -sz2) in = sz2 * (long)(-in / sz2) + in;
                /* S>=1.6 guard: keeps -in - 1 from reaching -1 for in in (-1e-15, 0). */
                return in < -len ? in + sz2 : (in > -1e-15 ? 1e-15 : -in) - 1;
            }
        case FILL_WRAP:
            if (len <= 1) return 0;
            {
                long sz = len - 1;
                return in + sz * ((long)(-in / sz) + 1);
            }
        case FILL_NEAREST: return 0;
        case FILL_CONSTANT: return -1;
        }
    } else if (in > len - 1) {
        switch (mode) {
        case FILL_MIRROR:
            if (len <= 1) return 0;
            {
                long sz2 = 2 * len - 2;
                in -= sz2 * (long)(in / sz2);
                return in >= len ? sz2 - in : in;
            }
        case FILL_REFLECT:
            if (len <= 1) return 0;
            {
                long sz2 = 2 * len;
                in -= sz2 * (long)(in / sz2);
                return in >= len ? sz2 - in - 1 : in;
            }
        case FILL_WRAP:
            if (len <= 1) return 0;
            {
                long sz = len - 1;
                return in - sz * (long)(in / sz);
            }
        case FILL_NEAREST: return len - 1;
        case FILL_CONSTANT: return -1;
        }
    }
    return in;
}

/* The two taps and weights of one axis. */
typedef struct AxisTaps {
    long i0, i1;
    double w0, w1;
} AxisTaps;

/* Returns 0 when the sample is the constant cval (mode 'constant', outside the input). */
static int axis_taps(double v, long len, FillMode mode, AxisTaps *t) {
    double cc = v;
    if (mode != FILL_NEAREST) cc = map_coordinate(cc, len, mode);
    if (!(cc > -1.0) && mode != FILL_NEAREST) return 0;
    double fl = floor(cc);
    long start = (long)fl;
    t->i0 = start;
    t->i1 = start + 1;
    if (start < 0 || start + 1 >= len) {
        FillMode tap_mode = (mode == FILL_CONSTANT || mode == FILL_WRAP) ? FILL_MIRROR : mode;
        t->i0 = (long)map_coordinate((double)t->i0, len, tap_mode);
        t->i1 = (long)map_coordinate((double)t->i1, len, tap_mode);
    }
    t->w0 = 1.0 - (cc - fl);
    t->w1 = 1.0 - t->w0;
    return 1;
}

/* out(r, c, ch) = sum over taps in scipy's order (column tap fastest), double accumulation. */
static void warp_pixel(const float *in, int w, const AxisTaps *tr, const AxisTaps *tc, float *o) {
    const float *p00 = in + ((size_t)tr->i0 * w + tc->i0) * 3, *p01 = in + ((size_t)tr->i0 * w + tc->i1) * 3;
    const float *p10 = in + ((size_t)tr->i1 * w + tc->i0) * 3, *p11 = in + ((size_t)tr->i1 * w + tc->i1) * 3;
    for (int ch = 0; ch < 3; ch++) {
        double t = (double)p00[ch] * tr->w0 * tc->w0;
        t += (double)p01[ch] * tr->w0 * tc->w1;
        t += (double)p10[ch] * tr->w1 * tc->w0;
        t += (double)p11[ch] * tr->w1 * tc->w1;
        o[ch] = (float)t;
    }
}

static void warp(const double A[2][2], const double b[2], FillMode mode, const float *in, float *out,
                 int h, int w, AugmentScratch *s) {
    for (int r = 0; r < h; r++) {
        s->row_terms[r] = (double)r * A[0][0];
        s->row_terms[h + r] = (double)r * A[1][0];
    }
    for (int c = 0; c < w; c++) {
        s->col_terms[c] = (double)c * A[0][1];
        s->col_terms[w + c] = (double)c * A[1][1];
    }
    for (int r = 0; r < h; r++) {
        float *o = out + (size_t)r * w * 3;
        for (int c = 0; c < w; c++, o += 3) {
            double qr = (s->row_terms[r] + s->col_terms[c]) + b[0];
            double qc = (s->row_terms[h + r] + s->col_terms[w + c]) + b[1];
            AxisTaps tr, tc;
            if (!axis_taps(qr, h, mode, &tr) || !axis_taps(qc, w, mode, &tc)) {
                o[0] = o[1] = o[2] = 0.0f; /* cval */
                continue;
            }
            warp_pixel(in, w, &tr, &tc, o);
        }
    }
}

/* ---- channel shift, flip, brightness ---- */

static void min_max(const float *x, size_t n, float *mn, float *mx) {
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    *mn = lo;
    *mx = hi;
}

/* Keras apply_channel_shift: one float32 offset for all channels, clipped to the image range. */
static void channel_shift(float *x, size_t n, double intensity) {
    float mn, mx, s = (float)intensity;
    min_max(x, n, &mn, &mx);
    for (size_t i = 0; i < n; i++) {
        float v = x[i] + s;
        x[i] = v < mn ? mn : (v > mx ? mx : v);
    }
}

static void flip_columns(float *x, int h, int w) {
    for (int r = 0; r < h; r++) {
        float *row = x + (size_t)r * w * 3;
        for (int a = 0, z = w - 1; a < z; a++, z--)
            for (int ch = 0; ch < 3; ch++) {
                float t = row[a * 3 + ch];
                row[a * 3 + ch] = row[z * 3 + ch];
                row[z * 3 + ch] = t;
            }
    }
}

/* numpy astype(uint8) of values already in [0, 255]: truncation. */
static uint8_t to_u8(float v) { return v <= 0 ? 0 : (v >= 255 ? 255 : (uint8_t)v); }

/* PIL ImagingBlend(black, img, alpha) for one byte, alpha as float. */
static uint8_t pil_brightness(uint8_t v, float alpha) {
    if (alpha >= 0 && alpha <= 1.0f) return (uint8_t)(0 + alpha * ((int)v - 0));
    float t = (float)(0 + alpha * ((int)v - 0));
    return t <= 0.0f ? 0 : (t >= 255.0f ? 255 : (uint8_t)t);
}

/* Keras apply_brightness_shift(x, br, scale=False): array_to_img (uint8 truncation; min-max
 * scaling only if x leaves [0, 255]), ImageEnhance.Brightness, img_to_array (and undo). */
static void brightness(float *x, size_t n, double factor) {
    float mn, mx;
    min_max(x, n, &mn, &mx);
    int local_scale = mn < 0 || mx > 255;
    float shifted_max = mx - mn, alpha = (float)factor;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (local_scale) {
            v = v - mn;
            if (shifted_max != 0) v = v / shifted_max;
            v = v * 255;
        }
        float y = (float)pil_brightness(to_u8(v), alpha);
        x[i] = local_scale ? y / 255 * (mx - mn) + mn : y;
    }
}

/* ---- public ---- */

int augment_scratch_init(AugmentScratch *s, int h, int w, Err *e) {
    memset(s, 0, sizeof *s);
    s->row_terms = tl_malloc(e, sizeof(double) * 2 * (size_t)h, "augment row terms");
    s->col_terms = tl_malloc(e, sizeof(double) * 2 * (size_t)w, "augment column terms");
    if (!s->row_terms || !s->col_terms) {
        augment_scratch_free(s);
        return -1;
    }
    s->h = h;
    s->w = w;
    return 0;
}

void augment_scratch_free(AugmentScratch *s) {
    free(s->row_terms);
    free(s->col_terms);
    memset(s, 0, sizeof *s);
}

void augment_apply(const AugmentParams *p, const AugmentConfig *cfg, const float *in, float *out,
                   int h, int w, AugmentScratch *scratch) {
    size_t n = (size_t)h * w * 3;
    double A[2][2], b[2];
    if (augment_affine(p, h, w, A, b)) warp(A, b, fill_mode_of(cfg), in, out, h, w, scratch);
    else memcpy(out, in, n * sizeof *out);
    if (p->channel_shift_on) channel_shift(out, n, p->channel_shift);
    if (p->flip_h) flip_columns(out, h, w);
    if (p->brightness_on) brightness(out, n, p->brightness);
}
