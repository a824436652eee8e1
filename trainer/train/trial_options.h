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
    /* The sweep's early stopping (NULL: never asked). Called after an epoch's train_log.csv
     * row and last.safetensors are written (and, on a resume, once for the last logged
     * epoch, whose answer a kill may have lost), when the trial would go on: returns 0 to
     * go on, 1 to end the trial now with status pruned, -1 when *stop was raised while
     * it waited (the trial is then interrupted). */
    int (*between_epochs)(void *ctx, int epoch);
    void *between_epochs_ctx;
} TrialOptions;

#endif
