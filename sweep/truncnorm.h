/* The normal distribution's CDF and its inverse, computed so that the truncated normals
 * of the TPE sampler (sweep/tpe.c) stay finite far in the tails: a Parzen kernel can be
 * as narrow as 1/101 of its domain, so a point of the domain can lie 100 sigmas away. */
#ifndef SWEEP_TRUNCNORM_H
#define SWEEP_TRUNCNORM_H

/* log Phi(z), finite for every finite z (an asymptotic series below z = -37). */
double log_ndtr(double z);
/* log(Phi(b) - Phi(a)) for a < b, without cancellation in either tail. */
double log_normal_mass(double a, double b);
/* Phi^-1(p) for p in (0, 1): Acklam's rational approximation refined by one Halley
 * step (relative error ~1e-15). */
double ndtri(double p);

/* Truncated normal N(mu, sigma) on [lo, hi] with lo <= mu <= hi (every TPE kernel):
 * the sample for a uniform u in [0, 1), by inverting the CDF on the side of mu it falls
 * on (so neither tail loses precision), and the log density at x in [lo, hi]. */
double truncnorm_sample(double mu, double sigma, double lo, double hi, double u);
double truncnorm_log_pdf(double x, double mu, double sigma, double lo, double hi);
/* log P(x - 0.5 <= X <= x + 0.5) for the same truncated normal: an integer's mass. */
double truncnorm_log_mass_int(double x, double mu, double sigma, double lo, double hi);

#endif
