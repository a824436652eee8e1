#include "truncnorm.h"

#include <math.h>

static const double LOG_SQRT_2PI = 0.91893853320467274178;

/* Phi(z) from erfc: accurate down to ~1e-308 in the lower tail. */
static double ndtr(double z) { return 0.5 * erfc(-z / M_SQRT2); }

double log_ndtr(double z) {
    if (z > 6) return log1p(-ndtr(-z));
    if (z > -37) return log(ndtr(z));
    /* Mills ratio series: Phi(z) ~ phi(z) / -z * (1 - 1/z^2 + 3/z^4 - 15/z^6). */
    double r = 1 / (z * z);
    return -0.5 * z * z - log(-z) - LOG_SQRT_2PI + log(1 - r + 3 * r * r - 15 * r * r * r);
}

double log_normal_mass(double a, double b) {
    if (a >= 0) return log_normal_mass(-b, -a);   /* the upper tail, mirrored */
    if (b <= 0) {
        double la = log_ndtr(a), lb = log_ndtr(b);
        return lb + log1p(-exp(la - lb));
    }
    return log1p(-(ndtr(a) + ndtr(-b)));          /* a < 0 < b: both tails are small */
}

double ndtri(double p) {
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    double x;
    if (p < 0.02425 || p > 1 - 0.02425) {
        double q = sqrt(-2 * log(p < 0.5 ? p : 1 - p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        if (p > 0.5) x = -x;
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    /* One Halley step on Phi(x) - p (the lower tail keeps its precision through erfc). */
    double err = p < 0.5 ? ndtr(x) - p : (1 - p) - ndtr(-x);
    double u = err * exp(0.5 * x * x + LOG_SQRT_2PI);
    return x - u / (1 + x * u / 2);
}

double truncnorm_sample(double mu, double sigma, double lo, double hi, double u) {
    double alpha = (lo - mu) / sigma, beta = (hi - mu) / sigma;
    double below = ndtr(alpha), above = ndtr(-beta), mass = 1 - below - above;
    double p = below + u * mass, z;
    if (p <= 0.5) z = p > 0 ? ndtri(p) : alpha;
    else {
        double q = above + (1 - u) * mass;   /* 1 - p without the cancellation */
        z = q > 0 ? -ndtri(q) : beta;
    }
    double x = mu + sigma * z;
    return x < lo ? lo : x > hi ? hi : x;
}

double truncnorm_log_pdf(double x, double mu, double sigma, double lo, double hi) {
    double z = (x - mu) / sigma;
    return -0.5 * z * z - log(sigma) - LOG_SQRT_2PI - log_normal_mass((lo - mu) / sigma, (hi - mu) / sigma);
}

double truncnorm_log_mass_int(double x, double mu, double sigma, double lo, double hi) {
    return log_normal_mass((x - 0.5 - mu) / sigma, (x + 0.5 - mu) / sigma) -
           log_normal_mass((lo - mu) / sigma, (hi - mu) / sigma);
}
