/* The options of the commands that work on a finished trial (trainer predict, trainer
 * evaluate): --run RUNDIR [--threads N] [--gpu I]. */
#ifndef TL_RUN_OPTIONS_H
#define TL_RUN_OPTIONS_H

typedef struct RunOptions {
    const char *run;          /* the trial's --out folder */
    int threads;              /* 0 = all cores */
    int gpu;                  /* GPU index for train.device cuda/auto */
} RunOptions;

/* Takes argv[*i] (and its value, advancing *i) when it is one of these options: 1 when
 * taken, else 0. */
int run_option(int argc, char **argv, int *i, RunOptions *o);
/* 0 when --run was given; else "trainer CMD: --run RUNDIR is required ..." and the usage
 * on stderr, and -1. */
int run_options_check(const RunOptions *o, const char *cmd, const char *usage);

#endif
