/* How a trial is run (not what it trains: that is its TrialConfig): the out folder, threads,
 * GPU, log and the stop flag. Given to the parts of a trial that log or open files. */
#ifndef TL_TRIAL_OPTIONS_H
#define TL_TRIAL_OPTIONS_H

#include <signal.h>
#include <stdio.h>

typedef struct TrialOptions {
    const char *config_path;        /* for messages */
    const char *out_dir;
    int threads;                    /* 0 = all cores */
    int gpu;                        /* GPU index for device cuda/auto */
    FILE *log;                      /* epoch lines (stdout, or DIR/trainer.log) */
    int progress;                   /* feature-extraction progress on stderr (a terminal) */
    volatile sig_atomic_t *stop;    /* set by SIGINT/SIGTERM: stop after the epoch's backup */
} TrialOptions;

#endif
