/* Wall-clock timing for progress lines, logs and benchmarks. */
#ifndef TL_CLOCK_H
#define TL_CLOCK_H

/* Seconds on the monotonic clock (CLOCK_MONOTONIC): only differences mean anything. */
double now_seconds(void);

#endif
