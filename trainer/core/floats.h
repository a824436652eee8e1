/* Stored number formats: IEEE binary16 (the caches' fp16 tables) and the finiteness check
 * every cache applies to what it writes and reads. */
#ifndef TL_FLOATS_H
#define TL_FLOATS_H

#include <stddef.h>
#include <stdint.h>

/* IEEE 754 binary32 -> binary16, round to nearest, ties to even; overflow -> inf, NaN
 * stays a (quiet) NaN, values below half the smallest subnormal -> signed zero. */
uint16_t half_from_float(float f);
/* binary16 -> binary32, exact. */
float half_to_float(uint16_t h);
void halves_from_floats(const float *src, size_t n, uint16_t *dst);
/* Ascending: dst may overlap src when dst <= src as bytes go (the second half of a float
 * buffer widened into the whole of it): each half is read before its float is written. */
void floats_from_halves(const uint16_t *src, size_t n, float *dst);

/* Index of the first NaN or infinity of x[0..n), or -1 when every value is finite. */
long floats_first_nonfinite(const float *x, size_t n);
long halves_first_nonfinite(const uint16_t *h, size_t n);

#endif
