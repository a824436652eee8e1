/* Fuzz target: the sweep-file reader (sweep/sweep_spec.c), its expansion into trials
 * (expand.c) and their resolution into validated trial configs (resolve.c, without the
 * file-existence checks), as `sweep FILE` does before it runs anything. */
#include <stdio.h>

#include "expand.h"
#include "fuzz.h"

/* Resolving validates every trial's config; beyond this many trials it only costs time. */
enum { RESOLVE_MAX_TRIALS = 2000 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[1024], runs[1024];
    SweepSpec s;
    TrialSet ts = {0};
    Err e = {0};
    fuzz_write(path, sizeof path, "sweep.yaml", data, size);
    int rc = sweep_spec_load(&s, path, &e);
    fuzz_expect_named(rc, &e, path);
    if (rc) return 0;
    rc = sweep_expand(&s, &ts, &e);
    fuzz_expect_named(rc, &e, path);
    if (rc == 0 && ts.n <= RESOLVE_MAX_TRIALS) {
        fuzz_path(runs, sizeof runs, "runs/x");
        ResolveOptions o = {.sweep_dir = runs, .cwd = fuzz_dir(), .check_files = 0};
        rc = sweep_resolve(&s, &ts, &o, &e);
        fuzz_expect_named(rc, &e, path);
    }
    char text[1024];
    sweep_spec_describe(&s, ts.n, text, sizeof text);
    trial_set_free(&ts);
    sweep_spec_free(&s);
    return 0;
}
