/* Wall-clock timing for progress lines, logs and benchmarks. */
#ifndef TL_CLOCK_H
#define TL_CLOCK_H

/* Seconds on the monotonic clock (CLOCK_MONOTONIC): only differences mean anything. */
double now_seconds(void);
/* CPU seconds of the whole process, all threads (CLOCK_PROCESS_CPUTIME_ID): on a shared
 * machine a benchmark's CPU time varies far less than its wall time. */
double cpu_seconds(void);

#endif
