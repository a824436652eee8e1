/* trainer export-weights --run RUNDIR --out FILE.h5 [--checkpoint best|last]
 * A trial's backbone (frozen prefix, trained suffix with its BN statistics) as a Keras
 * weight file (train/export_weights.h). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/export_weights.h"

int cmd_export_weights(int argc, char **argv) {
    const char *run = NULL, *out = NULL, *which = "best";
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_value(argc, argv, &i, "--run", &v)) run = v;
        else if (arg_value(argc, argv, &i, "--out", &v)) out = v;
        else if (arg_value(argc, argv, &i, "--checkpoint", &v)) which = v;
        else { fprintf(stderr, "trainer export-weights: unknown argument %s\n", argv[i]); return 2; }
    }
    if (!run || !out) {
        fprintf(stderr, "usage: trainer export-weights --run RUNDIR --out FILE.h5 [--checkpoint best|last]\n");
        return 2;
    }
    Err e = {{0}};
    char summary[4096];
    if (export_trial_weights(run, which, out, summary, sizeof summary, &e)) {
        fprintf(stderr, "trainer export-weights: %s\n", e.msg);
        return 1;
    }
    printf("%s\n", summary);
    return 0;
}
