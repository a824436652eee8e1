#include "cli/run_options.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"

int run_option(int argc, char **argv, int *i, RunOptions *o) {
    const char *v;
    if (arg_value(argc, argv, i, "--run", &v)) o->run = v;
    else if (arg_value(argc, argv, i, "--threads", &v)) o->threads = atoi(v);
    else if (arg_value(argc, argv, i, "--gpu", &v)) o->gpu = atoi(v);
    else return 0;
    return 1;
}

int run_options_check(const RunOptions *o, const char *cmd, const char *usage) {
    if (o->run) return 0;
    fprintf(stderr, "trainer %s: --run RUNDIR is required (a trial's --out folder)\n%s", cmd, usage);
    return -1;
}
